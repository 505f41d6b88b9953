-- Queries only the admin portal needs: sign-in bookkeeping.

-- name: RecordUserLogin :exec
UPDATE users SET last_login_at = @logged_in_at WHERE id = @id;
