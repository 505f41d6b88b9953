-- The public record of the signing keys (the keys themselves are PEM files).

-- name: ListSigningKeys :many
SELECT * FROM signing_keys ORDER BY created_at, kid;

-- name: InsertSigningKey :exec
INSERT INTO signing_keys (kid, alg, fingerprint, is_current, created_at)
VALUES (@kid, @alg, @fingerprint, false, @created_at);

-- name: ClearCurrentSigningKey :exec
UPDATE signing_keys SET is_current = false, retired_at = coalesce(retired_at, @retired_at) WHERE is_current AND kid <> @kid;

-- name: SetCurrentSigningKey :exec
UPDATE signing_keys SET is_current = true, retired_at = NULL WHERE kid = @kid;
