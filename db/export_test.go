package db

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nectarcloud/nls/events"
)

// SetTopUsageBounds changes how many bounds TopUsageCustomers reads, until
// the test ends.
func SetTopUsageBounds(tb interface{ Cleanup(func()) }, n int) {
	old := topUsageBounds
	topUsageBounds = n
	tb.Cleanup(func() { topUsageBounds = old })
}

// RecordEvent exposes the outbox recorder to the transaction tests.
func (s *Store) RecordEvent(ctx context.Context, q *Queries, e events.Event) (bool, error) {
	return s.recordEvent(ctx, q, e)
}

// InTx exposes the transaction helper to the transaction tests.
func (s *Store) InTx(ctx context.Context, fn func(q *Queries) error) error { return s.inTx(ctx, fn) }

// Raw exposes the translated sqlc queries to db's own tests, which check
// queries one by one; outside db they are reached only through named methods.
func (s *Store) Raw() *Queries { return s.q }

// MigrateDownTo rolls the schema back to version, for tests of a migration's
// data conversion (roll back, write old rows, migrate up again).
func MigrateDownTo(ctx context.Context, pool *pgxpool.Pool, version int64) error {
	p, closeDB, err := newProvider(pool)
	if err != nil {
		return err
	}
	defer closeDB()
	_, err = p.DownTo(ctx, version)
	return err
}

// SeatStatements is how many acquire_seats statements the store has run.
func (s *Store) SeatStatements() int64 { return s.seatStatements.Load() }

func (s *Store) SeatRetries() int64 { return s.seatRetries.Load() }

// UsageQueue reads the usage combiner's state: the batches running and the
// requests waiting for the next one.
func (s *Store) UsageQueue() (running, queued int) {
	c := s.usageBatches()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running, len(c.queue)
}

// UsageBatchParallel is how many usage batches run at once.
const UsageBatchParallel = usageBatchParallel
