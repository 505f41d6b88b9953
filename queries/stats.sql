-- Validation telemetry and dashboard counts.

-- name: AddValidationStats :exec
INSERT INTO validation_stats (license_id, hour, code, count)
SELECT nullif(s.license_id, '00000000-0000-0000-0000-000000000000'::uuid), s.hour, s.code, s.count
FROM (SELECT unnest(sqlc.arg(license_ids)::uuid[]) AS license_id, unnest(sqlc.arg(hours)::timestamptz[]) AS hour, unnest(sqlc.arg(codes)::text[]) AS code, unnest(sqlc.arg(counts)::bigint[]) AS count) s
ON CONFLICT (license_id, hour, code) DO UPDATE SET count = validation_stats.count + excluded.count;

-- name: ValidationsByCodeSince :many
SELECT code, sum(count)::bigint AS count FROM validation_stats WHERE hour >= @since GROUP BY code ORDER BY code;

-- name: ValidationsPerDay :many
SELECT date_trunc('day', hour)::timestamptz AS day, code, sum(count)::bigint AS count
FROM validation_stats WHERE hour >= @since
GROUP BY 1, 2 ORDER BY 1, 2;

-- name: ValidationsForLicense :many
SELECT hour, code, count FROM validation_stats WHERE license_id = @license_id AND hour >= @since ORDER BY hour DESC, code;

-- name: CountLicensesByEffectiveStatus :many
-- What grouping every license by license_effective_status at @now would
-- give (states with no license left out), read from index ranges instead
-- of evaluating the rule row by row (migration 00004). Licenses stored
-- revoked or suspended count as such; past-due ones, few, by the rule
-- itself; the rest ("standing": status active, payment ok) by three
-- instants: not yet valid when starts_at > @now; else ended when
-- expires_at < @now, and of those expired when the grace end < @now too
-- (both come after starts_at), in grace otherwise; active the remainder.
WITH standing AS MATERIALIZED (
    SELECT
        (SELECT count(*) FROM licenses WHERE status = 'active' AND payment_state = 'ok') AS total,
        (SELECT count(*) FROM licenses WHERE status = 'active' AND payment_state = 'ok'
            AND starts_at > sqlc.arg(now)::timestamptz) AS not_yet_valid,
        (SELECT count(*) FROM licenses WHERE status = 'active' AND payment_state = 'ok'
            AND expires_at < sqlc.arg(now)::timestamptz) AS ended,
        (SELECT count(*) FROM licenses WHERE status = 'active' AND payment_state = 'ok'
            AND license_grace_ends_at(expires_at, grace_days) < sqlc.arg(now)::timestamptz) AS expired
), counts AS (
    SELECT status AS state, count(*) AS n FROM licenses WHERE status <> 'active' GROUP BY status
    UNION ALL
    SELECT license_effective_status(status, starts_at, expires_at, grace_days, payment_state, past_due_since,
        dunning_days, sqlc.arg(now)::timestamptz), count(*)
    FROM licenses WHERE status = 'active' AND payment_state = 'past_due' GROUP BY 1
    UNION ALL
    SELECT s.state, s.n FROM standing, LATERAL (VALUES
        ('active', standing.total - standing.not_yet_valid - standing.ended),
        ('not_yet_valid', standing.not_yet_valid),
        ('grace', standing.ended - standing.expired),
        ('expired', standing.expired)) AS s (state, n)
)
SELECT state::text AS state, sum(n)::bigint AS count FROM counts WHERE n > 0 GROUP BY state ORDER BY state;

-- name: EffectiveStatusAt :one
SELECT license_effective_status(@status, @starts_at, sqlc.narg('expires_at'), @grace_days, @payment_state,
    sqlc.narg('past_due_since'), @dunning_days, sqlc.arg(at)::timestamptz)::text;

-- name: GraceEndsAt :one
-- The SQL grace end for one expiry; a test compares it with licensing.GraceEnd.
SELECT license_grace_ends_at(sqlc.arg(expires_at)::timestamptz, sqlc.arg(grace_days)::int)::timestamptz;

-- name: CountExpiringBetween :one
-- Licenses with status active expiring in [from_time, to_time): those with
-- payment ok from their partial index, past-due ones (few) from theirs.
SELECT ((SELECT count(*) FROM licenses WHERE status = 'active' AND payment_state = 'ok'
            AND expires_at >= sqlc.narg('from_time')::timestamptz AND expires_at < sqlc.narg('to_time')::timestamptz)
      + (SELECT count(*) FROM licenses WHERE status = 'active' AND payment_state = 'past_due'
            AND expires_at >= sqlc.narg('from_time')::timestamptz AND expires_at < sqlc.narg('to_time')::timestamptz))::bigint AS count;
