package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/jobs"
)

// An event and its fan-out job exist if and only if the transaction that
// wrote them commits; a milestone is recorded once however often offered;
// an event no notice can follow from is enqueued no job.
func TestOutboxFollowsItsTransaction(t *testing.T) {
	pool := dbtest.NewPool(t)
	store := db.NewStore(pool)
	if _, err := jobs.New(pool, store, jobs.Config{}); err != nil { // enqueue only: no workers run
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	cust := uuid.New()
	days := 30
	ev := events.Event{Type: events.LicenseExpiringSoon, OccurredAt: now,
		Data: events.Milestone{LicenseID: uuid.New(), CustomerID: cust, Plan: "pro", DaysBefore: &days}}
	count := func() (evs, queued int) {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE customer_id = $1`, cust).Scan(&evs); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'event_fanout'
			AND (args->>'eventId')::uuid IN (SELECT id FROM events WHERE customer_id = $1)`, cust).Scan(&queued); err != nil {
			t.Fatal(err)
		}
		jobsTotal := 0
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'event_fanout'`).Scan(&jobsTotal); err != nil {
			t.Fatal(err)
		}
		if jobsTotal != queued {
			t.Fatalf("%d fan-out jobs, %d of them for recorded events", jobsTotal, queued)
		}
		return
	}
	boom := errors.New("the change failed after its event was written")
	err := store.InTx(ctx, func(q *db.Queries) error {
		if added, err := store.RecordEvent(ctx, q, ev); err != nil || !added {
			t.Fatalf("recording: %v %v", added, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if e, j := count(); e != 0 || j != 0 {
		t.Fatalf("rolled back: %d events, %d jobs; want none", e, j)
	}
	if err := store.InTx(ctx, func(q *db.Queries) error { _, err := store.RecordEvent(ctx, q, ev); return err }); err != nil {
		t.Fatal(err)
	}
	if e, j := count(); e != 1 || j != 1 {
		t.Fatalf("committed: %d events, %d jobs; want 1 and 1", e, j)
	}
	ev.MilestoneKey = "customer:" + cust.String() + ":test"
	for i, want := range []int{1, 0} {
		if n, err := store.RecordMilestones(ctx, []events.Event{ev}); err != nil || n != want {
			t.Fatalf("milestone, run %d: recorded %d (%v), want %d", i+1, n, err, want)
		}
	}
	if e, j := count(); e != 2 || j != 2 {
		t.Fatalf("after the milestone twice: %d events, %d jobs; want 2 and 2", e, j)
	}
	// A customer's update is told to no one by email: recorded (webhooks
	// may want it), with no fan-out job.
	updated := events.Event{Type: events.CustomerUpdated, OccurredAt: now, Data: events.Customer{CustomerID: cust, Name: "X"}}
	if err := store.InTx(ctx, func(q *db.Queries) error { _, err := store.RecordEvent(ctx, q, updated); return err }); err != nil {
		t.Fatal(err)
	}
	if e, j := count(); e != 3 || j != 2 {
		t.Fatalf("after a customer update: %d events, %d jobs; want 3 and 2", e, j)
	}
}
