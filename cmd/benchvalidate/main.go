// Command benchvalidate is make bench's machine API benchmark. It starts a
// throwaway PostgreSQL (fsync on) unless BENCH_DATABASE_URL is set, seeds
// licenses, deployments and a usage report a license, serves the real app on
// loopback, validates every key once (warm), and drives it
// with wrk — a separate process, so the load generator takes no CPU from
// the measured Go runtime — route after route in one run: a one-SELECT
// baseline, /healthz, validate with one key and over many, the production
// heartbeat mix, new deployments taking seats, and usage reports at batch
// sizes 1, 10 and 100 beside a raw multi-row INSERT of the same rows, with
// the background job engine running in the server as portal serve runs it.
// It prints one table with requests/s, p50, p99, allocations per request and
// the ratios to the baseline (and, for usage, to the INSERT floor).
package main

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/pgcluster"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/jobs"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/static"
)

//go:embed load.lua
var loadScript []byte

// heartbeatInterval is the Go client's default (licensing/client): a real
// installation's previous heartbeat is this long ago, so every heartbeat of
// the production mix finds its deployment last seen that long ago.
const heartbeatInterval = 15 * time.Minute

type options struct {
	licenses, connections, threads, poolSize, heartbeats, rounds, wrkNice int
	gcPercent                                                             int // the collector's target in force (app.TuneGC)
	duration                                                              time.Duration
	only, cpuProfile, profileRoutes, memProfile                           string
	jobs, leaveCPU                                                        bool
}

func main() {
	var o options
	flag.IntVar(&o.licenses, "licenses", 10_000, "licenses to seed")
	flag.IntVar(&o.connections, "connections", 64, "concurrent wrk connections")
	// One wrk thread drives all the connections (it is event-driven, and
	// reached 71,000 req/s on /healthz here, over twice any other route).
	// A second thread takes no load off the server: on 2 CPUs it only
	// makes a fourth busy thread beside the server's two processors, and the
	// scheduler's turns between them then set the p99 (measured on a
	// heartbeat route that repeated one body: p99 29.6–38.7 ms in five runs
	// with -threads 2, 10.7–26.3 ms with 1).
	flag.IntVar(&o.threads, "threads", 1, "wrk threads (each drives connections/threads connections)")
	flag.IntVar(&o.poolSize, "pool", 20, "database connections (NLS_DB_MAX_CONNS's default)")
	// Enough that the production mix sends each deployment's heartbeat once
	// in the run (200,000 at 10,000 licenses; it measured up to 17,000
	// req/s over 9 s): a second heartbeat seconds after the first is not a
	// real one, and finds nothing to write.
	flag.IntVar(&o.heartbeats, "heartbeats", 20, "deployments per license seeded for the production heartbeat mix")
	flag.DurationVar(&o.duration, "duration", 9*time.Second, "how long each route is driven in all")
	flag.StringVar(&o.only, "only", "", "run only the routes whose names match this regular expression (the baseline always runs)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write the server's CPU profile over the measured rounds to this file (go tool pprof)")
	flag.StringVar(&o.profileRoutes, "profile-routes", "", "with -cpuprofile: profile only the routes whose names match this regular expression, one file a route and round (FILE.rROUND.NAME; go tool pprof takes them together)")
	flag.StringVar(&o.memProfile, "memprofile", "", "write the server's allocation profile before the measured rounds to FILE.base and after them to FILE (go tool pprof -sample_index=alloc_objects -diff_base FILE.base FILE)")
	flag.IntVar(&o.wrkNice, "wrk-nice", 0, "run wrk at this nice level (10: it yields the CPU to the server and PostgreSQL, as a load generator on another machine would take none of theirs)")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds: each route is driven duration/rounds per round, the routes taking turns, so that a change in the machine's load falls on all of them")
	flag.BoolVar(&o.jobs, "jobs", true, "run the background job engine in the server, as portal serve does (false: events are recorded but not fanned out)")
	flag.BoolVar(&o.leaveCPU, "leave-cpu-for-db", true, "run the server's Go code on one CPU fewer when PostgreSQL is on this machine, as portal serve does (NLS_LEAVE_CPU_FOR_DB; the seeding before uses them all)")
	flag.Parse()
	// The server in this process collects garbage as portal serve does.
	o.gcPercent = app.TuneGC(os.Getenv)
	app.LimitMemory()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx := context.Background()
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is required (apt-get install wrk)")
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	url := os.Getenv("BENCH_DATABASE_URL")
	work, err := os.MkdirTemp("", "nls-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if url == "" {
		cl, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(work, "pg"), Database: "bench"})
		if err != nil {
			return err
		}
		defer cl.Stop()
		url = cl.URL()
	}
	pool, err := db.Connect(ctx, url, int32(o.poolSize))
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := db.Migrate(ctx, pool); err != nil {
		return err
	}
	store := db.NewStore(pool)
	keyring, _, err := licensing.LoadOrInitKeyring(filepath.Join(work, "keys"), time.Now())
	if err != nil {
		return err
	}
	sealer, err := licensing.NewSealer("bench-seal-key-bench-seal-key-0123456789")
	if err != nil {
		return err
	}
	keysSvc := app.NewKeyService(keyring, "nls-bench")

	fmt.Printf("seeding %d licenses…\n", o.licenses)
	start := time.Now()
	keys, ids, err := seed(ctx, store, keysSvc, sealer, o.licenses)
	if err != nil {
		return err
	}
	if err := seedDeployments(ctx, pool, ids, o.heartbeats); err != nil {
		return err
	}
	fmt.Printf("seeded in %s\n", time.Since(start).Round(time.Millisecond))
	if o.jobs {
		// The job engine as portal serve runs it (NLS_WORKERS's default):
		// every new deployment's event enqueues its fan-out in the seat's
		// transaction, and the workers run it. Made after the seed, so
		// that the seed's own events are not fanned out in the rounds; its
		// periodic scans run once at start, before the rounds.
		runner, err := jobs.New(pool, store, jobs.Config{BaseURL: "http://127.0.0.1", Secret: []byte("bench-notice-secret"),
			Sealer: sealer, Log: log})
		if err != nil {
			return err
		}
		if err := runner.Start(context.WithoutCancel(ctx)); err != nil {
			return err
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = runner.Stop(stopCtx)
		}()
		fmt.Println("background jobs: waiting for the scans run at start…")
		if err := jobsIdle(ctx, pool, "lifecycle_scan", "staff_digest", "insights_scan"); err != nil {
			return err
		}
	}
	files, err := writeBodies(work, keys, ids, o.heartbeats)
	if err != nil {
		return err
	}

	if o.leaveCPU {
		if from, to, restore := app.LeaveCPUForDatabase(ctx, url); to < from {
			defer restore()
		}
	}
	assets, err := static.New()
	if err != nil {
		return err
	}
	stats := db.NewValidationStats(store, log)
	statsCtx, stopStats := context.WithCancel(ctx)
	statsDone := make(chan struct{})
	go func() { stats.Run(statsCtx, 10*time.Second); close(statsDone) }()
	defer func() { stopStats(); <-statsDone }()
	seen := db.NewLastSeen(store, log)
	seenCtx, stopSeen := context.WithCancel(ctx)
	seenDone := make(chan struct{})
	go func() { seen.Run(seenCtx, 5*time.Second); close(seenDone) }()
	defer func() { stopSeen(); <-seenDone }()
	facts := db.NewFactsCache(store, log, db.FactsTTL)
	factsCtx, stopFacts := context.WithCancel(ctx)
	factsDone := make(chan struct{})
	go func() { facts.Run(factsCtx); close(factsDone) }()
	defer func() { stopFacts(); <-factsDone }()
	// Rate limited as portal serve is (its in-memory limiter, per client IP
	// and per license), at limits the load stays under: wrk sends every
	// request from one address, and the one-key route from one license.
	registry := prometheus.NewRegistry()
	unlimited := handlers.Rate{Limit: 1 << 30, Window: time.Minute}
	app := handlers.New(handlers.Config{MachineRateIP: unlimited, MachineRateKey: unlimited, APIRate: unlimited},
		handlers.Deps{Store: store, Log: log, Limiter: handlers.NewMemoryLimiter(nil), Assets: assets,
			Registry: registry, Keys: keysSvc, Sealer: sealer, Stats: stats, Seen: seen, Facts: facts})
	addBenchRoutes(app, store, pool, keys, ids)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go app.Listener(ln)
	defer app.Shutdown()
	base := "http://" + ln.Addr().String()
	script := filepath.Join(work, "load.lua")
	if err := os.WriteFile(script, loadScript, 0o600); err != nil {
		return err
	}

	routes := []route{
		{name: "baseline SELECT", path: "/bench/baseline", args: []string{"lines", files.baseline}},
		{name: "healthz", path: "/healthz", args: []string{"get"}},
		{name: "validate, one key", path: "/api/validation/validate", args: []string{"lines", files.oneKey}},
		{name: "validate, many keys", path: "/api/validation/validate", args: []string{"lines", files.manyKeys}},
		{name: "heartbeat, production mix", path: "/api/validation/heartbeat", args: []string{"seq", files.heartbeats}},
		{name: "new deployment (seat)", path: "/api/validation/validate", args: []string{"newdep", files.keys}},
		{name: "usage x1", path: "/api/usage/report", args: []string{"usage", files.keys, "1"}, batch: 1},
		{name: "INSERT floor x1", path: "/bench/usage-floor", args: []string{"usage", files.keys, "1"}, batch: 1, floor: true},
		{name: "usage x10", path: "/api/usage/report", args: []string{"usage", files.keys, "10"}, batch: 10},
		{name: "INSERT floor x10", path: "/bench/usage-floor", args: []string{"usage", files.keys, "10"}, batch: 10, floor: true},
		{name: "usage x100", path: "/api/usage/report", args: []string{"usage", files.keys, "100"}, batch: 100},
		{name: "INSERT floor x100", path: "/bench/usage-floor", args: []string{"usage", files.keys, "100"}, batch: 100, floor: true},
	}
	// One key's deployment takes its seat before the one-key route, as an
	// installation's first validation would.
	if err := os.WriteFile(files.oneKey, []byte(oneKeyBody(keys[0])+"\n"), 0o600); err != nil {
		return err
	}
	only, err := regexp.Compile(o.only)
	if err != nil {
		return fmt.Errorf("-only: %w", err)
	}
	var selected []*route
	for i := range routes {
		r := &routes[i]
		if only.MatchString(r.name) || r.name == "baseline SELECT" {
			selected = append(selected, r)
		}
	}
	if err := probe(base, selected, keys, files); err != nil {
		return err
	}
	fmt.Printf("warming: one validation per key…\n")
	if err := warm(base, files.manyKeys); err != nil {
		return err
	}
	// What the warm-up counted and saw is written now, not in the rounds.
	if err := stats.Flush(ctx); err != nil {
		return err
	}
	if err := seen.Flush(ctx); err != nil {
		return err
	}
	profileRoutes, err := regexp.Compile(o.profileRoutes)
	if err != nil {
		return fmt.Errorf("-profile-routes: %w", err)
	}
	if o.cpuProfile != "" && o.profileRoutes == "" {
		stop, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if o.memProfile != "" {
		if err := writeAllocs(o.memProfile + ".base"); err != nil {
			return err
		}
		defer func() {
			if err := writeAllocs(o.memProfile); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
			}
		}()
	}
	clock, err := newCPUClock(ctx, pool)
	if err != nil {
		return err
	}
	runs := make([][]result, len(selected))
	for round := 0; round < o.rounds; round++ {
		fmt.Printf("round %d of %d\n", round+1, o.rounds)
		for i, r := range selected {
			stop := func() {}
			if o.cpuProfile != "" && o.profileRoutes != "" && profileRoutes.MatchString(r.name) {
				name := strings.Map(func(c rune) rune {
					if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
						return c
					}
					return '-'
				}, r.name)
				if stop, err = startCPUProfile(fmt.Sprintf("%s.r%d.%s", o.cpuProfile, round+1, name)); err != nil {
					return err
				}
			}
			cpuBefore := clock.read()
			servedBefore, err := served(registry, r.path)
			if err != nil {
				return err
			}
			machineBefore := readMachineTicks()
			res, err := drive(base, script, *r, o, facts)
			res.machine = readMachineTicks().minus(machineBefore)
			stop()
			if err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			// The counts, sightings and last-seen times the route gathered
			// are written now, so that their writes fall on this route and
			// not on the next one, and the route is charged for them.
			began := time.Now()
			if err := stats.Flush(ctx); err != nil {
				return err
			}
			if err := seen.Flush(ctx); err != nil {
				return err
			}
			if o.jobs {
				// The jobs the route enqueued (new deployments' fan-out)
				// are its work too.
				if err := jobsIdle(ctx, pool); err != nil {
					return err
				}
			}
			res.flush = time.Since(began)
			res.cpuSelf, res.cpuPG = clock.read().since(cpuBefore)
			servedAfter, err := served(registry, r.path)
			if err != nil {
				return err
			}
			res.inServer = servedAfter.minus(servedBefore)
			res.rps = res.charged()
			r.next = res.last
			fmt.Printf("  %-28s %9.0f req/s  p50 %-9s p99 %-9s flush %-7s steal %s\n", r.name, res.rps, res.p50, res.p99,
				res.flush.Round(time.Millisecond), res.machine.stolen())
			runs[i] = append(runs[i], res)
		}
	}
	results := make([]result, len(selected))
	baseIdx := slices.IndexFunc(selected, func(r *route) bool { return r.name == "baseline SELECT" })
	for i, rs := range runs {
		results[i] = combine(rs)
		if baseIdx >= 0 {
			results[i].lowest, results[i].highest = roundRatios(rs, runs[baseIdx])
		}
	}
	printTable(o, results)
	return nil
}

type route struct {
	name, path string
	args       []string
	batch      int
	floor      bool
	next       int64 // seq routes: the first line the next round sends
}

type result struct {
	route
	rps            float64
	p50, p99       time.Duration
	requests       int64
	errors, non2xx int64
	wrapped, last  int64
	elapsed        time.Duration
	flush          time.Duration // writing what the route gathered, after it
	allocs, bytes  uint64
	// CPU time over the route and its flush: the server's (this process,
	// wrk apart) and PostgreSQL's (when it runs on this machine).
	cpuSelf, cpuPG time.Duration
	// the machine's CPU ticks while wrk drove the route, and how many of
	// them its hypervisor stole
	machine machineTicks
	// the portal's own latency histogram over the route's requests: the
	// time from its first middleware to the end of its last, without the
	// wait for a CPU before the request is read or after it is answered
	inServer         histogram
	loads            int64 // facts cache loads (validations that read the license)
	allocsPerRequest float64
	bytesPerRequest  float64
	// lowest and highest ratio to the baseline's requests/s of the same
	// round: how far the machine's own swings moved the ratio in this run.
	lowest, highest float64
}

// roundRatios is the lowest and highest of a route's per-round ratios to
// the baseline measured in the same rounds.
func roundRatios(rs, base []result) (lo, hi float64) {
	for k := range min(len(rs), len(base)) {
		if base[k].rps <= 0 {
			continue
		}
		q := rs[k].rps / base[k].rps
		if lo == 0 || q < lo {
			lo = q
		}
		hi = max(hi, q)
	}
	return lo, hi
}

var resultRE = regexp.MustCompile(`RESULT requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) errors=(\d+) non2xx=(\d+) wrapped=(\d+) last=(\d+)`)

// drive runs wrk against one route and reads its summary and this
// process's allocations over the run.
func drive(base, script string, r route, o options, facts *db.FactsCache) (result, error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, loadsBefore := facts.Stats()
	args := []string{"-t", strconv.Itoa(o.threads), "-c", strconv.Itoa(o.connections),
		"-d", strconv.Itoa(max(1, int(o.duration.Seconds())/o.rounds)) + "s", "--timeout", "10s", "-s", script, base + r.path, "--"}
	args = append(args, r.args...)
	if r.args[0] == "seq" {
		args = append(args, "1", strconv.FormatInt(r.next, 10), strconv.Itoa(o.threads))
	}
	cmd := exec.Command("wrk", args...)
	if o.wrkNice != 0 {
		cmd = exec.Command("nice", append([]string{"-n", strconv.Itoa(o.wrkNice), "wrk"}, args...)...)
	}
	out, err := cmd.CombinedOutput()
	runtime.ReadMemStats(&after)
	_, loadsAfter := facts.Stats()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	m := resultRE.FindStringSubmatch(string(out))
	if m == nil {
		return result{}, fmt.Errorf("no summary from wrk:\n%s", out)
	}
	n := make([]int64, len(m))
	for i := 1; i < len(m); i++ {
		n[i], _ = strconv.ParseInt(m[i], 10, 64)
	}
	res := result{route: r, requests: n[1], rps: float64(n[1]) / (float64(n[2]) / 1e6),
		p50: time.Duration(n[3]) * time.Microsecond, p99: time.Duration(n[4]) * time.Microsecond,
		errors: n[5], non2xx: n[6], wrapped: n[7], last: n[8], elapsed: time.Duration(n[2]) * time.Microsecond,
		allocs: after.Mallocs - before.Mallocs, bytes: after.TotalAlloc - before.TotalAlloc, loads: loadsAfter - loadsBefore}
	return res, nil
}

// combine adds up a route's rounds: throughput over all of them, and the
// median round's p50 and p99.
// charged is the route's requests a second, its flushes included: a flush
// is one PostgreSQL backend's statements, so its time counts as that much
// of one CPU's, which the requests would have had, spread over all of them.
func (r result) charged() float64 {
	return float64(r.requests) / (r.elapsed.Seconds() + r.flush.Seconds()/float64(runtime.NumCPU()))
}

func combine(rs []result) result {
	out := rs[0]
	out.requests, out.elapsed, out.flush, out.allocs, out.bytes, out.errors, out.non2xx, out.wrapped, out.loads = 0, 0, 0, 0, 0, 0, 0, 0, 0
	out.cpuSelf, out.cpuPG, out.inServer, out.machine = 0, 0, histogram{}, machineTicks{}
	var p50s, p99s []time.Duration
	for _, r := range rs {
		out.requests += r.requests
		out.elapsed += r.elapsed
		out.flush += r.flush
		out.allocs += r.allocs
		out.cpuSelf += r.cpuSelf
		out.cpuPG += r.cpuPG
		out.machine.total += r.machine.total
		out.machine.steal += r.machine.steal
		out.inServer = out.inServer.plus(r.inServer)
		out.loads += r.loads
		out.bytes += r.bytes
		out.errors += r.errors
		out.non2xx += r.non2xx
		out.wrapped += r.wrapped
		p50s, p99s = append(p50s, r.p50), append(p99s, r.p99)
	}
	slices.Sort(p50s)
	slices.Sort(p99s)
	out.p50, out.p99 = p50s[len(p50s)/2], p99s[len(p99s)/2]
	out.rps = out.charged()
	if out.requests > 0 {
		out.allocsPerRequest = float64(out.allocs) / float64(out.requests)
		out.bytesPerRequest = float64(out.bytes) / float64(out.requests)
	}
	return out
}

// jobsIdle waits until a job of each of the kinds given has finished and
// no job is waiting or running: the work a route left to the job engine
// is then done.
func jobsIdle(ctx context.Context, pool *pgxpool.Pool, kinds ...string) error {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		var finished, pending int
		err := pool.QueryRow(ctx, `SELECT
				(SELECT count(DISTINCT kind) FROM river_job WHERE kind = ANY($1) AND finalized_at IS NOT NULL),
				(SELECT count(*) FROM river_job WHERE state IN ('available', 'running', 'retryable', 'pending')
					OR (state = 'scheduled' AND scheduled_at <= now()))`, kinds).Scan(&finished, &pending)
		if err != nil {
			return err
		}
		if finished == len(kinds) && pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("background jobs still busy after 10 minutes (%d of %d start-up scans done, %d jobs pending)",
				finished, len(kinds), pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// warm sends one validation per license key (the many-keys route's
// bodies: each license's deployment seen ten seconds before), so that the
// rounds find every key verified and every license's facts cached, as a
// server that has been up a while has them, whichever routes -only selects
// (before, the first round of each route paid for the keys the routes before
// it had not reached). It takes no write path the rounds measure: the
// production mix's deployments keep their stored times, and no deployment
// is added and no usage reported.
func warm(base, bodies string) error {
	b, err := os.ReadFile(bodies)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var next atomic.Int64
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(lines) {
					return
				}
				res, err := client.Post(base+"/api/validation/validate", "application/json", strings.NewReader(lines[i]))
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					errs <- fmt.Errorf("warming: validation answered %d", res.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// probe sends one request of each route and checks its answer, so that a
// route answering errors fast is not mistaken for a fast route.
func probe(base string, routes []*route, keys []string, files bodyFiles) error {
	last := func(path string) string {
		b, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		return lines[len(lines)-1]
	}
	period := time.Now().UTC().Truncate(time.Minute).Format(time.RFC3339)
	usage := func() string {
		return fmt.Sprintf(`{"licenseKey":%q,"deploymentId":"bench","reports":[{"id":%q,"periodStart":%q,"periodEnd":%q,"metrics":{"apiCalls":1}}]}`,
			keys[1], uuid.NewString(), period, period)
	}
	for _, r := range routes {
		var body, want string
		switch r.args[0] {
		case "get":
			continue
		case "lines", "seq":
			body = last(r.args[1])
			want = `"valid":true`
		case "newdep":
			body = fmt.Sprintf(`{"licenseKey":%q,"deploymentId":"probe-new"}`, keys[1])
			want = `"valid":true`
		case "usage":
			body, want = usage(), `"status":"accepted"`
			if r.floor {
				want = `"stored"`
			}
		}
		if r.name == "baseline SELECT" {
			want = `"status"`
		}
		res, err := http.Post(base+r.path, "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(got), want) {
			return fmt.Errorf("%s: probe answered %d %s, want %s", r.name, res.StatusCode, got, want)
		}
	}
	return nil
}

func printTable(o options, results []result) {
	var baseline float64
	floors := map[int]float64{}
	for _, r := range results {
		if r.name == "baseline SELECT" {
			baseline = r.rps
		}
		if r.floor {
			floors[r.batch] = r.rps
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("\n%d licenses, wrk -t%d -c%d (nice %d), %s per route in %d rounds, %d database connections, %d CPUs (Go code on %d), GOGC %d, load %s\n\n",
		o.licenses, o.threads, o.connections, o.wrkNice, o.duration, o.rounds, o.poolSize, runtime.NumCPU(), runtime.GOMAXPROCS(0), o.gcPercent,
		strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Printf("%-28s %9s %9s %9s %8s %11s %9s %9s %8s %7s %7s %10s %8s %7s %6s %s\n", "route", "req/s", "p50", "p99", "×base", "per round",
		"rows/s", "×INSERT", "allocs", "cpu µs", "pg µs", "server p99", "reloads", "flush", "steal", "errors")
	for _, r := range results {
		rows, vsFloor := "", ""
		if r.batch > 0 {
			rows = fmt.Sprintf("%.0f", r.rps*float64(r.batch))
			if f := floors[r.batch]; f > 0 && !r.floor {
				vsFloor = fmt.Sprintf("%.2f", r.rps/f)
			}
		}
		errs := ""
		if r.errors+r.non2xx > 0 {
			errs = fmt.Sprintf("%d failed, %d non-2xx", r.errors, r.non2xx)
		}
		if r.wrapped > 0 {
			errs += fmt.Sprintf(" (deployments sent again: the list wrapped %d times; raise -heartbeats)", r.wrapped)
		}
		reloads := ""
		if r.loads > 0 && r.requests > 0 {
			reloads = fmt.Sprintf("%.1f%%", 100*float64(r.loads)/float64(r.requests))
		}
		flush := ""
		if r.flush > 0 && r.elapsed > 0 {
			flush = fmt.Sprintf("%.0f%%", 100*r.flush.Seconds()/r.elapsed.Seconds())
		}
		spread := ""
		if r.highest > 0 {
			spread = fmt.Sprintf("%.2f–%.2f", r.lowest, r.highest)
		}
		cpu, pg := "", ""
		if r.requests > 0 {
			cpu = fmt.Sprintf("%.0f", float64(r.cpuSelf.Microseconds())/float64(r.requests))
			if clockPG {
				pg = fmt.Sprintf("%.0f", float64(r.cpuPG.Microseconds())/float64(r.requests))
			}
		}
		fmt.Printf("%-28s %9.0f %9s %9s %8.2f %11s %9s %9s %8.0f %7s %7s %10s %8s %7s %6s %s\n", r.name, r.rps, r.p50.Round(10*time.Microsecond),
			r.p99.Round(10*time.Microsecond), r.rps/baseline, spread, rows, vsFloor, r.allocsPerRequest, cpu, pg, r.inServer.quantileBound(0.99), reloads, flush,
			r.machine.stolen(), errs)
	}
	fmt.Println("\nper round: the lowest and highest of the route's ratios to the baseline measured in the same round.")
	fmt.Println("allocs: allocations per request in the server process (wrk runs apart). cpu µs, pg µs: CPU time per request")
	fmt.Println("of the server process and of PostgreSQL's processes (when it runs on this machine), flush included: unlike")
	fmt.Println("req/s, they do not move with what else the machine runs. server p99: the bound of the portal's latency")
	fmt.Println("histogram (nls_http_request_duration_seconds) under which 99% of the route's requests were handled, from")
	fmt.Println("its first middleware to its last; wrk's p99 adds the waits for a CPU around it. reloads: requests that read their")
	fmt.Println("license from the database rather than the facts cache (portal serve reloads a license once in 8 to 64")
	fmt.Println("heartbeats at the clients' interval, 1 to 8 installations per license, per process). flush: after each")
	fmt.Println("round of a route, the validation counts, sightings and last-seen times it gathered are written at once and")
	fmt.Println("the background jobs it enqueued are run (-jobs), in time shown against the time driven; req/s counts that")
	fmt.Println("time spread over the CPUs, as the requests' share of the machine the background work took")
	fmt.Println("(requests / (seconds driven + flush seconds / CPUs)). steal: the share of the machine's CPU time that its")
	fmt.Println("hypervisor gave to other guests while wrk drove the route (/proc/stat): a run with steal measures its host")
	fmt.Println("as much as the portal, its latencies most of all.")
	fmt.Println("Goals (issue 22): production mix ≥ 0.80×base with p99 < 20ms and < 100 allocs; new deployment ≥ 0.35×base;")
	fmt.Println("usage x1 ≥ 5× its rate before; usage x10/x100 ≥ 0.80× the INSERT floor of the same rows.")
}

func oneKeyBody(key string) string {
	b, _ := json.Marshal(map[string]string{"licenseKey": key, "deploymentId": "bench-0", "hostname": "host-0", "appVersion": "1.0.0"})
	return string(b)
}

type bodyFiles struct{ baseline, oneKey, manyKeys, heartbeats, keys string }

// writeBodies writes the request bodies wrk picks from, one per line.
func writeBodies(dir string, keys []string, ids []uuid.UUID, heartbeats int) (bodyFiles, error) {
	f := bodyFiles{baseline: filepath.Join(dir, "baseline.txt"), oneKey: filepath.Join(dir, "onekey.txt"),
		manyKeys: filepath.Join(dir, "manykeys.txt"), heartbeats: filepath.Join(dir, "heartbeats.txt"),
		keys: filepath.Join(dir, "keys.txt")}
	write := func(path string, n int, line func(i int) any) error {
		file, err := os.Create(path)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(file)
		for i := 0; i < n; i++ {
			switch v := line(i).(type) {
			case string:
				w.WriteString(v)
			default:
				b, _ := json.Marshal(v)
				w.Write(b)
			}
			w.WriteByte('\n')
		}
		if err := w.Flush(); err != nil {
			return err
		}
		return file.Close()
	}
	n := len(keys)
	if err := write(f.baseline, n, func(i int) any { return map[string]any{"id": ids[i]} }); err != nil {
		return f, err
	}
	if err := write(f.manyKeys, n, func(i int) any {
		return map[string]string{"licenseKey": keys[i], "deploymentId": fmt.Sprintf("bench-%d", i),
			"hostname": fmt.Sprintf("host-%d", i), "appVersion": "1.0.0"}
	}); err != nil {
		return f, err
	}
	// Ordered so that consecutive heartbeats are of different licenses.
	if err := write(f.heartbeats, n*heartbeats, func(k int) any {
		i, j := k%n, k/n
		return map[string]string{"licenseKey": keys[i], "deploymentId": fmt.Sprintf("hb-%d-%d", i, j),
			"hostname": fmt.Sprintf("host-%d-%d", i, j), "appVersion": "1.0.0"}
	}); err != nil {
		return f, err
	}
	return f, write(f.keys, n, func(i int) any { return keys[i] })
}

// seedDeployments gives every license a deployment seen ten seconds ago
// (bench-i: the validate routes' installations) and `heartbeats` seen about
// one heartbeat interval ago (hb-i-j: the production mix's, each
// heartbeating once in the run, as real ones do every 15 minutes).
//
// One in four of those was last seen in the previous hour, the others in
// this one: the share of real heartbeats, 15 minutes apart, whose write
// moves the row's seen_hour (migration 00016) and so cannot be a HOT
// update. Seeded all 15 minutes ago, every heartbeat moved it when the run
// began in the first quarter of an hour and none did later, so the route's
// cost, and its ratio, depended on the minute: the last-seen flushes wrote
// 140,000 rows with no HOT update at all in one run.
func seedDeployments(ctx context.Context, pool *pgxpool.Pool, ids []uuid.UUID, heartbeats int) error {
	_, err := pool.Exec(ctx, `
INSERT INTO deployments (license_id, deployment_id, hostname, ip, app_version, first_seen_at, last_seen_at)
SELECT l.id, 'bench-' || (l.i1 - 1), 'host-' || (l.i1 - 1), '127.0.0.1', '1.0.0', now() - interval '1 day',
    now() - interval '10 seconds'
FROM unnest($1::uuid[]) WITH ORDINALITY AS l(id, i1)`, ids)
	if err != nil {
		return fmt.Errorf("seeding deployments: %w", err)
	}
	_, err = pool.Exec(ctx, `
INSERT INTO deployments (license_id, deployment_id, hostname, ip, app_version, first_seen_at, last_seen_at)
SELECT l.id, 'hb-' || (l.i1 - 1) || '-' || j, 'host-' || (l.i1 - 1) || '-' || j, '127.0.0.1', '1.0.0',
    now() - interval '1 day',
    CASE WHEN (l.i1 + j) % 4 = 0
        THEN least(now() - make_interval(secs => $3), seen_hour_of(now()) - interval '1 minute')
        ELSE greatest(now() - make_interval(secs => $3), seen_hour_of(now())) END
FROM unnest($1::uuid[]) WITH ORDINALITY AS l(id, i1), generate_series(0, $2 - 1) j`,
		ids, heartbeats, heartbeatInterval.Seconds())
	if err != nil {
		return fmt.Errorf("seeding heartbeat deployments: %w", err)
	}
	// And seen earlier today, as a deployment heartbeating every 15 minutes
	// was 95 times out of 96: its sighting of the day is stored already (the
	// flush of a run with none seeded inserted 170,000 rows). The server,
	// just started, has not written it itself, so each is written once more
	// in the run (and finds it stored), where a process that has been up
	// writes it once a day (migration 00032).
	_, err = pool.Exec(ctx, `
INSERT INTO validation_sightings (day, license_id, deployment_id, fingerprint, network, count)
SELECT (now() AT TIME ZONE 'UTC')::date, d.license_id, d.deployment_id, '', $1, 1
FROM deployments d WHERE d.deployment_id LIKE 'hb-%'`, db.NetworkOf("127.0.0.1"))
	if err != nil {
		return fmt.Errorf("seeding sightings: %w", err)
	}
	_, err = pool.Exec(ctx, `VACUUM ANALYZE deployments, validation_sightings`)
	return err
}

// addBenchRoutes adds the two floors the machine routes are measured against.
func addBenchRoutes(app *fiber.App, store *db.Store, pool *pgxpool.Pool, keys []string, ids []uuid.UUID) {
	// The least any database-backed check pays: one indexed SELECT.
	app.Post("/bench/baseline", func(c *fiber.Ctx) error {
		var body struct {
			ID uuid.UUID `json:"id"`
		}
		if err := json.Unmarshal(c.Body(), &body); err != nil {
			return err
		}
		l, err := store.GetLicense(c.UserContext(), body.ID)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"id": l.ID, "status": l.Status})
	})
	// The least storing usage reports can cost: one multi-row INSERT of the
	// request's reports, without authentication, deduplication or totals.
	licenseOf := make(map[string]uuid.UUID, len(keys))
	for i, k := range keys {
		licenseOf[k] = ids[i]
	}
	app.Post("/bench/usage-floor", func(c *fiber.Ctx) error {
		var body struct {
			LicenseKey string `json:"licenseKey"`
			Reports    []struct {
				ID          uuid.UUID       `json:"id"`
				PeriodStart time.Time       `json:"periodStart"`
				PeriodEnd   time.Time       `json:"periodEnd"`
				Metrics     json.RawMessage `json:"metrics"`
			} `json:"reports"`
		}
		if err := json.Unmarshal(c.Body(), &body); err != nil {
			return err
		}
		lic := licenseOf[body.LicenseKey]
		n := len(body.Reports)
		rids, starts, ends, metrics := make([]uuid.UUID, n), make([]time.Time, n), make([]time.Time, n), make([]string, n)
		for i, r := range body.Reports {
			rids[i], starts[i], ends[i], metrics[i] = r.ID, r.PeriodStart, r.PeriodEnd, string(r.Metrics)
		}
		_, err := pool.Exec(c.UserContext(), `
INSERT INTO usage_reports (license_id, report_id, period_start, period_end, metrics, received_at)
SELECT $1, unnest($2::uuid[]), unnest($3::timestamptz[]), unnest($4::timestamptz[]), unnest($5::jsonb[]), now()`,
			lic, rids, starts, ends, metrics)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"stored": n})
	})
}

// seed creates n licenses on a plan of 1,000 seats and returns their keys.
func seed(ctx context.Context, store *db.Store, issuer db.KeyIssuer, sealer *licensing.Sealer, n int) ([]string, []uuid.UUID, error) {
	actor := licensing.SystemActor("bench")
	now := time.Now()
	spec := licensing.DefaultPlanSpec()
	seats := int32(1000)
	spec.Code, spec.Name, spec.Features, spec.MaxDeployments = "bench", "Bench", []string{"core"}, &seats
	spec.Limits = map[string]int64{"users": 100}
	if _, err := store.CreatePlan(ctx, actor, spec, now); err != nil {
		return nil, nil, err
	}
	keys := make([]string, n)
	ids := make([]uuid.UUID, n)
	today := now.UTC().Truncate(24 * time.Hour)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				cust, err := store.CreateCustomer(ctx, actor, db.CustomerInput{Name: fmt.Sprintf("Bench %d", i),
					Email: fmt.Sprintf("bench%d@example.com", i)}, now)
				if err != nil {
					errs <- err
					return
				}
				lic, key, err := store.CreateLicense(ctx, actor, issuer, sealer, db.LicenseInput{CustomerID: cust.ID, Plan: "bench"}, now)
				if err != nil {
					errs <- err
					return
				}
				keys[i], ids[i] = key, lic.ID
				// Reported earlier today, as an installation reporting every
				// few minutes has been nearly every time: its period's and
				// day's rows are added to, not inserted (seeded none, about
				// half of the single reports in a run inserted them, where
				// production inserts them once a day).
				_, err = store.ReportUsage(ctx, db.UsageLicense{ID: lic.ID, CustomerID: cust.ID}, nil,
					[]db.UsageReportIn{{ID: uuid.New(), PeriodStart: today, PeriodEnd: today,
						Metrics: map[string]int64{"apiCalls": 1, "users": 1}}}, now)
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, nil, err
	}
	return keys, ids, nil
}

// startCPUProfile profiles this process into path until the returned stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// writeAllocs writes the allocations sampled since the process started.
func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
