package handlers_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/web/static"
)

// TestDrainTurnsReadinessFirst: once a shutdown begins, /readyz refuses so
// that load balancers move away, while other requests are still answered,
// asking their clients to close the connection.
func TestDrainTurnsReadinessFirst(t *testing.T) {
	store := dbtest.NewStore(t)
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	keys, sealer := testKeys(t)
	ready := &handlers.Readiness{}
	app := handlers.New(testConfig(), handlers.Deps{Store: store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Limiter: handlers.NewMemoryLimiter(nil), Assets: assets, Registry: prometheus.NewRegistry(), Keys: keys,
		Sealer: sealer, Sessions: handlers.SessionKeys("test-session-secret-0123456789abcdef", ""), Readiness: ready})
	e := &testEnv{t: t, app: app, store: store, cfg: testConfig()}

	if r := e.do("GET", "/readyz", "", nil); r.Status != 200 || r.Header.Get("Connection") == "close" {
		t.Fatalf("before the drain: got %d (Connection %q), want 200 kept open", r.Status, r.Header.Get("Connection"))
	}
	ready.Drain()
	wantError(t, e.do("GET", "/readyz", "", nil), 503, "unavailable")
	res, err := app.Test(httptest.NewRequest("GET", "/healthz", nil))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !res.Close && res.Header.Get("Connection") != "close" {
		t.Fatalf("while draining: got %d (Connection %q), want 200 and close", res.StatusCode, res.Header.Get("Connection"))
	}
}
