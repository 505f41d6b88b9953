-- The customer portal: every query takes the signed-in customer's id and
-- filters by it, so an id from the URL or a form can only ever name one of
-- that customer's own rows. Another customer's row is simply not found.

-- name: ListPortalLicenses :many
-- The customer's licenses, newest first, with their plan and the seats held now.
SELECT sqlc.embed(l), p.code AS plan_code, p.name AS plan_name, p.metric_labels AS plan_metric_labels,
    (SELECT count(*) FROM deployments s WHERE s.license_id = l.id
        AND deployment_holds_seat(s.status, s.last_seen_at, s.offline_until, l.heartbeat_window_hours, sqlc.arg(now)::timestamptz))::int AS seats_in_use
FROM licenses l
JOIN plans p ON p.id = l.plan_id
WHERE l.customer_id = @customer_id
ORDER BY l.created_at DESC, l.id DESC
LIMIT @max_rows;

-- name: GetPortalLicense :one
-- One of the customer's licenses with its plan, the seats held now and the
-- visible ends of its current key.
SELECT sqlc.embed(l), p.code AS plan_code, p.name AS plan_name, p.metric_labels AS plan_metric_labels,
    (SELECT count(*) FROM deployments s WHERE s.license_id = l.id
        AND deployment_holds_seat(s.status, s.last_seen_at, s.offline_until, l.heartbeat_window_hours, sqlc.arg(now)::timestamptz))::int AS seats_in_use,
    k.key_prefix, k.key_suffix
FROM licenses l
JOIN plans p ON p.id = l.plan_id
LEFT JOIN license_keys k ON k.license_id = l.id AND k.replaced_at IS NULL
WHERE l.id = @id AND l.customer_id = @customer_id;

-- name: GetPortalLicenseForUpdate :one
-- Locks one of the customer's licenses: seat changes of a license are
-- serialised on its row (as LockLicenseSeats does for validations).
SELECT * FROM licenses WHERE id = @id AND customer_id = @customer_id FOR NO KEY UPDATE;

-- name: UsageForLicensePeriods :many
-- Current-period usage of several licenses at once: one (license, period
-- start) pair per license, as UsageLicense.UsagePeriod computes it.
SELECT u.license_id, u.metric, u.kind, u.value
FROM usage_periods u
JOIN (SELECT unnest(sqlc.arg(license_ids)::uuid[]) AS license_id,
             unnest(sqlc.arg(period_starts)::timestamptz[]) AS period_start) w
  ON u.license_id = w.license_id AND u.period_start = w.period_start
ORDER BY u.license_id, u.metric;

-- name: UpsertOfflineDeployment :one
-- An offline activation: the deployment is created, or refreshed, holding
-- its seat until offline_until. A later file never shortens an earlier one's
-- window, since that file still works where it is installed.
INSERT INTO deployments (license_id, deployment_id, status, hostname, offline, offline_until, first_seen_at, last_seen_at)
VALUES (@license_id, @deployment_id, 'active', @hostname, true, @offline_until, @now, @now)
ON CONFLICT (license_id, deployment_id) DO UPDATE SET
    offline = true,
    offline_until = greatest(deployments.offline_until, excluded.offline_until),
    hostname = CASE WHEN excluded.hostname <> '' THEN excluded.hostname ELSE deployments.hostname END
RETURNING *;

-- name: ListPortalActivity :many
-- Audit entries about the customer's own licenses, deployments and users,
-- newest first, a keyset page at a time; with license_id, only the entries
-- about that license and its deployments ("<license id>/<deployment id>").
SELECT id, occurred_at, actor_type, actor_id, actor_label, action, entity_type, entity_id
FROM audit_log
WHERE customer_id = @customer_id
  AND (sqlc.narg('license_id')::text IS NULL OR entity_id = sqlc.narg('license_id')::text
       OR entity_id LIKE sqlc.narg('license_id')::text || '/%')
  AND (sqlc.narg('before_id')::bigint IS NULL OR id < sqlc.narg('before_id')::bigint)
ORDER BY id DESC
LIMIT @max_rows;

-- name: DeploymentHoldsSeatAt :one
-- The SQL seat rule for one set of facts; a test compares it with db.HoldsSeat.
SELECT deployment_holds_seat(@status, @last_seen_at, sqlc.narg('offline_until'), sqlc.arg(window_hours)::int,
    sqlc.arg(at)::timestamptz)::boolean;
