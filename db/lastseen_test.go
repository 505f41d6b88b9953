// Tests of the batched last-seen writes: one row write per deployment, times that
// never go back, released deployments left alone, and writes PostgreSQL can
// do as HOT updates (no index holds last_seen_at).
package db_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
)

func TestLastSeenFlushWritesNewestTimesAsHOTUpdates(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	// Half past an hour: the refresh below stays within one hour, so the
	// dashboard's seen_hour index entry does not change (a refresh that
	// crosses an hour changes it, and cannot be HOT).
	now := time.Now().UTC().Truncate(time.Hour).Add(30 * time.Minute)
	lic := f.addLicense(t, licenseRow{status: "active", starts: now.AddDate(-1, 0, 0)})
	add := func(name, status string, seen time.Time) uuid.UUID {
		t.Helper()
		var id uuid.UUID
		var deactivated *time.Time
		if status == "deactivated" {
			deactivated = &seen
		}
		if err := f.store.Pool.QueryRow(ctx, `
			INSERT INTO deployments (license_id, deployment_id, status, deactivated_at, deactivated_by, first_seen_at, last_seen_at)
			VALUES ($1, $2, $3, $4, CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE 'client' END, $5, $5) RETURNING id`,
			lic, name, status, deactivated, seen).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	stored := func(id uuid.UUID) time.Time {
		t.Helper()
		var at time.Time
		if err := f.store.Pool.QueryRow(ctx, `SELECT last_seen_at FROM deployments WHERE id = $1`, id).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at.UTC()
	}
	busy := add("busy", "active", now.Add(-15*time.Minute))
	newer := add("newer", "active", now.Add(time.Minute)) // stored time after the pending one
	released := add("released", "deactivated", now.Add(-15*time.Minute))

	seen := db.NewLastSeen(f.store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for i := range 50 { // a busy key: many requests, one write
		seen.Seen(busy, now.Add(time.Duration(i)*time.Millisecond))
	}
	seen.Seen(newer, now)
	seen.Seen(released, now)
	want := now.Add(49 * time.Millisecond)
	if got := seen.Newest(busy, now.Add(-15*time.Minute)); !got.Equal(want) {
		t.Fatalf("Newest before the flush: got %v, want the pending %v", got, want)
	}
	if got := stored(busy); !got.Equal(now.Add(-15 * time.Minute)) {
		t.Fatalf("stored before the flush: got %v, want it unchanged", got)
	}
	var hotBefore, updBefore int64
	hot := func() (int64, int64) {
		var h, u int64
		if _, err := f.store.Pool.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
			t.Fatal(err)
		}
		if err := f.store.Pool.QueryRow(ctx, `SELECT n_tup_hot_upd, n_tup_upd FROM pg_stat_user_tables WHERE relname = 'deployments'`).
			Scan(&h, &u); err != nil {
			t.Fatal(err)
		}
		return h, u
	}
	hotBefore, updBefore = hot()
	if err := seen.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := stored(busy); !got.Equal(want) {
		t.Errorf("busy: stored %v after the flush, want %v", got, want)
	}
	if got := stored(newer); !got.Equal(now.Add(time.Minute)) {
		t.Errorf("newer: stored %v after the flush, want it kept at %v (times never go back)", got, now.Add(time.Minute))
	}
	if got := stored(released); !got.Equal(now.Add(-15 * time.Minute)) {
		t.Errorf("released: stored %v after the flush, want it untouched", got)
	}
	if got := seen.Newest(busy, time.Time{}); !got.IsZero() {
		t.Errorf("pending after the flush: got %v, want none", got)
	}
	// Statistics reach the shared counters within about a second of the
	// flush's commit.
	deadline := time.Now().Add(15 * time.Second)
	for {
		h, u := hot()
		if u-updBefore >= 1 {
			if u-updBefore != 1 || h-hotBefore != 1 {
				t.Fatalf("flush: %d row updates of which %d HOT, want 1 and 1", u-updBefore, h-hotBefore)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no update counted after the flush (n_tup_upd %d → %d)", updBefore, u)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A flush of more rows than one statement writes goes in paced chunks; a
// shutdown while it rests between them loses none of the times (the last
// flush writes the rest).
func TestLastSeenPacedFlushLosesNothingAtShutdown(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	lic := f.addLicense(t, licenseRow{status: "active", starts: now.AddDate(-1, 0, 0)})
	const n = 7000 // four chunks
	rows, err := f.store.Pool.Query(ctx, `
		INSERT INTO deployments (license_id, deployment_id, first_seen_at, last_seen_at)
		SELECT $1, 'd-' || i, $2, $2 FROM generate_series(1, $3) i RETURNING id`, lic, now.Add(-15*time.Minute), n)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if rows.Close(); rows.Err() != nil || len(ids) != n {
		t.Fatalf("%d deployments (%v)", len(ids), rows.Err())
	}
	seen := db.NewLastSeen(f.store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, id := range ids {
		seen.Seen(id, now)
	}
	written := func() int {
		t.Helper()
		var c int
		if err := f.store.Pool.QueryRow(ctx, `SELECT count(*) FROM deployments WHERE license_id = $1 AND last_seen_at = $2`,
			lic, now).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	// Each chunk rests as long as it took (up to a quarter of a second here).
	go func() { seen.Run(runCtx, 2*time.Second); close(done) }()
	// Nothing is written before the first tick; the process stops as soon
	// as the first chunk is in.
	stop2 := time.AfterFunc(30*time.Second, stop)
	defer stop2.Stop()
	for written() == 0 && runCtx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	partial := written()
	stop()
	<-done
	if got := written(); got != n {
		t.Fatalf("after shutdown: %d of %d times written (%d when it began)", got, n, partial)
	}
	if partial == 0 {
		t.Fatal("the flush never began")
	}
	t.Logf("%d of %d times written when the process began shutting down", partial, n)
}

// Two processes flushing the same deployments at once each write their
// chunks in their own order (whatever their maps give), every chunk sorted:
// they wait for each other's row locks, never deadlock, and the newest time
// wins.
func TestConcurrentLastSeenFlushesOfTwoProcessesNeverDeadlock(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Hour).Add(30 * time.Minute)
	lic := f.addLicense(t, licenseRow{status: "active", starts: now.AddDate(-1, 0, 0)})
	rows, err := f.store.Pool.Query(ctx, `
		INSERT INTO deployments (license_id, deployment_id, first_seen_at, last_seen_at)
		SELECT $1, 'd-' || i, $2, $2 FROM generate_series(1, 7000) i RETURNING id`, lic, now.Add(-20*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var ids []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for round := range 4 {
		a, b := db.NewLastSeen(f.store, log), db.NewLastSeen(f.store, log)
		base := now.Add(time.Duration(round) * time.Minute)
		for i, id := range ids {
			a.Seen(id, base.Add(time.Duration(i%7)*time.Second))
			b.Seen(id, base.Add(time.Duration(i%5)*time.Second))
		}
		errs := make(chan error, 2)
		go func() { errs <- a.Flush(ctx) }()
		go func() { errs <- b.Flush(ctx) }()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: concurrent flushes: %v", round, err)
			}
		}
		var wrong int
		if err := f.store.Pool.QueryRow(ctx, `
			SELECT count(*) FROM deployments d JOIN unnest($1::uuid[]) WITH ORDINALITY AS x(id, n) ON d.id = x.id
			WHERE d.last_seen_at <> $2::timestamptz + make_interval(secs => greatest((x.n - 1) % 7, (x.n - 1) % 5))`,
			ids, base).Scan(&wrong); err != nil {
			t.Fatal(err)
		}
		if wrong != 0 {
			t.Fatalf("round %d: %d of %d deployments do not hold the newer of the two times", round, wrong, len(ids))
		}
	}
}
