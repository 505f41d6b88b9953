// The job queue's depth for the metrics: counts read straight from River's
// river_job table. That table belongs to River's own migrations, not ours,
// so sqlc cannot compile against it and the query is written out here; a
// database without it (River not set up yet) has nothing queued.
package db

import (
	"context"
)

// QueueDepth is the number of jobs of one queue in one state.
type QueueDepth struct {
	Queue string
	State string
	Jobs  int64
}

// JobQueueDepth counts the jobs not yet finished, by queue and state
// (available, scheduled, retryable, running, pending). It answers nothing,
// and no error, when the river_job table does not exist.
func (s *Store) JobQueueDepth(ctx context.Context) ([]QueueDepth, error) {
	var exists bool
	if err := s.Pool.QueryRow(ctx, "SELECT to_regclass('river_job') IS NOT NULL").Scan(&exists); err != nil {
		return nil, Translate(err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := s.Pool.Query(ctx, `SELECT queue, state::text, count(*) FROM river_job
		WHERE state::text IN ('available', 'scheduled', 'retryable', 'running', 'pending')
		GROUP BY queue, state ORDER BY queue, state`)
	if err != nil {
		return nil, Translate(err)
	}
	defer rows.Close()
	var out []QueueDepth
	for rows.Next() {
		var d QueueDepth
		if err := rows.Scan(&d.Queue, &d.State, &d.Jobs); err != nil {
			return nil, Translate(err)
		}
		out = append(out, d)
	}
	return out, Translate(rows.Err())
}
