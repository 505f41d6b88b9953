-- Sign-in state kept in the database, so that any portal process can end it
-- and every process sees the end at the next request.
--
-- sessions: one row per signed-in browser. The cookie carries a random token;
-- only its SHA-256 is stored, so a copy of this table cannot sign anyone in.
-- Signing out revokes the row; "sign out everywhere", a password change or
-- disabling the account revokes all of a user's rows (this replaces
-- users.sessions_valid_from). The user is the principal: admins and
-- customers' users are both rows of users, told apart by users.role.
--
-- login_failures: failed sign-ins per account and client address, for the
-- growing delay that slows password guessing without locking the owner out.
-- The account is kept as the SHA-256 of the lowercased email as typed, so
-- that addresses (and passwords typed into the email field) are not stored.

-- +goose Up
CREATE TABLE sessions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    ip           text NOT NULL DEFAULT '' CHECK (length(ip) <= 64),
    user_agent   text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512)
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- Cookies issued before this table existed carry no session token and are
-- refused: everyone signs in once more after the upgrade.
ALTER TABLE users DROP COLUMN sessions_valid_from;

CREATE TABLE login_failures (
    account_hash   bytea NOT NULL CHECK (length(account_hash) = 32),
    source         text NOT NULL CHECK (length(source) <= 64),
    failures       integer NOT NULL CHECK (failures > 0),
    last_failed_at timestamptz NOT NULL,
    PRIMARY KEY (account_hash, source)
);
CREATE INDEX login_failures_last_failed_idx ON login_failures (last_failed_at);

-- +goose Down
DROP TABLE login_failures;
ALTER TABLE users ADD COLUMN sessions_valid_from timestamptz;
DROP TABLE sessions;
