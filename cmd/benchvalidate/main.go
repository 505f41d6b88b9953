// Command benchvalidate measures POST /api/validation/validate against a
// baseline route that does one indexed SELECT over the same pool, side by
// side in one run (make bench). It starts a throwaway PostgreSQL unless
// BENCH_DATABASE_URL is set, seeds licenses, serves the real app on
// loopback and drives both routes with concurrent keep-alive clients.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/pgcluster"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/static"
)

func main() {
	licenses := flag.Int("licenses", 10_000, "licenses to seed")
	clients := flag.Int("clients", 64, "concurrent clients")
	duration := flag.Duration("duration", 10*time.Second, "how long each route is driven")
	flag.Parse()
	if err := run(*licenses, *clients, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(nLicenses, clients int, duration time.Duration) error {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	url := os.Getenv("BENCH_DATABASE_URL")
	if url == "" {
		dir, err := os.MkdirTemp("", "nls-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cl, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(dir, "pg"), Database: "bench"})
		if err != nil {
			return err
		}
		defer cl.Stop()
		url = cl.URL()
	}
	pool, err := db.Connect(ctx, url, 32)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := db.Migrate(ctx, pool); err != nil {
		return err
	}
	store := db.NewStore(pool)
	keysDir, err := os.MkdirTemp("", "nls-bench-keys-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(keysDir)
	keyring, _, err := licensing.LoadOrInitKeyring(keysDir, time.Now())
	if err != nil {
		return err
	}
	sealer, err := licensing.NewSealer("bench-seal-key-bench-seal-key-0123456789")
	if err != nil {
		return err
	}
	keysSvc := app.NewKeyService(keyring, "nls-bench")

	fmt.Printf("seeding %d licenses…\n", nLicenses)
	start := time.Now()
	keys, ids, err := seed(ctx, store, keysSvc, sealer, nLicenses)
	if err != nil {
		return err
	}
	fmt.Printf("seeded in %s\n", time.Since(start).Round(time.Millisecond))

	assets, err := static.New()
	if err != nil {
		return err
	}
	stats := db.NewValidationStats(store, log)
	app := handlers.New(handlers.Config{}, handlers.Deps{Store: store, Log: log, Assets: assets,
		Registry: prometheus.NewRegistry(), Keys: keysSvc, Sealer: sealer, Stats: stats})
	// The baseline: the least any DB-backed check pays — one indexed SELECT.
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go app.Listener(ln)
	defer app.Shutdown()
	base := "http://" + ln.Addr().String()

	validateBody := func(i int) []byte {
		b, _ := json.Marshal(map[string]any{"licenseKey": keys[i], "deploymentId": fmt.Sprintf("bench-%d", i)})
		return b
	}
	baselineBody := func(i int) []byte {
		b, _ := json.Marshal(map[string]any{"id": ids[i]})
		return b
	}
	// Warm up: activates every deployment and fills caches, as in steady state.
	if _, err := drive(base+"/api/validation/validate", validateBody, nLicenses, clients, 0, nLicenses); err != nil {
		return err
	}
	if _, err := drive(base+"/bench/baseline", baselineBody, nLicenses, clients, 0, nLicenses); err != nil {
		return err
	}
	val, err := drive(base+"/api/validation/validate", validateBody, nLicenses, clients, duration, 0)
	if err != nil {
		return err
	}
	bl, err := drive(base+"/bench/baseline", baselineBody, nLicenses, clients, duration, 0)
	if err != nil {
		return err
	}
	fmt.Printf("\n%d licenses, %d concurrent clients, %s per route, GOMAXPROCS shared by clients and server\n\n",
		nLicenses, clients, duration)
	fmt.Printf("%-22s %10s %10s %10s %8s\n", "route", "req/s", "p50", "p99", "errors")
	for _, r := range []struct {
		name string
		res  result
	}{{"validate", val}, {"baseline SELECT", bl}} {
		fmt.Printf("%-22s %10.0f %10s %10s %8d\n", r.name, r.res.rps, r.res.p50, r.res.p99, r.res.errors)
	}
	fmt.Printf("\nvalidate/baseline throughput ratio: %.2f (aim ≥ 0.5); validate p99 %s (aim < 20ms)\n",
		val.rps/bl.rps, val.p99)
	return nil
}

// seed creates n licenses on an unlimited-seat plan and returns their keys.
func seed(ctx context.Context, store *db.Store, issuer db.KeyIssuer, sealer *licensing.Sealer, n int) ([]string, []uuid.UUID, error) {
	actor := licensing.SystemActor("bench")
	now := time.Now()
	spec := licensing.DefaultPlanSpec()
	spec.Code, spec.Name, spec.Features = "bench", "Bench", []string{"core"}
	spec.Limits = map[string]int64{"users": 100}
	if _, err := store.CreatePlan(ctx, actor, spec, now); err != nil {
		return nil, nil, err
	}
	keys := make([]string, n)
	ids := make([]uuid.UUID, n)
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

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int64
}

// drive sends requests from clients goroutines, each cycling over its own
// share of the n bodies, for d (or, when d is 0, total requests in all).
func drive(url string, body func(int) []byte, n, clients int, d time.Duration, total int) (result, error) {
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      atomic.Int64
		sent      atomic.Int64
		wg        sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for k := 0; ; k++ {
				if d > 0 && time.Now().After(deadline) {
					break
				}
				if d == 0 && int(sent.Add(1)) > total {
					break
				}
				i := (w + k*clients) % n
				t0 := time.Now()
				res, err := client.Post(url, "application/json", bytes.NewReader(body(i)))
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					errs.Add(1)
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(latencies) == 0 {
		return result{}, fmt.Errorf("no request completed against %s", url)
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	q := func(p float64) time.Duration {
		return latencies[int(p*float64(len(latencies)-1))].Round(10 * time.Microsecond)
	}
	return result{rps: float64(len(latencies)) / elapsed.Seconds(), p50: q(0.50), p99: q(0.99), errors: errs.Load()}, nil
}
