// A server that answers but cannot serve (503 while its database is down, 429
// when rate limited) is an outage to the client: it keeps its lease and tries
// again no sooner than the server's Retry-After.

package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestServerUnavailableKeepsLeaseAndHonoursRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter func() string
		minGap     time.Duration
	}{
		{"503 with seconds", http.StatusServiceUnavailable, func() string { return "1" }, 900 * time.Millisecond},
		{"429 with seconds", http.StatusTooManyRequests, func() string { return "1" }, 900 * time.Millisecond},
		// An HTTP date has whole seconds: two seconds ahead is at least one.
		{"503 with an HTTP date", http.StatusServiceUnavailable,
			func() string { return time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat) }, 900 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu    sync.Mutex
				times []time.Time
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/api/validation/") {
					mu.Lock()
					times = append(times, time.Now())
					mu.Unlock()
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Retry-After", tc.retryAfter())
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"the database is unreachable; try again shortly","details":[]},"requestId":"r1"}`))
			}))
			defer srv.Close()
			dir := t.TempDir()
			cfg := offlineState(t, dir)
			cfg.ServerURL = srv.URL
			// Without Retry-After the client would retry every few milliseconds.
			cfg.HeartbeatInterval, cfg.MinBackoff, cfg.MaxBackoff = 20*time.Millisecond, 5*time.Millisecond, 20*time.Millisecond
			c := mustNew(t, cfg)
			defer c.Close()
			if err := c.Start(context.Background()); err != nil {
				t.Fatalf("Start with a saved lease and an unavailable server: got %v, want nil", err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				mu.Lock()
				n := len(times)
				mu.Unlock()
				if n >= 3 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("got %d attempts in 20 s, want the client to keep retrying", n)
				}
				time.Sleep(20 * time.Millisecond)
			}
			mu.Lock()
			got := append([]time.Time(nil), times...)
			mu.Unlock()
			for i := 1; i < len(got); i++ {
				if gap := got[i].Sub(got[i-1]); gap < tc.minGap {
					t.Fatalf("attempt %d came %v after the previous one, want at least %v (Retry-After)", i+1, gap, tc.minGap)
				}
			}
			if !c.Valid() {
				t.Fatalf("the license is no longer valid during the outage: %+v", c.Status())
			}
			if st := c.Status(); !st.Offline {
				t.Fatalf("got Offline %v, want true while the server cannot serve", st.Offline)
			}
			if _, err := os.Stat(filepath.Join(dir, "lease.jwt")); err != nil {
				t.Fatalf("the saved lease is gone: %v", err)
			}
		})
	}
}
