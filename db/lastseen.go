package db

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// LastSeen gathers the times deployments holding a seat were seen and writes
// them in batches — one UPDATE per flush, one row write per deployment, a
// flush every few seconds and at shutdown — so that a heartbeat does not
// wait on a write, and a busy key's concurrent requests do not queue on its
// row. A deployment's freshness is the newest of its stored and pending
// times (Newest). Callers keep the seat rule exact by recording here only
// deployments whose stored time is far inside their heartbeat window
// (SeenMargin), so that no pending time can be what keeps a seat held while
// it waits. At most one flush interval of times is lost if the process is
// killed.
type LastSeen struct {
	store   *Store
	log     *slog.Logger
	mu      sync.Mutex
	pending map[uuid.UUID]time.Time
}

// SeenMargin is how far inside its heartbeat window a deployment's stored
// last-seen time must be for a refresh to wait for the next flush: far more
// than any flush interval, so the stored time alone decides every seat count.
const SeenMargin = 10 * time.Minute

// NewLastSeen returns an empty recorder.
func NewLastSeen(store *Store, log *slog.Logger) *LastSeen {
	return &LastSeen{store: store, log: log, pending: map[uuid.UUID]time.Time{}}
}

// Seen records that the deployment with primary key id was seen at t.
func (l *LastSeen) Seen(id uuid.UUID, t time.Time) {
	l.mu.Lock()
	if old, ok := l.pending[id]; !ok || t.After(old) {
		l.pending[id] = t
	}
	l.mu.Unlock()
}

// Newest is the newest of stored and the time pending for id.
func (l *LastSeen) Newest(id uuid.UUID, stored time.Time) time.Time {
	l.mu.Lock()
	p, ok := l.pending[id]
	l.mu.Unlock()
	if ok && p.After(stored) {
		return p
	}
	return stored
}

// Flush writes the times gathered so far; on failure they are kept for the next try.
func (l *LastSeen) Flush(ctx context.Context) error {
	l.mu.Lock()
	batch := l.pending
	l.pending = make(map[uuid.UUID]time.Time, len(batch))
	l.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, 0, len(batch))
	for id := range batch {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	at := make([]time.Time, len(ids))
	for i, id := range ids {
		at[i] = batch[id]
	}
	if err := l.store.q.TouchDeployments(ctx, TouchDeploymentsParams{Ids: ids, SeenAts: at}); err != nil {
		for id, t := range batch {
			l.Seen(id, t)
		}
		return Translate(err)
	}
	return nil
}

// Run flushes every interval until ctx ends, then flushes once more.
func (l *LastSeen) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := 0
	for {
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := l.Flush(flushCtx); err != nil {
				l.log.Warn("flushing last-seen times at shutdown failed", "err", err)
			}
			cancel()
			return
		case <-t.C:
			err := l.Flush(ctx)
			switch {
			case err != nil && failing == 0:
				l.log.Warn("flushing last-seen times failed; they are kept and retried", "err", err)
			case err == nil && failing > 0:
				l.log.Info("flushing last-seen times to the database works again", "failed_flushes", failing)
			}
			if err != nil {
				failing++
			} else {
				failing = 0
			}
		}
	}
}
