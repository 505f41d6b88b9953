-- Licensing policies (fingerprint binding, lease hours, transfer budget,
-- seat overage, limit enforcement, expiry strategy): settings on the plan,
-- a license's own overrides as one JSON object (absent keys follow the plan,
-- the shape of licensing.PolicyOverrides), a deployment's fingerprint
-- components, the seat transfers counted against the budget, the seat
-- overage recorded per period for true-up, and the application versions
-- with their release dates that the maintain strategy reads.

-- +goose Up
ALTER TABLE plans
    ADD COLUMN fingerprint_policy text NOT NULL DEFAULT 'none'
        CHECK (fingerprint_policy IN ('none', 'lock', 'components')),
    ADD COLUMN fingerprint_match text NOT NULL DEFAULT 'most' CHECK (fingerprint_match IN ('any', 'most', 'all')),
    ADD COLUMN lease_hours integer NOT NULL DEFAULT 0 CHECK (lease_hours BETWEEN 0 AND 8760),
    ADD COLUMN transfers_per_period integer NOT NULL DEFAULT 0 CHECK (transfers_per_period BETWEEN 0 AND 10000),
    ADD COLUMN transfer_period_days integer NOT NULL DEFAULT 30 CHECK (transfer_period_days BETWEEN 1 AND 365),
    ADD COLUMN seat_overage text NOT NULL DEFAULT 'none' CHECK (seat_overage IN ('none', '1.25x', '1.5x', '2x', 'always')),
    ADD COLUMN limit_enforcement jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(limit_enforcement) = 'object'),
    ADD COLUMN expiry_strategy text NOT NULL DEFAULT 'restrict' CHECK (expiry_strategy IN ('restrict', 'maintain'));

ALTER TABLE licenses
    ADD COLUMN policy_overrides jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(policy_overrides) = 'object');

ALTER TABLE deployments
    ADD COLUMN fingerprint_components jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(fingerprint_components) = 'object' AND length(fingerprint_components::text) <= 4096);

-- One row per seat released by the customer or the installation itself:
-- what the transfer budget counts. Admin releases are recorded too
-- (counted = false) so the history is whole, but never use the budget.
CREATE TABLE seat_transfers (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    license_id    uuid NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    deployment_pk uuid REFERENCES deployments (id) ON DELETE SET NULL,
    released_by   text NOT NULL CHECK (released_by IN ('admin', 'customer', 'client', 'system')),
    counted       boolean NOT NULL,
    released_at   timestamptz NOT NULL
);
CREATE INDEX seat_transfers_license_idx ON seat_transfers (license_id, released_at DESC) WHERE counted;

-- The most seats held at once beyond max_deployments in a billing period
-- (calendar month when the license has no billing period), written when an
-- activation lands in the overage allowance.
CREATE TABLE seat_overages (
    license_id      uuid NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    period_start    timestamptz NOT NULL,
    period_end      timestamptz NOT NULL,
    max_deployments integer NOT NULL CHECK (max_deployments >= 1),
    peak_seats      integer NOT NULL CHECK (peak_seats >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (license_id, period_start)
);

-- Application versions and when they were released: the maintain expiry
-- strategy lets an expired license run the versions released at or before
-- its expiry. Filled by the vendor (and by product releases when they are
-- published through the portal).
CREATE TABLE app_releases (
    version     text PRIMARY KEY CHECK (length(version) BETWEEN 1 AND 64),
    released_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE app_releases;
DROP TABLE seat_overages;
DROP TABLE seat_transfers;
ALTER TABLE deployments DROP COLUMN fingerprint_components;
ALTER TABLE licenses DROP COLUMN policy_overrides;
ALTER TABLE plans DROP COLUMN fingerprint_policy, DROP COLUMN fingerprint_match, DROP COLUMN lease_hours,
    DROP COLUMN transfers_per_period, DROP COLUMN transfer_period_days, DROP COLUMN seat_overage,
    DROP COLUMN limit_enforcement, DROP COLUMN expiry_strategy;
