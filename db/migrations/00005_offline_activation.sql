-- Offline activation: an air-gapped installation runs from a signed offline
-- license file its customer downloads from the portal. It never heartbeats,
-- so it holds its seat until that file's window ends (offline_until), even
-- when released: the file keeps working where the server cannot reach it.
--
-- deployment_holds_seat is the one seat rule, used by every query that
-- counts seats; db.HoldsSeat is the same rule in Go, and a test keeps the
-- two in agreement. Stable rather than immutable: its body subtracts an
-- interval from a timestamptz (a stable operator), and a SQL function is
-- inlined into the queries that call it only when it claims no more than
-- its body does.

-- +goose Up
ALTER TABLE deployments ADD COLUMN offline_until timestamptz;
CREATE INDEX deployments_offline_idx ON deployments (license_id, offline_until) WHERE offline_until IS NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION deployment_holds_seat(status text, last_seen_at timestamptz, offline_until timestamptz,
    heartbeat_window_hours integer, at timestamptz)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT (status = 'active' AND last_seen_at > at - make_interval(hours => heartbeat_window_hours))
        OR (offline_until IS NOT NULL AND offline_until > at)
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION deployment_holds_seat;
DROP INDEX deployments_offline_idx;
ALTER TABLE deployments DROP COLUMN offline_until;
