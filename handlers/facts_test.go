// Tests of the cached validation facts (db.FactsCache) across processes: a
// held seat validates from memory, and a change made anywhere reaches every
// process's cache within a second through LISTEN/NOTIFY.
package handlers_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/web/static"
)

// newCachedEnv is another app instance on store, as another process would
// be, with its own facts cache listening for changes.
func newCachedEnv(t *testing.T, store *db.Store) (*testEnv, *db.FactsCache) {
	t.Helper()
	return newCachedEnvAt(t, store, nil)
}

// newCachedEnvAt is newCachedEnv with its clock (nil: time.Now), and the
// facts cache's TTL as portal serve sets it.
func newCachedEnvAt(t *testing.T, store *db.Store, now func() time.Time) (*testEnv, *db.FactsCache) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	facts := db.NewFactsCache(store, log, db.FactsTTL)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { facts.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	keys, sealer := testKeys(t)
	cfg := testConfig()
	app := handlers.New(cfg, handlers.Deps{Store: store, Log: log, Limiter: handlers.NewMemoryLimiter(nil),
		Assets: assets, Registry: prometheus.NewRegistry(), Keys: keys, Sealer: sealer, Facts: facts, Now: now})
	deadline := time.Now().Add(10 * time.Second)
	for !facts.Live() {
		if time.Now().After(deadline) {
			t.Fatal("the facts cache never started listening")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return &testEnv{t: t, app: app, store: store, cfg: cfg}, facts
}

func TestCachedFactsServeHeldSeatsAndSuspensionReachesEveryProcess(t *testing.T) {
	f := newFixture(t)
	id, key := f.issue(map[string]any{"plan": "pro"}) // 2 seats
	a, factsA := newCachedEnv(t, f.store)
	b, factsB := newCachedEnv(t, f.store)
	if v := validate(t, a, key, "on-a", nil); v["code"] != "VALID" {
		t.Fatalf("process A: got %v, want VALID", v["code"])
	}
	if v := validate(t, b, key, "on-b", nil); v["code"] != "VALID" {
		t.Fatalf("process B: got %v, want VALID", v["code"])
	}
	// The seats are full now: a third deployment is refused by either
	// process, whatever each has cached.
	if v := validate(t, a, key, "third", nil); v["code"] != "TOO_MANY_DEPLOYMENTS" {
		t.Fatalf("third deployment on A: got %v, want TOO_MANY_DEPLOYMENTS", v["code"])
	}
	// A held seat validates from memory: no load, once the notifications of
	// the two new rows have come back (each process reloads after them).
	deadline := time.Now().Add(5 * time.Second)
	for factsA.Invalidations() < 2 || factsB.Invalidations() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("notifications of the new deployments: A got %d, B %d, want 2 each", factsA.Invalidations(), factsB.Invalidations())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for {
		h0, l0 := factsB.Stats()
		validate(t, b, key, "on-b", nil)
		if h, l := factsB.Stats(); h == h0+1 && l == l0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("process B never answered from memory")
		}
		time.Sleep(20 * time.Millisecond)
	}
	hits, loads := factsB.Stats()
	for range 5 {
		if v := validate(t, b, key, "on-b", nil); v["code"] != "VALID" {
			t.Fatalf("process B again: got %v, want VALID", v["code"])
		}
	}
	if h, l := factsB.Stats(); l != loads || h != hits+5 {
		t.Fatalf("held seat on B: %d hits and %d loads more, want 5 and 0", h-hits, l-loads)
	}

	// Suspended through a third process: both caches drop the license
	// within a second.
	if r := f.do("POST", "/api/licenses/"+id+"/suspend", f.admin, map[string]any{"reason": "unpaid"}); r.Status != 200 {
		t.Fatalf("suspend: %d %s", r.Status, r.Body)
	}
	suspended := time.Now()
	for _, p := range []struct {
		env *testEnv
		dep string
	}{{a, "on-a"}, {b, "on-b"}} {
		for {
			v := validate(t, p.env, key, p.dep, nil)
			if v["code"] == "SUSPENDED" {
				break
			}
			if time.Since(suspended) > time.Second {
				t.Fatalf("%s: still %v a second after the suspension", p.dep, v["code"])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	_, la := factsA.Stats()
	if la < 2 {
		t.Errorf("process A loaded %d times, want a reload after the suspension", la)
	}
}

// An installation heartbeating at the clients' default interval (15
// minutes) is answered from memory, as make bench's production mix is; an
// entry older than the TTL is read again.
func TestHeartbeatsAtTheClientsIntervalAreAnsweredFromMemory(t *testing.T) {
	f := newFixture(t)
	_, key := f.issue(map[string]any{"plan": "pro"})
	var mu sync.Mutex
	clock := time.Now()
	advance := func(d time.Duration) {
		mu.Lock()
		clock = clock.Add(d)
		mu.Unlock()
	}
	env, facts := newCachedEnvAt(t, f.store, func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
	if v := validate(t, env, key, "steady", nil); v["code"] != "VALID" {
		t.Fatalf("first validation: got %v, want VALID", v["code"])
	}
	// The seat's own notification changes nothing here; wait for it so
	// that it cannot fall between the counts below.
	deadline := time.Now().Add(5 * time.Second)
	for facts.Invalidations() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the new deployment's notification never came back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	validate(t, env, key, "steady", nil)
	hits, loads := facts.Stats()
	// Two heartbeats, 15 and 29 minutes after the entry was loaded.
	for i, d := range []time.Duration{15 * time.Minute, 14 * time.Minute} {
		advance(d)
		if v := validate(t, env, key, "steady", nil); v["code"] != "VALID" {
			t.Fatalf("heartbeat %d: got %v, want VALID", i+1, v["code"])
		}
	}
	if h, l := facts.Stats(); h != hits+2 || l != loads {
		t.Fatalf("two heartbeats at the clients' interval: %d hits and %d loads more, want 2 and 0", h-hits, l-loads)
	}
	advance(db.FactsTTL)
	if v := validate(t, env, key, "steady", nil); v["code"] != "VALID" {
		t.Fatalf("after the TTL: got %v, want VALID", v["code"])
	}
	if _, l := facts.Stats(); l != loads+1 {
		t.Fatalf("a validation after the TTL: %d loads more, want 1", l-loads)
	}
}

// The 50-way seat race of TestSeatsHoldUnderConcurrency, with both
// processes answering from their caches: still exactly the seats.
func TestSeatsHoldUnderConcurrencyWithCachedFacts(t *testing.T) {
	f := newFixture(t)
	_, key := f.issue(map[string]any{"plan": "five"})
	a, _ := newCachedEnv(t, f.store)
	b, _ := newCachedEnv(t, f.store)
	validate(t, a, key, "warm-a", nil) // both caches hold the license, one seat taken
	validate(t, b, key, "warm-a", nil)
	var wg sync.WaitGroup
	codes := make(chan string, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			env := a
			if i%2 == 1 {
				env = b
			}
			codes <- validate(t, env, key, fmt.Sprintf("dep-%02d", i), nil)["code"].(string)
		}(i)
	}
	wg.Wait()
	close(codes)
	count := map[string]int{}
	for c := range codes {
		count[c]++
	}
	if count["VALID"] != 4 || count["TOO_MANY_DEPLOYMENTS"] != 46 {
		t.Fatalf("got %v, want exactly 4 VALID and 46 TOO_MANY_DEPLOYMENTS", count)
	}
	var active int
	if err := f.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM deployments WHERE status = 'active'").Scan(&active); err != nil {
		t.Fatal(err)
	}
	if active != 5 {
		t.Fatalf("got %d active deployments stored, want 5", active)
	}
}

// The process where a deployment takes its seat keeps its cached facts of
// the license, the new deployment in them, even once its own notification
// has come back; the other process drops its entry on that notification and
// counts the new seat when it reloads.
func TestNewSeatKeepsItsProcessCacheAndReachesTheOther(t *testing.T) {
	f := newFixture(t)
	_, key := f.issue(map[string]any{"plan": "five"})
	a, factsA := newCachedEnv(t, f.store)
	b, factsB := newCachedEnv(t, f.store)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	seats := func(v map[string]any) any { return v["license"].(map[string]any)["activeDeployments"] }

	validate(t, a, key, "first", nil)
	waitFor("the first seat's notification on both", func() bool {
		return factsA.Invalidations() >= 1 && factsB.Invalidations() >= 1
	})
	if v := validate(t, b, key, "first", nil); v["code"] != "VALID" || seats(v) != float64(1) {
		t.Fatalf("first on B: got %v with %v seats, want VALID with 1", v["code"], seats(v))
	}

	_, loadsA := factsA.Stats()
	invA, invB := factsA.Invalidations(), factsB.Invalidations()
	if v := validate(t, a, key, "second", nil); v["code"] != "VALID" || seats(v) != float64(2) {
		t.Fatalf("second on A: got %v with %v seats, want VALID with 2", v["code"], seats(v))
	}
	waitFor("the second seat's notification on both", func() bool {
		return factsA.Invalidations() > invA && factsB.Invalidations() > invB
	})
	hitsA, _ := factsA.Stats()
	if v := validate(t, a, key, "second", nil); v["code"] != "VALID" || seats(v) != float64(2) {
		t.Fatalf("second on A again: got %v with %v seats, want VALID with 2", v["code"], seats(v))
	}
	if h, l := factsA.Stats(); l != loadsA || h != hitsA+1 {
		t.Fatalf("A after its own new seat: %d loads and %d hits more, want 0 and 1", l-loadsA, h-hitsA)
	}
	_, loadsB := factsB.Stats()
	if v := validate(t, b, key, "first", nil); v["code"] != "VALID" || seats(v) != float64(2) {
		t.Fatalf("first on B after the second seat: got %v with %v seats, want VALID with 2", v["code"], seats(v))
	}
	if _, l := factsB.Stats(); l != loadsB+1 {
		t.Fatalf("B after A's new seat: %d loads, want a reload", l-loadsB)
	}
}
