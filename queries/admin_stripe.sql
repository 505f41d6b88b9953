-- Stripe events as the admin pages show them: with the license (by its
-- subscription) and the customer (the license's, else by Stripe customer
-- id) each concerns, where NLS knows them.

-- name: ListStripeEventsForAdmin :many
-- Newest first, keyset-paginated, optionally in one state: a page is a
-- range of the status index, or of the received index for every state.
SELECT e.id, e.type, e.status, e.error, e.attempts, e.received_at, e.processed_at,
    l.id AS license_id, c.id AS customer_id, c.name AS customer_name
FROM stripe_events e
LEFT JOIN licenses l ON l.stripe_subscription_id = e.stripe_subscription_id
LEFT JOIN customers c ON c.id = coalesce(l.customer_id,
    (SELECT sc.id FROM customers sc WHERE sc.stripe_customer_id = e.stripe_customer_id))
WHERE (sqlc.narg('status')::text IS NULL OR e.status = sqlc.narg('status')::text)
  AND (sqlc.narg('before_received')::timestamptz IS NULL
       OR (e.received_at, e.id) < (sqlc.narg('before_received')::timestamptz, sqlc.narg('before_id')::text))
ORDER BY e.received_at DESC, e.id DESC
LIMIT @max_rows;

-- name: GetStripeEventForAdmin :one
SELECT e.*, l.id AS license_id, c.id AS customer_id, c.name AS customer_name
FROM stripe_events e
LEFT JOIN licenses l ON l.stripe_subscription_id = e.stripe_subscription_id
LEFT JOIN customers c ON c.id = coalesce(l.customer_id,
    (SELECT sc.id FROM customers sc WHERE sc.stripe_customer_id = e.stripe_customer_id))
WHERE e.id = @id;

-- name: ListStripeEventsNeedingAttention :many
-- The latest events an admin should look at: those waiting for a fix
-- (needs_attention) and those that failed on our side and were not cured
-- by a retry, each row with how many of each there are (no row: none).
-- Each state's few and its count come from its range of the status index.
SELECT a.id, a.type, a.status, a.error, a.received_at,
    (SELECT count(*) FROM stripe_events c WHERE c.status = 'needs_attention')::bigint AS needs_attention,
    (SELECT count(*) FROM stripe_events c WHERE c.status = 'failed')::bigint AS failed
FROM (
    (SELECT e.id, e.type, e.status, e.error, e.received_at FROM stripe_events e
     WHERE e.status = 'needs_attention' ORDER BY e.received_at DESC, e.id DESC LIMIT @max_rows)
    UNION ALL
    (SELECT e.id, e.type, e.status, e.error, e.received_at FROM stripe_events e
     WHERE e.status = 'failed' ORDER BY e.received_at DESC, e.id DESC LIMIT @max_rows)
) a
ORDER BY a.received_at DESC, a.id DESC
LIMIT @max_rows;
