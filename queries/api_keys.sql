-- API keys for the management API.

-- name: CreateAPIKey :one
INSERT INTO api_keys (name, prefix, secret_hash, scopes, created_by, expires_at)
VALUES (@name, @prefix, @secret_hash, @scopes, sqlc.narg('created_by'), sqlc.narg('expires_at'))
RETURNING *;

-- name: GetAPIKeyBySecretHash :one
SELECT * FROM api_keys WHERE secret_hash = @secret_hash;

-- name: ListAPIKeys :many
SELECT * FROM api_keys ORDER BY created_at DESC, id DESC;

-- name: GetAPIKey :one
SELECT * FROM api_keys WHERE id = @id;

-- name: RevokeAPIKey :one
UPDATE api_keys SET revoked_at = @revoked_at WHERE id = @id AND revoked_at IS NULL RETURNING *;

-- name: TouchAPIKey :exec
-- Records use at most once a minute per key, so that a busy script does not
-- turn every request into a write.
UPDATE api_keys SET last_used_at = sqlc.arg(used_at)::timestamptz
WHERE id = @id AND (last_used_at IS NULL OR last_used_at < sqlc.arg(used_at)::timestamptz - interval '1 minute');
