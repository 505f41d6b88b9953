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

-- +goose Down
DROP FUNCTION seen_hour_of;
DROP INDEX deployments_active_seen_idx;
CREATE INDEX deployments_active_seen_idx ON deployments (last_seen_at) WHERE status = 'active';
DROP INDEX deployments_seats_idx;
CREATE INDEX deployments_seats_idx ON deployments (license_id, last_seen_at) WHERE status = 'active';
ALTER TABLE deployments DROP COLUMN seen_hour;
ALTER TABLE deployments RESET (fillfactor);
