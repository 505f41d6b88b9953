-- Usage ingestion at close to the cost of a plain INSERT (issue 22):
-- record_usage_batch replaces record_usage_many (00025) for this release,
-- with the same answer, the same locks in the same order and the same
-- exactly-once rule (a report id counted once per license: its first
-- occurrence in the batch, in request then report order; a later one, and
-- an id stored before, is a duplicate). record_usage_many stays for a
-- process of the previous release still running during a rolling deploy.
--
-- Two costs of record_usage_many are gone from the usual case:
--   - ON CONFLICT DO NOTHING on the reports (a pre-check, a speculative
--     insertion and its confirmation per row), then a join of what it
--     returned back to the reports to learn which were new. Report ids are
--     almost always new (a repeated one is a client's retry), so the batch
--     is first tried as a plain INSERT: the primary key refuses a stored or
--     repeated id, and on that refusal the batch runs again, in the same
--     transaction, the way record_usage_many ran it.
--   - The per-value rows (a report's every metric) joined, sorted and
--     grouped into the period and day upserts. The caller sends each
--     request's values already summed (or, for a gauge, their maximum) per
--     accounting period, day and metric, which is what the upserts take
--     when every report is new. The slow path, which must leave duplicates
--     out, reads each new report's values from its stored metrics instead.
--
-- Arguments: per request (1-based, in order) its license, customer,
-- deployment (the nil uuid for none), the time it was received and the
-- start of its current accounting period; per report (1-based across the
-- batch) its request, id, period as sent, metrics JSON as stored and
-- accounting period; per request, accounting period, UTC day and metric:
-- the request, the period's start and end, the day, the metric's name and
-- kind, and the request's value for it. Answers one row per request: the
-- batch ordinals of the reports it counted, and its usage.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION record_usage_batch(p_licenses uuid[], p_customers uuid[], p_deployments uuid[], p_nows timestamptz[],
    p_currents timestamptz[], p_r_req int[], p_ids uuid[], p_starts timestamptz[], p_ends timestamptz[],
    p_metrics jsonb[], p_pstarts timestamptz[], p_pends timestamptz[], p_a_req int[], p_a_pstarts timestamptz[],
    p_a_pends timestamptz[], p_a_days date[], p_a_names text[], p_a_kinds text[], p_a_values bigint[])
RETURNS TABLE (req int, accepted int[], usage_metrics text[], usage_values bigint[])
-- As record_usage_many: the plans do not depend on the arrays' contents.
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    fresh_reqs int[];
    fresh_ords int[];
    -- The totals to upsert, shaped as p_a_*: per request, accounting
    -- period, day and metric.
    t_req int[] := p_a_req;
    t_ps timestamptz[] := p_a_pstarts;
    t_pe timestamptz[] := p_a_pends;
    t_day date[] := p_a_days;
    t_name text[] := p_a_names;
    t_kind text[] := p_a_kinds;
    t_value bigint[] := p_a_values;
BEGIN
    PERFORM 1 FROM licenses WHERE id = ANY (p_licenses) ORDER BY id FOR SHARE;
    BEGIN
        -- Every report new: stored by a plain INSERT, in (license, id)
        -- order so that batches waiting on each other's uncommitted ids
        -- wait in one direction; the totals are the requests', as sent.
        INSERT INTO usage_reports (license_id, report_id, deployment_id, period_start, period_end, metrics, received_at)
        SELECT q.lic, r.id, nullif(q.dep, '00000000-0000-0000-0000-000000000000'), r.s, r.e, r.m, q.now
        FROM unnest(p_r_req, p_ids, p_starts, p_ends, p_metrics) WITH ORDINALITY AS r(rq, id, s, e, m, ord)
        JOIN unnest(p_licenses, p_deployments, p_nows) WITH ORDINALITY AS q(lic, dep, now, rq) ON q.rq = r.rq
        ORDER BY q.lic, r.id, r.ord;
        fresh_reqs := p_r_req;
        SELECT array_agg(o::int) INTO fresh_ords FROM generate_series(1, cardinality(p_ids)) o;
    EXCEPTION WHEN unique_violation THEN
        -- Some id stored before or repeated: what the INSERT did is undone;
        -- the new reports alone are stored and counted, their totals summed
        -- from their metrics (a metric's kind is its name's, as sent).
        WITH input AS (
            SELECT r.ord::int AS ord, r.rq, r.id, r.s, r.e, r.m, r.ps, r.pe, q.lic, q.dep, q.now
            FROM unnest(p_r_req, p_ids, p_starts, p_ends, p_metrics, p_pstarts, p_pends) WITH ORDINALITY
                AS r(rq, id, s, e, m, ps, pe, ord)
            JOIN unnest(p_licenses, p_deployments, p_nows) WITH ORDINALITY AS q(lic, dep, now, rq) ON q.rq = r.rq
        ), ins AS (
            INSERT INTO usage_reports (license_id, report_id, deployment_id, period_start, period_end, metrics, received_at)
            SELECT lic, id, nullif(dep, '00000000-0000-0000-0000-000000000000'), s, e, m, now FROM input
            ORDER BY lic, id, ord
            ON CONFLICT (license_id, report_id) DO NOTHING
            RETURNING license_id, report_id
        ), fresh AS (
            SELECT DISTINCT ON (i.lic, i.id) i.ord, i.rq, i.m, i.ps, i.pe, (i.s AT TIME ZONE 'UTC')::date AS day
            FROM input i JOIN ins ON ins.license_id = i.lic AND ins.report_id = i.id ORDER BY i.lic, i.id, i.ord
        ), kinds AS (
            SELECT DISTINCT name, kind FROM unnest(p_a_names, p_a_kinds) AS k(name, kind)
        ), totals AS (
            SELECT f.rq, f.ps, max(f.pe) AS pe, f.day, x.key AS name, min(k.kind) AS kind,
                CASE WHEN min(k.kind) = 'gauge' THEN max(x.value::bigint) ELSE sum(x.value::bigint)::bigint END AS value
            FROM fresh f CROSS JOIN LATERAL jsonb_each(f.m) AS x JOIN kinds k ON k.name = x.key
            GROUP BY f.rq, f.ps, f.day, x.key
        )
        SELECT (SELECT array_agg(rq) FROM fresh), (SELECT array_agg(ord) FROM fresh),
            array_agg(rq), array_agg(ps), array_agg(pe), array_agg(day), array_agg(name), array_agg(kind), array_agg(value)
        INTO fresh_reqs, fresh_ords, t_req, t_ps, t_pe, t_day, t_name, t_kind, t_value FROM totals;
    END;
    -- The totals, after the reports (so that every batch locks report ids
    -- before totals' rows and concurrent batches wait in one direction),
    -- in (license, period or day, metric) order.
    WITH vals AS (
        SELECT q.lic, q.cust, q.now, a.ps, a.pe, a.day, a.name, a.kind, a.value
        FROM unnest(t_req, t_ps, t_pe, t_day, t_name, t_kind, t_value) AS a(rq, ps, pe, day, name, kind, value)
        JOIN unnest(p_licenses, p_customers, p_nows) WITH ORDINALITY AS q(lic, cust, now, rq) ON q.rq = a.rq
    ), periods AS (
        INSERT INTO usage_periods AS t (license_id, metric, period_start, period_end, kind, value, updated_at)
        SELECT lic, name, ps, max(pe), min(kind),
            CASE WHEN min(kind) = 'gauge' THEN max(value) ELSE sum(value)::bigint END, max(now)
        FROM vals GROUP BY lic, ps, name ORDER BY lic, ps, name
        ON CONFLICT (license_id, metric, period_start) DO UPDATE SET
            value = CASE WHEN t.kind = 'gauge' THEN greatest(t.value, excluded.value) ELSE t.value + excluded.value END,
            updated_at = excluded.updated_at
    )
    INSERT INTO usage_daily AS t (license_id, customer_id, metric, day, kind, value)
    SELECT lic, cust, name, day, min(kind),
        CASE WHEN min(kind) = 'gauge' THEN max(value) ELSE sum(value)::bigint END
    FROM vals GROUP BY lic, cust, day, name ORDER BY lic, day, name
    ON CONFLICT (license_id, metric, day) DO UPDATE SET
        value = CASE WHEN t.kind = 'gauge' THEN greatest(t.value, excluded.value) ELSE t.value + excluded.value END;
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
DROP FUNCTION record_usage_batch;
