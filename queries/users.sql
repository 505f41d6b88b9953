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

-- name: GetUserForUpdate :one
SELECT * FROM users WHERE id = @id FOR UPDATE;

-- name: GetUserByEmailForUpdate :one
SELECT * FROM users WHERE email = @email FOR UPDATE;

-- name: GetCustomerUserForUpdate :one
-- One of a customer's users; another customer's user is not found.
SELECT * FROM users WHERE id = @id AND customer_id = @customer_id FOR UPDATE;

-- name: ListCustomerUsers :many
-- A customer's users with the expiry of their open invitation, if any.
SELECT u.id, u.email, u.name, (u.password_hash IS NOT NULL)::boolean AS has_password, u.disabled_at,
    u.last_login_at, u.created_at, i.expires_at AS invitation_expires_at
FROM users u
LEFT JOIN user_invitations i ON i.user_id = u.id AND i.used_at IS NULL AND i.revoked_at IS NULL
WHERE u.customer_id = @customer_id
ORDER BY u.email
LIMIT @max_rows;

-- name: ListCustomersByEmail :many
-- Customers whose contact email is @email, for "portal user invite
-- --customer <email>"; more than one is ambiguous.
SELECT * FROM customers WHERE email = @email AND archived_at IS NULL ORDER BY created_at LIMIT 3;

-- name: UpdateUserName :exec
UPDATE users SET name = @name, updated_at = now() WHERE id = @id;

-- name: SetUserPasswordReturning :one
-- Callers end the user's sessions in the same transaction.
UPDATE users SET password_hash = @password_hash, updated_at = now()
WHERE id = @id
RETURNING *;

-- name: DisableCustomerUser :one
UPDATE users SET disabled_at = @now, updated_at = now()
WHERE id = @id AND customer_id = @customer_id
RETURNING *;

-- name: EnableCustomerUser :one
UPDATE users SET disabled_at = NULL, updated_at = now()
WHERE id = @id AND customer_id = @customer_id
RETURNING *;

-- name: CreateInvitation :one
INSERT INTO user_invitations (user_id, token_hash, created_by, expires_at, created_at)
VALUES (@user_id, @token_hash, sqlc.narg('created_by'), @expires_at, @created_at)
RETURNING *;

-- name: RevokeOpenInvitations :exec
-- Withdraws a user's unused links (a new one replaces them, or the user is disabled).
UPDATE user_invitations SET revoked_at = @now
WHERE user_id = @user_id AND used_at IS NULL AND revoked_at IS NULL;

-- name: GetInvitationByTokenHash :one
SELECT i.id, i.user_id, i.expires_at, i.used_at, i.revoked_at, u.email, u.name, u.role, u.customer_id,
    u.disabled_at, (u.password_hash IS NOT NULL)::boolean AS has_password
FROM user_invitations i
JOIN users u ON u.id = i.user_id
WHERE i.token_hash = @token_hash;

-- name: GetInvitationByTokenHashForUpdate :one
SELECT i.id, i.user_id, i.expires_at, i.used_at, i.revoked_at, u.email, u.name, u.role, u.customer_id,
    u.disabled_at, (u.password_hash IS NOT NULL)::boolean AS has_password
FROM user_invitations i
JOIN users u ON u.id = i.user_id
WHERE i.token_hash = @token_hash
FOR UPDATE;

-- name: MarkInvitationUsed :exec
UPDATE user_invitations SET used_at = @now WHERE id = @id;
