// Tests of usage recorded in shared transactions (db.UsageBatcher): each
// report counted once across concurrent requests, a failing request does not
// take the others down with it, and the rollups agree with the daily rows.
package db_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

func TestUsageBatcherCountsEachReportOnce(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	now := time.Date(2026, 4, 2, 9, 0, 0, 0, time.UTC)
	var lics []db.UsageLicense
	for i := range 3 {
		cust := f.addCustomer(t, "Batch "+string(rune('A'+i)), "batch"+string(rune('a'+i))+"@example.test")
		id := f.addLicense(t, licenseRow{status: "active", starts: now.AddDate(-1, 0, 0), customer: cust})
		if _, err := f.store.Pool.Exec(ctx, `UPDATE licenses SET limits = '{"apiCalls": 100}' WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		lics = append(lics, db.UsageLicense{ID: id, CustomerID: cust})
	}
	b := db.NewUsageBatcher(f.store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { b.Run(runCtx, 2); close(done) }()
	defer func() { stop(); <-done }()

	// Every request sends two reports; each pair of requests shares one id,
	// so exactly one of each shared id is accepted.
	const requests = 60
	shared := make([]uuid.UUID, requests/2)
	for i := range shared {
		shared[i] = uuid.New()
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		accepted = map[uuid.UUID]int{}
		want     = map[uuid.UUID]int64{} // license → apiCalls counted
	)
	for i := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := lics[(i/2)%len(lics)]
			reps := []db.UsageReportIn{
				{ID: uuid.New(), PeriodStart: now, PeriodEnd: now, Metrics: map[string]int64{"apiCalls": 1}},
				{ID: shared[i/2], PeriodStart: now, PeriodEnd: now, Metrics: map[string]int64{"apiCalls": 10}},
			}
			rec, err := b.ReportUsage(ctx, l, nil, reps, now)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for k, r := range rec.Results {
				if r.Status == "accepted" {
					accepted[r.ID]++
					want[l.ID] += reps[k].Metrics["apiCalls"]
				}
			}
		}()
	}
	// A request for a license that does not exist fails alone.
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := b.ReportUsage(ctx, db.UsageLicense{ID: uuid.New(), CustomerID: lics[0].CustomerID}, nil,
			[]db.UsageReportIn{{ID: uuid.New(), PeriodStart: now, PeriodEnd: now, Metrics: map[string]int64{"apiCalls": 5}}}, now)
		if err == nil || licensing.ErrorCode(err) == licensing.EINTERNAL {
			t.Errorf("report for a missing license: got %v, want a refusal", err)
		}
	}()
	wg.Wait()
	if len(accepted) != requests+requests/2 {
		t.Fatalf("accepted %d distinct reports, want %d", len(accepted), requests+requests/2)
	}
	for id, n := range accepted {
		if n != 1 {
			t.Fatalf("report %s accepted %d times, want once", id, n)
		}
	}
	for _, l := range lics {
		used, err := f.store.CurrentUsage(ctx, l, now)
		if err != nil {
			t.Fatal(err)
		}
		if used["apiCalls"] != want[l.ID] {
			t.Errorf("license %s: apiCalls %d stored, want %d answered accepted", l.ID, used["apiCalls"], want[l.ID])
		}
	}
	checkUsageRollups(t, f.store, now)
}
