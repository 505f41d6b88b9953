-- Insights: findings drawn from the rollups and validation records, and the
-- compact records the detectors need that validation counts alone do not
-- hold.
--
-- findings: one typed, evidenced observation on a license (or, for attacks
-- on keys and the management API, on a source address). Status open,
-- acknowledged, dismissed (with a reason) or resolved (the condition went
-- away). The partial unique index keeps one finding per subject and kind
-- that is not resolved, so the periodic job updates it as evidence grows
-- instead of adding another; a dismissed finding stays dismissed while its
-- condition lasts, and is resolved with the others when it ends.
--
-- validation_sightings: which fingerprint and network each deployment
-- validated from, per day, counted (the sharing detector). Written in
-- batches by db.ValidationStats, never on the request path; the detector
-- job drops days older than the retention.
--
-- source_failures: failed key checks (INVALID_KEY, INVALID_SIGNATURE) and
-- failed management-API authentications per source address and hour, with
-- the license id a forged key claimed when it could be read.
--
-- plan_prices: a plan's monthly list price, for "revenue at stake" and the
-- cheapest plan that fits (Stripe prices name a plan but carry no amount here).
--
-- finding_alert_prefs: which kinds and severities notify an admin, and how
-- (immediately or in the daily digest).

-- +goose Up
CREATE TABLE findings (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind           text NOT NULL CHECK (kind ~ '^[a-z_]{1,40}$'),
    subject        text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    license_id     uuid REFERENCES licenses (id) ON DELETE CASCADE,
    customer_id    uuid REFERENCES customers (id) ON DELETE CASCADE,
    severity       text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'dismissed', 'resolved')),
    title          text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    evidence       jsonb NOT NULL CHECK (jsonb_typeof(evidence) = 'object'),
    revenue_cents  bigint CHECK (revenue_cents >= 0),
    first_seen_at  timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    resolved_at    timestamptz,
    dismiss_reason text CHECK (length(dismiss_reason) <= 1000),
    status_by      text NOT NULL DEFAULT '' CHECK (length(status_by) <= 300),
    status_at      timestamptz,
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL)),
    CHECK (status <> 'dismissed' OR dismiss_reason IS NOT NULL)
);
CREATE UNIQUE INDEX findings_one_active_idx ON findings (kind, subject) WHERE status <> 'resolved';
CREATE INDEX findings_list_idx ON findings (last_seen_at DESC, id DESC);
CREATE INDEX findings_status_idx ON findings (status, last_seen_at DESC);
CREATE INDEX findings_license_idx ON findings (license_id, last_seen_at DESC) WHERE license_id IS NOT NULL;
CREATE INDEX findings_customer_idx ON findings (customer_id, last_seen_at DESC) WHERE customer_id IS NOT NULL;

-- The upgrade detector counts installations refused for want of seats:
-- few rows among the validation counts, found without reading the others.
CREATE INDEX validation_stats_refused_idx ON validation_stats (hour) WHERE code = 'TOO_MANY_DEPLOYMENTS';

CREATE TABLE validation_sightings (
    day           date NOT NULL,
    license_id    uuid NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    deployment_id text NOT NULL CHECK (length(deployment_id) <= 128),
    fingerprint   text NOT NULL CHECK (length(fingerprint) <= 16), -- 16 hex of SHA-256, '' when none was sent
    network       text NOT NULL CHECK (length(network) <= 64),     -- the /24 (IPv4) or /48 (IPv6) of the source
    count         bigint NOT NULL CHECK (count > 0),
    PRIMARY KEY (day, license_id, deployment_id, fingerprint, network)
);

CREATE TABLE source_failures (
    hour       timestamptz NOT NULL CHECK (date_trunc('hour', hour) = hour),
    source     text NOT NULL CHECK (length(source) <= 64),
    kind       text NOT NULL CHECK (kind IN ('key', 'api_auth')),
    license_id uuid, -- the license a forged key named; no foreign key: it may name none
    count      bigint NOT NULL CHECK (count > 0),
    UNIQUE NULLS NOT DISTINCT (hour, source, kind, license_id)
);

CREATE TABLE plan_prices (
    plan_id       uuid PRIMARY KEY REFERENCES plans (id) ON DELETE CASCADE,
    monthly_cents bigint NOT NULL CHECK (monthly_cents >= 0),
    currency      text NOT NULL DEFAULT 'usd' CHECK (currency ~ '^[a-z]{3}$'),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE finding_alert_prefs (
    user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    kinds        text[] NOT NULL DEFAULT '{}' CHECK (array_position(kinds, NULL) IS NULL),
    min_severity text NOT NULL DEFAULT 'warning' CHECK (min_severity IN ('info', 'warning', 'critical')),
    delivery     text NOT NULL DEFAULT 'off' CHECK (delivery IN ('off', 'immediate', 'digest')),
    updated_at   timestamptz NOT NULL
);

-- Staff alerts about findings are notices of their own category.
ALTER TABLE notifications DROP CONSTRAINT notifications_category_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_category_check
    CHECK (category IN ('renewal', 'billing', 'usage', 'deployments', 'digest', 'webhooks', 'insights'));

-- API keys may carry the insights:read scope. The scope list is extended in
-- place rather than restated, so scopes other migrations add are kept.
-- +goose StatementBegin
DO $$
DECLARE def text;
BEGIN
    SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint
    WHERE conname = 'api_keys_scopes_check' AND conrelid = 'api_keys'::regclass;
    IF position('insights:read' IN def) = 0 THEN
        ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
        EXECUTE 'ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check '
            || replace(def, 'ARRAY[', 'ARRAY[''insights:read''::text, ');
    END IF;
END $$;
-- +goose StatementEnd

-- +goose Down
DELETE FROM api_keys WHERE 'insights:read' = ANY(scopes);
-- +goose StatementBegin
DO $$
DECLARE def text;
BEGIN
    SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint
    WHERE conname = 'api_keys_scopes_check' AND conrelid = 'api_keys'::regclass;
    ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
    EXECUTE 'ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check ' || replace(def, '''insights:read''::text, ', '');
END $$;
-- +goose StatementEnd
DELETE FROM notifications WHERE category = 'insights';
ALTER TABLE notifications DROP CONSTRAINT notifications_category_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_category_check
    CHECK (category IN ('renewal', 'billing', 'usage', 'deployments', 'digest', 'webhooks'));
DROP TABLE finding_alert_prefs, plan_prices, source_failures, validation_sightings, findings;
