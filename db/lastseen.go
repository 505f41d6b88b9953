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
// them in batches — one row write per deployment, a flush every few seconds
// (its statements paced, see flush) and at shutdown — so that a heartbeat does not
// wait on a write, and a busy key's concurrent requests do not queue on its
// row. A deployment's freshness is the newest of its stored and pending
// times (Newest). Callers keep the seat rule exact by recording here only
// deployments whose stored time is far inside their heartbeat window
// (SeenMargin), so that no pending time can be what keeps a seat held while
// it waits. About one flush interval of times is lost if the process is
// killed.
type LastSeen struct {
	store   *Store
	log     *slog.Logger
	mu      sync.Mutex
	pending map[uuid.UUID]time.Time
	writing map[uuid.UUID]time.Time // the times a flush is writing
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
	w, writing := l.writing[id]
	l.mu.Unlock()
	if ok && p.After(stored) {
		stored = p
	}
	if writing && w.After(stored) {
		stored = w
	}
	return stored
}

// Flush writes the times gathered so far, at once; on failure they are kept
// for the next try.
func (l *LastSeen) Flush(ctx context.Context) error { return l.flush(ctx, nil, 0) }

// flush writes the pending times in id order, in paced chunks (runFlush:
// spread of rests at most, none once stop closes). Times being written stay
// visible to Newest.
func (l *LastSeen) flush(ctx context.Context, stop <-chan struct{}, spread time.Duration) error {
	l.mu.Lock()
	batch := l.pending
	l.pending = make(map[uuid.UUID]time.Time, len(batch))
	l.writing = batch
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.writing = nil
		l.mu.Unlock()
	}()
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
	return Translate(runFlush(stop, spread, chunked(len(ids), func(from, to int) error {
		return l.store.q.TouchDeployments(ctx, TouchDeploymentsParams{Ids: ids[from:to], SeenAts: at[from:to]})
	}, func(from, to int) {
		for i := from; i < to; i++ {
			l.Seen(ids[i], at[i])
		}
	})))
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
			// Not cancelled by the shutdown, which only ends the rests:
			// the flush's remaining chunks are written at once, bounded so
			// that an unanswering database holds the shutdown up no longer.
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second+interval/2)
			err := l.flush(flushCtx, ctx.Done(), interval/2)
			cancel()
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
