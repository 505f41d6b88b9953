package db

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// ValidationStats counts validation answers per license, hour and code in
// memory and adds them to the database in batches, so that the validation hot
// path never waits on an extra write. Counts of several processes add up.
// At most one flush interval of counts is lost if the process is killed.
type ValidationStats struct {
	store  *Store
	log    *slog.Logger
	mu     sync.Mutex
	counts map[statKey]int64
}

type statKey struct {
	license uuid.UUID // uuid.Nil: the key matched no license
	hour    int64     // unix seconds at the start of the hour
	code    string
}

// NewValidationStats returns an empty recorder.
func NewValidationStats(store *Store, log *slog.Logger) *ValidationStats {
	return &ValidationStats{store: store, log: log, counts: map[statKey]int64{}}
}

// Record counts one answer.
func (v *ValidationStats) Record(license uuid.UUID, code string, now time.Time) {
	k := statKey{license: license, hour: now.Unix() - now.Unix()%3600, code: code}
	v.mu.Lock()
	v.counts[k]++
	v.mu.Unlock()
}

// Flush writes the counts gathered so far; on failure they are kept for the next try.
func (v *ValidationStats) Flush(ctx context.Context) error {
	v.mu.Lock()
	batch := v.counts
	v.counts = make(map[statKey]int64, len(batch))
	v.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	p := AddValidationStatsParams{}
	for k, n := range batch {
		p.LicenseIds = append(p.LicenseIds, k.license)
		p.Hours = append(p.Hours, time.Unix(k.hour, 0).UTC())
		p.Codes = append(p.Codes, k.code)
		p.Counts = append(p.Counts, n)
	}
	if err := v.store.q.AddValidationStats(ctx, p); err != nil {
		v.mu.Lock()
		for k, n := range batch {
			v.counts[k] += n
		}
		v.mu.Unlock()
		return Translate(err)
	}
	return nil
}

// Run flushes every interval until ctx ends, then flushes once more.
func (v *ValidationStats) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := 0 // flushes failed in a row: an outage is logged when it starts and when it ends
	for {
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := v.Flush(flushCtx); err != nil {
				v.log.Warn("flushing validation counts at shutdown failed", "err", err)
			}
			cancel()
			return
		case <-t.C:
			err := v.Flush(ctx)
			switch {
			case err != nil && failing == 0:
				v.log.Warn("flushing validation counts failed; counts are kept and retried", "err", err)
			case err == nil && failing > 0:
				v.log.Info("flushing validation counts to the database works again", "failed_flushes", failing)
			}
			if err != nil {
				failing++
			} else {
				failing = 0
			}
		}
	}
}
