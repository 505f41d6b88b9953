package ha_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/nectarcloud/nls/db/dbtest"
)

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// portalEnv is what every process of one deployment shares: database,
// secrets, signing keys and Redis. Rate limits on the machine API are off
// so that the load below measures availability, not throttling; the
// management API's limit (30 a minute) is what the rate-limit phase tests.
func portalEnv(t *testing.T, dbURL, redisAddr string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DATABASE_URL=" + dbURL, "NLS_KEYS_DIR=" + t.TempDir(), "NLS_SESSION_SECRET=" + randomSecret(),
		"NLS_SEAL_KEY=" + randomSecret(), "NLS_SEED=false", "NLS_LOG_FORMAT=json", "NLS_LOG_LEVEL=info",
		"NLS_BCRYPT_COST=4", "NLS_DB_MAX_CONNS=8", "NLS_RATE_API=30/1m", "NLS_RATE_MACHINE_IP=off",
		"NLS_RATE_MACHINE_LICENSE=off", "NLS_SHUTDOWN_DRAIN=2s", "NLS_SHUTDOWN_TIMEOUT=10s"}
	if redisAddr != "" {
		env = append(env, "REDIS_URL=redis://"+redisAddr+"/0")
	}
	return env
}

// TestThreeProcessesBehindHAProxy runs three portal processes on one
// database behind HAProxy, with Redis for rate limits, while licensed
// installations (the client package) validate and report usage through the
// load balancer. It restarts every process in turn, kills one with SIGKILL,
// and checks the rate limit is shared.
func TestThreeProcessesBehindHAProxy(t *testing.T) {
	bins := need(t, "haproxy", "redis-server")
	bin := portalBinary(t)
	dbURL := dbtest.NewURL(t)
	redisAddr := startRedis(t, bins[1])
	env := portalEnv(t, dbURL, redisAddr)
	adminKey := cli(t, bin, env, "apikey", "create", "--name", "ha-admin", "--scopes", "admin")

	var portals []*portal
	for i := 1; i <= 3; i++ {
		portals = append(portals, newPortal(t, fmt.Sprintf("p%d", i), bin, env))
	}
	// The first start creates the signing keys the others load.
	for _, p := range portals {
		p.start()
	}
	lb := startHAProxy(t, bins[0], portals)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	seatLicense, seatKey := newLicense(t, lb.url(), adminKey, "ha-seats", 3)
	usageLicense, usageKey := newLicense(t, lb.url(), adminKey, "ha-usage", 20)

	t.Run("rate limit is shared", func(t *testing.T) {
		rlKey := cli(t, bin, env, "apikey", "create", "--name", "ha-rl", "--scopes", "customers:read")
		rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
		defer rdb.Close()
		if err := rdb.FlushDB(ctx).Err(); err != nil { // a fresh window for the client address and the key
			t.Fatal(err)
		}
		const limit, sent = 30, 90
		counts := map[int]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for g := 0; g < 6; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < sent/6; i++ {
					req, _ := http.NewRequest("GET", lb.url()+"/api/customers?limit=1", nil)
					req.Header.Set("Authorization", "Bearer "+rlKey)
					code := 0
					if resp, err := probe.Do(req); err == nil {
						resp.Body.Close()
						code = resp.StatusCode
					}
					mu.Lock()
					counts[code]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if counts[200] != limit || counts[429] != sent-limit {
			t.Fatalf("got %v answers by status, want %d × 200 and %d × 429: the limit must hold across processes",
				counts, limit, sent-limit)
		}
		// Round robin spread the requests: each process refused some, which
		// a limit counted in its own memory (30 each) never would.
		for _, p := range portals {
			m := metricsOf(t, p)
			if !strings.Contains(m, `nls_http_requests_total{method="GET",route="/api/customers",status="429"}`) {
				t.Errorf("%s refused no request: the load balancer did not spread them", p.name)
			}
		}
		t.Logf("rate limit %d/min over 3 processes: %v", limit, counts)
	})

	// Five installations race for the three seats, through all processes.
	var seats []*installation
	for i := 0; i < 5; i++ {
		seats = append(seats, newInstallation(t, lb.url(), seatKey, 300*time.Millisecond))
	}
	var wg sync.WaitGroup
	for _, in := range seats {
		wg.Add(1)
		go func() { defer wg.Done(); _ = in.c.Start(ctx) }()
	}
	wg.Wait()
	checkSeats := func(when string) {
		t.Helper()
		valid := 0
		for _, in := range seats {
			if in.c.Valid() {
				valid++
			}
		}
		var held int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM deployments WHERE license_id = $1 AND status = 'active'",
			seatLicense).Scan(&held); err != nil {
			t.Fatal(err)
		}
		if valid != 3 || held != 3 {
			t.Fatalf("%s: %d installations valid and %d seats held, want 3 and 3", when, valid, held)
		}
	}
	checkSeats("after the race")

	// The load: four installations report usage as fast as they get answers.
	var users []*installation
	for i := 0; i < 4; i++ {
		in := newInstallation(t, lb.url(), usageKey, 300*time.Millisecond)
		if err := in.c.Start(ctx); err != nil {
			t.Fatalf("usage installation %d: %v", i, err)
		}
		users = append(users, in)
	}
	all := append(append([]*installation{}, seats...), users...)
	failures := func() (n int64, flushes int64, sample []string) {
		for _, in := range all {
			n += in.tr.fail.Load()
			flushes += in.flushErrs.Load()
			in.tr.mu.Lock()
			sample = append(sample, in.tr.errs...)
			in.tr.mu.Unlock()
		}
		return
	}
	exchanges := func() (n int64) {
		for _, in := range all {
			n += in.tr.ok.Load() + in.tr.fail.Load()
		}
		return
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var loadWG sync.WaitGroup
	for _, in := range users {
		loadWG.Add(1)
		go func() { defer loadWG.Done(); in.use(loadCtx, 20*time.Millisecond) }()
	}
	defer func() { stopLoad(); loadWG.Wait() }()
	waitFor(t, 10*time.Second, "the load to start", func() bool { return exchanges() > 50 })

	t.Run("rolling restart loses nothing", func(t *testing.T) {
		before, _, _ := failures()
		start, startEx := time.Now(), exchanges()
		for _, p := range portals {
			p.signal(syscall.SIGTERM)
			// Until the process exits: readiness must turn (and HAProxy take
			// it out) while its listener still answers.
			notReady, lbDown := false, false
			for p.p.running() {
				healthy := status(p.url()+"/healthz") == http.StatusOK
				if healthy && status(p.url()+"/readyz") == http.StatusServiceUnavailable {
					notReady = true
				}
				if healthy && strings.HasPrefix(lb.serverStatus(p.name), "DOWN") {
					lbDown = true
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !notReady || !lbDown {
				t.Fatalf("%s: /readyz 503 while listening: %v; HAProxy took it out while listening: %v", p.name, notReady, lbDown)
			}
			p.start()
			waitFor(t, 15*time.Second, "HAProxy to take "+p.name+" back", func() bool { return lb.serverStatus(p.name) == "UP" })
		}
		after, _, sample := failures()
		t.Logf("rolling restart of 3 processes in %s: %d client exchanges, %d failed",
			time.Since(start).Round(time.Millisecond), exchanges()-startEx, after-before)
		if after != before {
			t.Fatalf("%d client requests failed during the rolling restart: %v", after-before, sample)
		}
	})

	t.Run("kill -9 under load", func(t *testing.T) {
		before, flushBefore, _ := failures()
		victim := portals[1]
		victim.signal(syscall.SIGKILL)
		victim.p.waitExit(10 * time.Second)
		killed := time.Now()
		waitFor(t, 10*time.Second, "HAProxy to take the killed process out", func() bool {
			return strings.HasPrefix(lb.serverStatus(victim.name), "DOWN")
		})
		// Load goes on without it for a while, then it comes back.
		mark := exchanges()
		// A deadline, not a duration: on a loaded machine 100 exchanges took over 10 s once.
		waitFor(t, 30*time.Second, "traffic on the remaining processes", func() bool { return exchanges() > mark+100 })
		victim.start()
		waitFor(t, 15*time.Second, "HAProxy to take "+victim.name+" back", func() bool { return lb.serverStatus(victim.name) == "UP" })
		after, flushAfter, sample := failures()
		t.Logf("kill -9: %d client exchanges failed (%d usage flushes kept in the outbox for later), back in %s; first: %v",
			after-before, flushAfter-flushBefore, time.Since(killed).Round(time.Millisecond), sample)
		for i, in := range all {
			if i < len(seats) {
				continue
			}
			if !in.c.Valid() {
				t.Errorf("usage installation %d is not valid after the kill: %+v", i, in.c.Status())
			}
		}
		checkSeats("after kill -9")
	})

	// Stop the load, send what is left, and compare with the database.
	stopLoad()
	loadWG.Wait()
	var want int64
	for _, in := range users {
		in.drainOutbox(t, 30*time.Second)
		want += in.sent.Load()
	}
	var reports, daily int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(sum((metrics->>'apiCalls')::bigint), 0) FROM usage_reports WHERE license_id = $1`,
		usageLicense).Scan(&reports); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT coalesce(sum(value), 0) FROM usage_daily WHERE license_id = $1 AND metric = 'apiCalls'`,
		usageLicense).Scan(&daily); err != nil {
		t.Fatal(err)
	}
	t.Logf("usage: installations counted %d apiCalls; stored reports sum to %d, daily totals to %d", want, reports, daily)
	if reports != want || daily != want {
		t.Fatalf("usage lost or counted twice: installations counted %d, reports hold %d, daily totals %d", want, reports, daily)
	}
	checkSeats("at the end")
}

// metricsOf scrapes one process directly.
func metricsOf(t *testing.T, p *portal) string {
	t.Helper()
	resp, err := probe.Get(p.url() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}
