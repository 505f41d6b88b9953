-- Customer accounts: invitations can be withdrawn (a new link replaces the
-- previous one), and a user's sessions can be ended all at once (password
-- changed or set, account disabled) without any state kept by the portal
-- processes: a session cookie issued before sessions_valid_from is refused.

-- +goose Up
ALTER TABLE users ADD COLUMN sessions_valid_from timestamptz;
ALTER TABLE user_invitations ADD COLUMN revoked_at timestamptz;
-- At most one link per user can still be used: inviting again withdraws the
-- previous one in the same transaction.
CREATE UNIQUE INDEX user_invitations_one_open ON user_invitations (user_id)
    WHERE used_at IS NULL AND revoked_at IS NULL;

-- +goose Down
DROP INDEX user_invitations_one_open;
ALTER TABLE user_invitations DROP COLUMN revoked_at;
ALTER TABLE users DROP COLUMN sessions_valid_from;
