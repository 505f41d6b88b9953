-- Domain events (the outbox) and what the lifecycle job reads to find
-- time-based milestones.

-- name: InsertEvent :many
-- A milestone already recorded inserts nothing and returns no row.
INSERT INTO events (type, occurred_at, license_id, customer_id, deployment_id, data, milestone_key)
VALUES (@type, @occurred_at, sqlc.narg('license_id'), sqlc.narg('customer_id'), sqlc.narg('deployment_id'),
    @data, sqlc.narg('milestone_key'))
ON CONFLICT (milestone_key) DO NOTHING
RETURNING id;

-- name: GetEvent :one
SELECT * FROM events WHERE id = @id;

-- name: ListEventsByLicense :many
SELECT * FROM events WHERE license_id = @license_id ORDER BY occurred_at DESC, id DESC LIMIT @max_rows;

-- name: CountEventsByType :many
SELECT type, count(*)::bigint AS n FROM events GROUP BY type ORDER BY type;

-- name: ListLicensesForMilestones :many
-- Licenses that may have a time-based milestone near now: expiring,
-- recently expired or past due. Revoked licenses have none.
SELECT l.id, l.customer_id, p.code AS plan, l.status, l.starts_at, l.expires_at, l.grace_days, l.payment_state,
    l.past_due_since, l.dunning_days, l.stripe_subscription_id,
    coalesce(c.cancel_at_period_end, false)::boolean AS cancel_at_period_end
FROM licenses l
JOIN plans p ON p.id = l.plan_id
LEFT JOIN license_stripe_cancels c ON c.license_id = l.id
WHERE l.status <> 'revoked'
  AND ((l.expires_at IS NOT NULL AND l.expires_at < @horizon::timestamptz
        AND l.expires_at + l.grace_days * interval '1 day' > @since::timestamptz)
       OR l.payment_state = 'past_due')
ORDER BY l.id;

-- name: ListStaleDeploymentsForMilestones :many
-- Active deployments that stopped checking in within their license's
-- heartbeat window, gone silent after since (older silences were told
-- about already, or predate the notices).
SELECT d.id, d.license_id, l.customer_id, d.deployment_id, d.hostname, d.last_seen_at
FROM deployments d
JOIN licenses l ON l.id = d.license_id
WHERE d.status = 'active' AND l.status = 'active'
  AND d.last_seen_at < sqlc.arg(now)::timestamptz - (l.heartbeat_window_hours * interval '1 hour')
  AND d.last_seen_at + (l.heartbeat_window_hours * interval '1 hour') > sqlc.arg(since)::timestamptz
  AND (d.offline_until IS NULL OR d.offline_until < sqlc.arg(now)::timestamptz)
ORDER BY d.id;

-- name: ListUsageNearLimitsForMilestones :many
-- Current periods at 80 % of a limit or more (usage_near_limits is kept by
-- the usage triggers).
SELECT n.license_id, l.customer_id, n.metric, n.period_start, n.period_end, n.used, n.usage_limit
FROM usage_near_limits n
JOIN licenses l ON l.id = n.license_id
WHERE n.period_end > @now::timestamptz AND n.period_start <= @now::timestamptz AND l.status = 'active'
ORDER BY n.license_id, n.metric;

-- name: SetStripeCancelAtPeriodEnd :exec
INSERT INTO license_stripe_cancels (license_id, cancel_at_period_end, updated_at)
VALUES (@license_id, @cancel_at_period_end, @updated_at)
ON CONFLICT (license_id) DO UPDATE SET cancel_at_period_end = excluded.cancel_at_period_end,
    updated_at = excluded.updated_at;

-- name: GetStripeCancelAtPeriodEnd :one
SELECT cancel_at_period_end FROM license_stripe_cancels WHERE license_id = @license_id;
