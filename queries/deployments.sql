-- Deployments: installations of a license, each holding a seat while seen.

-- name: TouchDeployment :exec
UPDATE deployments SET last_seen_at = @last_seen_at, fingerprint = @fingerprint, hostname = @hostname, ip = @ip,
    app_version = @app_version
WHERE id = @id;

-- name: LockLicenseSeats :one
-- Serialises seat changes of one license across processes.
SELECT id FROM licenses WHERE id = @id FOR UPDATE;

-- name: CountSeatsInUse :one
SELECT count(*)::int FROM deployments
WHERE license_id = @license_id AND status = 'active' AND deployment_id <> sqlc.arg(except_deployment_id)::text
  AND last_seen_at > @since;

-- name: GetDeploymentForUpdate :one
SELECT * FROM deployments WHERE license_id = @license_id AND deployment_id = @deployment_id FOR UPDATE;

-- name: GetDeployment :one
SELECT * FROM deployments WHERE license_id = @license_id AND deployment_id = @deployment_id;

-- name: UpsertActiveDeployment :one
INSERT INTO deployments (license_id, deployment_id, status, fingerprint, hostname, ip, app_version, offline,
    first_seen_at, last_seen_at)
VALUES (@license_id, @deployment_id, 'active', @fingerprint, @hostname, @ip, @app_version, @offline, @seen_at, @seen_at)
ON CONFLICT (license_id, deployment_id) DO UPDATE SET
    status = 'active', deactivated_at = NULL, deactivated_by = NULL, fingerprint = excluded.fingerprint,
    hostname = excluded.hostname, ip = excluded.ip, app_version = excluded.app_version,
    offline = excluded.offline, last_seen_at = excluded.last_seen_at
RETURNING *;

-- name: DeactivateDeployment :one
UPDATE deployments SET status = 'deactivated', deactivated_at = @deactivated_at, deactivated_by = @deactivated_by
WHERE license_id = @license_id AND deployment_id = @deployment_id AND status = 'active'
RETURNING *;

-- name: ReactivateDeployment :one
UPDATE deployments SET status = 'active', deactivated_at = NULL, deactivated_by = NULL, last_seen_at = @seen_at
WHERE license_id = @license_id AND deployment_id = @deployment_id AND status = 'deactivated'
RETURNING *;

-- name: ListDeployments :many
SELECT * FROM deployments WHERE license_id = @license_id ORDER BY last_seen_at DESC, id;

-- name: CountDeploymentsByFreshness :one
SELECT
    count(*) FILTER (WHERE d.status = 'active' AND d.last_seen_at > sqlc.arg(now)::timestamptz - make_interval(hours => l.heartbeat_window_hours))::bigint AS active,
    count(*) FILTER (WHERE d.status = 'active' AND d.last_seen_at <= sqlc.arg(now)::timestamptz - make_interval(hours => l.heartbeat_window_hours))::bigint AS stale,
    count(*) FILTER (WHERE d.status = 'deactivated')::bigint AS deactivated
FROM deployments d JOIN licenses l ON l.id = d.license_id;
