// Package mailtest gives tests a real SMTP server, mailpit, and reads what
// arrived through mailpit's HTTP API. scripts/test.sh starts one mailpit
// for the whole suite (NLS_TEST_SMTP_URL, NLS_TEST_MAILPIT_API); otherwise
// the first test of a binary starts bin/mailpit itself. Without mailpit a
// test fails when CI is set and is skipped otherwise. Tests share the
// server, so each uses recipient addresses of its own and reads by recipient.
package mailtest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a running mailpit.
type Server struct {
	SMTPURL string // smtp://127.0.0.1:port
	API     string // http://127.0.0.1:port
}

var (
	once    sync.Once
	shared  *Server
	initErr error
	started *exec.Cmd // the mailpit this binary started, stopped by Stop
)

// Stop ends the mailpit this test binary started, if any; TestMain calls it.
func Stop() {
	if started != nil {
		_ = started.Process.Kill()
		_ = started.Wait()
	}
}

// Start returns the suite's mailpit, starting one for this test binary when
// the test script did not.
func Start(tb testing.TB) *Server {
	tb.Helper()
	once.Do(func() {
		if smtpURL, api := os.Getenv("NLS_TEST_SMTP_URL"), os.Getenv("NLS_TEST_MAILPIT_API"); smtpURL != "" && api != "" {
			shared = &Server{SMTPURL: smtpURL, API: strings.TrimRight(api, "/")}
			return
		}
		shared, initErr = launch()
	})
	if initErr != nil {
		msg := "mailpit is required for the email tests (scripts/test.sh installs it into bin/): " + initErr.Error()
		if os.Getenv("CI") != "" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return shared
}

// launch starts bin/mailpit (found from the module root) or mailpit on
// PATH on free ports. The process lives as long as the test binary.
func launch() (*Server, error) {
	exe, err := exec.LookPath("mailpit")
	if dir, derr := os.Getwd(); derr == nil {
		for d := dir; ; d = filepath.Dir(d) {
			if fileExists(filepath.Join(d, "go.mod")) {
				if p := filepath.Join(d, "bin", "mailpit"); fileExists(p) {
					exe, err = p, nil
				}
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if err != nil {
		return nil, err
	}
	smtpPort, apiPort := FreePort(), FreePort()
	cmd := exec.Command(exe, "--smtp", fmt.Sprintf("127.0.0.1:%d", smtpPort), "--listen",
		fmt.Sprintf("127.0.0.1:%d", apiPort), "--max", "0", "--quiet")
	// Should the test binary die without calling Stop, mailpit goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	started = cmd
	s := &Server{SMTPURL: fmt.Sprintf("smtp://127.0.0.1:%d", smtpPort), API: fmt.Sprintf("http://127.0.0.1:%d", apiPort)}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(s.API + "/api/v1/info")
		if err == nil {
			res.Body.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("mailpit not answering on %s: %w", s.API, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// FreePort returns a TCP port nothing listens on at the moment.
func FreePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Message is one email as mailpit lists it.
type Message struct {
	ID      string `json:"ID"`
	Subject string `json:"Subject"`
	To      []struct {
		Address string `json:"Address"`
	} `json:"To"`
}

// Full is one email's bodies and headers.
type Full struct {
	Subject string
	Text    string
	HTML    string
	Headers map[string][]string
}

// To lists the messages addressed to addr, oldest first.
func (s *Server) To(tb testing.TB, addr string) []Message {
	tb.Helper()
	var res struct {
		Messages []Message `json:"messages"`
	}
	s.get(tb, "/api/v1/search?limit=1000&query="+url.QueryEscape(`to:"`+addr+`"`), &res)
	// The search matches substrings; keep exact recipients only.
	var out []Message
	for i := len(res.Messages) - 1; i >= 0; i-- {
		m := res.Messages[i]
		for _, t := range m.To {
			if strings.EqualFold(t.Address, addr) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// WaitFor waits until addr holds at least n messages (or fails at the
// deadline) and returns them.
func (s *Server) WaitFor(tb testing.TB, addr string, n int, within time.Duration) []Message {
	tb.Helper()
	deadline := time.Now().Add(within)
	for {
		got := s.To(tb, addr)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: got %d messages after %s, want %d", addr, len(got), within, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Get reads one message whole.
func (s *Server) Get(tb testing.TB, id string) Full {
	tb.Helper()
	var m struct {
		Subject string `json:"Subject"`
		Text    string `json:"Text"`
		HTML    string `json:"HTML"`
	}
	s.get(tb, "/api/v1/message/"+id, &m)
	f := Full{Subject: m.Subject, Text: m.Text, HTML: m.HTML}
	s.get(tb, "/api/v1/message/"+id+"/headers", &f.Headers)
	return f
}

func (s *Server) get(tb testing.TB, path string, into any) {
	tb.Helper()
	res, err := http.Get(s.API + path)
	if err != nil {
		tb.Fatalf("mailpit %s: %v", path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		tb.Fatalf("mailpit %s: status %d", path, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(into); err != nil {
		tb.Fatalf("mailpit %s: %v", path, err)
	}
}
