-- Outbound webhooks.
--
-- webhook_endpoints: the vendor's receivers. event_types lists the event
-- types an endpoint wants ('*' for all). The signing secret is stored sealed
-- (licensing.Sealer, bound to the endpoint id); after a rotation the previous
-- one keeps signing until previous_secret_until. failing_since is the first
-- failed attempt of the current run of failures (null after a success); an
-- endpoint failing for long enough is disabled with a reason.
--
-- webhook_deliveries: one row per event and endpoint (and per ping, resend
-- or replay), made in the transaction that records the event, with its state
-- as the delivery log shows it. A delivery whose endpoint is deleted goes
-- with it; event_id is null for a ping.
--
-- webhook_attempts: every attempt of a delivery, numbered as the job engine
-- numbers them, with the answer (or the error) and when the next one is due.

-- +goose Up
CREATE TABLE webhook_endpoints (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    url                    text NOT NULL CHECK (length(url) <= 2000 AND url ~ '^https?://'),
    description            text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    event_types            text[] NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 100),
    enabled                boolean NOT NULL DEFAULT true,
    disabled_reason        text NOT NULL DEFAULT '' CHECK (length(disabled_reason) <= 500),
    secret_sealed          bytea NOT NULL,
    previous_secret_sealed bytea,
    previous_secret_until  timestamptz,
    failing_since          timestamptz,
    consecutive_failures   integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_created_idx ON webhook_endpoints (created_at DESC, id DESC);

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         uuid REFERENCES events (id) ON DELETE CASCADE,
    event_type       text NOT NULL CHECK (length(event_type) <= 100),
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'retrying', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    response_status  integer,
    latency_ms       integer,
    response_excerpt text NOT NULL DEFAULT '' CHECK (length(response_excerpt) <= 1000),
    last_error       text NOT NULL DEFAULT '' CHECK (length(last_error) <= 1000),
    next_attempt_at  timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    delivered_at     timestamptz
);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_status_idx ON webhook_deliveries (endpoint_id, status, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id, endpoint_id) WHERE event_id IS NOT NULL;

CREATE TABLE webhook_attempts (
    delivery_id      uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt          integer NOT NULL CHECK (attempt > 0),
    attempted_at     timestamptz NOT NULL,
    response_status  integer,
    latency_ms       integer NOT NULL CHECK (latency_ms >= 0),
    response_excerpt text NOT NULL DEFAULT '' CHECK (length(response_excerpt) <= 1000),
    error            text NOT NULL DEFAULT '' CHECK (length(error) <= 1000),
    next_attempt_at  timestamptz,
    PRIMARY KEY (delivery_id, attempt)
);

-- Staff hear about an endpoint disabled for failing.
ALTER TABLE notifications DROP CONSTRAINT notifications_category_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_category_check
    CHECK (category IN ('renewal', 'billing', 'usage', 'deployments', 'digest', 'webhooks'));

ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['admin',
    'licenses:read', 'licenses:write', 'customers:read', 'customers:write', 'usage:read', 'audit:read',
    'releases:read', 'releases:write', 'registry:push', 'webhooks:read', 'webhooks:write']::text[]);

-- +goose Down
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['admin',
    'licenses:read', 'licenses:write', 'customers:read', 'customers:write', 'usage:read', 'audit:read',
    'releases:read', 'releases:write', 'registry:push']::text[]);
ALTER TABLE notifications DROP CONSTRAINT notifications_category_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_category_check
    CHECK (category IN ('renewal', 'billing', 'usage', 'deployments', 'digest'));
DROP TABLE webhook_attempts, webhook_deliveries, webhook_endpoints;
