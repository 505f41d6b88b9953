package db_test

// What a subscribed webhook endpoint costs the write path: the same license
// change with no endpoint, with one endpoint that wants the event, and with
// three, side by side in one run. Each subscribed endpoint adds a delivery
// row and a River job in the change's transaction. Compare the actions/s.

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/jobs"
	"github.com/nectarcloud/nls/licensing"
)

func BenchmarkWebhookWritePath(b *testing.B) {
	for _, endpoints := range []int{0, 1, 3} {
		b.Run(fmt.Sprintf("license-actions/endpoints-%d", endpoints), func(b *testing.B) {
			store := dbtest.NewStore(b)
			if _, err := jobs.New(store.Pool, store, jobs.Config{}); err != nil { // enqueues; no workers run
				b.Fatal(err)
			}
			lics := usageBenchLicenses(b, store, 40, 5)
			ctx := context.Background()
			actor := licensing.Actor{Type: "system", Label: "bench"}
			for i := range endpoints {
				if _, err := store.CreateWebhookEndpoint(ctx, actor, uuid.New(), db.WebhookEndpointInput{
					URL: fmt.Sprintf("https://hooks%d.example.com/", i), Events: []string{events.LicenseUpdated}, Enabled: true},
					[]byte("sealed"), time.Now()); err != nil {
					b.Fatal(err)
				}
			}
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
			b.StopTimer()
			var made int
			if err := store.Pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries`).Scan(&made); err != nil {
				b.Fatal(err)
			}
			if made != b.N*endpoints {
				b.Fatalf("%d deliveries for %d actions and %d endpoints", made, b.N, endpoints)
			}
		})
	}
}

// BenchmarkSeatWritePath: new deployments taking seats from 32 concurrent
// callers through the seat batches, with no endpoint (each batch one
// statement that commits alone) and with endpoints that want
// deployment.activated (each batch a transaction that inserts the
// deliveries and enqueues their jobs). Compare the seats/s.
func BenchmarkSeatWritePath(b *testing.B) {
	for _, endpoints := range []int{0, 1, 3} {
		b.Run(fmt.Sprintf("new-deployments/endpoints-%d", endpoints), func(b *testing.B) {
			store := dbtest.NewStore(b)
			if _, err := jobs.New(store.Pool, store, jobs.Config{}); err != nil { // enqueues; no workers run
				b.Fatal(err)
			}
			lics := usageBenchLicenses(b, store, 50, 20)
			ctx := context.Background()
			actor := licensing.Actor{Type: "system", Label: "bench"}
			for i := range endpoints {
				if _, err := store.CreateWebhookEndpoint(ctx, actor, uuid.New(), db.WebhookEndpointInput{
					URL: fmt.Sprintf("https://hooks%d.example.com/", i), Events: []string{events.DeploymentActivated}, Enabled: true},
					[]byte("sealed"), time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			var next atomic.Int64
			b.SetParallelism(16)
			before := store.SeatStatements()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					a, err := store.AcquireSeats(ctx, db.SeatRequest{LicenseID: lics[int(i)%len(lics)].ID, Window: 72 * time.Hour,
						Info: db.DeploymentInfo{DeploymentID: fmt.Sprint("bench-", i), Hostname: "bench"}, Now: time.Now()})
					if err != nil || a.Outcome != db.SeatHeld {
						b.Errorf("seat %d: %v %v", i, a.Outcome, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seats/s")
			b.ReportMetric(float64(b.N)/float64(store.SeatStatements()-before), "seats/stmt")
			b.StopTimer()
			var made int
			if err := store.Pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries`).Scan(&made); err != nil {
				b.Fatal(err)
			}
			if made != b.N*endpoints {
				b.Fatalf("%d deliveries for %d seats and %d endpoints", made, b.N, endpoints)
			}
		})
	}
}
