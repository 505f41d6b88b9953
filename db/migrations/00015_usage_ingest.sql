-- Usage ingestion in one statement per request, and rollups computed per
-- statement instead of per row.
--
-- record_usage stores a batch of reports exactly once each, adds the new
-- ones to usage_periods and usage_daily and answers the ids it counted and
-- the license's usage in its current period: one round trip where
-- RecordUsage made five inside an open transaction. The rollups of
-- migration 00007 are kept by statement-level triggers that read the
-- statement's transition tables and write each rollup row once per
-- statement (grouped), rather than row-level triggers taking a lock and two
-- upserts per changed row.
--
-- Locks: record_usage share-locks the license row first. A change of the
-- license's limits (licenses_near_limits) holds that row's update lock, so
-- the two are ordered: a report either sees the new limits or is seen by
-- the rebuild of the license's near-limit rows. (Without that order a
-- report committed between the rebuild's DELETE and INSERT made the INSERT
-- fail on a duplicate key, and a report reading the old limits could leave
-- a stale row.) Then, as before, the customer's advisory lock before any
-- rollup row, and rows in (day or period, metric) order.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION usage_daily_rollup_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- The statement's changes as (customer, metric, day, delta, value):
    -- value is the new daily value (0 when deleted), the month's peak candidate.
    c uuid[];
    m text[];
    d date[];
    dl numeric[];
    v bigint[];
BEGIN
    IF current_setting('nls.usage_rollups', true) = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(customer_id), array_agg(metric), array_agg(day), array_agg(value::numeric), array_agg(value)
        INTO c, m, d, dl, v FROM new_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(n.customer_id), array_agg(n.metric), array_agg(n.day), array_agg(n.value::numeric - o.value),
            array_agg(n.value)
        INTO c, m, d, dl, v
        FROM new_rows n JOIN old_rows o USING (license_id, metric, day)
        WHERE n.value <> o.value; -- a gauge below its peak changes nothing
    ELSE
        SELECT array_agg(customer_id), array_agg(metric), array_agg(day), array_agg(-value::numeric), array_agg(0::bigint)
        INTO c, m, d, dl, v FROM old_rows;
    END IF;
    IF c IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('usage_rollup:' || x.cust::text, 0))
    FROM (SELECT DISTINCT cust FROM unnest(c) AS u(cust) ORDER BY 1) x;
    INSERT INTO usage_metric_days AS t (metric, day, shard, value)
    SELECT x.metric, x.day, usage_rollup_shard(x.cust), sum(x.delta)
    FROM unnest(c, m, d, dl) AS x(cust, metric, day, delta) GROUP BY 1, 2, 3 ORDER BY 2, 1, 3
    ON CONFLICT (metric, day, shard) DO UPDATE SET value = t.value + excluded.value;
    -- total carries the statement's delta (at most the largest bigint): a
    -- new month row starts from it, an existing one adds it.
    INSERT INTO usage_customer_months AS t (metric, month, customer_id, total, peak)
    SELECT x.metric, date_trunc('month', x.day)::date, x.cust, least(sum(x.delta), 9223372036854775807)::bigint,
        max(x.value)
    FROM unnest(c, m, d, dl, v) AS x(cust, metric, day, delta, value) GROUP BY 1, 2, 3 ORDER BY 2, 1, 3
    ON CONFLICT (metric, month, customer_id) DO UPDATE
        SET total = least(t.total::numeric + excluded.total, 9223372036854775807)::bigint,
            peak = greatest(t.peak, excluded.peak);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION usage_periods_near_limit_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('nls.usage_rollups', true) = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        -- A license's first write to a new period drops its ended ones.
        DELETE FROM usage_near_limits n
        USING (SELECT DISTINCT license_id, metric, updated_at FROM new_rows) r
        WHERE n.license_id = r.license_id AND n.metric = r.metric AND n.period_end <= r.updated_at;
    END IF;
    INSERT INTO usage_near_limits AS n (license_id, metric, period_start, period_end, used, usage_limit)
    SELECT r.license_id, r.metric, r.period_start, r.period_end, r.value, license_usage_limit(l.limits, r.metric)
    FROM new_rows r JOIN licenses l ON l.id = r.license_id
    WHERE r.period_end > r.updated_at AND usage_near_limit(r.value, license_usage_limit(l.limits, r.metric))
    ORDER BY r.license_id, r.period_start, r.metric
    ON CONFLICT (license_id, metric, period_start) DO UPDATE SET used = excluded.used, usage_limit = excluded.usage_limit;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION licenses_near_limits() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM usage_periods WHERE license_id = NEW.id ORDER BY period_start, metric FOR UPDATE;
    DELETE FROM usage_near_limits WHERE license_id = NEW.id;
    INSERT INTO usage_near_limits AS n (license_id, metric, period_start, period_end, used, usage_limit)
    SELECT p.license_id, p.metric, p.period_start, p.period_end, p.value, license_usage_limit(NEW.limits, p.metric)
    FROM usage_periods p
    WHERE p.license_id = NEW.id AND p.period_end > p.updated_at
      AND usage_near_limit(p.value, license_usage_limit(NEW.limits, p.metric))
    ON CONFLICT (license_id, metric, period_start) DO UPDATE SET used = excluded.used, usage_limit = excluded.usage_limit;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

DROP TRIGGER usage_daily_rollup ON usage_daily;
DROP TRIGGER usage_periods_near_limit ON usage_periods;
CREATE TRIGGER usage_daily_rollup_ins AFTER INSERT ON usage_daily REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_rollup_rows();
CREATE TRIGGER usage_daily_rollup_upd AFTER UPDATE ON usage_daily REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_rollup_rows();
CREATE TRIGGER usage_daily_rollup_del AFTER DELETE ON usage_daily REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_rollup_rows();
CREATE TRIGGER usage_periods_near_limit_ins AFTER INSERT ON usage_periods REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_periods_near_limit_rows();
CREATE TRIGGER usage_periods_near_limit_upd AFTER UPDATE ON usage_periods REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_periods_near_limit_rows();

-- record_usage: the reports (ids, their periods as sent, the metrics JSON
-- as stored, and the accounting period Go chose for each: UsagePeriod) and
-- their metrics flattened (report index from 1, name, kind, value). New
-- ids are counted, the others answered as duplicates by the caller.
-- +goose StatementBegin
CREATE FUNCTION record_usage(p_license uuid, p_customer uuid, p_deployment uuid, p_ids uuid[],
    p_starts timestamptz[], p_ends timestamptz[], p_metrics jsonb[], p_pstarts timestamptz[], p_pends timestamptz[],
    p_m_report int[], p_m_name text[], p_m_kind text[], p_m_value bigint[], p_now timestamptz, p_current timestamptz,
    OUT accepted uuid[], OUT usage_metrics text[], OUT usage_values bigint[])
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM licenses WHERE id = p_license FOR SHARE;
    WITH input AS (
        SELECT * FROM unnest(p_ids, p_starts, p_ends, p_metrics, p_pstarts, p_pends) WITH ORDINALITY
            AS r(id, s, e, m, ps, pe, ord)
    ), ins AS (
        INSERT INTO usage_reports (license_id, report_id, deployment_id, period_start, period_end, metrics, received_at)
        SELECT p_license, id, p_deployment, s, e, m, p_now FROM input
        ON CONFLICT (license_id, report_id) DO NOTHING
        RETURNING report_id
    ), fresh AS (
        -- A repeated id in the batch counts once: its first occurrence.
        SELECT DISTINCT ON (i.id) i.id, i.ord, i.ps, i.pe, (i.s AT TIME ZONE 'UTC')::date AS day
        FROM input i JOIN ins ON ins.report_id = i.id ORDER BY i.id, i.ord
    ), vals AS (
        SELECT f.ps, f.pe, f.day, x.name, x.kind, x.value
        FROM fresh f JOIN unnest(p_m_report, p_m_name, p_m_kind, p_m_value) AS x(rep, name, kind, value) ON x.rep = f.ord
    ), periods AS (
        INSERT INTO usage_periods AS t (license_id, metric, period_start, period_end, kind, value, updated_at)
        SELECT p_license, name, ps, max(pe), min(kind),
            CASE WHEN min(kind) = 'gauge' THEN max(value) ELSE sum(value)::bigint END, p_now
        FROM vals GROUP BY ps, name ORDER BY ps, name
        ON CONFLICT (license_id, metric, period_start) DO UPDATE SET
            value = CASE WHEN t.kind = 'gauge' THEN greatest(t.value, excluded.value) ELSE t.value + excluded.value END,
            updated_at = excluded.updated_at
    ), days AS (
        INSERT INTO usage_daily AS t (license_id, customer_id, metric, day, kind, value)
        SELECT p_license, p_customer, name, day, min(kind),
            CASE WHEN min(kind) = 'gauge' THEN max(value) ELSE sum(value)::bigint END
        FROM vals GROUP BY day, name ORDER BY day, name
        ON CONFLICT (license_id, metric, day) DO UPDATE SET
            value = CASE WHEN t.kind = 'gauge' THEN greatest(t.value, excluded.value) ELSE t.value + excluded.value END
    )
    SELECT coalesce(array_agg(id ORDER BY ord), '{}') INTO accepted FROM fresh;
    SELECT coalesce(array_agg(metric ORDER BY metric), '{}'), coalesce(array_agg(value ORDER BY metric), '{}')
    INTO usage_metrics, usage_values
    FROM usage_periods WHERE license_id = p_license AND period_start = p_current;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION record_usage;
DROP TRIGGER usage_periods_near_limit_upd ON usage_periods;
DROP TRIGGER usage_periods_near_limit_ins ON usage_periods;
DROP TRIGGER usage_daily_rollup_del ON usage_daily;
DROP TRIGGER usage_daily_rollup_upd ON usage_daily;
DROP TRIGGER usage_daily_rollup_ins ON usage_daily;
CREATE TRIGGER usage_daily_rollup AFTER INSERT OR UPDATE OR DELETE ON usage_daily
    FOR EACH ROW EXECUTE FUNCTION usage_daily_rollup();
CREATE TRIGGER usage_periods_near_limit AFTER INSERT OR UPDATE ON usage_periods
    FOR EACH ROW EXECUTE FUNCTION usage_periods_near_limit();
DROP FUNCTION usage_periods_near_limit_rows, usage_daily_rollup_rows;
