// Tests of the HTTP edge: what the server does with traffic and bytes it did
// not expect (reused buffers, bad text, foreign request ids, wrong methods,
// oversized headers), over a real listener where Fiber's buffer reuse matters.
package handlers_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// serve runs the app on a real listener for the rest of the test.
func (e *testEnv) serve() string {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	go func() { _ = e.app.Listener(ln) }()
	e.t.Cleanup(func() { _ = e.app.Shutdown() })
	return "http://" + ln.Addr().String()
}

// TestMetricsUnderKeepAliveTraffic drives mixed methods over reused
// connections, as real clients do, then checks that every series /metrics
// exports carries labels the app can produce: with labels read from Fiber's
// reused request buffer they read "GETT" or "POS" and the scrape fails.
func TestMetricsUnderKeepAliveTraffic(t *testing.T) {
	e := newEnv(t)
	base := e.serve()
	key := e.apiKey("admin")

	reqs := []struct{ method, path string }{
		{"GET", "/healthz"},
		{"POST", "/api/validation/validate"},
		{"DELETE", "/api/licenses/" + "00000000-0000-0000-0000-000000000000" + "/deployments/some-deployment"},
		{"PATCH", "/api/customers/00000000-0000-0000-0000-000000000001"},
		{"GET", "/api/customers?limit=2"},
		{"POST", "/api/customers"},
		{"OPTIONS", "/api/plans"},
		{"GET", "/no/such/page/with/a/rather/long/path/that/fills/the/buffer"},
		{"PUT", "/api/plans"},
	}
	const workers, rounds = 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}, Timeout: 10 * time.Second}
			defer client.CloseIdleConnections()
			for i := 0; i < rounds; i++ {
				r := reqs[(i+w)%len(reqs)]
				req, _ := http.NewRequest(r.method, base+r.path, strings.NewReader(`{"name":"x"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+key)
				res, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: got status %d, want 200: %s", res.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}

	routes := map[string]bool{"unmatched": true}
	for _, r := range e.app.GetRoutes(true) {
		routes[r.Path] = true
	}
	methods := map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
		"DELETE": true, "OPTIONS": true, "CONNECT": true, "TRACE": true}
	seen := map[string]float64{}
	for _, name := range []string{"nls_http_requests_total", "nls_http_request_duration_seconds"} {
		f := families[name]
		if f == nil {
			t.Fatalf("/metrics has no %s", name)
		}
		for _, m := range f.GetMetric() {
			var method, route string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "method":
					method = l.GetValue()
					if !methods[method] {
						t.Errorf("%s: method label %q is not an HTTP method", name, method)
					}
				case "route":
					route = l.GetValue()
					if !routes[route] {
						t.Errorf("%s: route label %q is not a route of the app", name, route)
					}
				case "status":
					if n, err := strconv.Atoi(l.GetValue()); err != nil || n < 100 || n > 599 {
						t.Errorf("%s: status label %q is not an HTTP status", name, l.GetValue())
					}
				}
			}
			if name == "nls_http_requests_total" {
				seen[method] += m.GetCounter().GetValue()
			}
		}
	}
	// Every request was counted under its own method.
	want := map[string]float64{}
	for w := 0; w < workers; w++ {
		for i := 0; i < rounds; i++ {
			want[reqs[(i+w)%len(reqs)].method]++
		}
	}
	for m, n := range want {
		if seen[m] != n {
			t.Errorf("requests counted under %s: got %v, want %v", m, seen[m], n)
		}
	}
	if t.Failed() {
		fmt.Println(string(body))
	}
}
