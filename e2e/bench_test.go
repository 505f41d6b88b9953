package e2e

// Latency of the admin pages over a large data set: 100,000 licenses, 20,000
// customers and 30 days of usage (millions of rows), seeded once per run with
// `portal seed`. Run it with
//
//	NLS_BENCH_LARGE=1 go test ./e2e/ -run '^$' -bench AdminPagesLarge -benchtime 50x
//
// Each page is a sub-benchmark reporting ns/op and the 95th percentile.

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

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

var firstLicense = regexp.MustCompile(`data-testid="license-row" data-id="([0-9a-f-]{36})"`)

func BenchmarkAdminPagesLarge(b *testing.B) {
	if !wantLargeBench() {
		b.Skip("set NLS_BENCH_LARGE=1 (or -bench AdminPagesLarge) to seed 100,000 licenses and measure the admin pages")
	}
	const licenses, customers, usageDays = 100_000, 20_000, 30
	p := newPortal(b, dbtest.NewURL(b))
	start := time.Now()
	b.Logf("seeding %d licenses, %d customers, %d days of usage", licenses, customers, usageDays)
	p.run(b, "", func(line string) {
		// Only the progress lines: the demo admin's password is noise here.
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "seed") {
			fmt.Fprintf(os.Stderr, "  %s: %s\n", time.Since(start).Round(time.Second), line)
		}
	}, "seed", "--licenses", fmt.Sprint(licenses), "--customers", fmt.Sprint(customers), "--usage-days", fmt.Sprint(usageDays))
	b.Logf("seeded in %s", time.Since(start).Round(time.Second))
	p.createAdmin(b)
	p.serve(b)
	client := signIn(b, p.URL)

	body := get(b, client, p.URL+"/admin/licenses")
	m := firstLicense.FindStringSubmatch(body)
	if m == nil {
		b.Fatal("GET /admin/licenses: no license row to open")
	}
	pages := []struct{ name, path string }{
		{"list", "/admin/licenses"},
		{"search", "/admin/licenses?q=Customer%20000123"},
		{"detail", "/admin/licenses/" + m[1]},
		{"dashboard", "/admin"},
	}
	for _, pg := range pages {
		b.Run(pg.name, func(b *testing.B) {
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
