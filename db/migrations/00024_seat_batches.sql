-- Seats for several new deployments in one statement (group commit).
--
-- acquire_seats is acquire_seat (migration 00023) over arrays: one item per
-- license (the caller, db.Store's seat combiner, never puts two items of
-- one license in a call). Concurrent requests' acquisitions are gathered
-- in memory and sent together, so that PostgreSQL parses, plans, locks,
-- fires the statement's triggers and flushes the commit once for the
-- batch: measured with pgbench here, a new deployment and its event cost
-- about four times less per row when written eight at a time than one at
-- a time, and the work is CPU, not the WAL flush.
--
-- Each item is decided exactly as acquire_seat decides it: the licenses
-- are locked first (in id order, so that concurrent batches and single
-- acquisitions of any process cannot deadlock and never admit more than
-- the seats), then the items' existing deployments (in id order); the
-- statement that decides and writes runs after the locks are held, so its
-- snapshot sees every seat committed before them. Outcomes and columns as
-- acquire_seat's, with ord, the item's position from 1. Per item: the
-- admission limit (-1: none), the seats from which the exact count matters
-- (the plan's own seats, below an overage allowance; -1: none) and the time.
--
-- Counting the seats held is no longer done on every admission. It read
-- every deployment row of the license (one heap fetch each, a cost that
-- grows with the license's installations: 0.3 ms at 80 rows, more than
-- the rest of the admission at 300). license_seat_tallies keeps, per
-- license, the deployments that could hold a seat at all (active, or with
-- an offline allowance), maintained by triggers on every change of those
-- columns, whoever makes it. The seat rule's count is never more than
-- that, so while the tally leaves room under the limit the seat is granted
-- without counting; only a license near its limit (or whose lapsed
-- installations fill the tally) is counted exactly, under its lock, as
-- before. in_use is then null: the caller answers the count it read before
-- asking (app.Machine). acquire_seat stays, for processes of the previous
-- release during a rolling upgrade; the triggers keep the tally whoever
-- writes.

-- +goose Up
CREATE TABLE license_seat_tallies (
    license_id uuid PRIMARY KEY REFERENCES licenses (id) ON DELETE CASCADE,
    -- deployments with status 'active' or an offline_until, whatever their times
    candidates integer NOT NULL CHECK (candidates >= 0)
);

INSERT INTO license_seat_tallies (license_id, candidates)
SELECT license_id, count(*) FROM deployments WHERE status = 'active' OR offline_until IS NOT NULL GROUP BY 1;

-- +goose StatementBegin
CREATE FUNCTION tally_seat_candidates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A row that leaves a license, or stops being a candidate, counts down
    -- there; one that arrives, or becomes one, counts up. A license being
    -- deleted has no tally left to change.
    IF TG_OP IN ('UPDATE', 'DELETE') AND (OLD.status = 'active' OR OLD.offline_until IS NOT NULL) THEN
        UPDATE license_seat_tallies SET candidates = candidates - 1 WHERE license_id = OLD.license_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (NEW.status = 'active' OR NEW.offline_until IS NOT NULL) THEN
        INSERT INTO license_seat_tallies AS t (license_id, candidates) VALUES (NEW.license_id, 1)
        ON CONFLICT (license_id) DO UPDATE SET candidates = t.candidates + 1;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- acquire_seats counts its own new rows in one statement (nls.seat_tally
-- 'inline'), and notifies after its commit (nls.facts_notify 'deferred'):
-- conditions in WHEN, so that no trigger function is even called for its
-- rows (a PL/pgSQL call per row was a third of the statement's time).
CREATE TRIGGER deployments_tally_ins AFTER INSERT ON deployments
    FOR EACH ROW WHEN ((NEW.status = 'active' OR NEW.offline_until IS NOT NULL)
        AND current_setting('nls.seat_tally', true) IS DISTINCT FROM 'inline')
    EXECUTE FUNCTION tally_seat_candidates();
DROP TRIGGER deployments_notify_facts_ins ON deployments;
CREATE TRIGGER deployments_notify_facts_ins AFTER INSERT OR DELETE ON deployments
    FOR EACH ROW WHEN (current_setting('nls.facts_notify', true) IS DISTINCT FROM 'deferred')
    EXECUTE FUNCTION notify_license_facts();
CREATE TRIGGER deployments_tally_upd AFTER UPDATE OF status, offline_until, license_id ON deployments
    FOR EACH ROW WHEN (OLD.license_id IS DISTINCT FROM NEW.license_id
        OR (OLD.status = 'active' OR OLD.offline_until IS NOT NULL)
            IS DISTINCT FROM (NEW.status = 'active' OR NEW.offline_until IS NOT NULL))
    EXECUTE FUNCTION tally_seat_candidates();
CREATE TRIGGER deployments_tally_del AFTER DELETE ON deployments
    FOR EACH ROW WHEN (OLD.status = 'active' OR OLD.offline_until IS NOT NULL)
    EXECUTE FUNCTION tally_seat_candidates();

-- +goose StatementBegin
CREATE FUNCTION acquire_seats(p_licenses uuid[], p_deployment_ids text[], p_limits integer[], p_count_from integer[],
    p_window_hours integer[], p_ids uuid[], p_fingerprints text[], p_hostnames text[], p_ips text[],
    p_app_versions text[], p_offline boolean[], p_nows timestamptz[], p_event_type text, p_event_data jsonb[],
    OUT ord integer, OUT outcome text, OUT in_use integer, OUT event_id uuid,
    OUT id uuid, OUT license_id uuid, OUT deployment_id text, OUT status text, OUT fingerprint text,
    OUT hostname text, OUT ip text, OUT app_version text, OUT offline boolean, OUT deactivated_at timestamptz,
    OUT deactivated_by text, OUT first_seen_at timestamptz, OUT last_seen_at timestamptz,
    OUT offline_until timestamptz, OUT fingerprint_components jsonb)
RETURNS SETOF record
-- The statement's plan is the same whatever the arrays hold; planning it
-- anew for each call cost more than running it.
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    IF (SELECT count(DISTINCT x) FROM unnest(p_licenses) x) <> cardinality(p_licenses) THEN
        RAISE EXCEPTION 'acquire_seats: one item per license' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('nls.facts_notify', 'deferred', true);
    PERFORM set_config('nls.seat_tally', 'inline', true);
    PERFORM 1 FROM licenses l WHERE l.id = ANY (p_licenses) ORDER BY l.id FOR UPDATE;
    PERFORM 1 FROM deployments d JOIN unnest(p_licenses, p_deployment_ids) AS i(lic, dep)
        ON d.license_id = i.lic AND d.deployment_id = i.dep
    ORDER BY d.id FOR UPDATE OF d;
    RETURN QUERY
    WITH items AS (
        SELECT x.lic, x.dep, nullif(x.lim, -1) AS lim, least(nullif(x.lim, -1), nullif(x.cfrom, -1)) AS cfrom,
            x.win, x.nid, x.fp, x.host, x.addr, x.ver, x.off, x.now, x.data, x.ord
        FROM unnest(p_licenses, p_deployment_ids, p_limits, p_count_from, p_window_hours, p_ids, p_fingerprints,
            p_hostnames, p_ips, p_app_versions, p_offline, p_nows, p_event_data) WITH ORDINALITY
            AS x(lic, dep, lim, cfrom, win, nid, fp, host, addr, ver, off, now, data, ord)
    ), counted AS (
        SELECT i.*, l.id AS lid, l.customer_id AS cust, cur.id AS cur_id, cur.status AS cur_status,
            -- counted only when the tally, less the item's own row, reaches the limit
            CASE WHEN l.id IS NOT NULL AND cur.status IS DISTINCT FROM 'deactivated' AND i.cfrom IS NOT NULL
                AND coalesce(t.candidates, 0)
                    - CASE WHEN cur.status = 'active' OR cur.offline_until IS NOT NULL THEN 1 ELSE 0 END >= i.cfrom
            THEN (SELECT count(*)::int FROM deployments o
                  WHERE o.license_id = i.lic AND o.deployment_id <> i.dep
                    AND deployment_holds_seat(o.status, o.last_seen_at, o.offline_until, i.win, i.now))
            END AS others
        FROM items i
        LEFT JOIN licenses l ON l.id = i.lic
        LEFT JOIN deployments cur ON cur.license_id = i.lic AND cur.deployment_id = i.dep
        LEFT JOIN license_seat_tallies t ON t.license_id = i.lic
    ), decided AS (
        SELECT c.*,
            CASE WHEN c.lid IS NULL THEN 'no_license'
                 WHEN c.cur_status = 'deactivated' THEN 'deactivated'
                 WHEN c.lim IS NOT NULL AND c.others >= c.lim THEN 'full'
                 ELSE 'held' END AS outcome
        FROM counted c
    ), up AS (
        INSERT INTO deployments AS t (id, license_id, deployment_id, status, fingerprint, hostname, ip, app_version,
            offline, first_seen_at, last_seen_at)
        SELECT d.nid, d.lic, d.dep, 'active', d.fp, d.host, d.addr, d.ver, d.off, d.now, d.now
        FROM decided d WHERE d.outcome = 'held' ORDER BY d.lic, d.dep
        ON CONFLICT (license_id, deployment_id) DO UPDATE SET
            status = 'active', deactivated_at = NULL, deactivated_by = NULL, fingerprint = excluded.fingerprint,
            hostname = excluded.hostname, ip = excluded.ip, app_version = excluded.app_version,
            offline = excluded.offline, last_seen_at = excluded.last_seen_at
        RETURNING t.*
    ), ev AS (
        INSERT INTO events (type, occurred_at, license_id, customer_id, deployment_id, data)
        SELECT p_event_type, d.now, d.lic, d.cust, u.id, d.data || jsonb_build_object('customerId', d.cust)
        FROM decided d JOIN up u ON u.license_id = d.lic AND u.deployment_id = d.dep
        WHERE d.cur_id IS NULL AND p_event_type IS NOT NULL
        ORDER BY d.ord
        RETURNING events.id AS eid, events.deployment_id AS edep
    ), tally AS (
        -- Only new rows become candidates here: a revived row was active
        -- already (a released one is answered deactivated, not revived).
        INSERT INTO license_seat_tallies AS t (license_id, candidates)
        SELECT d.lic, 1 FROM decided d JOIN up u ON u.license_id = d.lic AND u.deployment_id = d.dep
        WHERE d.cur_id IS NULL ORDER BY d.lic
        ON CONFLICT (license_id) DO UPDATE SET candidates = t.candidates + 1
    )
    SELECT d.ord::int, d.outcome,
        CASE d.outcome WHEN 'held' THEN d.others + 1 WHEN 'full' THEN d.others WHEN 'deactivated' THEN 0 END,
        ev.eid,
        coalesce(u.id, s.id), coalesce(u.license_id, s.license_id), coalesce(u.deployment_id, s.deployment_id),
        coalesce(u.status, s.status), coalesce(u.fingerprint, s.fingerprint), coalesce(u.hostname, s.hostname),
        coalesce(u.ip, s.ip), coalesce(u.app_version, s.app_version), coalesce(u.offline, s.offline),
        CASE WHEN u.id IS NULL THEN s.deactivated_at END, CASE WHEN u.id IS NULL THEN s.deactivated_by END,
        coalesce(u.first_seen_at, s.first_seen_at), coalesce(u.last_seen_at, s.last_seen_at),
        CASE WHEN u.id IS NULL THEN s.offline_until ELSE u.offline_until END,
        CASE WHEN u.id IS NULL THEN s.fingerprint_components ELSE u.fingerprint_components END
    FROM decided d
    LEFT JOIN up u ON u.license_id = d.lic AND u.deployment_id = d.dep
    LEFT JOIN ev ON ev.edep = u.id
    LEFT JOIN deployments s ON d.outcome = 'deactivated' AND s.id = d.cur_id
    ORDER BY d.ord;
    PERFORM set_config('nls.facts_notify', '', true);
    PERFORM set_config('nls.seat_tally', '', true);
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER deployments_notify_facts_ins ON deployments;
CREATE TRIGGER deployments_notify_facts_ins AFTER INSERT OR DELETE ON deployments
    FOR EACH ROW EXECUTE FUNCTION notify_license_facts();
DROP FUNCTION acquire_seats;
DROP TRIGGER deployments_tally_del ON deployments;
DROP TRIGGER deployments_tally_upd ON deployments;
DROP TRIGGER deployments_tally_ins ON deployments;
DROP FUNCTION tally_seat_candidates;
DROP TABLE license_seat_tallies;
