package db_test

// Usage reports are recorded by group commit: concurrent requests share one
// statement (record_usage_batch). These tests hold the combiner's runners on
// a license row the test has locked, so that the requests sent meanwhile
// queue and are known to run as one batch, and check that batching keeps
// each request's answer: ids counted once per license, duplicates across
// requests of a batch, a refused request failing alone, rollups exact.

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

// waitFor polls cond until it holds, failing the test after ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// holdUsageBatches occupies every usage runner with a request on a license
// whose row the test holds locked, so that the requests sent next queue.
// The function it returns waits until n requests are queued, then lets the
// runners go, and answers the batch counters as they were before the
// queued requests ran.
func holdUsageBatches(t *testing.T, f speedFixture, now time.Time) (release func(n int) db.UsageBatchStats) {
	t.Helper()
	ctx := context.Background()
	blocker := f.addLicense(t, licenseRow{status: "active", starts: now.AddDate(-1, 0, 0), notes: "blocker"})
	tx, err := f.store.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	if _, err := tx.Exec(ctx, `SELECT 1 FROM licenses WHERE id = $1 FOR UPDATE`, blocker); err != nil {
		t.Fatal(err)
	}
	var held sync.WaitGroup
	errs := make(chan error, db.UsageBatchParallel)
	for i := range db.UsageBatchParallel {
		held.Add(1)
		go func() {
			defer held.Done()
			_, err := f.store.ReportUsage(ctx, db.UsageLicense{ID: blocker, CustomerID: f.customer}, nil,
				[]db.UsageReportIn{{ID: uuid.New(), PeriodStart: now, PeriodEnd: now, Metrics: map[string]int64{"apiCalls": 1}}}, now)
			errs <- err
		}()
		waitFor(t, fmt.Sprintf("%d usage batches held", i+1), func() bool {
			running, queued := f.store.UsageQueue()
			return running == i+1 && queued == 0
		})
	}
	return func(n int) db.UsageBatchStats {
		t.Helper()
		waitFor(t, fmt.Sprintf("%d usage requests queued", n), func() bool {
			_, queued := f.store.UsageQueue()
			return queued == n
		})
		before := f.store.UsageBatchStats()
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		held.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("held request: %v", err)
			}
		}
		return before
	}
}

func TestUsageConcurrentSingleReportsAreBatchedAndCountedOnce(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	// Just after a month's start, so that reports land on both sides of it.
	now := time.Date(2026, 5, 1, 0, 30, 0, 0, time.UTC)
	var lics []db.UsageLicense
	for c := range 4 {
		cust := f.addCustomer(t, fmt.Sprint("Batch ", c), fmt.Sprintf("b%d@example.test", c))
		for range 5 {
			id := f.addLicense(t, licenseRow{status: "active", starts: now.AddDate(-1, 0, 0), customer: cust})
			if _, err := f.store.Pool.Exec(ctx, `UPDATE licenses SET limits = '{"apiCalls": 900, "users": 8}' WHERE id = $1`, id); err != nil {
				t.Fatal(err)
			}
			lics = append(lics, db.UsageLicense{ID: id, CustomerID: cust})
		}
	}
	var mu sync.Mutex
	want := map[uuid.UUID]int64{} // apiCalls per license, over both months
	send := func(k int) error {
		l := lics[k%len(lics)]
		at := now.Add(-time.Duration(k%3) * 20 * time.Minute)
		calls := int64(1 + k%13)
		rec, err := f.store.ReportUsage(ctx, l, nil, []db.UsageReportIn{{ID: uuid.New(), PeriodStart: at, PeriodEnd: at,
			Metrics: map[string]int64{"apiCalls": calls, "users": int64(k % 9)}}}, now)
		if err != nil {
			return err
		}
		if rec.Results[0].Status != "accepted" {
			return fmt.Errorf("request %d: %s, want accepted", k, rec.Results[0].Status)
		}
		mu.Lock()
		want[l.ID] += calls
		mu.Unlock()
		return nil
	}

	// Requests queued while the runners are busy go in few statements.
	const queued = 150
	release := holdUsageBatches(t, f, now)
	var wg sync.WaitGroup
	errs := make(chan error, queued+200)
	for k := range queued {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- send(k) }()
	}
	before := release(queued)
	wg.Wait()
	after := f.store.UsageBatchStats()
	if got, most := after.Statements-before.Statements, int64((queued+63)/64+db.UsageBatchParallel); got > most {
		t.Errorf("%d queued requests took %d statements, want at most %d", queued, got, most)
	}
	if after.Requests-before.Requests != queued {
		t.Errorf("the statements carried %d requests, want %d", after.Requests-before.Requests, queued)
	}

	// And requests arriving at random, from 8 clients at once.
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 25 {
				errs <- send(queued + c*25 + k)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var reports int
	if err := f.store.Pool.QueryRow(ctx, `SELECT count(*) FROM usage_reports WHERE license_id = ANY ($1)`,
		licenseIDs(lics)).Scan(&reports); err != nil || reports != queued+200 {
		t.Fatalf("%d reports stored (%v), want %d", reports, err, queued+200)
	}
	for _, l := range lics {
		var got int64
		if err := f.store.Pool.QueryRow(ctx, `SELECT coalesce(sum(value), 0) FROM usage_periods WHERE license_id = $1 AND metric = 'apiCalls'`,
			l.ID).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want[l.ID] {
			t.Errorf("license %s: apiCalls %d over its periods, want %d", l.ID, got, want[l.ID])
		}
	}
	checkUsageRollups(t, f.store, now)
}

func setLimits(t *testing.T, f speedFixture, l db.UsageLicense, limits string) {
	t.Helper()
	if _, err := f.store.Pool.Exec(context.Background(), `UPDATE licenses SET limits = $2 WHERE id = $1`, l.ID, limits); err != nil {
		t.Fatal(err)
	}
}

func licenseIDs(lics []db.UsageLicense) []uuid.UUID {
	ids := make([]uuid.UUID, len(lics))
	for i, l := range lics {
		ids[i] = l.ID
	}
	return ids
}

func TestUsageSameIDFromTwoRequestsInOneBatchCountsOnce(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	a := db.UsageLicense{ID: f.addLicense(t, licenseRow{status: "active", starts: now.AddDate(-1, 0, 0)}), CustomerID: f.customer}
	b := db.UsageLicense{ID: f.addLicense(t, licenseRow{status: "active", starts: now.AddDate(-1, 0, 0)}), CustomerID: f.customer}
	setLimits(t, f, b, `{"apiCalls": 12}`) // b's use will be near it
	same := uuid.New()
	// Two requests of license a with one id, and one of license b with it
	// too (ids are unique per license), in one batch.
	sends := []struct {
		lic   db.UsageLicense
		calls int64
	}{{a, 5}, {a, 7}, {b, 11}}
	release := holdUsageBatches(t, f, now)
	recs := make([]db.UsageRecorded, len(sends))
	errs := make([]error, len(sends))
	var wg sync.WaitGroup
	for i, s := range sends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs[i], errs[i] = f.store.ReportUsage(ctx, s.lic, nil, []db.UsageReportIn{{ID: same, PeriodStart: now, PeriodEnd: now,
				Metrics: map[string]int64{"apiCalls": s.calls}}}, now)
		}()
	}
	before := release(len(sends))
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if got := f.store.UsageBatchStats().Statements - before.Statements; got != 1 {
		t.Fatalf("the three requests took %d statements, want 1 (one batch)", got)
	}
	st0, st1 := recs[0].Results[0].Status, recs[1].Results[0].Status
	if !(st0 == "accepted" && st1 == "duplicate" || st0 == "duplicate" && st1 == "accepted") {
		t.Fatalf("license a answered %s and %s, want one accepted and one duplicate", st0, st1)
	}
	if st := recs[2].Results[0].Status; st != "accepted" {
		t.Fatalf("license b answered %s, want accepted (ids are per license)", st)
	}
	wantA := sends[0].calls
	if st1 == "accepted" {
		wantA = sends[1].calls
	}
	for i, wantUsed := range []int64{wantA, wantA, sends[2].calls} {
		if got := recs[i].Current["apiCalls"]; got != wantUsed {
			t.Errorf("request %d answered apiCalls %d used, want %d", i, got, wantUsed)
		}
	}
	for _, c := range []struct {
		lic  db.UsageLicense
		want int64
	}{{a, wantA}, {b, sends[2].calls}} {
		var periods, daily int64
		var stored int
		var metrics string
		if err := f.store.Pool.QueryRow(ctx, `SELECT
			    (SELECT value FROM usage_periods WHERE license_id = $1 AND metric = 'apiCalls'),
			    (SELECT value FROM usage_daily WHERE license_id = $1 AND metric = 'apiCalls'),
			    (SELECT count(*) FROM usage_reports WHERE license_id = $1 AND report_id = $2),
			    (SELECT min(metrics::text) FROM usage_reports WHERE license_id = $1 AND report_id = $2)`,
			c.lic.ID, same).Scan(&periods, &daily, &stored, &metrics); err != nil {
			t.Fatal(err)
		}
		if periods != c.want || daily != c.want || stored != 1 {
			t.Errorf("license %s: period %d, day %d, %d reports stored; want %d, %d, 1", c.lic.ID, periods, daily, stored, c.want, c.want)
		}
		// The report stored is the one counted.
		if want := fmt.Sprintf(`{"apiCalls": %d}`, c.want); metrics != want {
			t.Errorf("license %s: report stored with %s, want %s", c.lic.ID, metrics, want)
		}
	}
	checkUsageRollups(t, f.store, now)
}

func TestUsageRefusedRequestInABatchFailsAlone(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	lic := func() db.UsageLicense {
		return db.UsageLicense{ID: f.addLicense(t, licenseRow{status: "active", starts: now.AddDate(-1, 0, 0)}), CustomerID: f.customer}
	}
	full, other1, other2 := lic(), lic(), lic()
	setLimits(t, f, full, `{"users": 6}`) // full's use will be near it
	// A counter this near the largest bigint takes no more: a request adding
	// to it is refused by the database, though its own sums are fine.
	if _, err := f.store.ReportUsage(ctx, full, nil, []db.UsageReportIn{{ID: uuid.New(), PeriodStart: now, PeriodEnd: now,
		Metrics: map[string]int64{"apiCalls": math.MaxInt64 - 10}}}, now); err != nil {
		t.Fatal(err)
	}
	type send struct {
		lic     db.UsageLicense
		metrics map[string]int64
		bad     bool
	}
	sends := []send{
		{other1, map[string]int64{"apiCalls": 3}, false},
		{full, map[string]int64{"apiCalls": 100}, true},
		{other2, map[string]int64{"apiCalls": 4, "users": 2}, false},
		{full, map[string]int64{"users": 6}, false}, // a gauge: the same license's other request is fine
	}
	ids := make([]uuid.UUID, len(sends))
	errs := make([]error, len(sends))
	recs := make([]db.UsageRecorded, len(sends))
	release := holdUsageBatches(t, f, now)
	var wg sync.WaitGroup
	for i, s := range sends {
		ids[i] = uuid.New()
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs[i], errs[i] = f.store.ReportUsage(ctx, s.lic, nil, []db.UsageReportIn{{ID: ids[i], PeriodStart: now, PeriodEnd: now,
				Metrics: s.metrics}}, now)
		}()
	}
	before := release(len(sends))
	wg.Wait()
	after := f.store.UsageBatchStats()
	// The batch of four failed, and each request ran again alone.
	if st, rq := after.Statements-before.Statements, after.Requests-before.Requests; st != 1+int64(len(sends)) || rq != 2*int64(len(sends)) {
		t.Errorf("%d statements carried %d requests, want a batch of %d and each again alone", st, rq, len(sends))
	}
	for i, s := range sends {
		if s.bad {
			if code := licensing.ErrorCode(errs[i]); code != licensing.EINVALID {
				t.Errorf("the request overflowing its counter: %v (%s), want %s", errs[i], code, licensing.EINVALID)
			}
			continue
		}
		if errs[i] != nil {
			t.Errorf("request %d failed with the refused one: %v", i, errs[i])
		} else if recs[i].Results[0].Status != "accepted" {
			t.Errorf("request %d: %s, want accepted", i, recs[i].Results[0].Status)
		}
	}
	names := map[uuid.UUID]string{full.ID: "full", other1.ID: "other1", other2.ID: "other2"}
	got := map[string]int64{}
	for id, name := range names {
		for _, m := range []string{"apiCalls", "users"} {
			var v int64
			err := f.store.Pool.QueryRow(ctx, `SELECT value FROM usage_periods WHERE license_id = $1 AND metric = $2`, id, m).Scan(&v)
			if err == nil {
				got[name+":"+m] = v
			} else if licensing.ErrorCode(err) != licensing.ENOTFOUND && err.Error() != "no rows in result set" {
				t.Fatal(err)
			}
		}
	}
	want := map[string]int64{"full:apiCalls": math.MaxInt64 - 10, "full:users": 6, "other1:apiCalls": 3, "other2:apiCalls": 4, "other2:users": 2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("periods hold %v, want %v", got, want)
	}
	var stored bool
	if err := f.store.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM usage_reports WHERE report_id = $1)`, ids[1]).Scan(&stored); err != nil || stored {
		t.Errorf("the refused report was stored (%v)", err)
	}
	checkUsageRollups(t, f.store, now)
}

// Two processes (two stores, so two combiners) send overlapping sets of
// report ids of one license in opposite orders, many requests at once:
// their batches meet on the same ids and must neither deadlock nor count
// an id twice, and every id is answered accepted exactly once.
func TestUsageBatchesOfTwoProcessesCountEachIDOnce(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	other, err := pgxpool.New(ctx, f.store.Pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	stores := []*db.Store{f.store, db.NewStore(other)}
	lics := []db.UsageLicense{
		{ID: f.addLicense(t, licenseRow{status: "active", starts: now.AddDate(-1, 0, 0)}), CustomerID: f.customer},
		{ID: f.addLicense(t, licenseRow{status: "active", starts: now.AddDate(-1, 0, 0)}), CustomerID: f.customer},
	}
	setLimits(t, f, lics[0], `{"apiCalls": 20}`)
	ids := make([]uuid.UUID, 60)
	for i := range ids {
		ids[i] = uuid.New()
	}
	var mu sync.Mutex
	accepted := map[db.UsageLicense]map[uuid.UUID]int{lics[0]: {}, lics[1]: {}}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for s, store := range stores {
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for round := range 6 {
					// A window of 15 ids, forwards in one process and
					// backwards in the other, of one license or the other.
					lic := lics[(w+round)%2]
					start := (w*7 + round*11) % (len(ids) - 15)
					reports := make([]db.UsageReportIn, 15)
					for k := range reports {
						i := start + k
						if s == 1 {
							i = start + 14 - k
						}
						reports[k] = db.UsageReportIn{ID: ids[i], PeriodStart: now, PeriodEnd: now, Metrics: map[string]int64{"apiCalls": 1}}
					}
					rec, err := store.ReportUsage(ctx, lic, nil, reports, now)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					for _, r := range rec.Results {
						if r.Status == "accepted" {
							accepted[lic][r.ID]++
						}
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent reports: %v", err)
	}
	for _, l := range lics {
		for id, n := range accepted[l] {
			if n != 1 {
				t.Errorf("report %s of license %s answered accepted %d times", id, l.ID, n)
			}
		}
		var stored, total int64
		if err := f.store.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM usage_reports WHERE license_id = $1),
			    (SELECT coalesce(sum(value), 0) FROM usage_periods WHERE license_id = $1 AND metric = 'apiCalls')`,
			l.ID).Scan(&stored, &total); err != nil {
			t.Fatal(err)
		}
		if stored != int64(len(accepted[l])) || total != stored {
			t.Errorf("license %s: %d reports stored, apiCalls %d, answered accepted %d", l.ID, stored, total, len(accepted[l]))
		}
	}
	checkUsageRollups(t, f.store, now)
}

// A request whose ids are all new is stored by a plain INSERT with its
// totals summed by the caller; one with a repeated or stored id runs the
// slow path, which sums the new reports' stored metrics. Both must leave
// the period and day rows at what the accepted reports add up to, for
// counters (summed) and gauges (the peak), across days and periods.
func TestUsageTotalsAreTheAcceptedReportsOnBothPaths(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	lic := db.UsageLicense{ID: f.addLicense(t, licenseRow{status: "active", starts: now.AddDate(-1, 0, 0)}), CustomerID: f.customer}
	setLimits(t, f, lic, `{"users": 10}`) // May's peak of 9 is near it
	day1, day2 := now.Add(-24*time.Hour), now
	lastMonth := time.Date(2026, 4, 30, 23, 0, 0, 0, time.UTC)
	type key struct {
		metric string
		day    string
	}
	wantDaily := map[key]int64{}
	wantPeriod := map[key]int64{} // day: the period's start
	count := func(r db.UsageReportIn) {
		start, _ := lic.UsagePeriod(r.PeriodStart)
		for m, v := range r.Metrics {
			for k, into := range map[key]map[key]int64{
				{m, r.PeriodStart.UTC().Format(time.DateOnly)}: wantDaily, {m, start.Format(time.DateOnly)}: wantPeriod} {
				if licensing.MetricKindOf(m) == licensing.Gauge {
					into[k] = max(into[k], v)
				} else {
					into[k] += v
				}
			}
		}
	}
	report := func(at time.Time, calls, users int64) db.UsageReportIn {
		return db.UsageReportIn{ID: uuid.New(), PeriodStart: at, PeriodEnd: at.Add(time.Minute),
			Metrics: map[string]int64{"apiCalls": calls, "users": users}}
	}
	first := []db.UsageReportIn{report(day1, 3, 9), report(day1, 5, 4), report(day2, 7, 6), report(day2, 11, 2)}
	second := []db.UsageReportIn{
		first[1],                 // stored before
		report(day2, 13, 8),      // new: raises day 2's users peak
		report(lastMonth, 17, 5), // new, in the previous period
		first[3],                 // stored before
	}
	second = append(second, second[1]) // repeated within the request
	wantStatus := [][]string{
		{"accepted", "accepted", "accepted", "accepted"},
		{"duplicate", "accepted", "accepted", "duplicate", "duplicate"},
	}
	for i, reports := range [][]db.UsageReportIn{first, second} {
		rec, err := f.store.ReportUsage(ctx, lic, nil, reports, now)
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		for j, r := range rec.Results {
			if r.Status != wantStatus[i][j] {
				t.Errorf("request %d, report %d: %s, want %s", i+1, j, r.Status, wantStatus[i][j])
			}
			if r.Status == "accepted" {
				count(reports[j])
			}
		}
		if want := wantPeriod[key{"apiCalls", "2026-05-01"}]; rec.Current["apiCalls"] != want {
			t.Errorf("request %d answered %d apiCalls used, want %d", i+1, rec.Current["apiCalls"], want)
		}
	}
	read := func(sql string) map[key]int64 {
		t.Helper()
		rows, err := f.store.Pool.Query(ctx, sql, lic.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[key]int64{}
		for rows.Next() {
			var k key
			var v int64
			if err := rows.Scan(&k.metric, &k.day, &v); err != nil {
				t.Fatal(err)
			}
			got[k] = v
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, c := range []struct {
		what string
		got  map[key]int64
		want map[key]int64
	}{
		{"daily", read(`SELECT metric, day::text, value FROM usage_daily WHERE license_id = $1`), wantDaily},
		{"period", read(`SELECT metric, (period_start AT TIME ZONE 'UTC')::date::text, value FROM usage_periods WHERE license_id = $1`), wantPeriod},
	} {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s rows %v, want %v", c.what, c.got, c.want)
		}
	}
	checkUsageRollups(t, f.store, now)
}
