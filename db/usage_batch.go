package db

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// UsageBatcher records usage reports of concurrent requests together: the
// requests waiting when a writer is free go into one transaction (one
// record_usage statement each, sent in one round trip) and one commit, so
// that a durable commit is shared rather than paid by every request. Each
// request is answered only after the commit that holds it, so exactly-once
// is as with Store.ReportUsage. If the shared transaction fails (a bad batch,
// a deadlock with another process), each of its requests is retried alone,
// and only its own error comes back.
type UsageBatcher struct {
	store   *Store
	log     *slog.Logger
	queue   chan *usageRequest
	maxSize int
}

type usageRequest struct {
	ctx     context.Context
	params  RecordUsageParams
	reports []UsageReportIn
	rec     UsageRecorded
	err     error
	done    chan struct{}
}

// NewUsageBatcher returns a batcher; Run must be running for it to record.
func NewUsageBatcher(store *Store, log *slog.Logger) *UsageBatcher {
	return &UsageBatcher{store: store, log: log, queue: make(chan *usageRequest, 1024), maxSize: 64}
}

// ReportUsage is Store.ReportUsage, sharing its transaction with other
// requests waiting at the same time.
func (b *UsageBatcher) ReportUsage(ctx context.Context, lic UsageLicense, deploymentPK *uuid.UUID, reports []UsageReportIn,
	now time.Time) (UsageRecorded, error) {
	p, err := usageParams(lic, deploymentPK, reports, now)
	if err != nil {
		return UsageRecorded{}, err
	}
	r := &usageRequest{ctx: ctx, params: p, reports: reports, done: make(chan struct{})}
	select {
	case b.queue <- r:
	case <-ctx.Done():
		return UsageRecorded{}, Translate(ctx.Err())
	}
	// Once queued the request may be committed: wait for the outcome even
	// if the caller gives up, so that no answer contradicts the database.
	<-r.done
	return r.rec, r.err
}

// Run records queued requests with writers concurrent writers until ctx ends.
func (b *UsageBatcher) Run(ctx context.Context, writers int) {
	done := make(chan struct{})
	for range writers {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-ctx.Done():
					return
				case r := <-b.queue:
					batch := []*usageRequest{r}
				drain:
					for len(batch) < b.maxSize {
						select {
						case r := <-b.queue:
							batch = append(batch, r)
						default:
							break drain
						}
					}
					b.record(batch)
				}
			}
		}()
	}
	for range writers {
		<-done
	}
	// Requests still queued are recorded one by one before returning.
	for {
		select {
		case r := <-b.queue:
			b.alone(r)
		default:
			return
		}
	}
}

func (b *UsageBatcher) record(batch []*usageRequest) {
	if len(batch) == 1 {
		b.alone(batch[0])
		return
	}
	// The same order in every process (customer, then license), so that
	// two shared transactions take the customers' rollup locks in one order.
	slices.SortFunc(batch, func(x, y *usageRequest) int {
		if c := bytes.Compare(x.params.CustomerID[:], y.params.CustomerID[:]); c != 0 {
			return c
		}
		return bytes.Compare(x.params.LicenseID[:], y.params.LicenseID[:])
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows := make([]RecordUsageRow, len(batch))
	err := pgx.BeginFunc(ctx, b.store.Pool, func(tx pgx.Tx) error {
		pb := &pgx.Batch{}
		for i, r := range batch {
			a := r.params
			pb.Queue(recordUsage, a.LicenseID, a.CustomerID, a.DeploymentPk, a.ReportIds, a.PeriodStarts, a.PeriodEnds,
				a.Metrics, a.AccountingStarts, a.AccountingEnds, a.MetricReports, a.MetricNames, a.MetricKinds,
				a.MetricValues, a.ReceivedAt, a.CurrentPeriod).QueryRow(func(row pgx.Row) error {
				return row.Scan(&rows[i].Accepted, &rows[i].UsageMetrics, &rows[i].UsageValues)
			})
		}
		return tx.SendBatch(ctx, pb).Close()
	})
	if err != nil {
		for _, r := range batch {
			b.alone(r)
		}
		return
	}
	for i, r := range batch {
		r.rec = usageRecorded(r.reports, rows[i])
		close(r.done)
	}
}

// alone records one request in its own transaction.
func (b *UsageBatcher) alone(r *usageRequest) {
	ctx := context.WithoutCancel(r.ctx)
	row, err := b.store.Q.RecordUsage(ctx, r.params)
	if err != nil {
		r.err = Translate(err)
	} else {
		r.rec = usageRecorded(r.reports, row)
	}
	close(r.done)
}
