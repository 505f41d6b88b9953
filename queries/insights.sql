-- Insights: the records the detectors keep, the aggregates each detector
-- reads (one set-based statement per kind, never a loop per license), and
-- the findings themselves. A license is judged while it is live: stored
-- active, started, and not past its grace end.

-- name: AddValidationSightings :exec
-- Each sighting once: one already stored (by another process, or before a
-- restart) is left as it is, and nothing is written.
INSERT INTO validation_sightings (day, license_id, deployment_id, fingerprint, network)
SELECT unnest(sqlc.arg(days)::date[]), unnest(sqlc.arg(license_ids)::uuid[]), unnest(sqlc.arg(deployment_ids)::text[]),
    unnest(sqlc.arg(fingerprints)::text[]), unnest(sqlc.arg(networks)::text[])
ON CONFLICT (day, license_id, deployment_id, fingerprint, network) DO NOTHING;

-- name: AddSourceFailures :exec
INSERT INTO source_failures (hour, source, kind, license_id, count)
SELECT s.hour, s.source, s.kind, nullif(s.license_id, '00000000-0000-0000-0000-000000000000'::uuid), s.count
FROM (SELECT unnest(sqlc.arg(hours)::timestamptz[]) AS hour, unnest(sqlc.arg(sources)::text[]) AS source,
    unnest(sqlc.arg(kinds)::text[]) AS kind, unnest(sqlc.arg(license_ids)::uuid[]) AS license_id,
    unnest(sqlc.arg(counts)::bigint[]) AS count) s
ON CONFLICT (hour, source, kind, license_id) DO UPDATE SET count = source_failures.count + excluded.count;

-- name: PruneInsightRecords :exec
-- Sightings and failures older than the detectors look are dropped.
WITH a AS (DELETE FROM validation_sightings WHERE day < sqlc.arg(sightings_before)::date)
DELETE FROM source_failures WHERE hour < sqlc.arg(failures_before)::timestamptz;

-- name: InsightSharing :many
-- Per deployment of a live license: distinct fingerprints and networks since
-- @since; only licenses where one deployment id reaches @min_fingerprints or
-- @min_networks, or the license has more fingerprints than seats.
WITH d AS (
    SELECT license_id, deployment_id,
           count(DISTINCT fingerprint) FILTER (WHERE fingerprint <> '') AS fps,
           array_agg(DISTINCT network ORDER BY network) AS networks
    FROM validation_sightings WHERE day >= sqlc.arg(since)::date
    GROUP BY license_id, deployment_id
), l AS (
    SELECT license_id, count(DISTINCT fingerprint) FILTER (WHERE fingerprint <> '') AS fps
    FROM validation_sightings WHERE day >= sqlc.arg(since)::date
    GROUP BY license_id
), w AS (
    SELECT d.*, l.fps AS license_fps,
           max(d.fps) OVER (PARTITION BY d.license_id) AS max_fps,
           max(cardinality(d.networks)) OVER (PARTITION BY d.license_id) AS max_nets
    FROM d JOIN l USING (license_id)
)
SELECT w.license_id, lic.customer_id, p.code AS plan, coalesce(lic.max_deployments, 0)::int AS seats,
       w.license_fps::int AS license_fingerprints, w.deployment_id, w.fps::int AS fingerprints, w.networks::text[] AS networks
FROM w JOIN licenses lic ON lic.id = w.license_id JOIN plans p ON p.id = lic.plan_id
WHERE lic.status = 'active' AND lic.starts_at <= sqlc.arg(now)::timestamptz
  AND (lic.expires_at IS NULL OR license_grace_ends_at(lic.expires_at, lic.grace_days) > sqlc.arg(now)::timestamptz)
  AND (w.max_fps >= sqlc.arg(min_fingerprints)::int OR w.max_nets >= sqlc.arg(min_networks)::int
       OR (lic.max_deployments IS NOT NULL AND w.license_fps > lic.max_deployments))
ORDER BY w.license_id, w.deployment_id;

-- name: InsightCycling :many
-- Seat activations and releases per live license since @since, for those
-- with at least @min_each of both.
SELECT e.license_id::uuid AS license_id, lic.customer_id, p.code AS plan, coalesce(lic.max_deployments, 0)::int AS seats,
       count(*) FILTER (WHERE e.type = 'deployment.activated')::int AS activations,
       count(*) FILTER (WHERE e.type = 'deployment.released')::int AS releases,
       (array_agg(DISTINCT e.data->>'clientDeploymentId'))[1:20]::text[] AS deployments
FROM events e JOIN licenses lic ON lic.id = e.license_id JOIN plans p ON p.id = lic.plan_id
WHERE e.occurred_at >= sqlc.arg(since)::timestamptz AND e.type IN ('deployment.activated', 'deployment.released')
  AND lic.status = 'active'
GROUP BY e.license_id, lic.customer_id, p.code, lic.max_deployments
HAVING count(*) FILTER (WHERE e.type = 'deployment.released') >= sqlc.arg(min_each)::int
   AND count(*) FILTER (WHERE e.type = 'deployment.activated') >= sqlc.arg(min_each)::int;

-- name: InsightSourceFailures :many
-- Failures per source and kind since @since, for sources over either floor.
WITH h AS (
    SELECT source, kind, hour, sum(count)::bigint AS n,
           array_remove(array_agg(DISTINCT license_id::text), NULL) AS licenses
    FROM source_failures WHERE hour >= sqlc.arg(since)::timestamptz
    GROUP BY source, kind, hour
)
SELECT source, kind, sum(n)::bigint AS total, max(n)::bigint AS peak_hour, count(*)::int AS hours,
       array_agg(hour ORDER BY hour)::timestamptz[] AS series_hours, array_agg(n ORDER BY hour)::bigint[] AS series_counts,
       (SELECT array_agg(DISTINCT x) FROM h h2, unnest(h2.licenses) x WHERE h2.source = h.source AND h2.kind = h.kind)::text[] AS licenses
FROM h
GROUP BY source, kind
HAVING max(n) >= sqlc.arg(min_per_hour)::bigint OR sum(n) >= sqlc.arg(min_total)::bigint;

-- name: InsightForgery :many
-- Forged keys per live license since @since (the license id the key named).
SELECT f.license_id::uuid AS license_id, lic.customer_id, p.code AS plan, sum(f.count)::bigint AS total,
       array_agg(DISTINCT f.source)::text[] AS sources
FROM source_failures f JOIN licenses lic ON lic.id = f.license_id JOIN plans p ON p.id = lic.plan_id
WHERE f.hour >= sqlc.arg(since)::timestamptz AND f.kind = 'key' AND f.license_id IS NOT NULL
GROUP BY f.license_id, lic.customer_id, p.code
HAVING sum(f.count) >= sqlc.arg(min_total)::bigint;

-- name: InsightAnomalyCandidates :many
-- (license, metric) pairs of live licenses whose value on one of @days
-- moved by half or more against the mean of the same weekday over the four
-- weeks before: the only ones worth the robust test.
WITH t AS (SELECT unnest(sqlc.arg(days)::date[]) AS day),
cmp AS (
    SELECT u.license_id, u.metric, t.day, max(u.value) FILTER (WHERE u.day = t.day) AS v,
           avg(u.value) FILTER (WHERE u.day <> t.day) AS base
    FROM t JOIN usage_daily u ON u.day IN (t.day, t.day - 7, t.day - 14, t.day - 21, t.day - 28)
    GROUP BY u.license_id, u.metric, t.day
)
SELECT DISTINCT cmp.license_id, cmp.metric
FROM cmp JOIN licenses lic ON lic.id = cmp.license_id
WHERE lic.status = 'active' AND lic.starts_at <= sqlc.arg(now)::timestamptz
  AND (lic.expires_at IS NULL OR license_grace_ends_at(lic.expires_at, lic.grace_days) > sqlc.arg(now)::timestamptz)
  AND greatest(coalesce(cmp.v, 0), cmp.base) >= 10
  AND (coalesce(cmp.v, 0) >= 1.5 * cmp.base OR coalesce(cmp.v, 0) <= 0.5 * cmp.base)
ORDER BY cmp.license_id, cmp.metric;

-- name: InsightDailySeries :many
-- Daily values of the given (license, metric) pairs in [@from_day, @to_day],
-- days without usage included as 0.
WITH pairs AS (SELECT unnest(sqlc.arg(license_ids)::uuid[]) AS license_id, unnest(sqlc.arg(metrics)::text[]) AS metric),
days AS (SELECT d::date AS day FROM generate_series(sqlc.arg(from_day)::date, sqlc.arg(to_day)::date, interval '1 day') AS d)
SELECT pairs.license_id::uuid AS license_id, pairs.metric::text AS metric, days.day, coalesce(u.value, 0)::bigint AS value
FROM pairs CROSS JOIN days
LEFT JOIN usage_daily u ON u.license_id = pairs.license_id AND u.metric = pairs.metric AND u.day = days.day
ORDER BY pairs.license_id, pairs.metric, days.day;

-- name: InsightLicenseRefs :many
-- The customer and plan of the given licenses.
SELECT lic.id, lic.customer_id, p.code AS plan FROM licenses lic JOIN plans p ON p.id = lic.plan_id
WHERE lic.id = ANY(sqlc.arg(ids)::uuid[]);

-- name: InsightSeatless :many
-- Usage reports since @since from deployments released more than a day
-- before the report arrived, per live license.
SELECT d.license_id, lic.customer_id, p.code AS plan, count(*)::int AS reports,
       array_agg(DISTINCT d.deployment_id)::text[] AS deployments
FROM usage_reports r JOIN deployments d ON d.id = r.deployment_id
JOIN licenses lic ON lic.id = d.license_id JOIN plans p ON p.id = lic.plan_id
WHERE r.received_at >= sqlc.arg(since)::timestamptz AND d.status = 'deactivated'
  AND r.received_at > d.deactivated_at + interval '1 day' AND lic.status = 'active'
GROUP BY d.license_id, lic.customer_id, p.code;

-- name: InsightUpgradeCandidates :many
-- The limited metrics' recent periods of live licenses that were at @fill
-- of a limit in a period since @since, or refused installations for want of
-- seats since @refused_since; with seats in use now.
WITH live AS (
    SELECT lic.id, lic.customer_id, lic.limits, lic.max_deployments, lic.heartbeat_window_hours, p.code AS plan
    FROM licenses lic JOIN plans p ON p.id = lic.plan_id
    WHERE lic.status = 'active' AND lic.starts_at <= sqlc.arg(now)::timestamptz
      AND (lic.expires_at IS NULL OR license_grace_ends_at(lic.expires_at, lic.grace_days) > sqlc.arg(now)::timestamptz)
), refused AS (
    SELECT license_id, sum(count)::bigint AS n FROM validation_stats
    WHERE hour >= sqlc.arg(refused_since)::timestamptz AND code = 'TOO_MANY_DEPLOYMENTS' AND license_id IS NOT NULL
    GROUP BY license_id
), hot AS (
    SELECT DISTINCT up.license_id FROM usage_periods up JOIN live ON live.id = up.license_id
    WHERE up.period_end > sqlc.arg(since)::timestamptz AND live.limits ? up.metric
      AND up.value >= sqlc.arg(fill)::float8 * (live.limits->>up.metric)::float8
    UNION
    SELECT license_id FROM refused
)
SELECT live.id AS license_id, live.customer_id, live.plan, coalesce(live.max_deployments, 0)::int AS seats,
       coalesce(refused.n, 0)::bigint AS refused,
       (SELECT count(*) FROM deployments d WHERE d.license_id = live.id
           AND deployment_holds_seat(d.status, d.last_seen_at, d.offline_until, live.heartbeat_window_hours, sqlc.arg(now)::timestamptz))::int AS seats_used,
       coalesce(up.metric, '')::text AS metric, coalesce((live.limits->>up.metric)::bigint, 0)::bigint AS metric_limit,
       coalesce(up.kind, '')::text AS kind, up.period_start, up.period_end, coalesce(up.value, 0)::bigint AS value
FROM hot JOIN live ON live.id = hot.license_id
LEFT JOIN refused ON refused.license_id = live.id
LEFT JOIN usage_periods up ON up.license_id = live.id AND live.limits ? up.metric AND up.period_end > sqlc.arg(since)::timestamptz
ORDER BY live.id, up.metric, up.period_start;

-- name: InsightRightSizeCandidates :many
-- Live licenses older than @since whose every limit peaked at @share or
-- less of it in the periods since @since, with the peaks and the
-- deployments seen since then.
WITH live AS (
    SELECT lic.id, lic.customer_id, lic.limits, lic.max_deployments, p.code AS plan
    FROM licenses lic JOIN plans p ON p.id = lic.plan_id
    WHERE lic.status = 'active' AND lic.starts_at <= sqlc.arg(since)::timestamptz
      AND (lic.expires_at IS NULL OR license_grace_ends_at(lic.expires_at, lic.grace_days) > sqlc.arg(now)::timestamptz)
      AND lic.limits <> '{}'::jsonb
), peaks AS (
    SELECT live.id, m.metric, (live.limits->>m.metric)::bigint AS metric_limit,
           coalesce((SELECT max(up.value) FROM usage_periods up WHERE up.license_id = live.id AND up.metric = m.metric
               AND up.period_end > sqlc.arg(since)::timestamptz), 0)::bigint AS peak
    FROM live, LATERAL (SELECT jsonb_object_keys(live.limits) AS metric) m
), idle AS (
    SELECT id FROM peaks GROUP BY id
    HAVING bool_and(metric_limit <= 0 OR peak <= sqlc.arg(share)::float8 * metric_limit)
)
SELECT live.id AS license_id, live.customer_id, live.plan, coalesce(live.max_deployments, 0)::int AS seats,
       (SELECT count(*) FROM deployments d WHERE d.license_id = live.id AND d.last_seen_at >= sqlc.arg(since)::timestamptz)::int AS seats_seen,
       peaks.metric::text AS metric, peaks.metric_limit, peaks.peak
FROM idle JOIN live ON live.id = idle.id JOIN peaks ON peaks.id = idle.id
ORDER BY live.id, peaks.metric;

-- name: InsightChurnCandidates :many
-- Counter metrics of live licenses whose last four of the 12 weeks from
-- @from_week summed to @ratio or less of the first four.
WITH w AS (
    SELECT u.license_id, u.metric,
           sum(u.value) FILTER (WHERE u.day < sqlc.arg(from_week)::date + 28) AS first4,
           sum(u.value) FILTER (WHERE u.day >= sqlc.arg(from_week)::date + 56) AS last4
    FROM usage_daily u
    WHERE u.day >= sqlc.arg(from_week)::date AND u.day < sqlc.arg(from_week)::date + 84 AND u.kind = 'counter'
    GROUP BY u.license_id, u.metric
)
SELECT w.license_id, w.metric FROM w JOIN licenses lic ON lic.id = w.license_id
WHERE lic.status = 'active' AND lic.starts_at <= sqlc.arg(from_week)::timestamptz
  AND (lic.expires_at IS NULL OR license_grace_ends_at(lic.expires_at, lic.grace_days) > sqlc.arg(now)::timestamptz)
  AND w.first4 > 0 AND coalesce(w.last4, 0) <= sqlc.arg(ratio)::float8 * w.first4;

-- name: InsightForecastCandidates :many
-- Gauge metrics with a limit of live licenses, on @last_day at @share of
-- it or more but under it, and higher over the last 14 days than over the
-- first 14 of the 60.
WITH live AS (
    SELECT lic.id, lic.limits FROM licenses lic
    WHERE lic.status = 'active' AND lic.starts_at <= sqlc.arg(now)::timestamptz
      AND (lic.expires_at IS NULL OR license_grace_ends_at(lic.expires_at, lic.grace_days) > sqlc.arg(now)::timestamptz)
      AND lic.limits <> '{}'::jsonb
), g AS (
    SELECT u.license_id, u.metric, (live.limits->>u.metric)::float8 AS lim,
           max(u.value) FILTER (WHERE u.day = sqlc.arg(last_day)::date) AS v,
           avg(u.value) FILTER (WHERE u.day > sqlc.arg(last_day)::date - 14) AS recent,
           avg(u.value) FILTER (WHERE u.day <= sqlc.arg(last_day)::date - 46) AS early
    FROM usage_daily u JOIN live ON live.id = u.license_id AND live.limits ? u.metric
    WHERE u.day > sqlc.arg(last_day)::date - 60 AND u.day <= sqlc.arg(last_day)::date AND u.kind = 'gauge'
    GROUP BY u.license_id, u.metric, live.limits
)
SELECT g.license_id, g.metric, g.lim::bigint AS metric_limit FROM g
WHERE g.lim > 0 AND g.v >= sqlc.arg(share)::float8 * g.lim AND g.v < g.lim AND g.recent >= 1.05 * g.early;

-- name: ListInsightPlans :many
-- The plan catalogue with list prices, for the cheapest plan that fits.
SELECT p.code, p.limits, coalesce(p.max_deployments, 0)::int AS max_deployments, pp.monthly_cents,
       EXISTS (SELECT 1 FROM plan_stripe_prices sp WHERE sp.plan_id = p.id) AS stripe
FROM plans p LEFT JOIN plan_prices pp ON pp.plan_id = p.id
WHERE p.archived_at IS NULL ORDER BY p.code;

-- name: SetPlanPrice :exec
INSERT INTO plan_prices (plan_id, monthly_cents, updated_at)
SELECT id, @monthly_cents, @now FROM plans WHERE code = @code
ON CONFLICT (plan_id) DO UPDATE SET monthly_cents = excluded.monthly_cents, updated_at = excluded.updated_at;

-- name: UpsertFindings :many
-- Opens a finding per subject, or updates the one not resolved with the new
-- evidence; inserted tells which were new.
INSERT INTO findings AS f (kind, subject, license_id, customer_id, severity, title, evidence, revenue_cents, first_seen_at, last_seen_at)
SELECT sqlc.arg(kind)::text, x.subject, nullif(x.license_id, '00000000-0000-0000-0000-000000000000'::uuid),
       nullif(x.customer_id, '00000000-0000-0000-0000-000000000000'::uuid), x.severity, x.title, x.evidence,
       nullif(x.revenue, -1), sqlc.arg(now)::timestamptz, sqlc.arg(now)::timestamptz
FROM (SELECT unnest(sqlc.arg(subjects)::text[]) AS subject, unnest(sqlc.arg(license_ids)::uuid[]) AS license_id,
    unnest(sqlc.arg(customer_ids)::uuid[]) AS customer_id, unnest(sqlc.arg(severities)::text[]) AS severity,
    unnest(sqlc.arg(titles)::text[]) AS title, unnest(sqlc.arg(evidences)::jsonb[]) AS evidence,
    unnest(sqlc.arg(revenues)::bigint[]) AS revenue) x
ON CONFLICT (kind, subject) WHERE status <> 'resolved'
DO UPDATE SET severity = excluded.severity, title = excluded.title, evidence = excluded.evidence,
    revenue_cents = excluded.revenue_cents, last_seen_at = excluded.last_seen_at
RETURNING f.id, f.kind, f.subject, f.license_id, f.customer_id, f.severity, f.title, f.first_seen_at,
    (f.first_seen_at = sqlc.arg(now)::timestamptz AND f.last_seen_at = f.first_seen_at)::bool AS inserted;

-- name: ResolveFindingsExcept :many
-- Resolves the findings of @kind not resolved whose subject is not among
-- @subjects (an anti-join: tens of thousands of subjects are compared by hash,
-- not each against the whole array).
UPDATE findings SET status = 'resolved', resolved_at = sqlc.arg(now)::timestamptz
WHERE kind = sqlc.arg(kind)::text AND status <> 'resolved'
  AND NOT EXISTS (SELECT 1 FROM unnest(sqlc.arg(subjects)::text[]) AS s (subject) WHERE s.subject = findings.subject)
RETURNING id, kind, subject, license_id, customer_id, severity, title, first_seen_at;

-- name: ListFindings :many
-- Findings newest first (or by revenue at stake), filtered; keyset paged
-- on (last_seen_at, id).
SELECT f.*, coalesce(c.name, '')::text AS customer_name, coalesce(p.code, '')::text AS plan
FROM findings f
LEFT JOIN customers c ON c.id = f.customer_id
LEFT JOIN licenses lic ON lic.id = f.license_id
LEFT JOIN plans p ON p.id = lic.plan_id
WHERE (sqlc.narg('kind')::text IS NULL OR f.kind = sqlc.narg('kind'))
  AND (sqlc.narg('severity')::text IS NULL OR f.severity = sqlc.narg('severity'))
  AND (sqlc.narg('status')::text IS NULL OR f.status = sqlc.narg('status')
       OR (sqlc.narg('status') = 'active' AND f.status IN ('open', 'acknowledged')))
  AND (sqlc.narg('license_id')::uuid IS NULL OR f.license_id = sqlc.narg('license_id'))
  AND (sqlc.narg('customer_id')::uuid IS NULL OR f.customer_id = sqlc.narg('customer_id'))
  AND (sqlc.narg('kinds')::text[] IS NULL OR f.kind = ANY(sqlc.narg('kinds')::text[]))
  AND (sqlc.narg('after_time')::timestamptz IS NULL OR (f.last_seen_at, f.id) < (sqlc.narg('after_time'), sqlc.narg('after_id')::uuid))
ORDER BY f.last_seen_at DESC, f.id DESC
LIMIT sqlc.arg(max_rows);

-- name: ListFindingsByRevenue :many
-- Findings by revenue at stake (those without a price last), then newest;
-- keyset paged on (revenue, last_seen_at, id) with -1 for no price.
SELECT f.*, coalesce(c.name, '')::text AS customer_name, coalesce(p.code, '')::text AS plan
FROM findings f
LEFT JOIN customers c ON c.id = f.customer_id
LEFT JOIN licenses lic ON lic.id = f.license_id
LEFT JOIN plans p ON p.id = lic.plan_id
WHERE (sqlc.narg('kind')::text IS NULL OR f.kind = sqlc.narg('kind'))
  AND (sqlc.narg('severity')::text IS NULL OR f.severity = sqlc.narg('severity'))
  AND (sqlc.narg('status')::text IS NULL OR f.status = sqlc.narg('status')
       OR (sqlc.narg('status') = 'active' AND f.status IN ('open', 'acknowledged')))
  AND (sqlc.narg('license_id')::uuid IS NULL OR f.license_id = sqlc.narg('license_id'))
  AND (sqlc.narg('customer_id')::uuid IS NULL OR f.customer_id = sqlc.narg('customer_id'))
  AND (sqlc.narg('kinds')::text[] IS NULL OR f.kind = ANY(sqlc.narg('kinds')::text[]))
  AND (sqlc.narg('after_time')::timestamptz IS NULL OR (coalesce(f.revenue_cents, -1), f.last_seen_at, f.id)
       < (sqlc.narg('after_revenue')::bigint, sqlc.narg('after_time'), sqlc.narg('after_id')::uuid))
ORDER BY coalesce(f.revenue_cents, -1) DESC, f.last_seen_at DESC, f.id DESC
LIMIT sqlc.arg(max_rows);

-- name: GetFinding :one
SELECT * FROM findings WHERE id = @id;

-- name: SetFindingStatus :one
-- Acknowledges or dismisses a finding that is not resolved.
UPDATE findings SET status = @status, dismiss_reason = sqlc.narg('dismiss_reason'), status_by = @status_by, status_at = @now
WHERE id = @id AND status <> 'resolved'
RETURNING *;

-- name: CountActiveFindings :many
-- Findings not resolved (nor dismissed) per severity, for the dashboard.
SELECT severity, count(*)::bigint AS count FROM findings WHERE status IN ('open', 'acknowledged') GROUP BY severity;

-- name: GetFindingAlertPrefs :one
SELECT * FROM finding_alert_prefs WHERE user_id = @user_id;

-- name: SetFindingAlertPrefs :exec
INSERT INTO finding_alert_prefs (user_id, kinds, min_severity, delivery, updated_at)
VALUES (@user_id, @kinds, @min_severity, @delivery, @now)
ON CONFLICT (user_id) DO UPDATE SET kinds = excluded.kinds, min_severity = excluded.min_severity,
    delivery = excluded.delivery, updated_at = excluded.updated_at;

-- name: ListFindingAlertRecipients :many
-- Enabled admins whose preferences take findings of @kind and @severity by @delivery.
SELECT u.email::text AS email, fp.min_severity FROM finding_alert_prefs fp JOIN users u ON u.id = fp.user_id
WHERE u.role = 'admin' AND u.disabled_at IS NULL AND fp.delivery = @delivery
  AND (cardinality(fp.kinds) = 0 OR sqlc.arg(kind)::text = ANY(fp.kinds))
  AND array_position(ARRAY['info', 'warning', 'critical'], sqlc.arg(severity)::text)
      >= array_position(ARRAY['info', 'warning', 'critical'], fp.min_severity);

-- name: ListDigestFindingRecipients :many
-- Enabled admins who take findings in the daily digest, with their preferences.
SELECT u.email::text AS email, fp.kinds, fp.min_severity FROM finding_alert_prefs fp JOIN users u ON u.id = fp.user_id
WHERE u.role = 'admin' AND u.disabled_at IS NULL AND fp.delivery = 'digest';

-- name: ListFindingsOpenedSince :many
-- Findings opened since @since and not resolved, for the digest.
SELECT f.*, coalesce(c.name, '')::text AS customer_name FROM findings f LEFT JOIN customers c ON c.id = f.customer_id
WHERE f.first_seen_at >= @since AND f.status IN ('open', 'acknowledged')
ORDER BY f.first_seen_at DESC LIMIT 200;
