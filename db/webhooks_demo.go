package db

// The demo webhook endpoint's delivery history, so that a first `make run`
// shows the delivery log, the attempts and the success rate.

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// SeedDemoWebhookHistory gives an endpoint deliveries of the newest events:
// most delivered at once, one after two 503s, one failed for good after
// timing out, ending at now.
func (s *Store) SeedDemoWebhookHistory(ctx context.Context, endpointID uuid.UUID, reason string, now time.Time) error {
	return s.inTx(ctx, func(q *Queries) error {
		if _, err := q.db.Exec(ctx, `UPDATE webhook_endpoints SET disabled_reason = $2 WHERE id = $1 AND NOT enabled`,
			endpointID, reason); err != nil {
			return err
		}
		_, err := q.db.Exec(ctx, demoWebhookSQL, endpointID, now)
		return err
	})
}

const demoWebhookSQL = `
WITH ev AS (
    SELECT id, type, row_number() OVER (ORDER BY occurred_at DESC, id) AS n FROM events
    ORDER BY occurred_at DESC, id LIMIT 12
), d AS (
    INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, status, attempts, response_status, latency_ms,
        response_excerpt, last_error, created_at, updated_at, delivered_at)
    SELECT $1, ev.id, ev.type,
        CASE WHEN ev.n = 4 THEN 'failed' ELSE 'delivered' END,
        CASE ev.n WHEN 2 THEN 3 WHEN 4 THEN 4 ELSE 1 END,
        CASE WHEN ev.n = 4 THEN NULL ELSE 200 END,
        CASE WHEN ev.n = 4 THEN 10000 ELSE 40 + ev.n * 17 END,
        CASE WHEN ev.n = 4 THEN '' ELSE '{"received":true}' END,
        CASE WHEN ev.n = 4 THEN 'timed out: no answer within the timeout' ELSE '' END,
        $2::timestamptz - ev.n * interval '47 minutes', $2::timestamptz - ev.n * interval '40 minutes',
        CASE WHEN ev.n = 4 THEN NULL ELSE $2::timestamptz - ev.n * interval '40 minutes' END
    FROM ev
    RETURNING id, status, attempts, created_at
)
INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, response_status, latency_ms, response_excerpt, error,
    next_attempt_at)
SELECT d.id, a, d.created_at + (a - 1) * interval '2 minutes',
    CASE WHEN d.status = 'failed' THEN NULL WHEN a = d.attempts THEN 200 ELSE 503 END,
    CASE WHEN d.status = 'failed' THEN 10000 ELSE 60 + a * 9 END,
    CASE WHEN d.status = 'failed' THEN '' WHEN a = d.attempts THEN '{"received":true}' ELSE 'upstream unavailable' END,
    CASE WHEN d.status = 'failed' THEN 'timed out: no answer within the timeout'
         WHEN a = d.attempts THEN '' ELSE 'the receiver answered 503' END,
    CASE WHEN a = d.attempts THEN NULL ELSE d.created_at + a * interval '2 minutes' END
FROM d, generate_series(1, d.attempts) AS a`
