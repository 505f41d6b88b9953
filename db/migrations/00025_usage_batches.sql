-- Usage ingestion by group commit: the reports of several requests, of any
-- licenses, recorded by one statement (record_usage_many), so that the
-- per-statement and per-commit work that dominated a one-report request
-- (executor start, the rollup triggers' statement-level calls, the commit)
-- is paid once per batch of requests. Store.ReportUsage gathers concurrent
-- requests into batches (db/combine.go). record_usage (00015) stays for
-- a process of the previous release still running during a rolling deploy.
--
-- Each request keeps record_usage's answer and its semantics: its reports
-- stored with its license and deployment, a report id counted once per
-- license — the first occurrence in the batch, in request then report
-- order, wins; a later one, in the same request or another, and an id
-- stored before, is a duplicate — and its license's usage in the request's
-- current period after the batch.
--
-- Locks, in the order record_usage takes them so that batches, single
-- requests and other writers cannot deadlock: every license row of the
-- batch share-locked first, in license id order (licenses_near_limits,
-- migration 00015, holds a license row's update lock while it rebuilds the
-- license's near-limit rows); report ids inserted in (license, id) order,
-- so that two batches waiting on each other's uncommitted ids wait in one
-- direction; period and day rows upserted in (license, period or day,
-- metric) order; then the rollup trigger's advisory locks, in customer
-- order, as before.
--
-- Arguments: per request (1-based, in order) its license, customer,
-- deployment (the nil uuid for none), the time it was received and the
-- start of its current accounting period; per report (1-based across the
-- batch) its request, id, period as sent, metrics JSON as stored and
-- accounting period (UsagePeriod); per metric value its report, name, kind
-- and value. Answers one row per request: the batch ordinals of the reports
-- it counted, and its usage.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION record_usage_many(p_licenses uuid[], p_customers uuid[], p_deployments uuid[], p_nows timestamptz[],
    p_currents timestamptz[], p_r_req int[], p_ids uuid[], p_starts timestamptz[], p_ends timestamptz[],
    p_metrics jsonb[], p_pstarts timestamptz[], p_pends timestamptz[], p_m_report int[], p_m_name text[],
    p_m_kind text[], p_m_value bigint[])
RETURNS TABLE (req int, accepted int[], usage_metrics text[], usage_values bigint[])
-- Its statements' plans are the same whatever the arrays hold; planning
-- them anew for each call (PostgreSQL's first five in each session, and
-- any time a custom plan looks cheaper) cost about as much as running them.
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    fresh_reqs int[];
    fresh_ords int[];
BEGIN
    PERFORM 1 FROM licenses WHERE id = ANY (p_licenses) ORDER BY id FOR SHARE;
    WITH requests AS (
        SELECT * FROM unnest(p_licenses, p_customers, p_deployments, p_nows) WITH ORDINALITY AS q(lic, cust, dep, now, rq)
    ), input AS (
        SELECT r.ord::int AS ord, r.rq, r.id, r.s, r.e, r.m, r.ps, r.pe, q.lic, q.cust, q.dep, q.now
        FROM unnest(p_r_req, p_ids, p_starts, p_ends, p_metrics, p_pstarts, p_pends) WITH ORDINALITY
            AS r(rq, id, s, e, m, ps, pe, ord)
        JOIN requests q ON q.rq = r.rq
    ), ins AS (
        -- In (license, id, ordinal) order: a repeated id's first occurrence
        -- is the one stored, and concurrent batches meet in one order.
        INSERT INTO usage_reports (license_id, report_id, deployment_id, period_start, period_end, metrics, received_at)
        SELECT lic, id, nullif(dep, '00000000-0000-0000-0000-000000000000'), s, e, m, now FROM input
        ORDER BY lic, id, ord
        ON CONFLICT (license_id, report_id) DO NOTHING
        RETURNING license_id, report_id
    ), fresh AS (
        SELECT DISTINCT ON (i.lic, i.id) i.ord, i.rq, i.lic, i.cust, i.now, i.ps, i.pe, (i.s AT TIME ZONE 'UTC')::date AS day
        FROM input i JOIN ins ON ins.license_id = i.lic AND ins.report_id = i.id ORDER BY i.lic, i.id, i.ord
    ), vals AS (
        SELECT f.lic, f.cust, f.now, f.ps, f.pe, f.day, x.name, x.kind, x.value
        FROM fresh f JOIN unnest(p_m_report, p_m_name, p_m_kind, p_m_value) AS x(rep, name, kind, value) ON x.rep = f.ord
    ), periods AS (
        INSERT INTO usage_periods AS t (license_id, metric, period_start, period_end, kind, value, updated_at)
        SELECT lic, name, ps, max(pe), min(kind),
            CASE WHEN min(kind) = 'gauge' THEN max(value) ELSE sum(value)::bigint END, max(now)
        FROM vals GROUP BY lic, ps, name ORDER BY lic, ps, name
        ON CONFLICT (license_id, metric, period_start) DO UPDATE SET
            value = CASE WHEN t.kind = 'gauge' THEN greatest(t.value, excluded.value) ELSE t.value + excluded.value END,
            updated_at = excluded.updated_at
    ), days AS (
        INSERT INTO usage_daily AS t (license_id, customer_id, metric, day, kind, value)
        SELECT lic, cust, name, day, min(kind),
            CASE WHEN min(kind) = 'gauge' THEN max(value) ELSE sum(value)::bigint END
        FROM vals GROUP BY lic, cust, day, name ORDER BY lic, day, name
        ON CONFLICT (license_id, metric, day) DO UPDATE SET
            value = CASE WHEN t.kind = 'gauge' THEN greatest(t.value, excluded.value) ELSE t.value + excluded.value END
    )
    SELECT array_agg(rq), array_agg(ord) INTO fresh_reqs, fresh_ords FROM fresh;
    RETURN QUERY
    WITH counted AS (
        SELECT f.rq, array_agg(f.ord ORDER BY f.ord) AS ords
        FROM unnest(fresh_reqs, fresh_ords) AS f(rq, ord) GROUP BY f.rq
    )
    SELECT q.rq::int, coalesce(c.ords, '{}'), coalesce(u.metrics, '{}'), coalesce(u.vals, '{}')
    FROM unnest(p_licenses, p_currents) WITH ORDINALITY AS q(lic, cur, rq)
    LEFT JOIN counted c ON c.rq = q.rq
    LEFT JOIN LATERAL (
        SELECT array_agg(p.metric ORDER BY p.metric) AS metrics, array_agg(p.value ORDER BY p.metric) AS vals
        FROM usage_periods p WHERE p.license_id = q.lic AND p.period_start = q.cur
    ) u ON true
    ORDER BY q.rq;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION record_usage_many;
