-- Usage: reports as received (the idempotency record), per-period totals
-- checked against limits, and daily rollups for charts.

-- name: InsertUsageReports :many
-- Inserts a batch; ids already present are skipped, and only the ids that
-- were new come back. Concurrent inserts of one id wait on each other, so
-- exactly one of them sees it as new.
INSERT INTO usage_reports (license_id, report_id, deployment_id, period_start, period_end, metrics, received_at)
SELECT @license_id, r.report_id, sqlc.narg('deployment_pk')::uuid, r.period_start, r.period_end, r.metrics, @received_at
FROM (SELECT unnest(sqlc.arg(report_ids)::uuid[]) AS report_id, unnest(sqlc.arg(period_starts)::timestamptz[]) AS period_start, unnest(sqlc.arg(period_ends)::timestamptz[]) AS period_end, unnest(sqlc.arg(metrics)::jsonb[]) AS metrics) r
ON CONFLICT (license_id, report_id) DO NOTHING
RETURNING report_id;

-- name: AddUsagePeriods :exec
-- Counters add, gauges keep the peak.
INSERT INTO usage_periods (license_id, metric, period_start, period_end, kind, value, updated_at)
SELECT @license_id, u.metric, u.period_start, u.period_end, u.kind, u.value, @updated_at
FROM (SELECT unnest(sqlc.arg(metrics)::text[]) AS metric, unnest(sqlc.arg(period_starts)::timestamptz[]) AS period_start, unnest(sqlc.arg(period_ends)::timestamptz[]) AS period_end, unnest(sqlc.arg(kinds)::text[]) AS kind, unnest(sqlc.arg(vals)::bigint[]) AS value) u
ON CONFLICT (license_id, metric, period_start) DO UPDATE SET
    value = CASE WHEN usage_periods.kind = 'gauge' THEN greatest(usage_periods.value, excluded.value)
                 ELSE usage_periods.value + excluded.value END,
    updated_at = excluded.updated_at;

-- name: AddUsageDaily :exec
INSERT INTO usage_daily (license_id, customer_id, metric, day, kind, value)
SELECT @license_id, @customer_id, u.metric, u.day, u.kind, u.value
FROM (SELECT unnest(sqlc.arg(metrics)::text[]) AS metric, unnest(sqlc.arg(days)::date[]) AS day, unnest(sqlc.arg(kinds)::text[]) AS kind, unnest(sqlc.arg(vals)::bigint[]) AS value) u
ON CONFLICT (license_id, metric, day) DO UPDATE SET
    value = CASE WHEN usage_daily.kind = 'gauge' THEN greatest(usage_daily.value, excluded.value)
                 ELSE usage_daily.value + excluded.value END;

-- name: GetUsageForPeriod :many
SELECT metric, kind, value FROM usage_periods
WHERE license_id = @license_id AND period_start = @period_start;

-- name: UsageSeriesByLicense :many
SELECT metric, day, kind, value FROM usage_daily
WHERE license_id = @license_id AND day BETWEEN @from_day AND @to_day
  AND (sqlc.narg('metric')::text IS NULL OR metric = sqlc.narg('metric')::text)
ORDER BY metric, day;

-- name: UsageSeriesByCustomer :many
-- Per day across the customer's licenses: counters add up, gauges add up
-- too (each license's peak; together the customer's footprint).
SELECT metric, day, max(kind)::text AS kind, sum(value)::bigint AS value FROM usage_daily
WHERE customer_id = @customer_id AND day BETWEEN @from_day AND @to_day
  AND (sqlc.narg('metric')::text IS NULL OR metric = sqlc.narg('metric')::text)
GROUP BY metric, day
ORDER BY metric, day;
