package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/nectarcloud/nls/licensing/client"
)

// nopWriter is a ResponseWriter that does not allocate per request.
type nopWriter struct {
	h      http.Header
	status int
}

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(s int)           { w.status = s }

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

func benchClient(b testing.TB) *client.Client {
	return mustNew(b, offlineState(b, b.TempDir()))
}

func serveBench(b *testing.B, h http.Handler) {
	w := &nopWriter{h: http.Header{}}
	r := httptest.NewRequest("GET", "/x", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
	if w.status != http.StatusNoContent {
		b.Fatalf("got status %d, want 204", w.status)
	}
}

func BenchmarkMiddlewareValid(b *testing.B) {
	c := benchClient(b)
	serveBench(b, c.Middleware(okHandler))
}

func BenchmarkRequireFeature(b *testing.B) {
	c := benchClient(b)
	serveBench(b, c.RequireFeature("reports")(okHandler))
}

func BenchmarkFullStack(b *testing.B) {
	c := benchClient(b)
	limit := c.CheckUsageLimit("users", func(*http.Request) int64 { return 3 })
	serveBench(b, c.TrackAPICalls(c.Middleware(c.RequireFeature("reports")(limit(okHandler)))))
}

// BenchmarkFullStackStarted is BenchmarkFullStack with the background loops
// running, so that it also pays for the usage snapshots written to disk
// once a second while requests are counted.
func BenchmarkFullStackStarted(b *testing.B) {
	c := benchClient(b)
	_ = c.Start(context.Background()) // the server is unreachable: the saved lease serves
	b.Cleanup(func() { _ = c.Close() })
	limit := c.CheckUsageLimit("users", func(*http.Request) int64 { return 3 })
	serveBench(b, c.TrackAPICalls(c.Middleware(c.RequireFeature("reports")(limit(okHandler)))))
}

func BenchmarkHasFeature(b *testing.B) {
	c := benchClient(b)
	b.ReportAllocs()
	for b.Loop() {
		if !c.HasFeature("reports") {
			b.Fatal("got false, want true")
		}
	}
}

func BenchmarkCheckLimit(b *testing.B) {
	c := benchClient(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.CheckLimit("users", 5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAdd(b *testing.B) {
	c := benchClient(b)
	b.ReportAllocs()
	for b.Loop() {
		c.Add("apiCalls", 1)
	}
}

func BenchmarkAddParallel(b *testing.B) {
	c := benchClient(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Add("apiCalls", 1)
		}
	})
}

// The hot paths must not allocate: a regression test, not only a benchmark.
func TestHotPathsDoNotAllocate(t *testing.T) {
	c := benchClient(t)
	w := &nopWriter{h: http.Header{}}
	r := httptest.NewRequest("GET", "/x", nil)
	limit := c.CheckUsageLimit("users", func(*http.Request) int64 { return 3 })
	h := c.TrackAPICalls(c.Middleware(c.RequireFeature("reports")(limit(okHandler))))
	tests := []struct {
		name string
		f    func()
	}{
		{"middleware stack", func() { h.ServeHTTP(w, r) }},
		{"HasFeature", func() { c.HasFeature("reports") }},
		{"CheckLimit", func() { _ = c.CheckLimit("users", 5) }},
		{"Add", func() { c.Add("workflowExecutions", 1) }},
		{"Set", func() { c.Set("users", 4) }},
		{"RecordIntegrationUse", func() { c.RecordIntegrationUse("slack") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.f()
			if got := testing.AllocsPerRun(200, tc.f); got != 0 {
				t.Errorf("got %v allocations, want 0", got)
			}
		})
	}
	if w.status != http.StatusNoContent {
		t.Errorf("got status %d, want 204", w.status)
	}
}

// The client and its Fiber adapter must stay free of server dependencies.
func TestNoServerDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"jackc/pgx", "stripe-go", "a-h/templ", "nectarcloud/nls/db", "nectarcloud/nls/handlers", "/db", "/handlers"} {
			if strings.Contains(dep, banned) {
				t.Errorf("licensing/client depends on %s (matches %q)", dep, banned)
			}
		}
	}
}
