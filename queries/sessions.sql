-- Sessions: signed-in browsers, checked on every signed-in request; and
-- failed sign-ins per account (hashed) and client address, for the delays.

-- name: CreateSession :one
INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent)
VALUES (@token_hash, @user_id, @now, @now, @expires_at, @ip, @user_agent)
RETURNING id;

-- name: GetOpenSession :one
-- The session of a cookie with what every signed-in request checks about
-- its user, in one indexed read: not revoked, not expired, not idle.
SELECT s.id, s.user_id, s.last_seen_at, u.role, u.customer_id, u.disabled_at, u.admin_role,
    (u.totp_enabled_at IS NOT NULL)::boolean AS totp_on
FROM sessions s
JOIN users u ON u.id = s.user_id
WHERE s.token_hash = @token_hash AND s.revoked_at IS NULL AND s.expires_at > @now AND s.last_seen_at > @idle_since;

-- name: TouchSession :exec
-- Slides the idle window; callers do it at most once a minute.
UPDATE sessions SET last_seen_at = @now WHERE id = @id AND last_seen_at < @now;

-- name: RevokeSession :exec
UPDATE sessions SET revoked_at = @now WHERE token_hash = @token_hash AND revoked_at IS NULL;

-- name: RevokeUserSessions :execrows
-- Ends every open session of a user (sign out everywhere, password set or
-- changed, account disabled).
UPDATE sessions SET revoked_at = @now
WHERE user_id = @user_id AND revoked_at IS NULL AND expires_at > @now;

-- name: DeleteEndedSessions :exec
-- Forgets a user's sessions that ended before @before.
DELETE FROM sessions
WHERE user_id = @user_id AND (expires_at < @before OR revoked_at < @before);

-- name: GetLoginFailures :one
-- This source's failures on the account, and the account's failures from
-- every source with each source counting at most @per_source (so that only
-- many sources together make the account-wide count large).
SELECT
    coalesce(max(failures) FILTER (WHERE source = @source), 0)::integer AS source_failures,
    coalesce(max(last_failed_at) FILTER (WHERE source = @source), 'epoch')::timestamptz AS source_last_failed_at,
    coalesce(sum(least(failures, @per_source::integer)), 0)::integer AS account_failures,
    coalesce(max(last_failed_at), 'epoch')::timestamptz AS account_last_failed_at
FROM login_failures
WHERE account_hash = @account_hash AND last_failed_at > @forget_before;

-- name: RecordLoginFailure :exec
-- Counts one failure; a count older than @forget_before starts again at 1.
INSERT INTO login_failures (account_hash, source, failures, last_failed_at)
VALUES (@account_hash, @source, 1, @now)
ON CONFLICT (account_hash, source) DO UPDATE SET
    failures = CASE WHEN login_failures.last_failed_at > @forget_before THEN login_failures.failures + 1 ELSE 1 END,
    last_failed_at = @now;

-- name: ClearLoginFailures :exec
DELETE FROM login_failures WHERE account_hash = @account_hash AND source = @source;

-- name: PruneLoginFailures :exec
DELETE FROM login_failures WHERE last_failed_at < @forget_before;

-- name: ListOpenSessionsByUser :many
-- A user's signed-in browsers, most recently seen first.
SELECT id, token_hash, created_at, last_seen_at, ip, user_agent
FROM sessions
WHERE user_id = @user_id AND revoked_at IS NULL AND expires_at > @now AND last_seen_at > @idle_since
ORDER BY last_seen_at DESC
LIMIT 100;

-- name: RevokeUserSession :execrows
-- Ends one session of a user; another user's session is not found.
UPDATE sessions SET revoked_at = @now WHERE id = @id AND user_id = @user_id AND revoked_at IS NULL;
