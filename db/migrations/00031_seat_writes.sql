-- Less written per seat taken (issue 22): two of its thirteen WAL records.
--
-- 1. acquire_seats stores a new deployment with a plain INSERT, and a stored
--    one taking its seat again with an UPDATE of the row it locked, instead
--    of INSERT … ON CONFLICT for both. Every writer of deployments locks the
--    license first (seat acquisition of this release and the previous one,
--    offline activation), and the statement runs after those locks, so a
--    row its snapshot does not hold cannot appear before it commits. ON
--    CONFLICT paid a speculative insertion and its confirmation for every
--    row, to guard against what cannot happen. Should the unique key still
--    refuse a row, the statement fails whole and db.Store runs it again
--    (its new snapshot then sees the row). Answers, events and tallies are
--    unchanged.
-- 2. deployments_seats_idx (license_id WHERE status = 'active') is dropped.
--    Seats are counted by deployment_holds_seat, an OR of the active rule
--    and the offline one that this index cannot serve alone: PostgreSQL
--    counts through (license_id, deployment_id) instead, and make bench
--    recorded no scan of this index. It took an entry for every new
--    deployment and every heartbeat update that moved its row.
--
-- Measured with pgbench on one connection, batches of 27 new deployments
-- over 10,000 licenses (fsync on): WAL records a seat 13.1 → 11.1, shared
-- buffers touched a seat 50 → 43.

-- +goose Up
DROP INDEX deployments_seats_idx;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION public.acquire_seats(p_licenses uuid[], p_deployment_ids text[], p_limits integer[], p_count_from integer[], p_window_hours integer[], p_ids uuid[], p_fingerprints text[], p_hostnames text[], p_ips text[], p_app_versions text[], p_offline boolean[], p_nows timestamp with time zone[], p_event_type text, p_event_data jsonb[], OUT ord integer, OUT outcome text, OUT in_use integer, OUT event_id uuid, OUT id uuid, OUT license_id uuid, OUT deployment_id text, OUT status text, OUT fingerprint text, OUT hostname text, OUT ip text, OUT app_version text, OUT offline boolean, OUT deactivated_at timestamp with time zone, OUT deactivated_by text, OUT first_seen_at timestamp with time zone, OUT last_seen_at timestamp with time zone, OUT offline_until timestamp with time zone, OUT fingerprint_components jsonb)
 RETURNS SETOF record
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
#variable_conflict use_column
BEGIN
    IF (SELECT count(DISTINCT x) FROM unnest(p_licenses) x) <> cardinality(p_licenses) THEN
        RAISE EXCEPTION 'acquire_seats: one item per license' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('nls.facts_notify', 'deferred', true);
    PERFORM set_config('nls.seat_tally', 'inline', true);
    PERFORM 1 FROM licenses l WHERE l.id = ANY (p_licenses) ORDER BY l.id FOR NO KEY UPDATE;
    PERFORM 1 FROM deployments d JOIN unnest(p_licenses, p_deployment_ids) AS i(lic, dep)
        ON d.license_id = i.lic AND d.deployment_id = i.dep
    ORDER BY d.id FOR NO KEY UPDATE OF d;
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
    ), ins AS (
        -- New rows by a plain INSERT: every writer of deployments locks
        -- the license first (seat acquisition, offline activation), so no
        -- row of these licenses can have appeared since the snapshot.
        INSERT INTO deployments AS t (id, license_id, deployment_id, status, fingerprint, hostname, ip, app_version,
            offline, first_seen_at, last_seen_at)
        SELECT d.nid, d.lic, d.dep, 'active', d.fp, d.host, d.addr, d.ver, d.off, d.now, d.now
        FROM decided d WHERE d.outcome = 'held' AND d.cur_id IS NULL ORDER BY d.lic, d.dep
        RETURNING t.*
    ), upd AS (
        -- A stored deployment taking its seat again (locked above).
        UPDATE deployments AS t SET status = 'active', deactivated_at = NULL, deactivated_by = NULL,
            fingerprint = d.fp, hostname = d.host, ip = d.addr, app_version = d.ver, offline = d.off,
            last_seen_at = d.now
        FROM decided d WHERE d.outcome = 'held' AND t.id = d.cur_id
        RETURNING t.*
    ), up AS (
        SELECT * FROM ins UNION ALL SELECT * FROM upd
    ), ev AS (
        INSERT INTO events (type, occurred_at, license_id, customer_id, deployment_id, data)
        SELECT p_event_type, d.now, d.lic, d.cust, u.id, d.data || jsonb_build_object('customerId', d.cust)
        FROM decided d JOIN ins u ON u.license_id = d.lic AND u.deployment_id = d.dep
        WHERE p_event_type IS NOT NULL
        ORDER BY d.ord
        RETURNING events.id AS eid, events.deployment_id AS edep
    ), tally AS (
        -- Only new rows become candidates here: a revived row was active
        -- already (a released one is answered deactivated, not revived).
        INSERT INTO license_seat_tallies AS t (license_id, candidates)
        SELECT d.lic, 1 FROM decided d JOIN ins u ON u.license_id = d.lic AND u.deployment_id = d.dep
        ORDER BY d.lic
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
$function$;
-- +goose StatementEnd

-- +goose Down
CREATE INDEX deployments_seats_idx ON deployments (license_id) WHERE status = 'active';
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION public.acquire_seats(p_licenses uuid[], p_deployment_ids text[], p_limits integer[], p_count_from integer[], p_window_hours integer[], p_ids uuid[], p_fingerprints text[], p_hostnames text[], p_ips text[], p_app_versions text[], p_offline boolean[], p_nows timestamp with time zone[], p_event_type text, p_event_data jsonb[], OUT ord integer, OUT outcome text, OUT in_use integer, OUT event_id uuid, OUT id uuid, OUT license_id uuid, OUT deployment_id text, OUT status text, OUT fingerprint text, OUT hostname text, OUT ip text, OUT app_version text, OUT offline boolean, OUT deactivated_at timestamp with time zone, OUT deactivated_by text, OUT first_seen_at timestamp with time zone, OUT last_seen_at timestamp with time zone, OUT offline_until timestamp with time zone, OUT fingerprint_components jsonb)
 RETURNS SETOF record
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
#variable_conflict use_column
BEGIN
    IF (SELECT count(DISTINCT x) FROM unnest(p_licenses) x) <> cardinality(p_licenses) THEN
        RAISE EXCEPTION 'acquire_seats: one item per license' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('nls.facts_notify', 'deferred', true);
    PERFORM set_config('nls.seat_tally', 'inline', true);
    PERFORM 1 FROM licenses l WHERE l.id = ANY (p_licenses) ORDER BY l.id FOR NO KEY UPDATE;
    PERFORM 1 FROM deployments d JOIN unnest(p_licenses, p_deployment_ids) AS i(lic, dep)
        ON d.license_id = i.lic AND d.deployment_id = i.dep
    ORDER BY d.id FOR NO KEY UPDATE OF d;
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
$function$;
-- +goose StatementEnd
