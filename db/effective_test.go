package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/licensing"
)

// The SQL function license_effective_status (used to filter and count many
// licenses) must agree with licensing.EffectiveStatus on every combination,
// including the exact instants of expiry, grace end and dunning end.
func TestEffectiveStatusSQLAgreesWithGo(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	ptr := func(t time.Time) *time.Time { return &t }
	starts := []time.Time{now.Add(-30 * day), now, now.Add(time.Second)}
	expires := []*time.Time{nil, ptr(now.Add(10 * day)), ptr(now), ptr(now.Add(-time.Second)), ptr(now.Add(-7 * day)),
		ptr(now.Add(-7*day - time.Second)), ptr(now.Add(-3 * day))}
	pastDue := []*time.Time{nil, ptr(now.Add(-14 * day)), ptr(now.Add(-14*day - time.Second)), ptr(now.Add(-2 * day))}
	n := 0
	for _, status := range []string{"active", "suspended", "revoked"} {
		for _, st := range starts {
			for _, exp := range expires {
				if exp != nil && !exp.After(st) {
					continue
				}
				for _, pd := range pastDue {
					l := db.License{Status: status, StartsAt: st, ExpiresAt: exp, GraceDays: 7, DunningDays: 14,
						PaymentState: "ok", PastDueSince: pd}
					if pd != nil {
						l.PaymentState = "past_due"
					}
					want := string(l.Effective(now).State)
					got, err := store.Raw().EffectiveStatusAt(ctx, db.EffectiveStatusAtParams{Status: status, StartsAt: st,
						ExpiresAt: exp, GraceDays: 7, PaymentState: l.PaymentState, PastDueSince: pd, DunningDays: 14, At: now})
					if err != nil {
						t.Fatal(err)
					}
					if got != want {
						t.Errorf("%s start %v exp %v pastDue %v: SQL says %s, Go says %s", status, st.Sub(now), exp, pd, got, want)
					}
					n++
				}
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d combinations checked", n)
	}
}

// The SQL function license_grace_ends_at (indexed, used to count expired
// licenses) must agree with licensing.GraceEnd, across month ends, leap
// days and daylight-saving changes of the server's zone.
func TestGraceEndSQLAgreesWithGo(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CET", 3600)
	}
	expiries := []time.Time{
		time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2028, 2, 28, 0, 30, 0, 0, time.UTC),
		time.Date(2026, 3, 28, 23, 30, 0, 0, berlin), // the night before summer time
		time.Date(2026, 10, 24, 1, 0, 0, 0, berlin),
	}
	n := 0
	for _, exp := range expiries {
		for _, days := range []int32{0, 1, 7, 30, 365} {
			want := licensing.GraceEnd(&exp, int(days))
			got, err := store.Raw().GraceEndsAt(ctx, db.GraceEndsAtParams{ExpiresAt: exp, GraceDays: days})
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(*want) {
				t.Errorf("expiry %v + %d days: SQL says %v, Go says %v", exp, days, got.UTC(), want)
			}
			n++
		}
	}
	if n != 25 {
		t.Fatalf("checked %d combinations", n)
	}
}
