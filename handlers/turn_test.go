package handlers_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/web/static"
)

// A request lets the goroutines already waiting for the processor run before
// it is handled. On one processor (portal serve beside a local PostgreSQL) a
// connection whose next request is always there would otherwise keep the
// processor until Go preempts it, 10 ms on, while every other connection's
// request waits.
func TestARequestWaitsItsTurnForTheProcessor(t *testing.T) {
	store := dbtest.NewStore(t)
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	keys, sealer := testKeys(t)
	app := handlers.New(testConfig(), handlers.Deps{Store: store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Limiter: handlers.NewMemoryLimiter(nil), Assets: assets, Registry: prometheus.NewRegistry(), Keys: keys,
		Sealer: sealer, Sessions: handlers.SessionKeys("test-session-secret-0123456789abcdef", "")})
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const requests = 200
	waitedTurns := 0
	for range requests {
		var waited atomic.Bool
		// Ready to run before the request is; without its turn taken, the
		// request's goroutine would serve it to the end first, and this
		// test's goroutine, woken by the answer, would run before it.
		go waited.Store(true)
		res, err := app.Test(httptest.NewRequest("GET", "/no-such-page", nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Fatalf("got %d, want 404", res.StatusCode)
		}
		if waited.Load() {
			waitedTurns++
		}
	}
	// Go's scheduler looks at its global queue first once in 61 turns, so
	// now and then the request resumes before the waiting goroutine runs;
	// without its turn taken it never waits at all.
	if waitedTurns < requests/2 {
		t.Fatalf("%d of %d requests were served before a goroutine already waiting for the processor ran",
			requests-waitedTurns, requests)
	}
}
