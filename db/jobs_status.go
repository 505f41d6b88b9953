// What "portal jobs" shows: the job queue's backlog per queue and state, and
// the jobs that failed for good. River owns these tables (migrated with
// ours), so sqlc does not see them and the two queries are written here.

package db

import (
	"context"
	"time"
)

// QueueState is how many jobs of one kind sit in one state of one queue.
type QueueState struct {
	Queue string
	Kind  string
	State string
	Jobs  int64
}

// JobQueueStates counts jobs by queue, kind and state.
func (s *Store) JobQueueStates(ctx context.Context) ([]QueueState, error) {
	rows, err := s.Pool.Query(ctx, `SELECT queue, kind, state::text, count(*) FROM river_job
		GROUP BY queue, kind, state ORDER BY queue, kind, state`)
	if err != nil {
		return nil, Translate(err)
	}
	defer rows.Close()
	var out []QueueState
	for rows.Next() {
		var q QueueState
		if err := rows.Scan(&q.Queue, &q.Kind, &q.State, &q.Jobs); err != nil {
			return nil, Translate(err)
		}
		out = append(out, q)
	}
	return out, Translate(rows.Err())
}

// JobFailure is a job that ran out of attempts or was cancelled, or one
// waiting to retry after an error.
type JobFailure struct {
	ID        int64
	Kind      string
	State     string
	Attempt   int
	LastError string
	At        time.Time
	Args      string
}

// JobFailures lists the newest failed, cancelled and retrying jobs.
func (s *Store) JobFailures(ctx context.Context, limit int) ([]JobFailure, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT id, kind, state::text, attempt, coalesce(errors[array_length(errors, 1)]->>'error', ''),
			coalesce(finalized_at, attempted_at, created_at), args::text
		FROM river_job WHERE state IN ('discarded', 'cancelled', 'retryable')
		ORDER BY coalesce(finalized_at, attempted_at, created_at) DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, Translate(err)
	}
	defer rows.Close()
	var out []JobFailure
	for rows.Next() {
		var f JobFailure
		if err := rows.Scan(&f.ID, &f.Kind, &f.State, &f.Attempt, &f.LastError, &f.At, &f.Args); err != nil {
			return nil, Translate(err)
		}
		out = append(out, f)
	}
	return out, Translate(rows.Err())
}
