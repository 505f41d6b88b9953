-- Deployments: installations of a license, each holding a seat while seen.

-- name: RefreshHeldSeat :one
-- Refreshes a deployment that still holds its seat. The row lock the UPDATE
-- takes, and the re-check of the condition under it, order the refresh
-- against a concurrent release: a row released meanwhile is not touched and
-- no row comes back.
UPDATE deployments SET last_seen_at = @last_seen_at, fingerprint = @fingerprint, hostname = @hostname, ip = @ip,
    app_version = @app_version
WHERE id = @id AND status = 'active'
  AND deployment_holds_seat(status, last_seen_at, offline_until, sqlc.arg(window_hours)::int, sqlc.arg(now)::timestamptz)
RETURNING *;

-- name: LockLicenseSeats :one
-- Serialises seat changes of one license across processes. NO KEY: the
-- foreign-key checks of rows inserted for the license (validation counts,
-- usage) need not wait for it (migration 00029).
SELECT id FROM licenses WHERE id = @id FOR NO KEY UPDATE;

-- name: CountSeatsInUse :one
-- The seats held at @now by the license's deployments other than
-- except_deployment_id, under the one seat rule (deployment_holds_seat).
SELECT count(*)::int FROM deployments
WHERE license_id = @license_id AND deployment_id <> sqlc.arg(except_deployment_id)::text
  AND deployment_holds_seat(status, last_seen_at, offline_until, sqlc.arg(window_hours)::int, sqlc.arg(now)::timestamptz);

-- name: GetDeploymentForUpdate :one
SELECT * FROM deployments WHERE license_id = @license_id AND deployment_id = @deployment_id FOR UPDATE;

-- name: GetDeployment :one
SELECT * FROM deployments WHERE license_id = @license_id AND deployment_id = @deployment_id;

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
-- Deployments with status active that hold a seat at @now (active) or not
-- (stale), and released ones: what deployment_holds_seat gives row by row,
-- read from index ranges (migrations 00004 and 00016: the index holds the
-- hour of the last sighting, seen_hour; a test in db/ keeps the two equal). An active deployment lacks a seat when it was last seen at least
-- its license's heartbeat window ago ("lapsed") and no offline file covers
-- it. Seen before the longest window in use, it has lapsed whatever its
-- license; seen within the shortest, it has not: only those in between,
-- and those with an offline file (few), look up their license's window.
WITH counts AS MATERIALIZED (
    SELECT
        -- Every deployment is active or deactivated; a bare count(*) is the
        -- cheapest full count (heartbeats keep the visibility map busy).
        (SELECT count(*) FROM deployments)
        - (SELECT count(*) FROM deployments WHERE status = 'deactivated') AS listed,
        -- Seen before the hour of the longest window's start: from the index alone.
        (SELECT count(*) FROM deployments d
            WHERE d.status = 'active' AND d.seen_hour < seen_hour_of(sqlc.arg(now)::timestamptz
                - make_interval(hours => (SELECT max(heartbeat_window_hours) FROM licenses))))
        + (SELECT count(*) FROM deployments d
            WHERE d.status = 'active' AND d.seen_hour = seen_hour_of(sqlc.arg(now)::timestamptz
                - make_interval(hours => (SELECT max(heartbeat_window_hours) FROM licenses)))
              AND d.last_seen_at <= sqlc.arg(now)::timestamptz
                - make_interval(hours => (SELECT max(heartbeat_window_hours) FROM licenses)))
        + (SELECT count(*) FROM deployments d
            WHERE d.status = 'active'
              AND d.seen_hour >= seen_hour_of(sqlc.arg(now)::timestamptz
                - make_interval(hours => (SELECT max(heartbeat_window_hours) FROM licenses)))
              AND d.seen_hour <= seen_hour_of(sqlc.arg(now)::timestamptz
                - make_interval(hours => (SELECT min(heartbeat_window_hours) FROM licenses)))
              AND d.last_seen_at > sqlc.arg(now)::timestamptz
                - make_interval(hours => (SELECT max(heartbeat_window_hours) FROM licenses))
              AND d.last_seen_at <= sqlc.arg(now)::timestamptz
                - make_interval(hours => (SELECT min(heartbeat_window_hours) FROM licenses))
              AND d.last_seen_at <= sqlc.arg(now)::timestamptz
                - make_interval(hours => (SELECT l.heartbeat_window_hours FROM licenses l WHERE l.id = d.license_id))) AS lapsed,
        (SELECT count(*) FROM deployments d
            WHERE d.status = 'active' AND d.offline_until > sqlc.arg(now)::timestamptz
              AND d.last_seen_at <= sqlc.arg(now)::timestamptz
                - make_interval(hours => (SELECT l.heartbeat_window_hours FROM licenses l WHERE l.id = d.license_id))) AS covered,
        (SELECT count(*) FROM deployments WHERE status = 'deactivated') AS deactivated
)
SELECT (listed - lapsed + covered)::bigint AS active, (lapsed - covered)::bigint AS stale,
    deactivated::bigint AS deactivated
FROM counts;

-- name: TouchDeployments :exec
-- Writes the last-seen times gathered in memory (db.LastSeen), each row once.
-- The rows are locked first, in id order (a locking clause takes its rows in
-- the order of the sort under it), so that concurrent flushes of several
-- processes wait for each other rather than deadlock: an UPDATE's join locks
-- rows in whatever order its plan visits them, and two flushes of the same
-- deployments did deadlock. A time never goes back, and a deployment released
-- meanwhile is left alone: its seat was given up after it was seen.
WITH v AS (
    SELECT unnest(@ids::uuid[]) AS id, unnest(@seen_ats::timestamptz[]) AS seen_at
), locked AS MATERIALIZED (
    SELECT d.id FROM deployments d JOIN v ON v.id = d.id
    WHERE d.status = 'active' AND d.last_seen_at < v.seen_at
    ORDER BY d.id
    FOR NO KEY UPDATE OF d
)
UPDATE deployments d SET last_seen_at = v.seen_at
FROM v JOIN locked ON locked.id = v.id
WHERE d.id = v.id AND d.status = 'active' AND d.last_seen_at < v.seen_at;

-- name: NotifyLicenseFactsMany :exec
-- NotifyLicenseFacts for several payloads in one statement.
SELECT pg_notify('nls_license_facts', p) FROM unnest(sqlc.arg(payloads)::text[]) p;

-- name: NotifyLicenseFacts :exec
-- Tells every process's facts cache that a license's deployments changed
-- (acquire_seat leaves this to its caller, after the commit); the payload
-- is db.factsPayload's.
SELECT pg_notify('nls_license_facts', sqlc.arg(payload)::text);

-- name: ListDeploymentsByKeyHash :many
-- A license's deployments, at most @max of them, found by one of its keys:
-- sent with GetValidationContext in one round trip when the facts cache
-- loads an entry.
SELECT d.* FROM deployments d
WHERE d.license_id = (SELECT k.license_id FROM license_keys k WHERE k.key_hash = @key_hash)
LIMIT @max;
