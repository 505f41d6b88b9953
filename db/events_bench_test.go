package db_test

// What the outbox costs the write path: the same license changes and usage
// reports with events recorded (and their fan-out jobs enqueued on River)
// and with the outbox turned off, side by side in one run. Compare the
// actions/s (or reports/s) of each pair.

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/jobs"
	"github.com/nectarcloud/nls/licensing"
)

func BenchmarkOutbox(b *testing.B) {
	for _, on := range []bool{true, false} {
		name := "events"
		if !on {
			name = "no-events"
		}
		setup := func(b *testing.B) (*db.Store, []db.UsageLicense) {
			store := dbtest.NewStore(b)
			if _, err := jobs.New(store.Pool, store, jobs.Config{}); err != nil { // enqueues; no workers run
				b.Fatal(err)
			}
			store.SetOutbox(on)
			return store, usageBenchLicenses(b, store, 40, 5)
		}
		b.Run("license-actions/"+name, func(b *testing.B) {
			store, lics := setup(b)
			ctx := context.Background()
			actor := licensing.Actor{Type: "system", Label: "bench"}
			var next atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					lic := lics[int(i)%len(lics)]
					if _, err := store.ChangeLicense(ctx, actor, lic.ID, "license.update", func(l *db.License) error {
						l.Notes = fmt.Sprint("change ", i)
						return nil
					}, time.Now()); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "actions/s")
		})
		b.Run("usage-reports/"+name, func(b *testing.B) {
			store, lics := setup(b)
			ctx := context.Background()
			now := time.Now()
			var next atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					lic := lics[int(i)%len(lics)]
					if _, err := store.RecordUsage(ctx, lic, nil, []db.UsageReportIn{{ID: uuid.New(), PeriodStart: now,
						PeriodEnd: now.Add(time.Minute), Metrics: map[string]int64{"apiCalls": 7, "users": i % 40}}}, now); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reports/s")
		})
	}
}
