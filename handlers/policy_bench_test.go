// What the licensing policies cost a validation, as served: the same
// validate request (fingerprint and components sent, as both clients do)
// against a license on a plan with the default policy and against licenses
// whose plans bind machines (lock; components) and are in seat overage with
// a soft limit. The server is wired as `portal serve` wires it (facts cache,
// batched last-seen and counts), so a deployment holding its seat validates
// without a database read.
package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/static"
)

// benchServer is the app and its background workers over a fresh database.
type benchServer struct {
	handler fasthttp.RequestHandler
	admin   string
}

func newBenchServer(b *testing.B) *benchServer {
	b.Helper()
	store := dbtest.NewStore(b)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stats, seen, facts := db.NewValidationStats(store, log), db.NewLastSeen(store, log), db.NewFactsCache(store, log, db.FactsTTL)
	for _, run := range []func(){func() { stats.Run(ctx, 10*time.Second) }, func() { seen.Run(ctx, 5*time.Second) },
		func() { facts.Run(ctx) }} {
		wg.Add(1)
		go func() { defer wg.Done(); run() }()
	}
	b.Cleanup(func() { cancel(); wg.Wait() }) // before the database is dropped
	keysOnce.Do(initTestKeys)
	if keysErr != nil {
		b.Fatal(keysErr)
	}
	assets, err := static.New()
	if err != nil {
		b.Fatal(err)
	}
	a := handlers.New(testConfig(), handlers.Deps{Store: store, Log: log, Assets: assets, Registry: prometheus.NewRegistry(),
		Keys: testRing, Sealer: testSealer, Stats: stats, Seen: seen, Facts: facts})
	_, secret, err := store.CreateAPIKey(ctx, licensing.SystemActor("bench"), "bench", []string{"admin"}, nil, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return &benchServer{handler: a.Handler(), admin: secret}
}

// call serves one JSON request and decodes the answer.
func (s *benchServer) call(b *testing.B, method, path string, body any) map[string]any {
	b.Helper()
	raw, _ := json.Marshal(body)
	var rc fasthttp.RequestCtx
	rc.Request.Header.SetMethod(method)
	rc.Request.SetRequestURI(path)
	rc.Request.Header.SetContentType("application/json")
	if !strings.HasPrefix(path, "/api/validation/") {
		rc.Request.Header.Set("Authorization", "Bearer "+s.admin)
	}
	rc.Request.SetBody(raw)
	s.handler(&rc)
	var m map[string]any
	if err := json.Unmarshal(rc.Response.Body(), &m); err != nil || rc.Response.StatusCode() >= 300 {
		b.Fatalf("%s %s: %d %s", method, path, rc.Response.StatusCode(), rc.Response.Body())
	}
	return m
}

func validateBody(key, deployment string) map[string]any {
	return map[string]any{"licenseKey": key, "deploymentId": deployment, "hostname": "host-" + deployment,
		"appVersion": "2.4.1", "fingerprint": "fp-" + deployment,
		"fingerprintComponents": map[string]string{"host": "h-" + deployment, "mac": "m-" + deployment,
			"cpu": "c-" + deployment, "disk": "d-" + deployment}}
}

// policyBench is one license to validate: its plan and the code wanted.
type policyBench struct {
	name, code string
	plan       map[string]any
}

var policyBenches = []policyBench{
	// The same limits everywhere: what differs is the policies alone.
	{"default", "VALID", map[string]any{"maxDeployments": 4, "limits": map[string]int{"users": 10}}},
	// Each policy alone, to see what each costs.
	{"lock", "VALID", map[string]any{"maxDeployments": 8, "fingerprintPolicy": "lock", "limits": map[string]int{"users": 10}}},
	{"overage", "SEAT_OVERAGE", map[string]any{"maxDeployments": 4, "seatOverage": "1.25x", "limits": map[string]int{"users": 10}}},
	{"soft-limit", "VALID", map[string]any{"maxDeployments": 4, "limits": map[string]int{"users": 10},
		"limitEnforcement": map[string]string{"users": "soft"}}},
	{"lock+overage", "SEAT_OVERAGE", map[string]any{"maxDeployments": 4, "fingerprintPolicy": "lock",
		"seatOverage": "1.25x", "transfersPerPeriod": 3, "limits": map[string]int{"users": 10},
		"limitEnforcement": map[string]string{"users": "soft"}}},
	{"components+overage", "SEAT_OVERAGE", map[string]any{"maxDeployments": 4, "fingerprintPolicy": "components",
		"fingerprintMatch": "most", "seatOverage": "1.25x", "transfersPerPeriod": 3, "limits": map[string]int{"users": 10},
		"limitEnforcement": map[string]string{"users": "soft"}}},
}

// BenchmarkValidatePolicies measures the variants in rounds, interleaved:
// each round runs a batch of validations of every variant, in an order that
// rotates from round to round, so that a change in the machine's load
// (other processes on shared cores) falls on all of them alike. Each batch
// is printed as a benchmark line of its own (policy=<variant>), so
//
//	go test -run '^$' -bench ValidatePolicies -benchtime 40x ./handlers/ > v.txt
//	benchstat -col /policy v.txt
//
// compares them; b.N is the number of rounds. The benchmark also reports
// each policy variant's cost as the median of its per-round ratios to the
// default in the same round, with their interquartile range as the noise.
func BenchmarkValidatePolicies(b *testing.B) {
	s := newBenchServer(b)
	cust := s.call(b, "POST", "/api/customers", map[string]any{"name": "Bench", "email": "bench@bench.example"})["id"]
	benches := policyBenches
	if only := os.Getenv("BENCH_POLICY_ONLY"); only != "" { // one variant, for a profile of it alone
		benches = slices.DeleteFunc(slices.Clone(benches), func(pb policyBench) bool { return pb.name != only })
	}
	bodies := make([][]byte, len(benches))
	for i, pb := range benches {
		plan := map[string]any{"code": strings.ReplaceAll(pb.name, "+", "-"), "name": pb.name}
		for k, v := range pb.plan {
			plan[k] = v
		}
		s.call(b, "POST", "/api/plans", plan)
		lic := s.call(b, "POST", "/api/licenses", map[string]any{"customerId": cust, "plan": plan["code"]})
		key := lic["licenseKey"].(string)
		// Five installations: the licenses with four seats and an overage
		// allowance are in overage (1.25x admits the fifth); the others
		// refuse it or have seats to spare.
		for _, d := range []string{"d1", "d2", "d3", "d4", "d5"} {
			s.call(b, "POST", "/api/validation/validate", validateBody(key, d))
		}
		if got := s.call(b, "POST", "/api/validation/validate", validateBody(key, "d4"))["code"]; got != pb.code {
			b.Fatalf("%s: got %v, want %s", pb.name, got, pb.code)
		}
		bodies[i], _ = json.Marshal(validateBody(key, "d4"))
	}
	batch := 500
	if v, err := strconv.Atoi(os.Getenv("BENCH_POLICY_BATCH")); err == nil && v > 0 {
		batch = v
	}
	var rc fasthttp.RequestCtx
	reqs := make([]fasthttp.Request, len(bodies))
	for i := range reqs {
		reqs[i].Header.SetMethod("POST")
		reqs[i].SetRequestURI("/api/validation/validate")
		reqs[i].Header.SetContentType("application/json")
		reqs[i].SetBody(bodies[i])
	}
	// Each batch is timed twice: wall time, and the process's CPU time,
	// which a core taken away by another process's load does not inflate
	// (the machines these run on are shared). Ratios use the CPU time. The
	// allocations per request (the process's, background work included)
	// are the measure that load does not blur.
	var ms runtime.MemStats
	measure := func(v int) (wall, cpu, allocs, bytes float64) {
		// A collection left over from the previous batch would land in this
		// one's time; what garbage costs is in B/op and allocs/op.
		runtime.GC()
		runtime.ReadMemStats(&ms)
		mallocs0, bytes0 := ms.Mallocs, ms.TotalAlloc
		start, cpu0 := time.Now(), processCPU(b)
		for range batch {
			reqs[v].CopyTo(&rc.Request)
			rc.Response.Reset()
			s.handler(&rc)
			if rc.Response.StatusCode() != 200 {
				b.Fatalf("validate: %d %s", rc.Response.StatusCode(), rc.Response.Body())
			}
		}
		n := float64(batch)
		wall, cpu = float64(time.Since(start).Nanoseconds())/n, float64((processCPU(b)-cpu0).Nanoseconds())/n
		runtime.ReadMemStats(&ms)
		return wall, cpu, float64(ms.Mallocs-mallocs0) / n, float64(ms.TotalAlloc-bytes0) / n
	}
	for v := range reqs {
		measure(v) // warm up: caches loaded, leases signed
	}
	samples := make([][]float64, len(reqs))
	fmt.Println() // the benchmark's own name was printed without a newline
	b.ResetTimer()
	for round := range b.N {
		for j := range reqs {
			v := (round + j) % len(reqs)
			wall, cpu, allocs, bytes := measure(v)
			samples[v] = append(samples[v], cpu)
			fmt.Printf("BenchmarkValidatePolicies/policy=%s %d %.0f ns/op %.0f cpu-ns/op %.0f B/op %.1f allocs/op\n",
				benches[v].name, batch, wall, cpu, bytes, allocs)
		}
	}
	b.StopTimer()
	for v := 1; v < len(reqs); v++ {
		ratios := make([]float64, len(samples[v]))
		for r := range ratios {
			ratios[r] = samples[v][r] / samples[0][r]
		}
		slices.Sort(ratios)
		q := func(p float64) float64 { return ratios[int(p*float64(len(ratios)-1)+0.5)] }
		name := strings.ReplaceAll(benches[v].name, "+", "-")
		b.ReportMetric(q(0.5), name+"/default")
		b.ReportMetric(q(0.75)-q(0.25), name+"/default-IQR")
	}
}

// processCPU is the CPU time the process has used, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
