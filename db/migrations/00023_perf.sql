-- A new deployment's seat in one statement.
--
-- acquire_seat does what Store.AcquireSeat did in seven round trips inside
-- an open transaction: lock the license row (so that concurrent
-- activations, from any process, never exceed the seats), read the
-- deployment, count the seats the others hold under the one seat rule
-- (deployment_holds_seat), activate or revive the deployment, and record
-- deployment.activated in the outbox when the row is new. The caller
-- chooses the new row's id and passes the event's data, so that the event
-- is written by the same statement; the customer is taken from the locked
-- license row.
--
-- Outcomes: 'held' (dep is the deployment, in_use counts it), 'deactivated'
-- (released: dep is the row as stored, nothing written), 'full' (no seat:
-- in_use is the seats the others hold, nothing written), 'no_license'.
--
-- Its write does not notify nls_license_facts inside the transaction: the
-- caller notifies right after the commit (Store.AcquireSeat). PostgreSQL
-- serialises the commits of all transactions that NOTIFY, each holding the
-- notification queue's lock until its commit record is on disk, so that
-- activations could commit no faster than one fsync after another; a NOTIFY
-- in a transaction of its own writes no WAL and holds that lock for moments.
-- Should the process die between the two, other processes' caches count the
-- new seat only when their entries expire (db.FactsCache's TTL); seats are
-- admitted under the license lock in the database, never from a cache.
--
-- Usage rollups: usage_metric_days' shard is the writing backend's rather
-- than the customer's (usage_daily_rollup_rows), so that concurrent reports
-- do not wait for each other's commits on a shared day row.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION acquire_seat(p_license uuid, p_deployment_id text, p_limit integer, p_window_hours integer,
    p_id uuid, p_fingerprint text, p_hostname text, p_ip text, p_app_version text, p_offline boolean,
    p_now timestamptz, p_event_type text, p_event_data jsonb,
    OUT outcome text, OUT in_use integer, OUT event_id uuid,
    -- the deployment (null unless held or deactivated): the columns of deployments
    OUT id uuid, OUT license_id uuid, OUT deployment_id text, OUT status text, OUT fingerprint text,
    OUT hostname text, OUT ip text, OUT app_version text, OUT offline boolean, OUT deactivated_at timestamptz,
    OUT deactivated_by text, OUT first_seen_at timestamptz, OUT last_seen_at timestamptz,
    OUT offline_until timestamptz, OUT fingerprint_components jsonb)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_customer uuid;
    v_new boolean;
    d deployments;
BEGIN
    in_use := 0;
    PERFORM set_config('nls.facts_notify', 'deferred', true);
    SELECT l.customer_id INTO v_customer FROM licenses l WHERE l.id = p_license FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'no_license';
        RETURN;
    END IF;
    SELECT * INTO d FROM deployments WHERE license_id = p_license AND deployment_id = p_deployment_id FOR UPDATE;
    v_new := d.id IS NULL;
    IF NOT v_new AND d.status = 'deactivated' THEN
        outcome := 'deactivated';
    ELSE
        SELECT count(*)::int INTO in_use FROM deployments
        WHERE license_id = p_license AND deployment_id <> p_deployment_id
          AND deployment_holds_seat(status, last_seen_at, offline_until, p_window_hours, p_now);
        IF p_limit IS NOT NULL AND in_use >= p_limit THEN
            outcome := 'full';
            RETURN;
        END IF;
        INSERT INTO deployments AS t (id, license_id, deployment_id, status, fingerprint, hostname, ip, app_version,
            offline, first_seen_at, last_seen_at)
        VALUES (p_id, p_license, p_deployment_id, 'active', p_fingerprint, p_hostname, p_ip, p_app_version,
            p_offline, p_now, p_now)
        ON CONFLICT (license_id, deployment_id) DO UPDATE SET
            status = 'active', deactivated_at = NULL, deactivated_by = NULL, fingerprint = excluded.fingerprint,
            hostname = excluded.hostname, ip = excluded.ip, app_version = excluded.app_version,
            offline = excluded.offline, last_seen_at = excluded.last_seen_at
        RETURNING * INTO d;
        in_use := in_use + 1;
        outcome := 'held';
        IF v_new AND p_event_type IS NOT NULL THEN
            INSERT INTO events (type, occurred_at, license_id, customer_id, deployment_id, data)
            VALUES (p_event_type, p_now, p_license, v_customer, d.id,
                p_event_data || jsonb_build_object('customerId', v_customer))
            RETURNING events.id INTO event_id;
        END IF;
    END IF;
    PERFORM set_config('nls.facts_notify', '', true);
    id := d.id; license_id := d.license_id; deployment_id := d.deployment_id; status := d.status;
    fingerprint := d.fingerprint; hostname := d.hostname; ip := d.ip; app_version := d.app_version;
    offline := d.offline; deactivated_at := d.deactivated_at; deactivated_by := d.deactivated_by;
    first_seen_at := d.first_seen_at; last_seen_at := d.last_seen_at; offline_until := d.offline_until;
    fingerprint_components := d.fingerprint_components;
END
$$;
-- +goose StatementEnd

-- notify_license_facts of migration 00016, leaving a deployment's change to
-- its writer when that writer notifies after its commit (acquire_seat).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION notify_license_facts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    IF TG_TABLE_NAME = 'plans' THEN
        PERFORM pg_notify('nls_license_facts', '*');
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        r := OLD;
    ELSE
        r := NEW;
    END IF;
    IF TG_TABLE_NAME = 'licenses' THEN
        PERFORM pg_notify('nls_license_facts', r.id::text);
    ELSIF TG_TABLE_NAME <> 'deployments' OR current_setting('nls.facts_notify', true) IS DISTINCT FROM 'deferred' THEN
        PERFORM pg_notify('nls_license_facts', r.license_id::text);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION usage_daily_rollup_rows() RETURNS trigger LANGUAGE plpgsql AS $$
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
    -- The shard is this backend's: no two transactions running at once
    -- (on different connections) write the same day row unless their
    -- process ids agree modulo 64, where shards by customer made reports
    -- of unrelated customers queue on a row each other held until commit.
    -- The rows only ever add up over their shards.
    INSERT INTO usage_metric_days AS t (metric, day, shard, value)
    SELECT x.metric, x.day, (pg_backend_pid() % 64)::smallint, sum(x.delta)
    FROM unnest(c, m, d, dl) AS x(cust, metric, day, delta) GROUP BY 1, 2 ORDER BY 2, 1
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

-- The components policy compares a deployment's stored fingerprint
-- components, which the facts cache carries: writing them must drop the
-- cached entries like any other fact of the deployment.
DROP TRIGGER deployments_notify_facts_upd ON deployments;
CREATE TRIGGER deployments_notify_facts_upd AFTER UPDATE ON deployments
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.offline_until IS DISTINCT FROM NEW.offline_until
        OR OLD.fingerprint IS DISTINCT FROM NEW.fingerprint OR OLD.hostname IS DISTINCT FROM NEW.hostname
        OR OLD.ip IS DISTINCT FROM NEW.ip OR OLD.app_version IS DISTINCT FROM NEW.app_version
        OR OLD.offline IS DISTINCT FROM NEW.offline OR OLD.license_id IS DISTINCT FROM NEW.license_id
        OR OLD.deployment_id IS DISTINCT FROM NEW.deployment_id OR OLD.first_seen_at IS DISTINCT FROM NEW.first_seen_at
        OR OLD.fingerprint_components IS DISTINCT FROM NEW.fingerprint_components)
    EXECUTE FUNCTION notify_license_facts();

-- +goose Down
DROP TRIGGER deployments_notify_facts_upd ON deployments;
CREATE TRIGGER deployments_notify_facts_upd AFTER UPDATE ON deployments
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.offline_until IS DISTINCT FROM NEW.offline_until
        OR OLD.fingerprint IS DISTINCT FROM NEW.fingerprint OR OLD.hostname IS DISTINCT FROM NEW.hostname
        OR OLD.ip IS DISTINCT FROM NEW.ip OR OLD.app_version IS DISTINCT FROM NEW.app_version
        OR OLD.offline IS DISTINCT FROM NEW.offline OR OLD.license_id IS DISTINCT FROM NEW.license_id
        OR OLD.deployment_id IS DISTINCT FROM NEW.deployment_id OR OLD.first_seen_at IS DISTINCT FROM NEW.first_seen_at)
    EXECUTE FUNCTION notify_license_facts();
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION usage_daily_rollup_rows() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION notify_license_facts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    IF TG_TABLE_NAME = 'plans' THEN
        PERFORM pg_notify('nls_license_facts', '*');
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        r := OLD;
    ELSE
        r := NEW;
    END IF;
    IF TG_TABLE_NAME = 'licenses' THEN
        PERFORM pg_notify('nls_license_facts', r.id::text);
    ELSE
        PERFORM pg_notify('nls_license_facts', r.license_id::text);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
DROP FUNCTION acquire_seat;
