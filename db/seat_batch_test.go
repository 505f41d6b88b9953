// Seats in batches (acquire_seats, migration 00024): concurrent requests
// share statements and never exceed a license's seats, each license's tally
// follows every change of its deployments, and the seats are counted when
// the answer needs them.
package db_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/licensing"
)

// tallyMismatches is how many licenses' tallies differ from a recount of
// the deployments that could hold a seat.
func tallyMismatches(t *testing.T, store *db.Store) int {
	t.Helper()
	var n int
	if err := store.Pool.QueryRow(context.Background(), `
SELECT count(*) FROM (SELECT license_id, count(*) AS c FROM deployments
    WHERE status = 'active' OR offline_until IS NOT NULL GROUP BY 1) d
FULL JOIN license_seat_tallies t USING (license_id)
WHERE coalesce(d.c, 0) <> coalesce(t.candidates, 0)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConcurrentSeatRequestsShareStatementsAndKeepTheSeats(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx, now := context.Background(), time.Now()
	seats := int32(2)
	spec := licensing.DefaultPlanSpec()
	spec.Code, spec.Name, spec.MaxDeployments, spec.HeartbeatWindowHours = "two", "Two", &seats, 24
	if _, err := store.CreatePlan(ctx, licensing.SystemActor("test"), spec, now); err != nil {
		t.Fatal(err)
	}
	ring, _, err := licensing.LoadOrInitKeyring(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := licensing.NewSealer("seat-batch-test-seal-key-0123456789abc")
	cust, err := store.CreateCustomer(ctx, licensing.SystemActor("test"), db.CustomerInput{Name: "C", Email: "c@example.com"}, now)
	if err != nil {
		t.Fatal(err)
	}
	// Every activation is delivered to both endpoints, whichever batch it
	// was written in; the disabled one gets nothing.
	for i, hook := range []db.WebhookEndpointInput{
		{URL: "https://all.example.com/", Events: []string{"*"}, Enabled: true},
		{URL: "https://seats.example.com/", Events: []string{events.DeploymentActivated}, Enabled: true},
		{URL: "https://off.example.com/", Events: []string{"*"}, Enabled: false},
	} {
		if _, err := store.CreateWebhookEndpoint(ctx, licensing.SystemActor("test"), uuid.New(), hook,
			[]byte(fmt.Sprint("sealed-", i)), now); err != nil {
			t.Fatal(err)
		}
	}
	const licenses, perLicense = 30, 3
	ids := make([]uuid.UUID, licenses)
	for i := range ids {
		l, _, err := store.CreateLicense(ctx, licensing.SystemActor("test"), ringIssuer{ring}, sealer,
			db.LicenseInput{CustomerID: cust.ID, Plan: "two"}, now)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = l.ID
	}

	before := store.SeatStatements()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	held, full := map[uuid.UUID]int{}, map[uuid.UUID]int{}
	for i := 0; i < licenses*perLicense; i++ {
		wg.Add(1)
		go func(lic uuid.UUID, dep string) {
			defer wg.Done()
			<-start
			a, err := store.AcquireSeats(ctx, db.SeatRequest{LicenseID: lic, Limit: &seats, CountFrom: &seats,
				Window: 24 * time.Hour, Info: db.DeploymentInfo{DeploymentID: dep, Hostname: dep}, Now: now})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("%s: %v", dep, err)
			case a.Outcome == db.SeatHeld:
				held[lic]++
				if a.Deployment.DeploymentID != dep || a.Deployment.LicenseID != lic {
					t.Errorf("%s was answered with deployment %+v", dep, a.Deployment)
				}
			case a.Outcome == db.SeatsFull:
				full[lic]++
				if a.InUse != int(seats) {
					t.Errorf("%s: full with %d counted in use, want %d", dep, a.InUse, seats)
				}
			}
		}(ids[i%licenses], fmt.Sprintf("d-%d", i))
	}
	close(start)
	wg.Wait()
	statements := store.SeatStatements() - before
	if statements >= licenses*perLicense {
		t.Errorf("%d concurrent requests took %d statements: they were not batched", licenses*perLicense, statements)
	}
	t.Logf("%d requests in %d statements", licenses*perLicense, statements)
	for _, lic := range ids {
		if held[lic] != int(seats) || full[lic] != perLicense-int(seats) {
			t.Errorf("license %s: %d held and %d refused, want %d and %d", lic, held[lic], full[lic], seats, perLicense-int(seats))
		}
		var stored, activations, deliveries int
		if err := store.Pool.QueryRow(ctx, `SELECT count(*), (SELECT count(*) FROM events
			WHERE type = 'deployment.activated' AND license_id = $1), (SELECT count(*) FROM webhook_deliveries d
			JOIN events ev ON ev.id = d.event_id WHERE ev.license_id = $1 AND d.event_type = 'deployment.activated')
			FROM deployments WHERE license_id = $1`, lic).Scan(&stored, &activations, &deliveries); err != nil {
			t.Fatal(err)
		}
		if stored != int(seats) || activations != int(seats) || deliveries != 2*int(seats) {
			t.Errorf("license %s: %d deployments stored, %d activation events and %d webhook deliveries, want %d, %d and %d",
				lic, stored, activations, deliveries, seats, seats, 2*seats)
		}
	}
	if n := tallyMismatches(t, store); n != 0 {
		t.Errorf("%d licenses' seat tallies disagree with their deployments", n)
	}
}

func TestSeatTallyFollowsEveryChangeOfTheDeployments(t *testing.T) {
	f := newSeatFixture(t, 5)
	ctx, now := context.Background(), time.Now()
	five := int32(5)
	for _, dep := range []string{"a", "b", "c"} {
		if _, outcome, _, err := f.store.AcquireSeat(ctx, f.license, &five, 24*time.Hour,
			db.DeploymentInfo{DeploymentID: dep}, now); err != nil || outcome != db.SeatHeld {
			t.Fatalf("%s: %v %v", dep, outcome, err)
		}
	}
	steps := []struct{ name, sql string }{
		{"a row written directly", `INSERT INTO deployments (license_id, deployment_id, first_seen_at, last_seen_at)
			VALUES ($1, 'direct', now(), now())`},
		{"released", `UPDATE deployments SET status = 'deactivated', deactivated_at = now(), deactivated_by = 'admin'
			WHERE license_id = $1 AND deployment_id = 'a'`},
		{"released with an offline allowance", `UPDATE deployments SET offline_until = now() + interval '1 day'
			WHERE license_id = $1 AND deployment_id = 'a'`},
		{"allowance cleared", `UPDATE deployments SET offline_until = NULL WHERE license_id = $1 AND deployment_id = 'a'`},
		{"reactivated", `UPDATE deployments SET status = 'active', deactivated_at = NULL, deactivated_by = NULL
			WHERE license_id = $1 AND deployment_id = 'a'`},
		{"last seen long ago (still a candidate)", `UPDATE deployments SET last_seen_at = now() - interval '30 days',
			first_seen_at = now() - interval '31 days' WHERE license_id = $1 AND deployment_id = 'b'`},
		{"moved to another license", `UPDATE deployments SET license_id = $2 WHERE license_id = $1 AND deployment_id = 'c'`},
		{"deleted", `DELETE FROM deployments WHERE license_id = $1 AND deployment_id = 'direct'`},
		{"license deleted", `DELETE FROM licenses WHERE id = $2 AND $1::uuid IS NOT NULL`},
	}
	for _, s := range steps {
		args := []any{f.license}
		if strings.Contains(s.sql, "$2") {
			args = append(args, f.other)
		}
		if _, err := f.store.Pool.Exec(ctx, s.sql, args...); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if n := tallyMismatches(t, f.store); n != 0 {
			t.Fatalf("after %s: %d licenses' seat tallies disagree with their deployments", s.name, n)
		}
	}
}

func TestSeatsAreCountedWhenTheAnswerNeedsThem(t *testing.T) {
	f := newSeatFixture(t, 2)
	ctx, now := context.Background(), time.Now()
	two, zero := int32(2), int32(0)
	ask := func(dep string, countFrom *int32) db.SeatAnswer {
		t.Helper()
		a, err := f.store.AcquireSeats(ctx, db.SeatRequest{LicenseID: f.license, Limit: &two, CountFrom: countFrom,
			Window: 24 * time.Hour, Info: db.DeploymentInfo{DeploymentID: dep}, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := ask("a", &two); a.Outcome != db.SeatHeld || a.InUse != -1 {
		t.Fatalf("first of two seats: %v with %d in use, want held and uncounted (-1)", a.Outcome, a.InUse)
	}
	if a := ask("b", &zero); a.Outcome != db.SeatHeld || a.InUse != 2 {
		t.Fatalf("second seat, counted: %v with %d in use, want held with 2", a.Outcome, a.InUse)
	}
	if a := ask("c", &two); a.Outcome != db.SeatsFull || a.InUse != 2 {
		t.Fatalf("third: %v with %d in use, want full, counted: 2", a.Outcome, a.InUse)
	}
	// b lapses: the tally still lists it, so the seat is counted, and granted.
	if _, err := f.store.Pool.Exec(ctx, `UPDATE deployments SET last_seen_at = now() - interval '3 days',
		first_seen_at = now() - interval '4 days' WHERE license_id = $1 AND deployment_id = 'b'`, f.license); err != nil {
		t.Fatal(err)
	}
	if a := ask("c", &two); a.Outcome != db.SeatHeld || a.InUse != 2 {
		t.Fatalf("after a lapse: %v with %d in use, want held, counted: 2", a.Outcome, a.InUse)
	}
	if _, err := f.store.AcquireSeats(ctx, db.SeatRequest{LicenseID: uuid.New(), Limit: &two, Window: 24 * time.Hour,
		Info: db.DeploymentInfo{DeploymentID: "x"}, Now: now}); licensing.ErrorCode(err) != licensing.ENOTFOUND {
		t.Fatalf("unknown license: %v, want not found", err)
	}
}

// A stored deployment taking its seat again (its seat had lapsed) keeps its
// row, updated in place, beside a new deployment of another license in the
// same statement; only the new one is announced and tallied.
func TestAStoredDeploymentTakesItsSeatAgainInPlace(t *testing.T) {
	f := newSeatFixture(t, 5)
	ctx, now := context.Background(), time.Now()
	five := int32(5)
	first, err := f.store.AcquireSeats(ctx, db.SeatRequest{LicenseID: f.license, Limit: &five, CountFrom: &five,
		Window: 24 * time.Hour, Info: db.DeploymentInfo{DeploymentID: "old", Hostname: "before"}, Now: now.Add(-72 * time.Hour)})
	if err != nil || first.Outcome != db.SeatHeld {
		t.Fatalf("first seat: %v %v", first.Outcome, err)
	}
	events := func() int {
		var n int
		if err := f.store.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE type = 'deployment.activated'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	eventsBefore := events()
	start := make(chan struct{})
	answers := make([]db.SeatAnswer, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, r := range []db.SeatRequest{
		{LicenseID: f.license, Info: db.DeploymentInfo{DeploymentID: "old", Hostname: "after", AppVersion: "2.0"}},
		{LicenseID: f.other, Info: db.DeploymentInfo{DeploymentID: "new", Hostname: "fresh"}},
	} {
		r.Limit, r.CountFrom, r.Window, r.Now = &five, &five, 24*time.Hour, now
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i], errs[i] = f.store.AcquireSeats(ctx, r)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil || answers[i].Outcome != db.SeatHeld {
			t.Fatalf("request %d: %v %v", i, answers[i].Outcome, err)
		}
	}
	again := answers[0].Deployment
	if again.ID != first.Deployment.ID || !again.FirstSeenAt.Equal(first.Deployment.FirstSeenAt) {
		t.Errorf("taken again as %s first seen %s, want the stored row %s first seen %s", again.ID, again.FirstSeenAt,
			first.Deployment.ID, first.Deployment.FirstSeenAt)
	}
	if again.Hostname != "after" || again.AppVersion != "2.0" || !again.LastSeenAt.Equal(now.Truncate(time.Microsecond)) {
		t.Errorf("taken again: host %q version %q last seen %s, want after, 2.0, %s", again.Hostname, again.AppVersion,
			again.LastSeenAt, now.Truncate(time.Microsecond))
	}
	var stored int
	if err := f.store.Pool.QueryRow(ctx, `SELECT count(*) FROM deployments WHERE license_id = $1`, f.license).Scan(&stored); err != nil || stored != 1 {
		t.Errorf("%d rows for the license (%v), want 1", stored, err)
	}
	if got := events() - eventsBefore; got != 1 {
		t.Errorf("%d activation events, want 1 (the new deployment's)", got)
	}
	if n := tallyMismatches(t, f.store); n != 0 {
		t.Errorf("%d licenses' seat tallies disagree with their deployments", n)
	}
}

// A deployment row written without the license's lock, committed while a
// seat statement for the same deployment waits on it, makes that statement
// fail on the unique key; the store runs it again, and the request takes
// the stored row rather than failing.
func TestASeatStatementRefusedForADuplicateRunsAgain(t *testing.T) {
	f := newSeatFixture(t, 5)
	ctx, now := context.Background(), time.Now()
	five := int32(5)
	tx, err := f.store.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var rowID uuid.UUID
	if err := tx.QueryRow(ctx, `INSERT INTO deployments (license_id, deployment_id, first_seen_at, last_seen_at)
		VALUES ($1, 'raced', $2, $2) RETURNING id`, f.license, now.Add(-time.Minute)).Scan(&rowID); err != nil {
		t.Fatal(err)
	}
	retries := f.store.SeatRetries()
	type result struct {
		a   db.SeatAnswer
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := f.store.AcquireSeats(ctx, db.SeatRequest{LicenseID: f.license, Limit: &five, CountFrom: &five,
			Window: 24 * time.Hour, Info: db.DeploymentInfo{DeploymentID: "raced"}, Now: now})
		done <- result{a, err}
	}()
	// The statement waits on the uncommitted row's unique key.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := f.store.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE '%acquire_seats%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("the seat statement ended before the row was committed: %v %v", r.a.Outcome, r.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the seat statement never waited on the uncommitted row")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.a.Outcome != db.SeatHeld || r.a.Deployment.ID != rowID {
		t.Fatalf("after the race: %v %v on row %s, want held on the committed row %s", r.a.Outcome, r.err,
			r.a.Deployment.ID, rowID)
	}
	if got := f.store.SeatRetries() - retries; got != 1 {
		t.Errorf("%d statements run again, want 1", got)
	}
	if n := tallyMismatches(t, f.store); n != 0 {
		t.Errorf("%d licenses' seat tallies disagree with their deployments", n)
	}
}

func TestABadSeatRequestFailsAloneInItsBatch(t *testing.T) {
	f := newSeatFixture(t, 100)
	ctx, now := context.Background(), time.Now()
	hundred := int32(100)
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			lic, dep := f.license, fmt.Sprintf("good-%d", i)
			if i%2 == 1 {
				lic = f.other
			}
			if i == 7 {
				dep = strings.Repeat("x", 200) // longer than deployments allow
			}
			_, errs[i] = f.store.AcquireSeats(ctx, db.SeatRequest{LicenseID: lic, Limit: &hundred, CountFrom: &hundred,
				Window: 24 * time.Hour, Info: db.DeploymentInfo{DeploymentID: dep}, Now: now})
		}(i)
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if i == 7 {
			if licensing.ErrorCode(err) != licensing.EINVALID {
				t.Errorf("the bad request: %v, want invalid", err)
			}
		} else if err != nil {
			t.Errorf("request %d failed with the bad one: %v", i, err)
		}
	}
	var n int
	if err := f.store.Pool.QueryRow(ctx, `SELECT count(*) FROM deployments WHERE deployment_id LIKE 'good-%'`).Scan(&n); err != nil || n != 19 {
		t.Fatalf("%d good deployments stored (%v), want 19", n, err)
	}
}

// A seat being acquired locks its license against other seat changes only:
// the validation-count flush, whose rows refer to the license, goes on
// meanwhile. (Locked FOR UPDATE, the license also held off the flush's
// foreign-key checks, and a flush holding other licenses' checks then
// deadlocked with seat batches.)
func TestValidationCountsFlushWhileASeatIsBeingTaken(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx, now := context.Background(), time.Now()
	spec := licensing.DefaultPlanSpec()
	spec.Code, spec.Name = "locks", "Locks"
	if _, err := store.CreatePlan(ctx, licensing.SystemActor("test"), spec, now); err != nil {
		t.Fatal(err)
	}
	ring, _, err := licensing.LoadOrInitKeyring(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := licensing.NewSealer("seat-lock-test-seal-key-0123456789abcd")
	cust, err := store.CreateCustomer(ctx, licensing.SystemActor("test"), db.CustomerInput{Name: "C", Email: "c@example.com"}, now)
	if err != nil {
		t.Fatal(err)
	}
	lic, _, err := store.CreateLicense(ctx, licensing.SystemActor("test"), ringIssuer{ring}, sealer,
		db.LicenseInput{CustomerID: cust.ID, Plan: "locks"}, now)
	if err != nil {
		t.Fatal(err)
	}
	lockers := map[string]func(tx pgx.Tx) error{
		"a seat batch": func(tx pgx.Tx) error {
			var outcome string
			return tx.QueryRow(ctx, `SELECT outcome FROM acquire_seats(ARRAY[$1::uuid], ARRAY['dep-lock'], ARRAY[-1],
    ARRAY[-1], ARRAY[24], ARRAY[gen_random_uuid()], ARRAY[''], ARRAY['h'], ARRAY[''], ARRAY[''], ARRAY[false],
    ARRAY[now()], NULL, ARRAY['{}'::jsonb])`, lic.ID).Scan(&outcome)
		},
		"a single seat change": func(tx pgx.Tx) error { _, err := db.New(tx).LockLicenseSeats(ctx, lic.ID); return err },
		"a license change":     func(tx pgx.Tx) error { _, err := db.New(tx).GetLicenseForUpdate(ctx, lic.ID); return err },
	}
	flushed := int64(0)
	for name, lock := range lockers {
		// Rows of their own (another hour, another deployment), so that
		// each flush inserts, and checks the license, anew.
		at := now.Add(time.Duration(flushed) * time.Hour)
		tx, err := store.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := lock(tx); err != nil {
			_ = tx.Rollback(ctx)
			t.Fatalf("%s: %v", name, err)
		}
		stats := db.NewValidationStats(store, slog.New(slog.DiscardHandler))
		stats.Record(lic.ID, "VALID", at)
		stats.Sight(lic.ID, name, "fp", "192.0.2.7", at)
		// Were the flush to wait for the lock, it would wait for the
		// transaction above, which commits only after it.
		flushCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = stats.Flush(flushCtx)
		cancel()
		if err != nil {
			_ = tx.Rollback(ctx)
			t.Fatalf("flushing validation counts while %s holds its license: %v", name, err)
		}
		flushed++
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := store.ValidationsForLicense(ctx, db.ValidationsForLicenseParams{LicenseID: &lic.ID, Since: now.Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var counted int64
	for _, r := range rows {
		counted += r.Count
	}
	if counted != flushed {
		t.Errorf("validations stored for the license: %d, want the %d flushed", counted, flushed)
	}
}
