package db

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/licensing"
)

// CreateAPIKey makes a new key with the given scopes and returns its record
// and the secret, which is shown once and stored only as a hash.
func (s *Store) CreateAPIKey(ctx context.Context, actor licensing.Actor, name string, scopes []string,
	createdBy *uuid.UUID, now time.Time) (ApiKey, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return ApiKey{}, "", licensing.Invalid("a name of 1 to 100 characters is required",
			licensing.ErrorDetail{Field: "name", Message: "required, at most 100 characters"})
	}
	if err := licensing.ValidateScopes(scopes); err != nil {
		return ApiKey{}, "", err
	}
	secret, prefix, hash, err := licensing.NewAPIKey()
	if err != nil {
		return ApiKey{}, "", licensing.Internal(err)
	}
	var key ApiKey
	err = s.inTx(ctx, func(q *Queries) error {
		var err error
		key, err = q.CreateAPIKey(ctx, CreateAPIKeyParams{Name: name, Prefix: prefix, SecretHash: hash[:],
			Scopes: scopes, CreatedBy: createdBy})
		if err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "api_key.create", EntityType: "api_key",
			EntityID: key.ID.String(), After: map[string]any{"name": name, "prefix": prefix, "scopes": scopes}}, now)
	})
	return key, secret, err
}

// RevokeAPIKey stops a key from authenticating.
func (s *Store) RevokeAPIKey(ctx context.Context, actor licensing.Actor, id uuid.UUID, now time.Time) (ApiKey, error) {
	var key ApiKey
	err := s.inTx(ctx, func(q *Queries) error {
		var err error
		if key, err = q.RevokeAPIKey(ctx, RevokeAPIKeyParams{ID: id, RevokedAt: &now}); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "api_key.revoke", EntityType: "api_key",
			EntityID: id.String(), After: map[string]any{"revokedAt": now}}, now)
	})
	return key, err
}

// CreateAdmin adds an admin user with an already hashed password.
func (s *Store) CreateAdmin(ctx context.Context, actor licensing.Actor, email, name, passwordHash string, now time.Time) (User, error) {
	return s.CreateAdminAs(ctx, actor, email, name, passwordHash, licensing.RoleOwner, now)
}

// CreateAdminAs adds an admin with role; the first admin ever is an owner
// whatever role is asked for, so that someone can manage the team.
func (s *Store) CreateAdminAs(ctx context.Context, actor licensing.Actor, email, name, passwordHash string,
	role licensing.AdminRole, now time.Time) (User, error) {
	var u User
	err := s.inTx(ctx, func(q *Queries) error {
		if err := q.LockAdminTeam(ctx); err != nil {
			return err
		}
		n, err := q.CountAdmins(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			role = licensing.RoleOwner
		}
		r := string(role)
		u, err = q.CreateUser(ctx, CreateUserParams{Email: strings.TrimSpace(email), Name: name, Role: "admin",
			PasswordHash: &passwordHash, AdminRole: &r})
		if err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "user.create", EntityType: "user", EntityID: u.ID.String(),
			After: map[string]any{"email": u.Email, "role": u.Role, "adminRole": r}}, now)
	})
	return u, err
}

// The reads and small writes handlers call. Each returns the query's rows;
// errors arrive already translated by the connection (conn.go).

func (s *Store) GetAPIKeyBySecretHash(ctx context.Context, secretHash []byte) (ApiKey, error) {
	return s.q.GetAPIKeyBySecretHash(ctx, secretHash)
}

func (s *Store) GetAPIKey(ctx context.Context, id uuid.UUID) (ApiKey, error) {
	return s.q.GetAPIKey(ctx, id)
}

func (s *Store) ListAPIKeys(ctx context.Context) ([]ApiKey, error) { return s.q.ListAPIKeys(ctx) }

func (s *Store) TouchAPIKey(ctx context.Context, arg TouchAPIKeyParams) error {
	return s.q.TouchAPIKey(ctx, arg)
}
