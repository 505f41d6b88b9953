-- Queries only the admin portal's pages and exports need: a customer's
-- recent usage, and usage rows for the CSV export. (A customer's people
-- are listed by ListCustomerUsers in users.sql.)

-- name: UsageTotalsByCustomer :many
-- One line per metric over [from_day, to_day]: counters are summed over the
-- days and licenses; gauges report the highest daily value of any license.
SELECT metric, max(kind)::text AS kind,
    (CASE WHEN max(kind) = 'gauge' THEN max(value) ELSE sum(value) END)::bigint AS total
FROM usage_daily
WHERE customer_id = @customer_id AND day BETWEEN @from_day AND @to_day
GROUP BY metric
ORDER BY metric;

-- name: ListUsageDailyForExport :many
-- Keyset pagination in primary-key order, so each page is an index range.
SELECT u.license_id, u.customer_id, c.name AS customer_name, u.metric, u.day, u.kind, u.value
FROM usage_daily u
JOIN customers c ON c.id = u.customer_id
WHERE u.day BETWEEN @from_day AND @to_day
  AND (sqlc.narg('customer_id')::uuid IS NULL OR u.customer_id = sqlc.narg('customer_id')::uuid)
  AND (sqlc.narg('license_id')::uuid IS NULL OR u.license_id = sqlc.narg('license_id')::uuid)
  AND (sqlc.narg('after_license')::uuid IS NULL
       OR (u.license_id, u.metric, u.day) > (sqlc.narg('after_license')::uuid, sqlc.narg('after_metric')::text, sqlc.arg('after_day')::date))
ORDER BY u.license_id, u.metric, u.day
LIMIT @max_rows;
