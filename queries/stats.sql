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
SELECT license_effective_status(status, starts_at, expires_at, grace_days, payment_state, past_due_since,
    dunning_days, sqlc.arg(now)::timestamptz)::text AS state, count(*)::bigint AS count
FROM licenses GROUP BY 1 ORDER BY 1;

-- name: EffectiveStatusAt :one
SELECT license_effective_status(@status, @starts_at, sqlc.narg('expires_at'), @grace_days, @payment_state,
    sqlc.narg('past_due_since'), @dunning_days, sqlc.arg(at)::timestamptz)::text;

-- name: CountExpiringBetween :one
SELECT count(*) FROM licenses WHERE status = 'active' AND expires_at >= @from_time AND expires_at < @to_time;
