// The HTTP side of one delivery attempt: a signed POST with a deadline,
// through the guard, following no redirect.

package webhooks

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultTimeout is how long an attempt may take, answer included.
const DefaultTimeout = 10 * time.Second

// excerptBytes is how much of an answer the delivery log keeps.
const excerptBytes = 500

// Sender posts deliveries.
type Sender struct {
	client *http.Client
}

// NewSender builds the client: the guard dials, no proxy from the
// environment (it would dial for us), no redirect followed (a 3xx is a
// failed attempt: following one would let a receiver send the portal to an
// internal address), and timeout for each attempt (0: DefaultTimeout).
func NewSender(g Guard, timeout time.Duration) *Sender {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           g.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &Sender{client: &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Message is one attempt to make.
type Message struct {
	URL       string
	ID        string    // webhook-id: the event's id, the same on every attempt
	Timestamp time.Time // webhook-timestamp: when this attempt is signed
	Body      []byte
	Keys      [][]byte // the current secret's key first, then an overlapping previous one
}

// Result is what one attempt got.
type Result struct {
	Status  int // 0 when no answer came
	Latency time.Duration
	Excerpt string // the start of the answer's body
	Err     error  // why no answer came, or why a non-2xx one counts as failed
}

// Delivered reports a 2xx answer.
func (r Result) Delivered() bool { return r.Err == nil && r.Status >= 200 && r.Status < 300 }

// Gone reports a 410: the receiver asks never to be called again.
func (r Result) Gone() bool { return r.Status == http.StatusGone }

// Send makes one attempt.
func (s *Sender) Send(ctx context.Context, m Message) Result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(m.Body))
	if err != nil {
		return Result{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "NLS-Webhooks/1")
	req.Header.Set("webhook-id", m.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(m.Timestamp.Unix(), 10))
	req.Header.Set("webhook-signature", Signature(m.Keys, m.ID, m.Timestamp, m.Body))
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return Result{Latency: time.Since(start), Err: describe(err)}
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, excerptBytes))
	// Drain a little more so the connection can be reused; a receiver
	// that answers megabytes is cut off.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	r := Result{Status: resp.StatusCode, Latency: time.Since(start), Excerpt: excerpt(head)}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		r.Err = errors.New("redirects are not followed (" + strconv.Itoa(resp.StatusCode) + " to " +
			clip(resp.Header.Get("Location"), 200) + ")")
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		r.Err = errors.New("the receiver answered " + strconv.Itoa(resp.StatusCode))
	}
	return r
}

// describe turns a transport error into words for the delivery log,
// without the URL (which the log shows beside it).
func describe(err error) error {
	var refused *RefusedError
	if errors.As(err, &refused) {
		return refused
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("timed out: no answer within the timeout")
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap()
	}
	return err
}

func excerpt(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	return clip(s, excerptBytes)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
