package e2e

// Latency of the admin pages over a large data set: 100,000 licenses, 20,000
// customers and 30 days of usage (millions of rows), seeded once per run with
// `portal seed`. Run it with
//
//	NLS_BENCH_LARGE=1 go test ./e2e/ -run '^$' -bench AdminPagesLarge -benchtime 50x
//
// Each page is a sub-benchmark reporting ns/op and the 95th percentile,
// after a few untimed requests that warm the portal's connections.
//
// Seeding takes minutes. To measure again and again over one data set, point
// NLS_BENCH_DB_URL at a database of your own (postgres://…): the first run
// seeds it, later runs find the licenses there and reuse them (the portal
// still applies any new migration when it starts). The portal's data dir
// (signing keys, secrets) is then kept in NLS_BENCH_DATA_DIR, by default a
// folder under the system temp dir named after the database URL.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nectarcloud/nls/db/dbtest"
)

// wantLargeBench reports whether to seed: NLS_BENCH_LARGE=1, or a -bench
// pattern that names this benchmark. A plain `-bench .` over every package
// would otherwise spend many minutes seeding.
func wantLargeBench() bool {
	if os.Getenv("NLS_BENCH_LARGE") == "1" {
		return true
	}
	f := flag.Lookup("test.bench")
	return f != nil && strings.Contains(f.Value.String(), "AdminPagesLarge")
}

// warmups is how many times each page is fetched before it is timed.
const warmups = 10

var firstLicense = regexp.MustCompile(`data-testid="license-row" data-id="([0-9a-f-]{36})"`)

func BenchmarkAdminPagesLarge(b *testing.B) {
	if !wantLargeBench() {
		b.Skip("set NLS_BENCH_LARGE=1 (or -bench AdminPagesLarge) to seed 100,000 licenses and measure the admin pages")
	}
	const licenses, customers, usageDays = 100_000, 20_000, 30
	var p *portal
	if url := os.Getenv("NLS_BENCH_DB_URL"); url == "" {
		p = newPortal(b, dbtest.NewURL(b))
		seedLarge(b, p, licenses, customers, usageDays)
		p.createAdmin(b)
	} else {
		p = newPortal(b, url)
		p.env = append(p.env, "NLS_DATA_DIR="+benchDataDir(url))
		have, admin := benchDBState(b, url)
		switch {
		case have >= licenses:
			b.Logf("reusing the %d licenses at NLS_BENCH_DB_URL", have)
		case have > 10: // more than the demo data: another data set
			b.Fatalf("NLS_BENCH_DB_URL holds %d licenses, want at least %d or an empty database", have, licenses)
		default:
			seedLarge(b, p, licenses, customers, usageDays)
		}
		if !admin {
			p.createAdmin(b)
		}
	}
	p.serve(b)
	client := signIn(b, p.URL)

	body := get(b, client, p.URL+"/admin/licenses")
	m := firstLicense.FindStringSubmatch(body)
	if m == nil {
		b.Fatal("GET /admin/licenses: no license row to open")
	}
	pages := []struct{ name, path string }{
		{"list", "/admin/licenses"},
		{"list-active", "/admin/licenses?status=active"},
		{"list-grace", "/admin/licenses?status=grace"},
		{"list-plan-expiring", "/admin/licenses?plan=pro&expiresWithinDays=30"},
		{"search", "/admin/licenses?q=Customer%20000123"},
		{"detail", "/admin/licenses/" + m[1]},
		{"dashboard", "/admin"},
		{"usage", "/admin/usage"},
		{"usage-week", "/admin/usage?metric=users&days=7"},
		{"stripe-events", "/admin/stripe-events"},
	}
	for _, pg := range pages {
		b.Run(pg.name, func(b *testing.B) {
			// Untimed first requests: the figures are those of a portal that
			// has been running, not of the first queries on each new pooled
			// connection (catalog caches, first plans).
			for range warmups {
				get(b, client, p.URL+pg.path)
			}
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				get(b, client, p.URL+pg.path)
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			p95 := lat[(len(lat)*95+99)/100-1]
			b.ReportMetric(float64(p95)/float64(time.Millisecond), "p95-ms")
		})
	}
}

// seedLarge runs `portal seed` for the large data set, showing its progress.
func seedLarge(b *testing.B, p *portal, licenses, customers, usageDays int) {
	b.Helper()
	start := time.Now()
	b.Logf("seeding %d licenses, %d customers, %d days of usage", licenses, customers, usageDays)
	p.run(b, "", func(line string) {
		// Only the progress lines: the demo admin's password is noise here.
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "seed") {
			fmt.Fprintf(os.Stderr, "  %s: %s\n", time.Since(start).Round(time.Second), line)
		}
	}, "seed", "--licenses", fmt.Sprint(licenses), "--customers", fmt.Sprint(customers), "--usage-days", fmt.Sprint(usageDays))
	b.Logf("seeded in %s", time.Since(start).Round(time.Second))
}

// benchDBState reports how many licenses the database at url holds (0
// before its first migration) and whether the benchmark's admin exists.
func benchDBState(b *testing.B, url string) (licenses int, admin bool) {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatalf("NLS_BENCH_DB_URL: %v", err)
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM licenses), EXISTS (SELECT 1 FROM users WHERE email = $1)`,
		adminEmail).Scan(&licenses, &admin)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined table: not migrated yet
		return 0, false
	}
	if err != nil {
		b.Fatalf("NLS_BENCH_DB_URL: %v", err)
	}
	return licenses, admin
}

// benchDataDir is NLS_BENCH_DATA_DIR, or a folder named after the database.
func benchDataDir(url string) string {
	if dir := os.Getenv("NLS_BENCH_DATA_DIR"); dir != "" {
		return dir
	}
	sum := sha256.Sum256([]byte(url))
	return filepath.Join(os.TempDir(), "nls-bench-"+hex.EncodeToString(sum[:6]))
}

// get fetches a page that must answer 200 and returns its body.
func get(b *testing.B, c *http.Client, url string) string {
	b.Helper()
	res, err := c.Get(url)
	if err != nil {
		b.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		b.Fatalf("GET %s: %v", url, err)
	}
	if res.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: got %d, want 200", url, res.StatusCode)
	}
	return string(raw)
}
