-- Outbound webhooks: endpoints, the deliveries made from events, and each
-- attempt.

-- name: CreateWebhookEndpoint :one
INSERT INTO webhook_endpoints (id, url, description, event_types, enabled, secret_sealed, created_at, updated_at)
VALUES (@id, @url, @description, @event_types, @enabled, @secret_sealed, @now, @now)
RETURNING *;

-- name: GetWebhookEndpoint :one
SELECT * FROM webhook_endpoints WHERE id = @id;

-- name: GetWebhookEndpointForUpdate :one
SELECT * FROM webhook_endpoints WHERE id = @id FOR UPDATE;

-- name: ListWebhookEndpoints :many
-- Newest first, keyset paginated.
SELECT * FROM webhook_endpoints
WHERE (sqlc.narg('before_created')::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg('before_created')::timestamptz, sqlc.narg('before_id')::uuid))
ORDER BY created_at DESC, id DESC
LIMIT @max_rows;

-- name: UpdateWebhookEndpoint :one
UPDATE webhook_endpoints SET url = @url, description = @description, event_types = @event_types, enabled = @enabled,
    disabled_reason = @disabled_reason,
    -- Enabling again starts a fresh count of failures.
    failing_since = CASE WHEN @enabled::boolean AND NOT enabled THEN NULL ELSE failing_since END,
    consecutive_failures = CASE WHEN @enabled::boolean AND NOT enabled THEN 0 ELSE consecutive_failures END,
    updated_at = @now
WHERE id = @id
RETURNING *;

-- name: RotateWebhookEndpointSecret :one
-- The secret in use becomes the previous one, which keeps signing until
-- previous_secret_until.
UPDATE webhook_endpoints SET secret_sealed = @secret_sealed, previous_secret_sealed = secret_sealed,
    previous_secret_until = @previous_secret_until, updated_at = @now
WHERE id = @id
RETURNING *;

-- name: DeleteWebhookEndpoint :execrows
DELETE FROM webhook_endpoints WHERE id = @id;

-- name: InsertWebhookDeliveriesForEvent :many
-- The outbox's fan-out to webhooks: one delivery per enabled endpoint that
-- wants the event's type, in the event's own transaction.
INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, created_at, updated_at)
SELECT e.id, @event_id, @event_type, @now, @now FROM webhook_endpoints e
WHERE e.enabled AND (@event_type::text = ANY (e.event_types) OR '*' = ANY (e.event_types))
RETURNING id;

-- name: InsertWebhookDeliveriesForEvents :many
-- The same for events recorded together (the activations of a seat batch),
-- in their transaction: created when each event occurred.
INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, created_at, updated_at)
SELECT e.id, ev.id, ev.type, ev.occurred_at, ev.occurred_at
FROM unnest(@event_ids::uuid[]) WITH ORDINALITY AS x(id, n)
JOIN events ev ON ev.id = x.id
JOIN webhook_endpoints e ON e.enabled AND (ev.type = ANY (e.event_types) OR '*' = ANY (e.event_types))
ORDER BY x.n, e.id
RETURNING id;

-- name: InsertWebhookDelivery :one
INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, created_at, updated_at)
VALUES (@endpoint_id, sqlc.narg('event_id'), @event_type, @now, @now)
RETURNING id;

-- name: ReplayWebhookDeliveries :many
-- "Replay since": every event since a time that the endpoint wants and has
-- not received (or is not about to), oldest first, at most max_rows.
INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, created_at, updated_at)
SELECT w.id, ev.id, ev.type, @now, @now
FROM webhook_endpoints w
JOIN events ev ON ev.occurred_at >= @since AND (ev.type = ANY (w.event_types) OR '*' = ANY (w.event_types))
WHERE w.id = @endpoint_id
  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = w.id AND d.event_id = ev.id
                  AND d.status IN ('pending', 'retrying', 'delivered'))
ORDER BY ev.occurred_at, ev.id
LIMIT @max_rows
RETURNING id;

-- name: GetWebhookDeliveryForSend :one
-- A delivery with what sending it needs: its endpoint and its event.
SELECT d.id, d.endpoint_id, d.event_id, d.event_type, d.status, d.created_at,
    w.url, w.enabled, w.secret_sealed, w.previous_secret_sealed, w.previous_secret_until,
    ev.occurred_at AS event_occurred_at, ev.data AS event_data
FROM webhook_deliveries d
JOIN webhook_endpoints w ON w.id = d.endpoint_id
LEFT JOIN events ev ON ev.id = d.event_id
WHERE d.id = @id;

-- name: GetWebhookDelivery :one
SELECT * FROM webhook_deliveries WHERE id = @id;

-- name: RecordWebhookAttempt :exec
INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, response_status, latency_ms, response_excerpt, error,
    next_attempt_at)
VALUES (@delivery_id, @attempt, @attempted_at, sqlc.narg('response_status'), @latency_ms, left(@response_excerpt::text, 1000),
    left(@error::text, 1000), sqlc.narg('next_attempt_at'))
ON CONFLICT (delivery_id, attempt) DO UPDATE SET attempted_at = EXCLUDED.attempted_at,
    response_status = EXCLUDED.response_status, latency_ms = EXCLUDED.latency_ms,
    response_excerpt = EXCLUDED.response_excerpt, error = EXCLUDED.error, next_attempt_at = EXCLUDED.next_attempt_at;

-- name: SetWebhookDeliveryOutcome :exec
UPDATE webhook_deliveries SET status = @status, attempts = GREATEST(attempts, @attempt::integer),
    response_status = sqlc.narg('response_status'), latency_ms = sqlc.narg('latency_ms'),
    response_excerpt = left(@response_excerpt::text, 1000), last_error = left(@last_error::text, 1000),
    next_attempt_at = sqlc.narg('next_attempt_at'),
    delivered_at = CASE WHEN @status = 'delivered' THEN @now ELSE delivered_at END, updated_at = @now
WHERE id = @id;

-- name: MarkWebhookEndpointSucceeded :exec
UPDATE webhook_endpoints SET failing_since = NULL, consecutive_failures = 0
WHERE id = @id AND (failing_since IS NOT NULL OR consecutive_failures <> 0);

-- name: MarkWebhookEndpointFailed :one
-- One more failed attempt; answers since when the endpoint has been failing.
UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, @now), consecutive_failures = consecutive_failures + 1
WHERE id = @id
RETURNING failing_since::timestamptz AS failing_since, consecutive_failures, enabled;

-- name: DisableWebhookEndpoint :one
-- Disabling by the delivery engine; answers nothing when already disabled.
UPDATE webhook_endpoints SET enabled = false, disabled_reason = left(@reason::text, 500), updated_at = @now
WHERE id = @id AND enabled
RETURNING *;

-- name: ListWebhookDeliveries :many
-- An endpoint's delivery log, newest first, keyset paginated, by status.
SELECT * FROM webhook_deliveries
WHERE endpoint_id = @endpoint_id
  AND (sqlc.narg('status')::text IS NULL OR status = sqlc.narg('status')::text)
  AND (sqlc.narg('before_created')::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg('before_created')::timestamptz, sqlc.narg('before_id')::uuid))
ORDER BY created_at DESC, id DESC
LIMIT @max_rows;

-- name: ListWebhookAttempts :many
SELECT * FROM webhook_attempts WHERE delivery_id = ANY (@delivery_ids::uuid[]) ORDER BY delivery_id, attempt;

-- name: WebhookEndpointStats :one
-- Deliveries of the last days that ended, and how many were delivered.
SELECT count(*) FILTER (WHERE status = 'delivered')::bigint AS delivered,
    count(*) FILTER (WHERE status = 'failed')::bigint AS failed,
    count(*) FILTER (WHERE status IN ('pending', 'retrying'))::bigint AS pending
FROM webhook_deliveries WHERE endpoint_id = @endpoint_id AND created_at >= @since;
