// Tests of the validation counts' paced flush: a flush is several
// statements, and one that fails part-way writes the rest later, once.
package db_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/nectarcloud/nls/db"
)

func TestValidationStatsFlushFailingPartWayCountsEverythingOnce(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Hour)
	lic := f.addLicense(t, licenseRow{status: "active", starts: now.AddDate(-1, 0, 0)})
	stats := db.NewValidationStats(f.store, slog.New(slog.DiscardHandler))
	// 2,500 hours of answers (two chunks of counts, the second 500 rows),
	// 3,000 sightings (two chunks) and a failed key check.
	const hours, sights = 2500, 3000
	first := now.Add(-hours * time.Hour)
	for h := range hours {
		at := first.Add(time.Duration(h) * time.Hour)
		stats.Record(lic, "VALID", at)
		stats.Record(lic, "VALID", at.Add(time.Minute))
	}
	for i := range sights {
		stats.Sight(lic, "dep-"+string(rune('a'+i%26))+"-"+time.Duration(i).String(), "fp", "203.0.113.9", now)
	}
	stats.Failure("198.51.100.7", "key", lic, now)
	// The database refuses the second chunk of counts, the last rows the
	// flush writes: everything before it is in, the rest is kept.
	cut := first.Add(2000 * time.Hour)
	if _, err := f.store.Pool.Exec(ctx, `ALTER TABLE validation_stats ADD CONSTRAINT refuse_late CHECK (hour < '`+
		cut.Format(time.RFC3339)+`')`); err != nil {
		t.Fatal(err)
	}
	if err := stats.Flush(ctx); err == nil {
		t.Fatal("the flush succeeded with its last chunk refused")
	}
	type totals struct{ rows, sum, sightRows, sightSum, failSum int64 }
	read := func() totals {
		t.Helper()
		var x totals
		if err := f.store.Pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM validation_stats WHERE license_id = $1),
			(SELECT coalesce(sum(count), 0) FROM validation_stats WHERE license_id = $1),
			(SELECT count(*) FROM validation_sightings WHERE license_id = $1),
			(SELECT coalesce(sum(count), 0) FROM validation_sightings WHERE license_id = $1),
			(SELECT coalesce(sum(count), 0) FROM source_failures)`, lic).Scan(&x.rows, &x.sum, &x.sightRows, &x.sightSum, &x.failSum); err != nil {
			t.Fatal(err)
		}
		return x
	}
	if got, want := read(), (totals{rows: 2000, sum: 4000, sightRows: sights, sightSum: sights, failSum: 1}); got != want {
		t.Fatalf("after the failed flush: %+v, want %+v", got, want)
	}
	if _, err := f.store.Pool.Exec(ctx, `ALTER TABLE validation_stats DROP CONSTRAINT refuse_late`); err != nil {
		t.Fatal(err)
	}
	if err := stats.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), (totals{rows: hours, sum: 2 * hours, sightRows: sights, sightSum: sights, failSum: 1}); got != want {
		t.Fatalf("after the next flush: %+v, want %+v", got, want)
	}
}

func TestValidationSightingIsWrittenOnceADayByAProcess(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour)
	lic := f.addLicense(t, licenseRow{status: "active", starts: now.AddDate(-1, 0, 0)})
	stats := db.NewValidationStats(f.store, slog.New(slog.DiscardHandler))
	stored := func() (n int) {
		t.Helper()
		if err := f.store.Pool.QueryRow(ctx, `SELECT count(*) FROM validation_sightings WHERE license_id = $1`, lic).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	flush := func(what string) {
		t.Helper()
		if err := stats.Flush(ctx); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	stats.Sight(lic, "dep-1", "machine-a", "203.0.113.9", now)
	stats.Sight(lic, "dep-1", "machine-a", "203.0.113.77", now) // the same /24
	flush("first sighting")
	if n := stored(); n != 1 {
		t.Fatalf("%d sightings stored, want 1", n)
	}
	// The row goes; the process sees the deployment again the same day and
	// does not write it again: nothing reappears.
	if _, err := f.store.Pool.Exec(ctx, `DELETE FROM validation_sightings WHERE license_id = $1`, lic); err != nil {
		t.Fatal(err)
	}
	stats.Sight(lic, "dep-1", "machine-a", "203.0.113.9", now.Add(time.Hour))
	flush("the same sighting again")
	if n := stored(); n != 0 {
		t.Fatalf("the same sighting was written again the same day (%d rows)", n)
	}
	// A new network the same day, and the same sighting the next day, are written.
	stats.Sight(lic, "dep-1", "machine-a", "198.51.100.4", now.Add(2*time.Hour))
	stats.Sight(lic, "dep-1", "machine-a", "203.0.113.9", now.Add(24*time.Hour))
	flush("a new network and a new day")
	var rows []string
	r, err := f.store.Pool.Query(ctx, `SELECT day::text || ' ' || network FROM validation_sightings WHERE license_id = $1 ORDER BY 1`, lic)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, s)
	}
	want := []string{now.Format(time.DateOnly) + " 198.51.100.0/24", now.AddDate(0, 0, 1).Format(time.DateOnly) + " 203.0.113.0/24"}
	if r.Err() != nil || !slices.Equal(rows, want) {
		t.Fatalf("sightings %q (%v), want %q", rows, r.Err(), want)
	}
	// Another process seeing one already stored leaves it as it is.
	other := db.NewValidationStats(f.store, slog.New(slog.DiscardHandler))
	other.Sight(lic, "dep-1", "machine-a", "198.51.100.4", now.Add(3*time.Hour))
	if err := other.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := stored(); n != 2 {
		t.Fatalf("%d sightings after another process wrote a stored one, want 2", n)
	}
}
