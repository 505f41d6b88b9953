-- What keeps the admin portal's license list, search and dashboard fast
-- with hundreds of thousands of licenses and deployments: trigram search
-- over license notes (customers already have theirs); partial indexes from
-- which the dashboard counts licenses by effective status and deployments
-- by freshness as index ranges, and the list finds licenses in a rare
-- state, instead of evaluating the rules row by row.
--
-- pg_trgm ships with PostgreSQL's contrib package; 00001 already needs it.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- License search: notes matched with ILIKE '%q%'.
CREATE INDEX licenses_notes_search_idx ON licenses USING gin (notes gin_trgm_ops);

-- When a license's grace period ends: expiry plus grace days, as calendar
-- days in UTC (the time zone every portal session runs in, where it equals
-- license_effective_status's expires_at + make_interval(days => grace_days)).
-- Immutable, so that it can be indexed.
-- +goose StatementBegin
CREATE FUNCTION license_grace_ends_at(expires_at timestamptz, grace_days integer)
RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((expires_at AT TIME ZONE 'UTC') + make_interval(days => grace_days)) AT TIME ZONE 'UTC'
$$;
-- +goose StatementEnd

-- license_effective_status (00002) adds days to a timestamptz, which
-- depends on the session time zone: the function is stable, not immutable.
-- Marked so, the planner inlines it into the queries that filter by it
-- (the license list by status) instead of calling it row by row, about
-- ten times as fast.
ALTER FUNCTION license_effective_status(text, timestamptz, timestamptz, integer, text, timestamptz, integer, timestamptz)
    STABLE;

-- Licenses by effective status (see CountLicensesByEffectiveStatus, and
-- ListLicenses filtered by status). Those stored revoked or suspended, those
-- past due and those not yet valid are few:
CREATE INDEX licenses_held_idx ON licenses (status) WHERE status <> 'active';
CREATE INDEX licenses_past_due_idx ON licenses (past_due_since) WHERE payment_state = 'past_due';
CREATE INDEX licenses_active_starts_idx ON licenses (starts_at) WHERE status = 'active';
-- The rest ("standing": status active, payment ok) are not yet valid, in
-- grace, expired or active according to three instants alone:
CREATE INDEX licenses_standing_expires_idx ON licenses (expires_at)
    WHERE status = 'active' AND payment_state = 'ok';
-- INCLUDE lets the count read the index alone: the planner wants every
-- column of the expression at hand for an index-only scan.
CREATE INDEX licenses_standing_grace_end_idx ON licenses (license_grace_ends_at(expires_at, grace_days))
    INCLUDE (expires_at, grace_days)
    WHERE status = 'active' AND payment_state = 'ok' AND expires_at IS NOT NULL;

-- Deployments by freshness (see CountDeploymentsByFreshness): the shortest
-- and longest heartbeat window in use, and deployments by when last seen.
CREATE INDEX licenses_heartbeat_window_idx ON licenses (heartbeat_window_hours);
CREATE INDEX deployments_active_seen_idx ON deployments (last_seen_at) WHERE status = 'active';
CREATE INDEX deployments_released_idx ON deployments (deactivated_at) WHERE status = 'deactivated';

-- +goose Down
DROP INDEX deployments_released_idx, deployments_active_seen_idx, licenses_heartbeat_window_idx,
    licenses_standing_grace_end_idx, licenses_standing_expires_idx, licenses_active_starts_idx,
    licenses_past_due_idx, licenses_held_idx, licenses_notes_search_idx;
DROP FUNCTION license_grace_ends_at;
ALTER FUNCTION license_effective_status(text, timestamptz, timestamptz, integer, text, timestamptz, integer, timestamptz)
    IMMUTABLE;
