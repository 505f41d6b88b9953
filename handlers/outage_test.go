// A database outage, for real: the machine API served over a real listener by
// an app whose PostgreSQL (a throwaway cluster of this test's own) is stopped
// and started again under it.
package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/pgcluster"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/web/static"
)

// lockedBuffer collects log output written from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records are the JSON log records written so far.
func (b *lockedBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		out = append(out, m)
	}
	return out
}

// outageLines are the records that are not the one-per-request access log:
// warnings, errors, and anything that speaks of the database.
func outageLines(recs []map[string]any) []string {
	var out []string
	for _, r := range recs {
		msg, _ := r["msg"].(string)
		level, _ := r["level"].(string)
		if msg == "request" {
			continue
		}
		if level == "WARN" || level == "ERROR" || strings.Contains(msg, "database") {
			out = append(out, level+" "+msg)
		}
	}
	return out
}

func TestDatabaseOutageAnswers503AndLogsOnce(t *testing.T) {
	if _, err := pgcluster.FindBinaries(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx := context.Background()
	// A cluster of our own: the shared test server must never be stopped.
	opts := pgcluster.Options{Dir: filepath.Join(t.TempDir(), "pg"), Fast: true}
	cluster, err := pgcluster.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	pool, err := db.Connect(ctx, cluster.URL(), 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := db.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	store := db.NewStore(pool)

	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	keys, sealer := testKeys(t)
	// Validation counts are flushed in the background, as in production: a
	// flush failing every tick of the outage must not log every tick either.
	const flushEvery = 50 * time.Millisecond
	stats := db.NewValidationStats(store, log)
	statsCtx, stopStats := context.WithCancel(ctx)
	t.Cleanup(stopStats)
	go stats.Run(statsCtx, flushEvery)
	app := handlers.New(testConfig(), handlers.Deps{Store: store, Log: log, Stats: stats,
		Limiter: handlers.NewMemoryLimiter(nil), Assets: assets, Registry: prometheus.NewRegistry(), Keys: keys,
		Sealer: sealer, Sessions: handlers.SessionKeys("test-session-secret-0123456789abcdef", "")})
	e := &testEnv{t: t, app: app, store: store, cfg: testConfig()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	base := "http://" + ln.Addr().String()
	httpc := &http.Client{Timeout: 15 * time.Second}
	send := func(method, path, apiKey string, body any) response {
		t.Helper()
		var rd io.Reader
		if body != nil {
			buf, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(buf)
		}
		req, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if apiKey != "" {
			req.Header.Set("Authorization", "Bearer "+apiKey)
		}
		res, err := httpc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return response{Status: res.StatusCode, Header: res.Header, Body: b}
	}

	admin := e.apiKey("admin")
	r := send("POST", "/api/customers", admin, map[string]any{"name": "Acme", "email": "ops@acme.example"})
	if r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	customerID := r.JSON(t)["id"].(string)
	if r := send("POST", "/api/plans", admin, map[string]any{"code": "five", "name": "Five", "maxDeployments": 5}); r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	r = send("POST", "/api/licenses", admin, map[string]any{"customerId": customerID, "plan": "five"})
	if r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	key := r.JSON(t)["licenseKey"].(string)
	machine := map[string]any{"licenseKey": key, "deploymentId": "d1", "hostname": "h1"}
	usage := func() map[string]any {
		return usageReport(key, "d1", report(uuid.New(), time.Now().UTC().Truncate(time.Hour), map[string]any{"apiCalls": 1}))
	}
	if r := send("POST", "/api/validation/validate", "", machine); r.Status != 200 || r.JSON(t)["code"] != "VALID" {
		t.Fatalf("before the outage: got %d %s, want VALID", r.Status, r.Body)
	}
	if before := outageLines(logs.records(t)); len(before) != 0 {
		t.Fatalf("log lines before the outage: %v", before)
	}

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	const rounds = 10
	for i := 0; i < rounds; i++ {
		for _, c := range []struct {
			path string
			body any
		}{
			{"/api/validation/validate", machine},
			{"/api/validation/heartbeat", machine},
			{"/api/usage/report", usage()},
		} {
			r := send("POST", c.path, "", c.body)
			wantError(t, r, 503, "unavailable")
			if r.Header.Get("Retry-After") == "" {
				t.Fatalf("%s during the outage: 503 without Retry-After", c.path)
			}
		}
		if r := send("GET", "/readyz", "", nil); r.Status != 503 {
			t.Fatalf("readyz during the outage: got %d, want 503", r.Status)
		}
	}
	// A malformed key is answered without the database, and counted: the
	// count cannot be flushed while the database is down.
	if r := send("POST", "/api/validation/validate", "", map[string]any{"licenseKey": "NLS-x-00000000", "deploymentId": "d1"}); r.Status != 200 {
		t.Fatalf("a malformed key during the outage: got %d %s, want 200 INVALID_KEY", r.Status, r.Body)
	}
	waitLines := func(want int) []string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			lines := outageLines(logs.records(t))
			if len(lines) >= want || time.Now().After(deadline) {
				return lines
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitLines(2)
	// Give the flusher ten more failing ticks to (wrongly) log again.
	time.Sleep(10 * flushEvery)
	during := outageLines(logs.records(t))
	wantLines := func(lines []string, want ...string) {
		t.Helper()
		if len(lines) != len(want) {
			for _, r := range logs.records(t) {
				if r["msg"] != "request" {
					t.Log(r)
				}
			}
			t.Fatalf("got %d log lines, want %d (%v): %v", len(lines), len(want), want, lines)
		}
		for _, w := range want {
			found := false
			for _, l := range lines {
				found = found || strings.HasPrefix(l, w)
			}
			if !found {
				t.Fatalf("no log line starting %q in %v", w, lines)
			}
		}
	}
	wantLines(during, "WARN database unreachable", "WARN flushing validation counts failed")

	// The database comes back; the app, never restarted, reconnects.
	if cluster, err = pgcluster.Start(ctx, opts); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := send("POST", "/api/validation/heartbeat", "", machine)
		if r.Status == 200 {
			if code := r.JSON(t)["code"]; code != "VALID" {
				t.Fatalf("after the outage: got %v, want VALID", code)
			}
			break
		}
		wantError(t, r, 503, "unavailable")
		if time.Now().After(deadline) {
			t.Fatal("the app did not recover within 30 s of the database coming back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := send("POST", "/api/usage/report", "", usage()); r.Status != 200 {
		t.Fatalf("usage after the outage: got %d %s", r.Status, r.Body)
	}
	if r := send("GET", "/readyz", "", nil); r.Status != 200 {
		t.Fatalf("readyz after the outage: got %d", r.Status)
	}
	// The end of the outage is logged once, with the count, and the counts
	// kept meanwhile are flushed.
	lines := waitLines(4)
	wantLines(lines, "WARN database unreachable", "WARN flushing validation counts failed",
		"INFO database reachable again after", "INFO flushing validation counts to the database works again")
	t.Logf("outage logged as: %v", lines)
}
