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

-- name: LicenseFactsForDashboard :many
-- The stored facts of every license, to count effective states in Go.
SELECT l.status, l.starts_at, l.expires_at, l.grace_days, l.payment_state, l.past_due_since, l.dunning_days
FROM licenses l;

-- name: CountExpiringBetween :one
SELECT count(*) FROM licenses WHERE status = 'active' AND expires_at >= @from_time AND expires_at < @to_time;
