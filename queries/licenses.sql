-- Licenses and their keys.

-- name: CreateLicense :one
INSERT INTO licenses (id, customer_id, plan_id, features, limits, max_deployments, starts_at, expires_at, grace_days,
    offline_days, heartbeat_window_hours, dunning_days, notes, stripe_subscription_id, stripe_price_id,
    stripe_quantity, stripe_status, stripe_state_at, billing_period_start, billing_period_end, created_at, updated_at)
VALUES (@id, @customer_id, @plan_id, @features, @limits, sqlc.narg('max_deployments'), @starts_at, sqlc.narg('expires_at'),
    @grace_days, @offline_days, @heartbeat_window_hours, @dunning_days, @notes, sqlc.narg('stripe_subscription_id'),
    sqlc.narg('stripe_price_id'), sqlc.narg('stripe_quantity'), sqlc.narg('stripe_status'), sqlc.narg('stripe_state_at'),
    sqlc.narg('billing_period_start'), sqlc.narg('billing_period_end'), @created_at, @created_at)
RETURNING *;

-- name: GetLicense :one
SELECT * FROM licenses WHERE id = @id;

-- name: GetLicenseForUpdate :one
-- NO KEY, as for every license lock: no change of a license touches its id,
-- and rows referring to the license may go on being inserted meanwhile.
SELECT * FROM licenses WHERE id = @id FOR NO KEY UPDATE;

-- name: GetLicenseBySubscription :one
SELECT * FROM licenses WHERE stripe_subscription_id = @stripe_subscription_id;

-- name: GetLicenseBySubscriptionForUpdate :one
SELECT * FROM licenses WHERE stripe_subscription_id = @stripe_subscription_id FOR NO KEY UPDATE;

-- name: UpdateLicense :one
-- Writes every mutable fact at once; callers read, change and write in one transaction.
UPDATE licenses SET
    plan_id = @plan_id, status = @status, suspended_reason = sqlc.narg('suspended_reason'),
    suspension_source = sqlc.narg('suspension_source'), features = @features, limits = @limits,
    max_deployments = sqlc.narg('max_deployments'), starts_at = @starts_at, expires_at = sqlc.narg('expires_at'),
    grace_days = @grace_days, offline_days = @offline_days, heartbeat_window_hours = @heartbeat_window_hours,
    dunning_days = @dunning_days, payment_state = @payment_state, past_due_since = sqlc.narg('past_due_since'),
    billing_period_start = sqlc.narg('billing_period_start'), billing_period_end = sqlc.narg('billing_period_end'),
    stripe_subscription_id = sqlc.narg('stripe_subscription_id'), stripe_price_id = sqlc.narg('stripe_price_id'),
    stripe_quantity = sqlc.narg('stripe_quantity'), stripe_status = sqlc.narg('stripe_status'),
    stripe_state_at = sqlc.narg('stripe_state_at'), notes = @notes, revoked_at = sqlc.narg('revoked_at'),
    policy_overrides = @policy_overrides, updated_at = @updated_at
WHERE id = @id
RETURNING *;

-- name: InsertLicenseKey :one
INSERT INTO license_keys (id, license_id, key_hash, key_prefix, key_suffix, key_sealed, kid, created_at)
VALUES (@id, @license_id, @key_hash, @key_prefix, @key_suffix, @key_sealed, @kid, @created_at)
RETURNING *;

-- name: ReplaceLicenseKeys :exec
UPDATE license_keys SET replaced_at = @replaced_at WHERE license_id = @license_id AND replaced_at IS NULL;

-- name: GetCurrentLicenseKey :one
SELECT * FROM license_keys WHERE license_id = @license_id AND replaced_at IS NULL;

-- name: GetValidationContext :one
-- Everything one validation needs, in one indexed read: the key, its
-- license and plan, the deployment if known, and the seats held now.
SELECT k.id AS key_id, k.replaced_at AS key_replaced_at,
    l.id, l.customer_id, l.status, l.suspended_reason, l.features, l.limits, l.max_deployments, l.starts_at,
    l.expires_at, l.grace_days, l.offline_days, l.heartbeat_window_hours, l.dunning_days, l.payment_state,
    l.past_due_since, l.billing_period_start, l.billing_period_end, l.updated_at,
    p.code AS plan_code,
    p.fingerprint_policy, p.fingerprint_match, p.lease_hours, p.transfers_per_period, p.transfer_period_days,
    p.seat_overage, p.limit_enforcement, p.expiry_strategy, l.policy_overrides,
    d.id AS deployment_pk, d.status AS deployment_status, d.fingerprint AS deployment_fingerprint,
    d.fingerprint_components AS deployment_fingerprint_components,
    d.hostname AS deployment_hostname, d.ip AS deployment_ip, d.app_version AS deployment_app_version,
    d.first_seen_at AS deployment_first_seen_at, d.last_seen_at AS deployment_last_seen_at,
    d.offline_until AS deployment_offline_until,
    (SELECT count(*) FROM deployments s
      WHERE s.license_id = l.id
        AND deployment_holds_seat(s.status, s.last_seen_at, s.offline_until, l.heartbeat_window_hours, sqlc.arg(now)::timestamptz))::int AS seats_in_use
FROM license_keys k
JOIN licenses l ON l.id = k.license_id
JOIN plans p ON p.id = l.plan_id
LEFT JOIN deployments d ON d.license_id = l.id AND d.deployment_id = sqlc.arg(deployment_id)::text
WHERE k.key_hash = @key_hash;

-- name: ListLicenses :many
-- Keyset pagination, newest first, with optional filters. A search (q)
-- finds the license by its id or a key's checksum (exactly), or by its
-- customer's name or email or its notes (substrings, through trigram
-- indexes). Each way of finding is its own newest-first page of the
-- filtered licenses, read through the index that suits it; the page shown
-- is the newest of their union, so keyset pagination stays exact.
WITH listed AS NOT MATERIALIZED (
    SELECT l.id, l.created_at, l.customer_id, l.notes
    FROM licenses l
    WHERE (sqlc.narg('customer_id')::uuid IS NULL OR l.customer_id = sqlc.narg('customer_id')::uuid)
      AND (sqlc.narg('plan_code')::text IS NULL
           OR l.plan_id = (SELECT p.id FROM plans p WHERE p.code = sqlc.narg('plan_code')::text))
      AND (sqlc.narg('effective_status')::text IS NULL
           OR license_effective_status(l.status, l.starts_at, l.expires_at, l.grace_days, l.payment_state,
                l.past_due_since, l.dunning_days, sqlc.arg(now)::timestamptz) = sqlc.narg('effective_status')::text)
      -- What the rule implies for each state, in terms indexes can answer
      -- (grace days are at most 365), so rare states are found directly.
      AND CASE sqlc.narg('effective_status')::text
          WHEN 'revoked' THEN l.status = 'revoked'
          WHEN 'suspended' THEN l.status = 'suspended' OR (l.status = 'active' AND l.payment_state = 'past_due')
          WHEN 'not_yet_valid' THEN l.status = 'active' AND l.starts_at > sqlc.arg(now)::timestamptz
          WHEN 'expired' THEN l.status = 'active' AND l.expires_at < sqlc.arg(now)::timestamptz
          WHEN 'grace' THEN l.status = 'active' AND l.expires_at < sqlc.arg(now)::timestamptz
              AND l.expires_at >= sqlc.arg(now)::timestamptz - interval '366 days'
          WHEN 'past_due' THEN l.status = 'active' AND l.payment_state = 'past_due'
          WHEN 'active' THEN l.status = 'active'
          ELSE true END
      AND (sqlc.narg('expires_before')::timestamptz IS NULL OR l.expires_at < sqlc.narg('expires_before')::timestamptz)
      AND (sqlc.narg('expires_after')::timestamptz IS NULL OR l.expires_at >= sqlc.narg('expires_after')::timestamptz)
      AND (sqlc.narg('before_created')::timestamptz IS NULL
           OR (l.created_at, l.id) < (sqlc.narg('before_created')::timestamptz, sqlc.narg('before_id')::uuid))
), page AS (
    (SELECT id FROM listed WHERE sqlc.narg('q')::text IS NULL AND sqlc.narg('expires_before')::timestamptz IS NULL
     ORDER BY created_at DESC, id DESC LIMIT @max_rows)
    UNION ALL
    -- Licenses expiring within a window are found by expiry, then the
    -- newest taken: the newest licenses are the last to expire, so walking
    -- newest first would read most of the table to fill a page. OFFSET 0
    -- keeps the page's order and limit from steering the inner scan.
    (SELECT w.id FROM (SELECT id, created_at FROM listed WHERE sqlc.narg('q')::text IS NULL OFFSET 0) w
     WHERE sqlc.narg('expires_before')::timestamptz IS NOT NULL
     ORDER BY w.created_at DESC, w.id DESC LIMIT @max_rows)
    UNION ALL
    (SELECT id FROM listed
     WHERE customer_id IN (SELECT c.id FROM customers c
        -- The customers' search index narrows; the name or email decides.
        WHERE (c.name || ' ' || c.email::text || ' ' || c.company) ILIKE '%' || sqlc.narg('q')::text || '%'
          AND (c.name ILIKE '%' || sqlc.narg('q')::text || '%' OR c.email::text ILIKE '%' || sqlc.narg('q')::text || '%'))
     ORDER BY created_at DESC, id DESC LIMIT @max_rows)
    UNION ALL
    -- Without a search this branch must be cut off above its LIMIT (which
    -- keeps the test from being pushed down into the scan): else a
    -- parallel scan's workers start, about 30 ms, only to find no search.
    (SELECT by_notes.id FROM (SELECT id FROM listed WHERE notes ILIKE '%' || sqlc.narg('q')::text || '%'
        ORDER BY created_at DESC, id DESC LIMIT @max_rows) by_notes
     WHERE sqlc.narg('q')::text IS NOT NULL)
    UNION ALL
    (SELECT id FROM listed
     WHERE id = ANY (ARRAY(
        SELECT k.license_id FROM license_keys k WHERE k.key_suffix = sqlc.narg('q_exact')::text
        UNION ALL
        SELECT CASE WHEN sqlc.narg('q_exact')::text ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            THEN sqlc.narg('q_exact')::text::uuid END))
     ORDER BY created_at DESC, id DESC LIMIT @max_rows)
)
SELECT sqlc.embed(l), p.code AS plan_code, c.name AS customer_name,
    (SELECT count(*) FROM deployments s WHERE s.license_id = l.id
        AND deployment_holds_seat(s.status, s.last_seen_at, s.offline_until, l.heartbeat_window_hours, sqlc.arg(now)::timestamptz))::int AS seats_in_use
FROM licenses l
JOIN plans p ON p.id = l.plan_id
JOIN customers c ON c.id = l.customer_id
WHERE l.id IN (SELECT id FROM page)
ORDER BY l.created_at DESC, l.id DESC
LIMIT @max_rows;

-- name: CountLicenses :one
SELECT count(*) FROM licenses;
