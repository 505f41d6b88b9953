-- Room on the pages of the two rows every heartbeat rewrites: a
-- deployment's last-seen time (db.LastSeen's flush) and its sighting of the
-- day (validation_sightings' count, db.ValidationStats' flush). A flush
-- updates thousands of rows in one statement, several on a page, and its
-- own dead versions cannot be pruned before it commits: an update that
-- finds no room on its row's page moves the row, writing an entry in every
-- index, instead of being HOT. make bench's production mix (each flush
-- about 40,000 rows, a fifth of the deployments):
--   deployments at fillfactor 85 (migration 00016): 14 % of the updates
--   HOT, 1,055 ms a flush; at 70: 33 %, 767 ms;
--   validation_sightings at 100: no update HOT, 502 ms a flush; at 70:
--   45 %, 326 ms.
-- Pages written from now on keep the room; existing ones gain it as their
-- rows move. The tables take up to a fifth more space.

-- +goose Up
ALTER TABLE deployments SET (fillfactor = 70);
ALTER TABLE validation_sightings SET (fillfactor = 70);

-- +goose Down
ALTER TABLE validation_sightings RESET (fillfactor);
ALTER TABLE deployments SET (fillfactor = 85);
