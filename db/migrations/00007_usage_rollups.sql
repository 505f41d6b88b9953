-- What keeps the admin usage page fast with millions of daily usage rows:
-- rollups kept by triggers in the same transaction as the usage they add
-- up, so that the page reads a few hundred rows instead of every
-- license's days. Ingestion (RecordUsage) is unchanged; the triggers see
-- its writes to usage_daily and usage_periods.
--
--   usage_metric_days      each metric's total per day across every license
--                          (counters summed, gauges the sum of each
--                          license's daily peak): the page's chart. Split
--                          into 64 shards by customer, so that concurrent
--                          reports do not queue on one row per day.
--   usage_customer_months  each customer's total and highest daily value
--                          per metric and calendar month: an upper bound
--                          for any range within those months, from which
--                          the top consumers of a range are found without
--                          summing every customer's days (Store.TopUsageCustomers).
--   usage_near_limits      the periods at 80% of the license's limit for the
--                          metric or more, with that limit: kept on every
--                          write to usage_periods and again when the
--                          license's limits change, so that the page need
--                          not compare every license's periods with its
--                          limits. A period that had ended when it was
--                          written is left out, and a license's ended
--                          periods are dropped when it begins a new one:
--                          the table holds little more than the current
--                          periods, read fullest first through an index.
--
-- Locks: a report's transaction takes its customer's advisory lock before
-- any rollup row, so one transaction at a time changes a customer's month
-- rows, and one waiting for that lock holds no rollup row; day rows are
-- taken in the order RecordUsage writes the days (by day, then metric),
-- the same in every transaction; a license's near-limit rows follow its
-- usage_periods rows, which a change of limits locks first, in
-- RecordUsage's order (by period, then metric). No two writers can
-- deadlock on them.

-- +goose Up
-- No usage or limit may change between the rebuild below and the triggers
-- that take over from it (another portal process may still be running);
-- reads go on.
LOCK TABLE usage_daily, usage_periods, licenses IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE usage_metric_days (
    metric text NOT NULL,
    day    date NOT NULL,
    shard  smallint NOT NULL CHECK (shard BETWEEN 0 AND 63),
    value  numeric NOT NULL,
    PRIMARY KEY (metric, day, shard)
);

CREATE TABLE usage_customer_months (
    metric      text NOT NULL,
    month       date NOT NULL CHECK (extract(day FROM month) = 1),
    customer_id uuid NOT NULL,
    total       bigint NOT NULL, -- the sum of the month's daily values (at most the largest bigint)
    peak        bigint NOT NULL, -- the highest daily value of any license (never lowered)
    PRIMARY KEY (metric, month, customer_id)
);

-- The shard of a customer's rows in usage_metric_days.
-- +goose StatementBegin
CREATE FUNCTION usage_rollup_shard(customer_id uuid) RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (hashtext(customer_id::text) & 63)::smallint
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION usage_daily_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r     usage_daily;
    delta numeric;
BEGIN
    IF current_setting('nls.usage_rollups', true) = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        r := OLD;
        delta := -OLD.value;
    ELSIF TG_OP = 'UPDATE' THEN
        r := NEW;
        delta := NEW.value - OLD.value;
        IF delta = 0 THEN
            RETURN NULL; -- a gauge below its peak: nothing changes
        END IF;
    ELSE
        r := NEW;
        delta := NEW.value;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('usage_rollup:' || r.customer_id::text, 0));
    INSERT INTO usage_metric_days AS t (metric, day, shard, value)
    VALUES (r.metric, r.day, usage_rollup_shard(r.customer_id), delta)
    ON CONFLICT (metric, day, shard) DO UPDATE SET value = t.value + excluded.value;
    INSERT INTO usage_customer_months AS t (metric, month, customer_id, total, peak)
    VALUES (r.metric, date_trunc('month', r.day)::date, r.customer_id, greatest(delta, 0),
        CASE WHEN TG_OP = 'DELETE' THEN 0 ELSE r.value END)
    ON CONFLICT (metric, month, customer_id) DO UPDATE
        SET total = least(t.total::numeric + delta, 9223372036854775807)::bigint, peak = greatest(t.peak, excluded.peak);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- A license's limit for a metric: a non-negative 64-bit integer
-- (licensing.CheckLimits); anything else in the JSON counts as none.
-- +goose StatementBegin
CREATE FUNCTION license_usage_limit(limits jsonb, metric text) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(limits -> metric) = 'number' THEN
        (SELECT n::bigint FROM (SELECT (limits ->> metric)::numeric AS n) v
         WHERE n >= 0 AND n <= 9223372036854775807 AND n = trunc(n)) END
$$;
-- +goose StatementEnd

CREATE TABLE usage_near_limits (
    license_id   uuid NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    metric       text NOT NULL,
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL,
    used         bigint NOT NULL,
    usage_limit  bigint NOT NULL,
    PRIMARY KEY (license_id, metric, period_start)
);
-- ListUsageNearLimits's order, fullest first: it reads the first rows of
-- this index and stops, however many periods are near a limit.
CREATE INDEX usage_near_limits_fullest_idx ON usage_near_limits
    ((usage_limit = 0) DESC, (used::float8 / nullif(usage_limit, 0)) DESC, license_id, metric);

-- Whether used is near a limit: 80% of it or more (ListUsageNearLimits's
-- rule; a limit of 0 is exceeded by any use).
-- +goose StatementBegin
CREATE FUNCTION usage_near_limit(used bigint, usage_limit bigint) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT used > 0 AND usage_limit IS NOT NULL AND used::numeric * 100 >= usage_limit::numeric * 80
$$;
-- +goose StatementEnd

-- Use only grows and a period's limit changes only with the license's, so
-- a period that reached the mark stays there until the limits change. The
-- time of the write (updated_at, the recording clock) tells which periods
-- are over: a license's first write to a new period drops its ended ones,
-- and a late write to an ended period adds none (neither can be any
-- license's current period again).
-- +goose StatementBegin
CREATE FUNCTION usage_periods_near_limit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    lim bigint;
BEGIN
    IF current_setting('nls.usage_rollups', true) = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        DELETE FROM usage_near_limits
        WHERE license_id = NEW.license_id AND metric = NEW.metric AND period_end <= NEW.updated_at;
    END IF;
    IF NEW.period_end <= NEW.updated_at THEN
        RETURN NULL;
    END IF;
    SELECT license_usage_limit(l.limits, NEW.metric) INTO lim FROM licenses l WHERE l.id = NEW.license_id;
    IF usage_near_limit(NEW.value, lim) THEN
        INSERT INTO usage_near_limits AS n (license_id, metric, period_start, period_end, used, usage_limit)
        VALUES (NEW.license_id, NEW.metric, NEW.period_start, NEW.period_end, NEW.value, lim)
        ON CONFLICT (license_id, metric, period_start) DO UPDATE SET used = excluded.used, usage_limit = excluded.usage_limit;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION licenses_near_limits() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The license's periods first, in RecordUsage's order, so that a report
    -- of the same license waits here rather than deadlocking.
    PERFORM 1 FROM usage_periods WHERE license_id = NEW.id ORDER BY period_start, metric FOR UPDATE;
    DELETE FROM usage_near_limits WHERE license_id = NEW.id;
    INSERT INTO usage_near_limits (license_id, metric, period_start, period_end, used, usage_limit)
    SELECT p.license_id, p.metric, p.period_start, p.period_end, p.value, license_usage_limit(NEW.limits, p.metric)
    FROM usage_periods p
    WHERE p.license_id = NEW.id AND p.period_end > p.updated_at
      AND usage_near_limit(p.value, license_usage_limit(NEW.limits, p.metric));
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Every rollup rebuilt from the usage recorded: once here, and by the
-- bulk seed (db.BulkSeed), which switches the row triggers off for its
-- transaction (SET LOCAL nls.usage_rollups = 'off') rather than run them
-- millions of times.
-- +goose StatementBegin
CREATE FUNCTION usage_rollups_rebuild() RETURNS void LANGUAGE sql AS $$
    TRUNCATE usage_metric_days, usage_customer_months, usage_near_limits;
    INSERT INTO usage_metric_days (metric, day, shard, value)
    SELECT metric, day, usage_rollup_shard(customer_id), sum(value)
    FROM usage_daily GROUP BY 1, 2, 3;
    INSERT INTO usage_customer_months (metric, month, customer_id, total, peak)
    SELECT metric, date_trunc('month', day)::date, customer_id, least(sum(value), 9223372036854775807)::bigint, max(value)
    FROM usage_daily GROUP BY 1, 2, 3;
    INSERT INTO usage_near_limits (license_id, metric, period_start, period_end, used, usage_limit)
    SELECT p.license_id, p.metric, p.period_start, p.period_end, p.value, license_usage_limit(l.limits, p.metric)
    FROM usage_periods p JOIN licenses l ON l.id = p.license_id
    WHERE p.period_end > greatest(p.updated_at, now())
      AND usage_near_limit(p.value, license_usage_limit(l.limits, p.metric));
$$;
-- +goose StatementEnd

SELECT usage_rollups_rebuild();
-- Statistics now, so the first pages plan with the rollups' real sizes.
ANALYZE usage_metric_days, usage_customer_months, usage_near_limits;

CREATE TRIGGER usage_daily_rollup AFTER INSERT OR UPDATE OR DELETE ON usage_daily
    FOR EACH ROW EXECUTE FUNCTION usage_daily_rollup();
CREATE TRIGGER usage_periods_near_limit AFTER INSERT OR UPDATE ON usage_periods
    FOR EACH ROW EXECUTE FUNCTION usage_periods_near_limit();
CREATE TRIGGER licenses_near_limits AFTER UPDATE OF limits ON licenses
    FOR EACH ROW WHEN (OLD.limits IS DISTINCT FROM NEW.limits) EXECUTE FUNCTION licenses_near_limits();

-- +goose Down
DROP TRIGGER licenses_near_limits ON licenses;
DROP TRIGGER usage_periods_near_limit ON usage_periods;
DROP TRIGGER usage_daily_rollup ON usage_daily;
DROP FUNCTION usage_rollups_rebuild, licenses_near_limits, usage_periods_near_limit, usage_near_limit,
    license_usage_limit, usage_daily_rollup, usage_rollup_shard;
DROP TABLE usage_near_limits, usage_customer_months, usage_metric_days;
