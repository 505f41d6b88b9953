// Tests of the validation counts' paced flush: a flush is several
// statements, and one that fails part-way writes the rest later, once.
package db_test

import (
	"context"
	"log/slog"
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
