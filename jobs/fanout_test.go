package jobs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/jobs"
)

// Milestones a scan finds together are fanned out by one job of many
// events, and every customer still gets their own notice.
func TestMilestonesFoundTogetherFanOutInOneJob(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.runner(e.mail.SMTPURL, func(c *jobs.Config) { c.StaffEmails = nil; c.ReminderDays = []int{30} })
	names := []string{"many-a", "many-b", "many-c"}
	for _, name := range names {
		e.license(e.customer(name), lic{expires: at(20 * dayLen), graceDays: 7})
	}
	if n, err := r.RunScan(ctx); err != nil || n < len(names) {
		t.Fatalf("scan recorded %d milestones (%v), want at least %d", n, err, len(names))
	}
	var reminders []uuid.UUID
	rows, err := e.pool.Query(ctx, `SELECT id FROM events WHERE type = 'license.expiring_soon' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		reminders = append(reminders, id)
	}
	if rows.Err() != nil || len(reminders) != len(names) {
		t.Fatalf("%d expiring-soon events (%v), want %d", len(reminders), rows.Err(), len(names))
	}
	var manyJobs, coveredByMany, singleJobs int
	if err := e.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM river_job WHERE kind = 'event_fanout_many'),
			(SELECT count(DISTINCT x) FROM river_job j, jsonb_array_elements_text(j.args->'eventIds') x
				WHERE j.kind = 'event_fanout_many' AND x::uuid = ANY ($1)),
			(SELECT count(*) FROM river_job WHERE kind = 'event_fanout')`, reminders).
		Scan(&manyJobs, &coveredByMany, &singleJobs); err != nil {
		t.Fatal(err)
	}
	if manyJobs != 1 || coveredByMany != len(names) || singleJobs != 0 {
		t.Fatalf("fan-out jobs: %d of many events covering %d reminders, %d of one; want 1 covering %d, none of one",
			manyJobs, coveredByMany, singleJobs, len(names))
	}
	e.start(r)
	for _, name := range names {
		if got := e.mail.WaitFor(t, e.addr(name), 1, 30*time.Second); len(got) != 1 {
			t.Fatalf("%s: %d emails, want its one reminder", name, len(got))
		}
	}
	e.settle()
	var completed int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'event_fanout_many' AND state = 'completed'`).
		Scan(&completed); err != nil || completed != 1 {
		t.Fatalf("completed fan-out jobs of many events: %d (%v), want 1", completed, err)
	}
}

// An event of a shared fan-out job that cannot be fanned out (gone since)
// holds back none of the others: they are fanned out on the first run, and
// the job fails, to be retried, for that one alone.
func TestOneFailingEventOfASharedFanOutJobHoldsBackNoOther(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.customer("isolated")
	// Expiring in a year, so that the scan the runner starts with finds
	// nothing: the only reminder is the one recorded here.
	lic := e.license(c, lic{expires: at(365 * dayLen), graceDays: 7})
	days := 30
	// Recorded before any job queue exists: no job of its own.
	if n, err := e.store.RecordMilestones(ctx, []events.Event{{Type: events.LicenseExpiringSoon, OccurredAt: e.clock.now(),
		MilestoneKey: "expiring:" + lic.String() + ":30", Data: events.Milestone{LicenseID: lic, CustomerID: c, Plan: "pro",
			ExpiresAt: at(20 * dayLen), DaysBefore: &days}}}); err != nil || n != 1 {
		t.Fatalf("recorded %d (%v), want the reminder", n, err)
	}
	var reminder uuid.UUID
	if err := e.pool.QueryRow(ctx, `SELECT id FROM events WHERE type = 'license.expiring_soon' AND license_id = $1`, lic).
		Scan(&reminder); err != nil {
		t.Fatal(err)
	}
	r := e.runner(e.mail.SMTPURL, func(c *jobs.Config) { c.StaffEmails = nil })
	gone := uuid.New() // no such event: its fan-out fails at every attempt
	if err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		return r.EnqueueEvents(ctx, tx, []uuid.UUID{gone, reminder})
	}); err != nil {
		t.Fatal(err)
	}
	e.start(r)
	if got := e.mail.WaitFor(t, e.addr("isolated"), 1, 30*time.Second); len(got) != 1 {
		t.Fatalf("%d emails, want the reminder", len(got))
	}
	e.settle()
	var state string
	var attempts int
	var lastError string
	if err := e.pool.QueryRow(ctx, `SELECT state, attempt, coalesce(errors[array_length(errors, 1)]->>'error', '')
		FROM river_job WHERE kind = 'event_fanout_many'`).Scan(&state, &attempts, &lastError); err != nil {
		t.Fatal(err)
	}
	if state != "discarded" || attempts != 3 || !strings.Contains(lastError, gone.String()) || strings.Contains(lastError, reminder.String()) {
		t.Fatalf("job %s after %d attempts, last error %q; want discarded after 3, naming only the missing event", state, attempts, lastError)
	}
	if got := e.mail.To(t, e.addr("isolated")); len(got) != 1 {
		t.Fatalf("%d emails after the retries, want the one reminder", len(got))
	}
}

// A job of a kind this release has no worker for (one a newer release
// enqueued during a rolling deploy) is left queued for a process that has
// one, its attempts untouched, while this process runs the jobs it knows.
func TestAJobOfAnUnknownKindWaitsForAProcessThatKnowsIt(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var id int64
	if err := e.pool.QueryRow(ctx, `INSERT INTO river_job (kind, args, max_attempts, scheduled_at)
		VALUES ('event_fanout_of_a_later_release', '{}', 8, now() - interval '1 minute') RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	r := e.runner(e.mail.SMTPURL, nil)
	e.start(r)
	// The scan it runs at start is queued after the unknown job: once it is
	// done, the unknown job has been passed over, not merely not reached.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var done bool
		if err := e.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job WHERE kind = 'lifecycle_scan' AND state = 'completed')`).
			Scan(&done); err != nil {
			t.Fatal(err)
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the start-up scan did not complete in 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var state string
	var attempt int
	if err := e.pool.QueryRow(ctx, `SELECT state, attempt FROM river_job WHERE id = $1`, id).Scan(&state, &attempt); err != nil {
		t.Fatal(err)
	}
	if state != "available" || attempt != 0 {
		t.Fatalf("the unknown kind's job is %s after %d attempts, want available and untouched", state, attempt)
	}
}
