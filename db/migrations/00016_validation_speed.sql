-- What lets a validation skip the database: HOT last-seen writes, and
-- notifications that invalidate processes' cached license facts.
--
-- Last-seen writes that PostgreSQL can do as HOT updates: no index holds
-- deployments.last_seen_at any more, so a heartbeat's write (db.LastSeen's
-- batched UPDATE) rewrites no index entry and leaves room on the page.
--
-- The seat index keeps the license only (a license's few active rows are
-- read and the seat rule applied to each). The dashboard's freshness counts
-- read a coarser copy, the hour of the last sighting (seen_hour, a stored
-- generated column): it changes once an hour at most, and an update that
-- leaves it as it was is still HOT. Counts by a time T take the hours
-- before T's from the index and look at the rows of T's own hour only.
--
-- Every change to what a validation reads — a license, its keys, its plan,
-- its deployments other than their last-seen time — notifies channel
-- nls_license_facts with the license's id ('*' for a plan: every license),
-- at commit, so that every process drops its cached facts (db.FactsCache)
-- within moments. A last-seen write notifies nothing: caches read those
-- times again when their entries expire.

-- +goose Up
ALTER TABLE deployments SET (fillfactor = 85);
ALTER TABLE deployments ADD COLUMN seen_hour timestamptz NOT NULL
    GENERATED ALWAYS AS (date_bin('1 hour', last_seen_at, '2000-01-01 00:00:00+00')) STORED;
DROP INDEX deployments_seats_idx;
CREATE INDEX deployments_seats_idx ON deployments (license_id) WHERE status = 'active';
DROP INDEX deployments_active_seen_idx;
CREATE INDEX deployments_active_seen_idx ON deployments (seen_hour) WHERE status = 'active';

-- The hour bin seen_hour uses, for queries that compare with it.
-- +goose StatementBegin
CREATE FUNCTION seen_hour_of(t timestamptz) RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_bin('1 hour', t, '2000-01-01 00:00:00+00')
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION notify_license_facts() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER licenses_notify_facts AFTER UPDATE OR DELETE ON licenses
    FOR EACH ROW EXECUTE FUNCTION notify_license_facts();
CREATE TRIGGER license_keys_notify_facts AFTER INSERT OR UPDATE OR DELETE ON license_keys
    FOR EACH ROW EXECUTE FUNCTION notify_license_facts();
CREATE TRIGGER plans_notify_facts AFTER UPDATE OR DELETE ON plans
    FOR EACH STATEMENT EXECUTE FUNCTION notify_license_facts();
CREATE TRIGGER deployments_notify_facts_ins AFTER INSERT OR DELETE ON deployments
    FOR EACH ROW EXECUTE FUNCTION notify_license_facts();
CREATE TRIGGER deployments_notify_facts_upd AFTER UPDATE ON deployments
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.offline_until IS DISTINCT FROM NEW.offline_until
        OR OLD.fingerprint IS DISTINCT FROM NEW.fingerprint OR OLD.hostname IS DISTINCT FROM NEW.hostname
        OR OLD.ip IS DISTINCT FROM NEW.ip OR OLD.app_version IS DISTINCT FROM NEW.app_version
        OR OLD.offline IS DISTINCT FROM NEW.offline OR OLD.license_id IS DISTINCT FROM NEW.license_id
        OR OLD.deployment_id IS DISTINCT FROM NEW.deployment_id OR OLD.first_seen_at IS DISTINCT FROM NEW.first_seen_at)
    EXECUTE FUNCTION notify_license_facts();

-- +goose Down
DROP TRIGGER deployments_notify_facts_upd ON deployments;
DROP TRIGGER deployments_notify_facts_ins ON deployments;
DROP TRIGGER plans_notify_facts ON plans;
DROP TRIGGER license_keys_notify_facts ON license_keys;
DROP TRIGGER licenses_notify_facts ON licenses;
DROP FUNCTION notify_license_facts;
DROP FUNCTION seen_hour_of;
DROP INDEX deployments_active_seen_idx;
CREATE INDEX deployments_active_seen_idx ON deployments (last_seen_at) WHERE status = 'active';
DROP INDEX deployments_seats_idx;
CREATE INDEX deployments_seats_idx ON deployments (license_id, last_seen_at) WHERE status = 'active';
ALTER TABLE deployments DROP COLUMN seen_hour;
ALTER TABLE deployments RESET (fillfactor);
