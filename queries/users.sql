-- Users: the vendor's admins and customers' own people.

-- name: CountUsers :one
SELECT count(*) FROM users;

-- name: CreateUser :one
INSERT INTO users (email, name, role, customer_id, password_hash, admin_role)
VALUES (@email, @name, @role, sqlc.narg('customer_id'), sqlc.narg('password_hash'), sqlc.narg('admin_role'))
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

-- name: LockAdminTeam :exec
-- Serialises changes to the admin team until the transaction ends, so two
-- first admins cannot both become owners (row locks cannot lock rows that do
-- not exist yet) and the last owner cannot be demoted by two changes at once.
SELECT pg_advisory_xact_lock(7340033);

-- name: CountAdmins :one
SELECT count(*) FROM users WHERE role = 'admin';

-- name: CountEnabledOwners :one
SELECT count(*) FROM users WHERE role = 'admin' AND admin_role = 'owner' AND disabled_at IS NULL;

-- name: ListAdmins :many
-- The admin team with the expiry of each one's open invitation, if any.
SELECT u.id, u.email, u.name, u.admin_role, (u.password_hash IS NOT NULL)::boolean AS has_password, u.disabled_at,
    u.last_login_at, (u.totp_enabled_at IS NOT NULL)::boolean AS totp_on, i.expires_at AS invitation_expires_at
FROM users u
LEFT JOIN user_invitations i ON i.user_id = u.id AND i.used_at IS NULL AND i.revoked_at IS NULL
WHERE u.role = 'admin'
ORDER BY u.email
LIMIT @max_rows;

-- name: GetAdminForUpdate :one
SELECT * FROM users WHERE id = @id AND role = 'admin' FOR UPDATE;

-- name: SetAdminRole :one
UPDATE users SET admin_role = @admin_role, updated_at = now() WHERE id = @id AND role = 'admin' RETURNING *;

-- name: SetAdminDisabled :one
UPDATE users SET disabled_at = sqlc.narg('disabled_at'), updated_at = now() WHERE id = @id AND role = 'admin' RETURNING *;

-- name: EnableTOTP :exec
UPDATE users SET totp_secret_sealed = @secret_sealed, totp_enabled_at = @now, totp_last_step = @last_step,
    updated_at = now()
WHERE id = @id;

-- name: DisableTOTP :exec
UPDATE users SET totp_secret_sealed = NULL, totp_enabled_at = NULL, totp_last_step = 0, updated_at = now()
WHERE id = @id;

-- name: UseTOTPStep :execrows
-- Accepts a code's time step once: a code already used (or an older one)
-- changes no row.
UPDATE users SET totp_last_step = @step WHERE id = @id AND totp_last_step < @step AND totp_enabled_at IS NOT NULL;

-- name: DeleteRecoveryCodes :exec
DELETE FROM user_recovery_codes WHERE user_id = @user_id;

-- name: InsertRecoveryCode :exec
INSERT INTO user_recovery_codes (user_id, code_hash) VALUES (@user_id, @code_hash);

-- name: UseRecoveryCode :execrows
UPDATE user_recovery_codes SET used_at = @now
WHERE user_id = @user_id AND code_hash = @code_hash AND used_at IS NULL;

-- name: CountUnusedRecoveryCodes :one
SELECT count(*) FROM user_recovery_codes WHERE user_id = @user_id AND used_at IS NULL;
