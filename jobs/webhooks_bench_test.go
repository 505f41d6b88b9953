package jobs_test

// Delivery throughput: events already recorded (their delivery jobs queued)
// are delivered by one process's 16 webhook workers to a receiver on
// loopback that answers 200 at once; the figure is events delivered per
// second, signing, the HTTP round trip and the bookkeeping included.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/jobs"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/webhooks"
)

func BenchmarkWebhookDelivery(b *testing.B) {
	store := dbtest.NewStore(b)
	ctx := context.Background()
	var got atomic.Int64
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got.Add(1)
	}))
	b.Cleanup(rec.Close)
	sealer, err := licensing.NewSealer("bench-seal-key-0123456789abcdef0123456789")
	if err != nil {
		b.Fatal(err)
	}
	url, types := rec.URL, []string{events.LicenseUpdated}
	whs := app.NewWebhooks(store, sealer, webhooks.Guard{AllowPrivate: true}, 0, time.Now)
	if _, _, err := whs.Create(ctx, licensing.SystemActor("bench"), app.WebhookEndpointChange{URL: &url, Events: &types}); err != nil {
		b.Fatal(err)
	}
	r, err := jobs.New(store.Pool, store, jobs.Config{Sealer: sealer, ScanInterval: time.Hour,
		Webhooks: jobs.WebhookConfig{Guard: webhooks.Guard{AllowPrivate: true}, Workers: 16},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	// Queue b.N events (and their deliveries) before the workers start.
	evs := make([]events.Event, b.N)
	for i := range evs {
		evs[i] = events.Event{Type: events.LicenseUpdated, OccurredAt: time.Now(), Data: events.License{},
			MilestoneKey: fmt.Sprint("bench|", i)}
	}
	for i := 0; i < len(evs); i += 500 {
		if _, err := store.RecordMilestones(ctx, evs[i:min(i+500, len(evs))]); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	if err := r.Start(ctx); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for got.Load() < int64(b.N) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	elapsed := b.Elapsed()
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = r.Stop(stopCtx)
	if got.Load() != int64(b.N) {
		b.Fatalf("%d of %d events delivered", got.Load(), b.N)
	}
	ds, err := store.ListWebhookDeliveries(ctx, db.WebhookDeliveryFilter{EndpointID: mustEndpoint(b, store), Status: "delivered", Limit: 1})
	if err != nil || len(ds) == 0 {
		b.Fatalf("no delivered delivery recorded: %v", err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

func mustEndpoint(b *testing.B, store *db.Store) (id [16]byte) {
	eps, err := store.ListWebhookEndpoints(context.Background(), db.ListWebhookEndpointsParams{MaxRows: 1})
	if err != nil || len(eps) != 1 {
		b.Fatal(err)
	}
	return eps[0].ID
}
