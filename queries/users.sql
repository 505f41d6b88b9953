-- Users: the vendor's admins and customers' own people.

-- name: CountUsers :one
SELECT count(*) FROM users;

-- name: CreateUser :one
INSERT INTO users (email, name, role, customer_id, password_hash)
VALUES (@email, @name, @role, sqlc.narg('customer_id'), sqlc.narg('password_hash'))
RETURNING *;

-- name: GetUserByEmail :one
SELECT * FROM users WHERE email = @email;

-- name: GetUserByID :one
SELECT * FROM users WHERE id = @id;

-- name: SetUserPassword :exec
UPDATE users SET password_hash = @password_hash, updated_at = now() WHERE id = @id;
