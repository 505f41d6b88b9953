// The machine API as the client speaks it: request and answer shapes of
// /api/validation/* and /api/usage/report, and the error envelope.

package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

type machineRequest struct {
	LicenseKey   string `json:"licenseKey"`
	DeploymentID string `json:"deploymentId"`
	Hostname     string `json:"hostname,omitempty"`
	AppVersion   string `json:"appVersion,omitempty"`
	// Fingerprint is the machine fingerprint's id, FingerprintComponents
	// its components (ComputeFingerprint).
	Fingerprint           string            `json:"fingerprint,omitempty"`
	FingerprintComponents map[string]string `json:"fingerprintComponents,omitempty"`
}

// validationAnswer is the answer of validate and heartbeat.
type validationAnswer struct {
	Valid   bool   `json:"valid"`
	Code    string `json:"code"`
	Detail  string `json:"detail"`
	License *struct {
		ID                string           `json:"id"`
		Status            string           `json:"status"`
		Plan              string           `json:"plan"`
		Features          []string         `json:"features"`
		Limits            map[string]int64 `json:"limits"`
		MaxDeployments    *int             `json:"maxDeployments"`
		ActiveDeployments int              `json:"activeDeployments"`
		ExpiresAt         *time.Time       `json:"expiresAt"`
		GraceEndsAt       *time.Time       `json:"graceEndsAt"`
		DunningEndsAt     *time.Time       `json:"dunningEndsAt"`
	} `json:"license"`
	Deployment *struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"deployment"`
	Lease          *string    `json:"lease"`
	LeaseExpiresAt *time.Time `json:"leaseExpiresAt"`
	ServerTime     time.Time  `json:"serverTime"`
}

type usageReport struct {
	ID          string           `json:"id"`
	PeriodStart time.Time        `json:"periodStart"`
	PeriodEnd   time.Time        `json:"periodEnd"`
	Metrics     map[string]int64 `json:"metrics"`
}

type usageRequest struct {
	LicenseKey   string        `json:"licenseKey"`
	DeploymentID string        `json:"deploymentId"`
	Reports      []usageReport `json:"reports"`
}

type usageAnswer struct {
	Results []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"results"`
	Usage map[string]struct {
		Used      int64 `json:"used"`
		Limit     int64 `json:"limit"`
		Remaining int64 `json:"remaining"`
		Exceeded  bool  `json:"exceeded"`
	} `json:"usage"`
}

// ServerError is a 4xx or 5xx answer of the server: its status, the code and
// message of the error envelope, and Retry-After when the server gave one.
type ServerError struct {
	Status     int
	Code       string
	Message    string
	RequestID  string
	RetryAfter time.Duration
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("nls server: HTTP %d %s: %s (request %s)", e.Status, e.Code, e.Message, e.RequestID)
}

// temporary reports whether trying again later may succeed: server errors
// (503 while the server's database is down), rate limits and timeouts. Other
// 4xx mean the request itself is refused.
func (e *ServerError) temporary() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout
}

// ErrUnreachable wraps failures to get any answer from the server (network,
// DNS, TLS, timeouts, unreadable answers).
var ErrUnreachable = errors.New("nls server unreachable")

// post sends body as JSON and decodes a 2xx answer into out.
func (c *Client) post(ctx context.Context, path string, body, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.serverURL+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	return c.do(req, out)
}

func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("%w: reading the answer: %w", ErrUnreachable, err)
	}
	if resp.StatusCode/100 != 2 {
		se := &ServerError{Status: resp.StatusCode, Code: http.StatusText(resp.StatusCode)}
		var env struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
			RequestID string `json:"requestId"`
		}
		if json.Unmarshal(raw, &env) == nil && env.Error.Code != "" {
			se.Code, se.Message, se.RequestID = env.Error.Code, env.Error.Message, env.RequestID
		}
		se.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), c.now())
		return se
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%w: the answer is not the expected JSON: %w", ErrUnreachable, err)
	}
	return nil
}

// maxRetryAfter bounds the wait a server may ask for, so that a wrong header
// cannot silence the client for days; the lease carries it meanwhile.
const maxRetryAfter = time.Hour

// retryAfter reads a Retry-After header in either form HTTP allows: a number
// of seconds or an HTTP date. Zero means none (or one already past).
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(v); err == nil {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// fetchJWKS downloads the public keys document.
func (c *Client) fetchJWKS(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.jwksURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", userAgent)
	var raw json.RawMessage
	if err := c.do(req, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}
