-- Usage: reports as received (the idempotency record), per-period totals
-- checked against limits, and daily rollups for charts.

-- name: RecordUsageBatch :many
-- The reports of several requests, of any licenses, recorded by one
-- statement (record_usage_batch, migration 00026): one row per request, in
-- order, with the batch ordinals (from 1) of the reports it counted and its
-- license's usage in the period starting at its current period.
SELECT r.req::int AS req, r.accepted::int[] AS accepted, r.usage_metrics::text[] AS usage_metrics,
    r.usage_values::bigint[] AS usage_values
FROM record_usage_batch(@license_ids::uuid[], @customer_ids::uuid[], @deployment_pks::uuid[],
    @received_at::timestamptz[], @current_periods::timestamptz[], @report_requests::int[], @report_ids::uuid[],
    @period_starts::timestamptz[], @period_ends::timestamptz[], @metrics::jsonb[], @accounting_starts::timestamptz[],
    @accounting_ends::timestamptz[], @total_requests::int[], @total_starts::timestamptz[], @total_ends::timestamptz[],
    @total_days::date[], @total_names::text[], @total_kinds::text[], @total_values::bigint[]) r;

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
