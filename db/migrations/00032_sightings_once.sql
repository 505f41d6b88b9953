-- Validation sightings written once per process and day (issue 22).
--
-- A sighting — a deployment seen on a day with a fingerprint from a
-- network — was added to at every flush that saw it again: one row write
-- per heartbeat (96 a day at the clients' 15-minute interval), a third of a
-- PostgreSQL core under make bench's production mix. The insights detectors
-- read only which sightings exist, never how often. So a process now writes
-- each sighting once a day (INSERT … ON CONFLICT DO NOTHING, which writes
-- nothing when another process or an earlier run wrote it) and remembers
-- it, and count is no longer kept: new rows hold 1. A process of the
-- previous release still adds to it during a rolling deploy; a later
-- release drops the column.

-- +goose Up
ALTER TABLE validation_sightings ALTER COLUMN count SET DEFAULT 1;
COMMENT ON COLUMN validation_sightings.count IS
    'No longer kept (migration 00032): 1 in rows written since; the validations seen before it.';

-- +goose Down
COMMENT ON COLUMN validation_sightings.count IS NULL;
ALTER TABLE validation_sightings ALTER COLUMN count DROP DEFAULT;
