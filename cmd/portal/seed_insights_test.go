package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/insights"
	"github.com/nectarcloud/nls/jobs"
)

type activeFinding struct {
	kind, subject, customer, status string
}

func activeFindings(t *testing.T, pool *pgxpool.Pool) []activeFinding {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT f.kind, f.subject, coalesce(c.name, ''), f.status FROM findings f
		LEFT JOIN customers c ON c.id = f.customer_id WHERE f.status <> 'resolved' ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []activeFinding
	for rows.Next() {
		var f activeFinding
		if err := rows.Scan(&f.kind, &f.subject, &f.customer, &f.status); err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// TestInsightsFindThePlantedCases runs the detectors on the demo data: every
// planted case is found, at least 95 % of the ordinary licenses raise
// nothing, a second run adds nothing, and findings resolve when their
// condition goes away. It logs precision and recall on the seed and the
// anomaly rule's false-positive rate on ordinary days.
func TestInsightsFindThePlantedCases(t *testing.T) {
	ctx := context.Background()
	url := dbtest.NewURL(t)
	env := envOf(map[string]string{"DATABASE_URL": url, "NLS_LOG_LEVEL": "warn", "NLS_DATA_DIR": t.TempDir(),
		"NLS_BCRYPT_COST": "4"})
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"seed"}, env, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("seed: exit %d: %s", code, stderr.String())
	}
	pool, err := db.Connect(ctx, url, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store := db.NewStore(pool)
	now := time.Now()

	start := time.Now()
	changes, err := jobs.RunInsights(ctx, store, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("detectors ran in %s: %+v", time.Since(start).Round(time.Millisecond), changes)

	// What each customer is expected to raise; "Globex" is the demo's
	// license close to its users limit.
	expect := map[string][]string{"Globex": {"upgrade_opportunity"}}
	for _, c := range insightsCases {
		expect[c.customer] = c.expect
	}
	expectSources := []string{"source:key:" + db.DemoForgingSource, "source:api_auth:" + db.DemoGuessSource}
	found := activeFindings(t, pool)
	tp, fp := 0, 0
	hit := map[string]bool{}
	noisy := map[string]bool{}
	for _, f := range found {
		switch {
		case f.customer == "" && slices.Contains(expectSources, f.subject):
			tp++
			hit[f.subject] = true
		case slices.Contains(expect[f.customer], f.kind):
			tp++
			hit[f.customer+"/"+f.kind] = true
		case f.customer == "Tyrell Corporation" && f.kind == "key_attack":
			tp++ // the forged keys name this license
		default:
			fp++
			noisy[f.customer] = true
			t.Logf("unexpected finding: %+v", f)
		}
	}
	want := len(expectSources)
	for _, s := range expectSources {
		if !hit[s] {
			t.Errorf("planted attack %s not found", s)
		}
	}
	for cust, kinds := range expect {
		for _, k := range kinds {
			want++
			if !hit[cust+"/"+k] {
				t.Errorf("planted case %s (%s) not found", cust, k)
			}
		}
	}
	quiet := 0
	for i := 1; i <= ordinaryInsightsLicenses; i++ {
		if !noisy[ordinaryInsightsCustomer(i)] {
			quiet++
		}
	}
	if quiet*100 < 95*ordinaryInsightsLicenses {
		t.Errorf("%d of %d ordinary licenses raised nothing, want at least 95 %%", quiet, ordinaryInsightsLicenses)
	}
	recall := float64(len(hit)) / float64(want)
	precision := float64(tp) / float64(max(tp+fp, 1))
	t.Logf("seed: %d findings, precision %.2f (%d true, %d false), recall %.2f (%d of %d planted), %d of %d ordinary licenses quiet",
		len(found), precision, tp, fp, recall, len(hit), want, quiet, ordinaryInsightsLicenses)

	// The anomaly rule's false-positive rate on the ordinary licenses' days.
	scored, flagged := anomalyFalsePositives(t, store, pool, now)
	t.Logf("usage anomaly rule on ordinary licenses: %d of %d license-metric-days flagged (%.3f %%)", flagged, scored,
		100*float64(flagged)/float64(max(scored, 1)))
	if flagged*100 > scored {
		t.Errorf("anomaly false-positive rate %d/%d above 1 %%", flagged, scored)
	}

	// A second run opens nothing and keeps one finding per subject and kind.
	again, err := jobs.RunInsights(ctx, store, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for k, ch := range again {
		if ch.Opened != 0 || ch.Resolved != 0 {
			t.Errorf("second run changed %s: %+v", k, ch)
		}
	}
	if n := len(activeFindings(t, pool)); n != len(found) {
		t.Errorf("second run: %d findings, want %d", n, len(found))
	}
	var opened int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE type = 'finding.opened'`).Scan(&opened); err != nil {
		t.Fatal(err)
	}
	if opened != len(found) {
		t.Errorf("%d finding.opened events for %d findings", opened, len(found))
	}

	// The conditions go away: the attacks stop (their records age out of
	// the window), the shared deployment is seen from one machine again.
	if _, err := pool.Exec(ctx, `DELETE FROM source_failures`); err != nil {
		t.Fatal(err)
	}
	var shared uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT l.id FROM licenses l JOIN customers c ON c.id = l.customer_id WHERE c.name = 'Northwind Traders'`).Scan(&shared); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM validation_sightings WHERE license_id = $1 AND fingerprint <> $2`, shared,
		db.FingerprintDigest("fp-"+shared.String()[:8]+"-1")); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM validation_sightings WHERE license_id = $1 AND network <> (SELECT network
		FROM validation_sightings WHERE license_id = $1 AND deployment_id = 'prod-1' ORDER BY count DESC LIMIT 1)`, shared); err != nil {
		t.Fatal(err)
	}
	third, err := jobs.RunInsights(ctx, store, now.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if third[insights.KindKeyAttack].Resolved != 3 || third[insights.KindSharing].Resolved != 1 {
		t.Errorf("after the attacks stopped and the sharing ended: %+v, %+v", third[insights.KindKeyAttack], third[insights.KindSharing])
	}
	var resolvedEvents int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE type = 'finding.resolved'`).Scan(&resolvedEvents); err != nil {
		t.Fatal(err)
	}
	if resolvedEvents != 4 {
		t.Errorf("%d finding.resolved events, want 4", resolvedEvents)
	}
	for _, f := range activeFindings(t, pool) {
		if f.kind == "key_attack" || f.customer == "Northwind Traders" {
			t.Errorf("still active after its condition went away: %+v", f)
		}
	}
}

// anomalyFalsePositives scores every day of the ordinary licenses' series
// that has 28 days of history.
func anomalyFalsePositives(t *testing.T, store *db.Store, pool *pgxpool.Pool, now time.Time) (scored, flagged int) {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT DISTINCT u.license_id, u.metric FROM usage_daily u JOIN licenses l ON l.id = u.license_id
		JOIN customers c ON c.id = l.customer_id WHERE c.name LIKE 'Ordinary Customer %'`)
	if err != nil {
		t.Fatal(err)
	}
	var lics []uuid.UUID
	var metrics []string
	for rows.Next() {
		var l uuid.UUID
		var m string
		if err := rows.Scan(&l, &m); err != nil {
			t.Fatal(err)
		}
		lics, metrics = append(lics, l), append(metrics, m)
	}
	rows.Close()
	y := now.UTC().AddDate(0, 0, -1)
	series, err := store.InsightDailySeries(ctx, db.InsightDailySeriesParams{LicenseIds: lics, Metrics: metrics,
		FromDay: y.AddDate(0, 0, -119), ToDay: y})
	if err != nil {
		t.Fatal(err)
	}
	byPair := map[string][]insights.Point{}
	for _, r := range series {
		k := r.LicenseID.String() + r.Metric
		byPair[k] = append(byPair[k], insights.Point{At: r.Day, V: float64(r.Value)})
	}
	for k, days := range byPair {
		for i := insights.AnomalyHistoryDays; i < len(days); i++ {
			s, ok := insights.ScoreDay(days, i)
			if !ok {
				continue
			}
			scored++
			if s.Anomalous() {
				flagged++
				if flagged < 5 {
					t.Logf("ordinary day flagged: %s %+v", strings.TrimSpace(k), s)
				}
			}
		}
	}
	return scored, flagged
}
