-- The effective status of a license, as licensing.EffectiveStatus computes
-- it, for queries that filter or count by it over many rows (license lists,
-- the dashboard). A test keeps the two definitions in agreement.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION license_effective_status(status text, starts_at timestamptz, expires_at timestamptz,
    grace_days integer, payment_state text, past_due_since timestamptz, dunning_days integer, at timestamptz)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN status = 'revoked' THEN 'revoked'
        WHEN status = 'suspended' THEN 'suspended'
        WHEN payment_state = 'past_due' AND at > past_due_since + make_interval(days => dunning_days) THEN 'suspended'
        WHEN at < starts_at THEN 'not_yet_valid'
        WHEN expires_at IS NOT NULL AND at > expires_at + make_interval(days => grace_days) THEN 'expired'
        WHEN expires_at IS NOT NULL AND at > expires_at THEN 'grace'
        WHEN payment_state = 'past_due' THEN 'past_due'
        ELSE 'active'
    END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION license_effective_status;
