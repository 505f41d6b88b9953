package db_test

// The usage page finds the limits nearly used up with one query over every
// license (ListUsageNearLimits), which applies the current-period rule in
// SQL. This test holds it to the rule in Go: db.UsageLicense.UsagePeriod
// and Store.CurrentUsage, as the license page and the usage report answer
// use them, over licenses on every edge of a billing period.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/licensing"
)

func TestUsageNearLimitsAgreesWithCurrentUsage(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	monthStart, _ := licensing.MonthPeriod(now)
	day := 24 * time.Hour
	ptr := func(t time.Time) *time.Time { return &t }
	type lic struct {
		name         string
		status       string
		start, end   *time.Time // billing period
		reportedAt   []time.Time
		billingAfter [2]*time.Time // billing period set after the usage was recorded
		limitsAfter  string        // limits set after the usage was recorded
	}
	cases := []lic{
		{name: "calendar month", reportedAt: []time.Time{now, now.Add(-2 * day), monthStart.Add(-time.Hour)}},
		{name: "billing period covers now", start: ptr(now.Add(-5 * day)), end: ptr(now.Add(25 * day)),
			reportedAt: []time.Time{now, now.Add(-4 * day), now.Add(-6 * day)}},
		{name: "billing period starts now", start: ptr(now), end: ptr(now.Add(30 * day)), reportedAt: []time.Time{now, now.Add(-time.Hour)}},
		{name: "billing period ends now", start: ptr(now.Add(-30 * day)), end: ptr(now), reportedAt: []time.Time{now.Add(-time.Hour), now}},
		{name: "billing period ended", start: ptr(now.Add(-40 * day)), end: ptr(now.Add(-10 * day)), reportedAt: []time.Time{now, now.Add(-20 * day)}},
		{name: "billing period not begun", start: ptr(now.Add(day)), end: ptr(now.Add(31 * day)), reportedAt: []time.Time{now}},
		{name: "billed after the usage", reportedAt: []time.Time{now.Add(-time.Hour)},
			billingAfter: [2]*time.Time{ptr(now.Add(-3 * day)), ptr(now.Add(27 * day))}},
		{name: "revoked", status: "revoked", reportedAt: []time.Time{now}},
		{name: "limits lowered", reportedAt: []time.Time{now}, limitsAfter: `{"apiCalls": 50, "users": 1}`},
		{name: "limits raised", reportedAt: []time.Time{now, now.Add(-time.Hour)},
			limitsAfter: `{"apiCalls": 100000, "users": 1000, "zero": 5}`},
	}
	var all []db.License
	for i, c := range cases {
		status, revoked := "active", (*time.Time)(nil)
		if c.status == "revoked" {
			status, revoked = "revoked", ptr(now.Add(-day))
		}
		var id uuid.UUID
		err := f.store.Pool.QueryRow(ctx, `
			INSERT INTO licenses (customer_id, plan_id, status, limits, starts_at, grace_days, offline_days,
			    heartbeat_window_hours, dunning_days, billing_period_start, billing_period_end, revoked_at, notes)
			VALUES ($1, $2, $3, '{"apiCalls": 100, "users": 10, "zero": 0}', $4, 7, 30, 72, 14, $5, $6, $7, $8)
			RETURNING id`, f.customer, f.plan, status, now.AddDate(-1, 0, 0), c.start, c.end, revoked, c.name).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		ul := db.UsageLicense{ID: id, CustomerID: f.customer, BillingPeriodStart: c.start, BillingPeriodEnd: c.end}
		for j, at := range c.reportedAt {
			// Each case's use is its own, and lands on both sides of 80% of a limit.
			m := map[string]int64{"apiCalls": int64(40 + 10*i + j), "users": int64(3 + i), "zero": 1, "unlimited": 500}
			if _, err := f.store.RecordUsage(ctx, ul, nil, []db.UsageReportIn{{ID: uuid.New(), PeriodStart: at,
				PeriodEnd: at.Add(time.Minute), Metrics: m}}, at); err != nil {
				t.Fatal(err)
			}
		}
		if c.limitsAfter != "" {
			if _, err := f.store.Pool.Exec(ctx, `UPDATE licenses SET limits = $2 WHERE id = $1`, id, c.limitsAfter); err != nil {
				t.Fatal(err)
			}
		}
		if c.billingAfter[0] != nil {
			if _, err := f.store.Pool.Exec(ctx, `UPDATE licenses SET billing_period_start = $2, billing_period_end = $3 WHERE id = $1`,
				id, c.billingAfter[0], c.billingAfter[1]); err != nil {
				t.Fatal(err)
			}
		}
		l, err := f.store.Raw().GetLicense(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, l)
	}

	var want []string
	for _, l := range all {
		if l.Status == "revoked" {
			continue
		}
		used, err := f.store.CurrentUsage(ctx, l.UsageLicense(), now)
		if err != nil {
			t.Fatal(err)
		}
		for metric, limit := range db.DecodeLimits(l.Limits) {
			if u := used[metric]; u > 0 && u*100 >= limit*80 {
				want = append(want, fmt.Sprintf("%s %s %d/%d", l.Notes, metric, u, limit))
			}
		}
	}
	rows, err := f.store.Raw().ListUsageNearLimits(ctx, db.ListUsageNearLimitsParams{Now: now, MonthStart: monthStart, MaxRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	notes := map[uuid.UUID]string{}
	for _, l := range all {
		notes[l.ID] = l.Notes
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s %s %d/%d", notes[r.LicenseID], r.Metric, r.Used, r.UsageLimit))
	}
	for _, limit := range []int32{1000, 3, 1} {
		n, err := f.store.Raw().CountUsageNearLimits(ctx, db.CountUsageNearLimitsParams{Now: now, MonthStart: monthStart, MaxRows: limit})
		if err != nil {
			t.Fatal(err)
		}
		if want := min(int64(len(rows)), int64(limit)); n != want {
			t.Errorf("count up to %d: %d, want %d", limit, n, want)
		}
	}
	// Fullest first: a limit of 0 (used at all: over it) before any share.
	for i := 1; i < len(rows); i++ {
		a, b := rows[i-1], rows[i]
		if a.UsageLimit != 0 && (b.UsageLimit == 0 || a.Used*b.UsageLimit < b.Used*a.UsageLimit) {
			t.Errorf("row %d (%d/%d) before a fuller row (%d/%d)", i-1, a.Used, a.UsageLimit, b.Used, b.UsageLimit)
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("SQL finds\n  %v\nthe Go rule\n  %v", got, want)
	}
	for _, c := range []string{"billing period covers now", "limits lowered", "calendar month"} {
		if !strings.Contains(fmt.Sprint(want), c+" ") {
			t.Errorf("no row of %q is near a limit: the cases no longer cover the rule", c)
		}
	}
}

// The rollups kept by triggers (00007) must always equal what they roll up,
// whatever order and concurrency the reports come in: usage_metric_days the
// daily rows summed per metric and day, usage_customer_months per customer
// and month (its peak at least the highest day).
func TestUsageRollupsAgreeWithDailyRows(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	now := time.Date(2026, 4, 2, 9, 0, 0, 0, time.UTC)
	var lics []db.UsageLicense
	for i := range 3 {
		cust := f.addCustomer(t, fmt.Sprint("Rollup ", i), fmt.Sprintf("r%d@example.test", i))
		for range 3 {
			id := f.addLicense(t, licenseRow{status: "active", starts: now.AddDate(-1, 0, 0), customer: cust})
			if _, err := f.store.Pool.Exec(ctx, `UPDATE licenses SET limits = '{"apiCalls": 400, "users": 9}' WHERE id = $1`, id); err != nil {
				t.Fatal(err)
			}
			lics = append(lics, db.UsageLicense{ID: id, CustomerID: cust})
		}
	}
	// Reports from every license at once, each over its own days on both
	// sides of a month's end, in batches that overlap, while an admin
	// changes the licenses' limits: they must neither deadlock nor lose a
	// count.
	var wg sync.WaitGroup
	errs := make(chan error, len(lics)*13)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := range 24 {
			l := lics[k%len(lics)]
			if _, err := f.store.Pool.Exec(ctx, `UPDATE licenses SET limits = jsonb_build_object('apiCalls', $2::int, 'users', 9)
				WHERE id = $1`, l.ID, 100+k*40); err != nil {
				errs <- err
				return
			}
		}
	}()
	for i, l := range lics {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range 12 {
				var reports []db.UsageReportIn
				for d := range 1 + (i+b)%4 {
					at := now.AddDate(0, 0, -((i*b + d) % 5)).Add(time.Duration(b) * time.Minute)
					reports = append(reports, db.UsageReportIn{ID: uuid.New(), PeriodStart: at, PeriodEnd: at,
						Metrics: map[string]int64{"apiCalls": int64(1 + i + b + d), "users": int64((i*7 + b*3 + d) % 11)}})
				}
				if _, err := f.store.RecordUsage(ctx, l, nil, reports, now); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent reports: %v", err)
	}
	if _, err := f.store.Pool.Exec(ctx, `DELETE FROM usage_daily WHERE license_id = $1 AND day = $2`, lics[4].ID,
		now.AddDate(0, 0, -1).Truncate(24*time.Hour)); err != nil {
		t.Fatal(err)
	}

	checkUsageRollups(t, f.store, now)
}

// The near-limit rows hold little more than the periods in progress: a
// license's first report in a new period drops its ended ones, and a late
// report to an ended period adds none, while the page still finds the
// current period's.
func TestUsageNearLimitsDropEndedPeriods(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	id := f.addLicense(t, licenseRow{status: "active", starts: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if _, err := f.store.Pool.Exec(ctx, `UPDATE licenses SET limits = '{"apiCalls": 100}' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	lic := db.UsageLicense{ID: id, CustomerID: f.customer}
	report := func(at, clock time.Time, n int64) {
		t.Helper()
		if _, err := f.store.RecordUsage(ctx, lic, nil, []db.UsageReportIn{{ID: uuid.New(), PeriodStart: at, PeriodEnd: at,
			Metrics: map[string]int64{"apiCalls": n}}}, clock); err != nil {
			t.Fatal(err)
		}
	}
	rows := func() string {
		t.Helper()
		var out []string
		r, err := f.store.Pool.Query(ctx, `SELECT period_start, used FROM usage_near_limits WHERE license_id = $1 ORDER BY 1`, id)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for r.Next() {
			var start time.Time
			var used int64
			if err := r.Scan(&start, &used); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s:%d", start.UTC().Format("Jan"), used))
		}
		return strings.Join(out, " ")
	}
	listed := func(now time.Time) string {
		t.Helper()
		monthStart, _ := licensing.MonthPeriod(now)
		got, err := f.store.Raw().ListUsageNearLimits(ctx, db.ListUsageNearLimitsParams{Now: now, MonthStart: monthStart, MaxRows: 10})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range got {
			out = append(out, fmt.Sprintf("%s:%d", r.PeriodStart.UTC().Format("Jan"), r.Used))
		}
		return strings.Join(out, " ")
	}
	march := time.Date(2026, 3, 30, 12, 0, 0, 0, time.UTC)
	april := time.Date(2026, 4, 2, 12, 0, 0, 0, time.UTC)
	report(march, march, 90)
	if got := rows(); got != "Mar:90" {
		t.Fatalf("after March's report: %q, want Mar:90", got)
	}
	if got := listed(march); got != "Mar:90" {
		t.Errorf("listed in March: %q", got)
	}
	report(april, april, 85) // the first report of April: March is over
	if got := rows(); got != "Apr:85" {
		t.Errorf("after April's first report: %q, want Apr:85", got)
	}
	report(march.Add(time.Hour), april, 5) // late, to March
	if got := rows(); got != "Apr:85" {
		t.Errorf("after a late report to March: %q, want Apr:85", got)
	}
	if got := listed(april); got != "Apr:85" {
		t.Errorf("listed in April: %q", got)
	}
	var marchUsed int64
	if err := f.store.Pool.QueryRow(ctx, `SELECT value FROM usage_periods WHERE license_id = $1 AND period_start = $2`,
		id, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)).Scan(&marchUsed); err != nil || marchUsed != 95 {
		t.Errorf("March's usage %d (%v), want 95: the late report still counts", marchUsed, err)
	}
}

// TopUsageCustomers ranks from bounds and sums only some customers; it must
// rank exactly as summing every customer's days does, for counters and
// gauges, ranges inside a month or across two, ties included, and when it
// has to fall back to summing everything.
func TestTopUsageCustomersMatchesSummingEveryDay(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }
	for i := range 40 {
		cust := f.addCustomer(t, fmt.Sprint("Top ", i), fmt.Sprintf("top%d@example.test", i))
		lic := f.addLicense(t, licenseRow{status: "active", starts: day(1, 1), customer: cust})
		p := db.AddUsageDailyParams{LicenseID: lic, CustomerID: cust}
		add := func(d time.Time, metric string, v int64) {
			kind := string(licensing.MetricKindOf(metric))
			p.Metrics, p.Days, p.Kinds, p.Vals = append(p.Metrics, metric), append(p.Days, d), append(p.Kinds, kind), append(p.Vals, v)
		}
		for d := 10; d <= 20; d++ {
			// Within the ranges below: a spread with ties (i%13), and a gauge
			// every customer holds at the same peak all month.
			add(day(3, d), "apiCalls", int64(i%13+d%3))
			add(day(3, d), "users", int64((i*7)%17))
			add(day(3, d), "integrations", 7)
		}
		// Outside them but in the same months: large and in another order,
		// so that the months' bounds rank customers unlike the ranges do.
		add(day(3, 2), "apiCalls", int64((40-i)*50))
		add(day(3, 30), "users", int64(100+i))
		add(day(4, 25), "apiCalls", int64(i*40))
		if err := f.store.Raw().AddUsageDaily(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, bounds := range []int{2000, 12} { // 12: too few to settle, so it sums everything
		for _, tc := range []struct {
			metric   string
			from, to time.Time
		}{
			{"apiCalls", day(3, 10), day(3, 20)},
			{"apiCalls", day(3, 12), day(4, 10)},
			{"users", day(3, 10), day(3, 15)},
			{"integrations", day(3, 12), day(3, 14)},
			{"apiCalls", day(5, 1), day(5, 30)},
		} {
			t.Run(fmt.Sprint(tc.metric, tc.from.Format("0102"), tc.to.Format("0102"), "/", bounds), func(t *testing.T) {
				db.SetTopUsageBounds(t, bounds)
				got, err := f.store.TopUsageCustomers(ctx, tc.metric, tc.from, tc.to, 10)
				if err != nil {
					t.Fatal(err)
				}
				want, err := f.store.Raw().ListTopUsageCustomers(ctx, db.ListTopUsageCustomersParams{Metric: tc.metric,
					FromDay: tc.from, ToDay: tc.to, MaxRows: 10})
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("ranked from bounds\n  %v\nsumming every day\n  %v", got, want)
				}
				if tc.from.Month() == 3 && len(want) != 10 {
					t.Errorf("got %d customers, want 10", len(want))
				}
			})
		}
	}
}

// checkUsageRollups fails unless every rollup of 00007 equals what it
// rolls up: usage_metric_days and usage_customer_months the daily rows
// (the months' peaks at least their highest day), usage_near_limits the
// periods at 80% of their license's limit or more.
func checkUsageRollups(t *testing.T, store *db.Store, now time.Time) {
	t.Helper()
	ctx := context.Background()
	read := func(sql string) string {
		t.Helper()
		rows, err := store.Pool.Query(ctx, strings.ReplaceAll(sql, "@now", "'"+now.UTC().Format(time.RFC3339Nano)+"'::timestamptz"))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(vals...))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(out, "\n")
	}
	compare := func(what, rollup, rows string) {
		t.Helper()
		got, want := read(rollup), read(rows)
		if got != want || want == "" {
			t.Errorf("%s: the rollup holds\n%s\nthe rows add up to\n%s", what, got, want)
		}
	}
	compare("per metric and day",
		`SELECT metric, day::text, sum(value)::bigint FROM usage_metric_days GROUP BY 1, 2 HAVING sum(value) <> 0 ORDER BY 1, 2`,
		`SELECT metric, day::text, sum(value)::bigint FROM usage_daily GROUP BY 1, 2 HAVING sum(value) <> 0 ORDER BY 1, 2`)
	compare("per customer and month",
		`SELECT metric, month::text, customer_id::text, total FROM usage_customer_months WHERE total <> 0 ORDER BY 1, 2, 3`,
		`SELECT metric, date_trunc('month', day)::date::text, customer_id::text, sum(value)::bigint FROM usage_daily
		 GROUP BY 1, 2, 3 HAVING sum(value) <> 0 ORDER BY 1, 2, 3`)
	// Every period in progress at the mark is there; ended ones may linger
	// until the license's next period begins, but with their right values.
	atMark := `FROM usage_periods p JOIN licenses l ON l.id = p.license_id
		 WHERE l.limits ? p.metric AND p.value > 0 AND p.value * 100 >= (l.limits ->> p.metric)::bigint * 80`
	compare("near a limit",
		`SELECT license_id::text, metric, period_start::text, period_end::text, used, usage_limit FROM usage_near_limits
		 WHERE period_end > @now ORDER BY 1, 2, 3`,
		`SELECT p.license_id::text, p.metric, p.period_start::text, p.period_end::text, p.value, (l.limits ->> p.metric)::bigint `+
			atMark+` AND p.period_end > @now ORDER BY 1, 2, 3`)
	if wrong := read(`SELECT n.license_id, n.metric, n.period_start FROM usage_near_limits n
		 WHERE (n.license_id, n.metric, n.period_start, n.period_end, n.used, n.usage_limit) NOT IN
		   (SELECT p.license_id, p.metric, p.period_start, p.period_end, p.value, (l.limits ->> p.metric)::bigint ` + atMark + `)`); wrong != "" {
		t.Errorf("near-limit rows of ended periods that are not at the mark:\n%s", wrong)
	}
	var low int
	if err := store.Pool.QueryRow(ctx, `SELECT count(*) FROM usage_customer_months m
		WHERE m.peak < (SELECT coalesce(max(u.value), 0) FROM usage_daily u WHERE u.metric = m.metric AND u.customer_id = m.customer_id
		    AND date_trunc('month', u.day)::date = m.month)`).Scan(&low); err != nil || low != 0 {
		t.Errorf("%d customer months peak below their highest day (%v)", low, err)
	}
}

// The bulk seed writes millions of usage rows with the rollup triggers off
// and rebuilds the rollups at the end; after it, the triggers are on again.
func TestBulkSeedRebuildsUsageRollups(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	now := time.Now()
	spec := licensing.DefaultPlanSpec()
	spec.Code, spec.Name, spec.Limits = "metered", "Metered", map[string]int64{"users": 60, "apiCalls": 20000}
	if _, err := store.CreatePlan(ctx, licensing.SystemActor("test"), spec, now); err != nil {
		t.Fatal(err)
	}
	ring, _, err := licensing.LoadOrInitKeyring(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := licensing.NewSealer("bulk-test-seal-key-0123456789abcdefghij")
	if err := (db.BulkSeed{Customers: 10, Licenses: 60, UsageDays: 40, Plans: []string{"metered"}}).
		Run(ctx, store, ringIssuer{ring}, sealer, now, func(string) {}); err != nil {
		t.Fatal(err)
	}
	checkUsageRollups(t, store, now)

	var lic db.UsageLicense
	if err := store.Pool.QueryRow(ctx, `SELECT id, customer_id FROM licenses WHERE status = 'active' LIMIT 1`).Scan(&lic.ID, &lic.CustomerID); err != nil {
		t.Fatal(err)
	}
	if _, err := store.RecordUsage(ctx, lic, nil, []db.UsageReportIn{{ID: uuid.New(), PeriodStart: now, PeriodEnd: now,
		Metrics: map[string]int64{"apiCalls": 30000, "users": 70}}}, now); err != nil {
		t.Fatal(err)
	}
	checkUsageRollups(t, store, now)
}
