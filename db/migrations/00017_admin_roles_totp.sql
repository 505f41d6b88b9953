-- Admin roles and two-factor sign-in.
--
-- users.admin_role: what an admin may do (owner: everything incl. the team;
-- admin: licenses, customers, plans, Stripe; support: read, reveal keys,
-- release deployments; viewer: read only). users.role still tells admins
-- from customers' users; every admin has exactly one admin_role, and the
-- admins from before roles existed become owners, as they could do
-- everything.
--
-- TOTP (RFC 6238): the shared secret is sealed (AES-GCM, bound to the user
-- id) so a copy of the table cannot produce codes; totp_last_step is the
-- time step of the last code accepted, so a code seen once is never
-- accepted again. Recovery codes are random, shown once and kept only as
-- SHA-256 hashes (they carry 80 random bits, so a fast hash is enough).

-- +goose Up
ALTER TABLE users ADD COLUMN admin_role text CHECK (admin_role IN ('owner', 'admin', 'support', 'viewer'));
UPDATE users SET admin_role = 'owner' WHERE role = 'admin';
ALTER TABLE users ADD CONSTRAINT users_admin_role_present CHECK ((role = 'admin') = (admin_role IS NOT NULL));

ALTER TABLE users ADD COLUMN totp_secret_sealed bytea;
ALTER TABLE users ADD COLUMN totp_enabled_at timestamptz;
ALTER TABLE users ADD COLUMN totp_last_step bigint NOT NULL DEFAULT 0;
ALTER TABLE users ADD CONSTRAINT users_totp_complete CHECK ((totp_secret_sealed IS NULL) = (totp_enabled_at IS NULL));

CREATE TABLE user_recovery_codes (
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL CHECK (length(code_hash) = 32),
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- +goose Down
DROP TABLE user_recovery_codes;
ALTER TABLE users DROP CONSTRAINT users_totp_complete;
ALTER TABLE users DROP COLUMN totp_last_step;
ALTER TABLE users DROP COLUMN totp_enabled_at;
ALTER TABLE users DROP COLUMN totp_secret_sealed;
ALTER TABLE users DROP CONSTRAINT users_admin_role_present;
ALTER TABLE users DROP COLUMN admin_role;
