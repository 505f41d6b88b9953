-- The whole NLS domain: customers and their users, plans, licenses and their
-- keys, deployments (seats), usage, validation telemetry, the hash-chained
-- audit log, API keys, signing key records and Stripe events. Constraints
-- here are the last line of defence: the database itself refuses rows that
-- would make the domain inconsistent.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE customers (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name               text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    email              citext NOT NULL CHECK (length(email) <= 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    company            text NOT NULL DEFAULT '' CHECK (length(company) <= 200),
    metadata           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    stripe_customer_id text UNIQUE CHECK (stripe_customer_id <> ''),
    archived_at        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_created_idx ON customers (created_at DESC, id DESC);
CREATE INDEX customers_search_idx ON customers USING gin ((name || ' ' || email::text || ' ' || company) gin_trgm_ops);

-- Users are the vendor's staff (role admin, no customer) or a customer's own
-- people (role customer, exactly one customer).
CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         citext NOT NULL UNIQUE CHECK (length(email) <= 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    name          text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    role          text NOT NULL CHECK (role IN ('admin', 'customer')),
    customer_id   uuid REFERENCES customers (id) ON DELETE RESTRICT,
    password_hash text CHECK (password_hash <> ''),
    disabled_at   timestamptz,
    last_login_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'admin') = (customer_id IS NULL))
);
CREATE INDEX users_customer_idx ON users (customer_id) WHERE customer_id IS NOT NULL;

-- Single-use, expiring links to set a password; only the token's hash is kept.
CREATE TABLE user_invitations (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (expires_at > created_at)
);
CREATE INDEX user_invitations_user_idx ON user_invitations (user_id);

CREATE TABLE plans (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code                   text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name                   text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    description            text NOT NULL DEFAULT '',
    features               text[] NOT NULL DEFAULT '{}' CHECK (array_position(features, NULL) IS NULL),
    limits                 jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(limits) = 'object'),
    max_deployments        integer CHECK (max_deployments >= 1),
    duration_days          integer CHECK (duration_days >= 1),
    grace_days             integer NOT NULL DEFAULT 7 CHECK (grace_days BETWEEN 0 AND 365),
    offline_days           integer NOT NULL DEFAULT 30 CHECK (offline_days BETWEEN 1 AND 365),
    heartbeat_window_hours integer NOT NULL DEFAULT 72 CHECK (heartbeat_window_hours BETWEEN 1 AND 8760),
    dunning_days           integer NOT NULL DEFAULT 14 CHECK (dunning_days BETWEEN 0 AND 365),
    quantity_sets          text CHECK (quantity_sets IN ('deployments', 'users')),
    archived_at            timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

-- A Stripe price maps to exactly one plan.
CREATE TABLE plan_stripe_prices (
    price_id   text PRIMARY KEY CHECK (price_id <> ''),
    plan_id    uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX plan_stripe_prices_plan_idx ON plan_stripe_prices (plan_id);

-- A license holds stored facts only; its effective status (active, grace,
-- past_due, expired, ...) is computed from them and the clock by licensing/.
CREATE TABLE licenses (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id            uuid NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    plan_id                uuid NOT NULL REFERENCES plans (id) ON DELETE RESTRICT,
    status                 text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'revoked')),
    suspended_reason       text,
    suspension_source      text CHECK (suspension_source IN ('admin', 'payment', 'dispute')),
    features               text[] NOT NULL DEFAULT '{}' CHECK (array_position(features, NULL) IS NULL),
    limits                 jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(limits) = 'object'),
    max_deployments        integer CHECK (max_deployments >= 1),
    starts_at              timestamptz NOT NULL,
    expires_at             timestamptz,
    grace_days             integer NOT NULL CHECK (grace_days BETWEEN 0 AND 365),
    offline_days           integer NOT NULL CHECK (offline_days BETWEEN 1 AND 365),
    heartbeat_window_hours integer NOT NULL CHECK (heartbeat_window_hours BETWEEN 1 AND 8760),
    dunning_days           integer NOT NULL CHECK (dunning_days BETWEEN 0 AND 365),
    payment_state          text NOT NULL DEFAULT 'ok' CHECK (payment_state IN ('ok', 'past_due')),
    past_due_since         timestamptz,
    billing_period_start   timestamptz,
    billing_period_end     timestamptz,
    stripe_subscription_id text UNIQUE CHECK (stripe_subscription_id <> ''),
    stripe_price_id        text,
    stripe_quantity        integer CHECK (stripe_quantity >= 0),
    stripe_status          text,
    stripe_state_at        timestamptz,
    notes                  text NOT NULL DEFAULT '' CHECK (length(notes) <= 10000),
    revoked_at             timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CHECK (expires_at IS NULL OR expires_at > starts_at),
    CHECK ((status = 'suspended') = (suspended_reason IS NOT NULL AND suspension_source IS NOT NULL)),
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL)),
    CHECK ((payment_state = 'past_due') = (past_due_since IS NOT NULL)),
    CHECK (billing_period_end IS NULL OR billing_period_start IS NULL OR billing_period_end > billing_period_start)
);
CREATE INDEX licenses_customer_idx ON licenses (customer_id, created_at DESC, id DESC);
CREATE INDEX licenses_plan_idx ON licenses (plan_id);
CREATE INDEX licenses_created_idx ON licenses (created_at DESC, id DESC);
CREATE INDEX licenses_expires_idx ON licenses (expires_at) WHERE expires_at IS NOT NULL;

-- Every key ever issued for a license; exactly one is current. Keys are bearer
-- credentials: the SHA-256 is the lookup, the sealed copy (AES-GCM) exists
-- only for audited re-display.
CREATE TABLE license_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    license_id  uuid NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    key_hash    bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    key_prefix  text NOT NULL CHECK (length(key_prefix) BETWEEN 1 AND 16),
    key_suffix  text NOT NULL CHECK (key_suffix ~ '^[0-9a-f]{8}$'),
    key_sealed  bytea NOT NULL CHECK (octet_length(key_sealed) > 0),
    kid         text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    replaced_at timestamptz
);
CREATE UNIQUE INDEX license_keys_one_current ON license_keys (license_id) WHERE replaced_at IS NULL;
CREATE INDEX license_keys_suffix_idx ON license_keys (key_suffix);

-- A deployment is one installation, named by the client's own id. It holds a
-- seat while active and seen within its license's heartbeat window.
CREATE TABLE deployments (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    license_id      uuid NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    deployment_id   text NOT NULL CHECK (length(deployment_id) BETWEEN 1 AND 128),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deactivated')),
    fingerprint     text NOT NULL DEFAULT '' CHECK (length(fingerprint) <= 256),
    hostname        text NOT NULL DEFAULT '' CHECK (length(hostname) <= 256),
    ip              text NOT NULL DEFAULT '' CHECK (length(ip) <= 64),
    app_version     text NOT NULL DEFAULT '' CHECK (length(app_version) <= 64),
    offline         boolean NOT NULL DEFAULT false,
    deactivated_at  timestamptz,
    deactivated_by  text CHECK (deactivated_by IN ('admin', 'customer', 'client', 'system')),
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (license_id, deployment_id),
    CHECK ((status = 'deactivated') = (deactivated_at IS NOT NULL)),
    CHECK (last_seen_at >= first_seen_at)
);
CREATE INDEX deployments_seats_idx ON deployments (license_id, last_seen_at) WHERE status = 'active';

-- Usage reports as the client sent them; the (license, report id) key makes a
-- retried report count once whatever happened in between.
CREATE TABLE usage_reports (
    license_id    uuid NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    report_id     uuid NOT NULL,
    deployment_id uuid REFERENCES deployments (id) ON DELETE SET NULL,
    period_start  timestamptz NOT NULL,
    period_end    timestamptz NOT NULL,
    metrics       jsonb NOT NULL CHECK (jsonb_typeof(metrics) = 'object'),
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (license_id, report_id),
    CHECK (period_end >= period_start)
);
CREATE INDEX usage_reports_received_idx ON usage_reports (received_at);

-- Per-period totals (the billing or calendar period), against which limits
-- are checked: counters summed, gauges the peak.
CREATE TABLE usage_periods (
    license_id   uuid NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    metric       text NOT NULL CHECK (metric ~ '^[a-zA-Z][a-zA-Z0-9_.]{0,63}$'),
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('counter', 'gauge')),
    value        bigint NOT NULL CHECK (value >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (license_id, metric, period_start),
    CHECK (period_end > period_start)
);

-- Daily rollup for charts and analytics.
CREATE TABLE usage_daily (
    license_id  uuid NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    metric      text NOT NULL CHECK (metric ~ '^[a-zA-Z][a-zA-Z0-9_.]{0,63}$'),
    day         date NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('counter', 'gauge')),
    value       bigint NOT NULL CHECK (value >= 0),
    PRIMARY KEY (license_id, metric, day)
);
CREATE INDEX usage_daily_customer_idx ON usage_daily (customer_id, metric, day);
CREATE INDEX usage_daily_metric_idx ON usage_daily (metric, day);

-- Validation answers counted per license, code and hour, flushed in batches.
CREATE TABLE validation_stats (
    license_id uuid REFERENCES licenses (id) ON DELETE CASCADE,
    hour       timestamptz NOT NULL CHECK (date_trunc('hour', hour) = hour),
    code       text NOT NULL CHECK (code ~ '^[A-Z_]{1,40}$'),
    count      bigint NOT NULL CHECK (count > 0),
    UNIQUE NULLS NOT DISTINCT (license_id, hour, code)
);
CREATE INDEX validation_stats_hour_idx ON validation_stats (hour);

-- Append-only and hash-chained. A trigger assigns each row its place in the
-- chain (seq) and its hashes under a transaction-scoped lock, so the chain
-- follows commit order even when transactions interleave, and no caller can
-- forget to chain a row. hash = SHA-256(prev_hash || canonical content).
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq         bigint NOT NULL UNIQUE,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor_type  text NOT NULL CHECK (actor_type IN ('admin', 'customer_user', 'api_key', 'stripe', 'system', 'client')),
    actor_id    text NOT NULL DEFAULT '',
    actor_label text NOT NULL DEFAULT '',
    action      text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_.]+$'),
    entity_type text NOT NULL CHECK (entity_type <> ''),
    entity_id   text NOT NULL DEFAULT '',
    customer_id uuid,
    before      jsonb,
    after       jsonb,
    ip          text NOT NULL DEFAULT '',
    user_agent  text NOT NULL DEFAULT '',
    request_id  text NOT NULL DEFAULT '',
    prev_hash   bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash        bytea NOT NULL UNIQUE CHECK (octet_length(hash) = 32)
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id, id DESC);
CREATE INDEX audit_log_customer_idx ON audit_log (customer_id, id DESC) WHERE customer_id IS NOT NULL;
CREATE INDEX audit_log_occurred_idx ON audit_log (occurred_at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_type, actor_id, id DESC);

-- The canonical content of an audit row: a JSON array rendered by jsonb,
-- whose text form does not depend on session settings (times as epoch µs).
-- +goose StatementBegin
CREATE FUNCTION audit_row_hash(prev bytea, seq bigint, occurred_at timestamptz, actor_type text,
    actor_id text, actor_label text, action text, entity_type text, entity_id text,
    customer_id uuid, before jsonb, after jsonb, ip text, user_agent text, request_id text)
RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(prev || convert_to(jsonb_build_array(
        seq, (extract(epoch FROM occurred_at) * 1000000)::bigint, actor_type, actor_id, actor_label,
        action, entity_type, entity_id, customer_id, before, after, ip, user_agent, request_id)::text, 'UTF8'))
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_seq  bigint;
    last_hash bytea;
BEGIN
    -- Held until commit: the next writer sees this row as its predecessor.
    PERFORM pg_advisory_xact_lock(7231150101);
    SELECT a.seq, a.hash INTO last_seq, last_hash FROM audit_log a ORDER BY a.seq DESC LIMIT 1;
    NEW.seq := coalesce(last_seq, 0) + 1;
    NEW.occurred_at := date_trunc('microseconds', NEW.occurred_at);
    NEW.prev_hash := coalesce(last_hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    NEW.hash := audit_row_hash(NEW.prev_hash, NEW.seq, NEW.occurred_at, NEW.actor_type, NEW.actor_id,
        NEW.actor_label, NEW.action, NEW.entity_type, NEW.entity_id, NEW.customer_id, NEW.before,
        NEW.after, NEW.ip, NEW.user_agent, NEW.request_id);
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

-- API keys: shown once, kept as a SHA-256 (they are high-entropy, so a slow
-- hash buys nothing), with scopes.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    prefix       text NOT NULL UNIQUE CHECK (length(prefix) BETWEEN 8 AND 32),
    secret_hash  bytea NOT NULL UNIQUE CHECK (octet_length(secret_hash) = 32),
    scopes       text[] NOT NULL CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['admin', 'licenses:read', 'licenses:write', 'customers:read', 'customers:write', 'usage:read', 'audit:read']::text[]),
    created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz
);

-- The signing keys themselves live as PEM files; this is their public record
-- (for the portal and the audit log). Exactly one is current.
CREATE TABLE signing_keys (
    kid         text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{1,64}$'),
    alg         text NOT NULL CHECK (alg IN ('EdDSA', 'RS256', 'PS256', 'HS256')),
    fingerprint text NOT NULL,
    is_current  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (is_current) WHERE is_current;

-- Every Stripe event received (after its signature checked), processed once.
CREATE TABLE stripe_events (
    id                text PRIMARY KEY CHECK (id ~ '^evt_'),
    type              text NOT NULL,
    api_version       text NOT NULL DEFAULT '',
    livemode          boolean NOT NULL DEFAULT false,
    stripe_created_at timestamptz NOT NULL,
    object_id         text NOT NULL DEFAULT '',
    payload           jsonb NOT NULL,
    status            text NOT NULL CHECK (status IN ('processed', 'ignored', 'needs_attention', 'failed')),
    error             text NOT NULL DEFAULT '',
    attempts          integer NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    received_at       timestamptz NOT NULL DEFAULT now(),
    processed_at      timestamptz
);
CREATE INDEX stripe_events_status_idx ON stripe_events (status, received_at DESC);
CREATE INDEX stripe_events_received_idx ON stripe_events (received_at DESC, id);

-- +goose Down
DROP TABLE stripe_events, signing_keys, api_keys, audit_log, validation_stats, usage_daily,
    usage_periods, usage_reports, deployments, license_keys, licenses, plan_stripe_prices, plans,
    user_invitations, users, customers;
DROP FUNCTION audit_log_chain, audit_row_hash;
