-- Usage across every customer, for the admin usage page: the metrics ever
-- reported, one metric's daily totals, the customers using the most of it,
-- and the limited metrics near or over their limit in the current period.
-- Each reads a rollup kept by migration 00007's triggers, never every
-- license's days.

-- name: ListUsageMetrics :many
-- The metric names in the daily rollup, found one per step through the
-- (metric, day) index (a loose index scan): as many steps as metrics,
-- however many rows each has.
WITH RECURSIVE m AS (
    (SELECT u.metric FROM usage_daily u ORDER BY u.metric LIMIT 1)
    UNION ALL
    SELECT (SELECT u.metric FROM usage_daily u WHERE u.metric > m.metric ORDER BY u.metric LIMIT 1)
    FROM m WHERE m.metric IS NOT NULL
)
SELECT m.metric::text AS metric FROM m WHERE m.metric IS NOT NULL;

-- name: UsageTotalsPerDay :many
-- One metric's total per day over [from_day, to_day] across every license:
-- counters summed, gauges too (each license's peak of the day; together
-- the footprint, as UsageSeriesByCustomer adds them up). Read from the
-- rollup's shards; days without usage have no row.
SELECT day, sum(value)::bigint AS value FROM usage_metric_days
WHERE metric = @metric AND day BETWEEN @from_day AND @to_day
GROUP BY day
ORDER BY day;

-- name: ListUsageCustomerBounds :many
-- For each customer with use of a metric in the calendar months
-- [from_month, to_month], a bound its use over any days within them cannot
-- exceed: the months' sum for a counter, their highest day for a gauge.
-- Highest first.
SELECT b.customer_id, b.bound FROM (
    SELECT m.customer_id,
        least(CASE WHEN sqlc.arg(gauge)::boolean THEN max(m.peak) ELSE sum(m.total) END,
            9223372036854775807)::bigint AS bound
    FROM usage_customer_months m
    WHERE m.metric = @metric AND m.month BETWEEN @from_month AND @to_month
    GROUP BY m.customer_id
) b
ORDER BY b.bound DESC, b.customer_id
LIMIT @max_rows;

-- name: UsageTotalsOfCustomers :many
-- Some customers' use of one metric over [from_day, to_day], by
-- UsageTotalsByCustomer's rule (the customer page's): counters summed over
-- the days and licenses, gauges the highest daily value of any license.
-- Through the (customer, metric, day) index.
SELECT u.customer_id, c.name AS customer_name,
    (CASE WHEN max(u.kind) = 'gauge' THEN max(u.value) ELSE sum(u.value) END)::bigint AS total
FROM usage_daily u
JOIN customers c ON c.id = u.customer_id
WHERE u.customer_id = ANY(sqlc.arg(customer_ids)::uuid[]) AND u.metric = @metric
  AND u.day BETWEEN @from_day AND @to_day
GROUP BY u.customer_id, c.name;

-- name: ListTopUsageCustomers :many
-- The customers using the most of one metric over [from_day, to_day], by
-- the same rule, summing every customer's days: what TopUsageCustomers
-- falls back to when the bounds do not settle the ranking.
SELECT t.customer_id, c.name AS customer_name, t.total
FROM (
    SELECT u.customer_id,
        (CASE WHEN max(u.kind) = 'gauge' THEN max(u.value) ELSE sum(u.value) END)::bigint AS total
    FROM usage_daily u
    WHERE u.metric = @metric AND u.day BETWEEN @from_day AND @to_day
    GROUP BY u.customer_id
    ORDER BY total DESC, u.customer_id
    LIMIT @max_rows
) t
JOIN customers c ON c.id = t.customer_id
ORDER BY t.total DESC, t.customer_id;

-- name: ListUsageNearLimits :many
-- Each limited metric of a license (revoked ones aside) whose use in the
-- license's current period is 80% of its limit or more, the fullest first.
-- The periods at the mark are kept in usage_near_limits (00007), whose
-- index is in this order: the scan stops after @max_rows current ones,
-- however many there are. The current period is db.UsageLicense.UsagePeriod's
-- rule, which a test keeps this in agreement with: the billing period when
-- one covers @now, else the calendar month that @month_start
-- (licensing.MonthPeriod) begins. Each row's license is looked up on its
-- own (OFFSET 0 keeps the lookup from becoming a join over every license).
SELECT n.license_id, l.customer_id, c.name AS customer_name, n.metric, n.used, n.usage_limit, n.period_start
FROM usage_near_limits n
CROSS JOIN LATERAL (
    SELECT l.customer_id FROM licenses l
    WHERE l.id = n.license_id AND l.status <> 'revoked'
      AND n.period_start = CASE
            WHEN l.billing_period_start <= sqlc.arg(now)::timestamptz AND sqlc.arg(now)::timestamptz < l.billing_period_end
            THEN l.billing_period_start
            ELSE sqlc.arg(month_start)::timestamptz END
    OFFSET 0
) l
JOIN customers c ON c.id = l.customer_id
WHERE n.period_start <= sqlc.arg(now)::timestamptz AND sqlc.arg(now)::timestamptz < n.period_end
ORDER BY (n.usage_limit = 0) DESC, n.used::float8 / nullif(n.usage_limit, 0) DESC, n.license_id, n.metric
LIMIT @max_rows;

-- name: CountUsageNearLimits :one
-- How many rows ListUsageNearLimits has in all, counting no further than
-- @max_rows: past a few hundred the page says "more than", which keeps the
-- count as quick as the list however many licenses are at their limits.
SELECT count(*)::bigint FROM (
    SELECT 1 FROM usage_near_limits n
    CROSS JOIN LATERAL (
        SELECT 1 FROM licenses l
        WHERE l.id = n.license_id AND l.status <> 'revoked'
          AND n.period_start = CASE
                WHEN l.billing_period_start <= sqlc.arg(now)::timestamptz AND sqlc.arg(now)::timestamptz < l.billing_period_end
                THEN l.billing_period_start
                ELSE sqlc.arg(month_start)::timestamptz END
        OFFSET 0
    ) l
    WHERE n.period_start <= sqlc.arg(now)::timestamptz AND sqlc.arg(now)::timestamptz < n.period_end
    LIMIT @max_rows
) x;
