package db_test

// What the usage rollups (migration 00007) cost the machine API: the same
// usage reports recorded with the rollup triggers on and off, side by side
// in one run. Compare the two ns/op (or reports/s) for the ratio.

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
)

func BenchmarkRecordUsage(b *testing.B) {
	for _, rollups := range []bool{true, false} {
		name := "rollups"
		if !rollups {
			name = "no-rollups"
		}
		b.Run(name, func(b *testing.B) {
			store := dbtest.NewStore(b)
			ctx := context.Background()
			lics := usageBenchLicenses(b, store, 40, 5)
			if !rollups {
				for _, sql := range []string{
					// The statement-level triggers of migration 00015.
					`ALTER TABLE usage_daily DISABLE TRIGGER usage_daily_rollup_ins`,
					`ALTER TABLE usage_daily DISABLE TRIGGER usage_daily_rollup_upd`,
					`ALTER TABLE usage_periods DISABLE TRIGGER usage_periods_near_limit_ins`,
					`ALTER TABLE usage_periods DISABLE TRIGGER usage_periods_near_limit_upd`,
				} {
					if _, err := store.Pool.Exec(ctx, sql); err != nil {
						b.Fatal(err)
					}
				}
			}
			now := time.Now()
			var next atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					lic := lics[int(i)%len(lics)]
					at := now.Add(-time.Duration(i%3) * 24 * time.Hour)
					if _, err := store.RecordUsage(ctx, lic, nil, []db.UsageReportIn{{ID: uuid.New(), PeriodStart: at,
						PeriodEnd: at.Add(time.Minute), Metrics: map[string]int64{"apiCalls": 7, "users": i % 40, "storageGb": 3}}},
						now); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reports/s")
		})
	}
}

// usageBenchLicenses makes customers×perCustomer licenses with limits on
// the metrics the benchmark reports.
func usageBenchLicenses(b *testing.B, store *db.Store, customers, perCustomer int) []db.UsageLicense {
	b.Helper()
	ctx := context.Background()
	var plan uuid.UUID
	if err := store.Pool.QueryRow(ctx, `INSERT INTO plans (code, name) VALUES ('bench', 'Bench') RETURNING id`).Scan(&plan); err != nil {
		b.Fatal(err)
	}
	var out []db.UsageLicense
	for c := range customers {
		var cust uuid.UUID
		if err := store.Pool.QueryRow(ctx, `INSERT INTO customers (name, email) VALUES ($1, $2) RETURNING id`,
			fmt.Sprint("Bench ", c), fmt.Sprintf("bench%d@example.test", c)).Scan(&cust); err != nil {
			b.Fatal(err)
		}
		for range perCustomer {
			var id uuid.UUID
			if err := store.Pool.QueryRow(ctx, `
				INSERT INTO licenses (customer_id, plan_id, limits, starts_at, grace_days, offline_days, heartbeat_window_hours, dunning_days)
				VALUES ($1, $2, '{"apiCalls": 100000, "users": 30}', now() - interval '1 year', 7, 30, 72, 14) RETURNING id`,
				cust, plan).Scan(&id); err != nil {
				b.Fatal(err)
			}
			out = append(out, db.UsageLicense{ID: id, CustomerID: cust})
		}
	}
	return out
}

// BenchmarkReportUsageBatched: 64 concurrent callers reporting 1, 10 or
// 100 reports a request through the group commit, over 500 licenses; req/stmt
// is how many requests each record_usage_batch statement carried.
func BenchmarkReportUsageBatched(b *testing.B) {
	store := dbtest.NewStore(b)
	lics := usageBenchLicenses(b, store, 100, 5)
	for _, size := range []int{1, 10, 100} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			ctx := context.Background()
			now := time.Now()
			var next atomic.Int64
			b.SetParallelism(32)
			before := store.UsageBatchStats()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					reports := make([]db.UsageReportIn, size)
					for j := range reports {
						reports[j] = db.UsageReportIn{ID: uuid.New(), PeriodStart: now, PeriodEnd: now,
							Metrics: map[string]int64{"apiCalls": int64(j), "users": int64(j % 7)}}
					}
					if _, err := store.ReportUsage(ctx, lics[int(i*7919)%len(lics)], nil, reports, now); err != nil {
						b.Error(err)
						return
					}
				}
			})
			after := store.UsageBatchStats()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			b.ReportMetric(float64(after.Requests-before.Requests)/float64(max(1, after.Statements-before.Statements)), "req/stmt")
		})
	}
}
