package db

// The admin team (roles, invitations, disabling), two-factor sign-in
// (sealed TOTP secrets, hashed recovery codes) and a user's own sessions.
// Each change is one transaction with its audit row; secrets, codes and
// their hashes never reach the audit log.

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/licensing"
)

// AdminInvite is who to invite into the admin team, as what.
type AdminInvite struct {
	Email     string
	Name      string
	Role      licensing.AdminRole
	CreatedBy *uuid.UUID
	TTL       time.Duration
}

// InviteAdmin makes a new admin without a password and a link to set one,
// or a new link for one invited before who never set theirs (their role
// becomes the one asked for). An address that has an account is refused.
func (s *Store) InviteAdmin(ctx context.Context, actor licensing.Actor, in AdminInvite, now time.Time) (Invitation, error) {
	in.Email, in.Name = strings.TrimSpace(in.Email), strings.TrimSpace(in.Name)
	var p licensing.Problems
	if !licensing.ValidEmail(in.Email) {
		p.Add("email", "must be an email address like ada@example.com")
	}
	p.CheckText("name", in.Name, false, 200)
	if _, err := licensing.ParseAdminRole(string(in.Role)); err != nil {
		p.Add("role", "choose owner, admin, support or viewer")
	}
	if err := p.Err(); err != nil {
		return Invitation{}, err
	}
	role := string(in.Role)
	var inv Invitation
	err := s.inTx(ctx, func(q *Queries) error {
		u, err := q.GetUserByEmailForUpdate(ctx, in.Email)
		switch {
		case licensing.ErrorCode(Translate(err)) == licensing.ENOTFOUND:
			u, err = q.CreateUser(ctx, CreateUserParams{Email: in.Email, Name: in.Name, Role: "admin", AdminRole: &role})
			if err != nil {
				return conflictAs(err, "email", emailTaken)
			}
		case err != nil:
			return err
		case u.Role != "admin" || u.PasswordHash != nil:
			return emailConflict()
		case u.DisabledAt != nil:
			return licensing.Invalid("this admin is disabled: enable them first, then make a new link",
				licensing.ErrorDetail{Field: "email", Message: "this admin is disabled: enable them first"})
		default:
			inv.Replaced = true
			if u, err = q.SetAdminRole(ctx, SetAdminRoleParams{ID: u.ID, AdminRole: &role}); err != nil {
				return err
			}
		}
		if err := issueInvitation(ctx, q, &inv, u, in.CreatedBy, in.TTL, now); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "user.invite", EntityType: "user", EntityID: u.ID.String(),
			After: map[string]any{"email": u.Email, "name": u.Name, "role": u.Role, "adminRole": role,
				"invitationId": inv.ID, "expiresAt": inv.ExpiresAt, "replacesEarlierLink": inv.Replaced}}, now)
	})
	return inv, err
}

// NewAdminLink makes a fresh link for an admin: an invitation again, or a
// password reset link for one who has a password.
func (s *Store) NewAdminLink(ctx context.Context, actor licensing.Actor, userID uuid.UUID, createdBy *uuid.UUID,
	ttl time.Duration, now time.Time) (Invitation, error) {
	var inv Invitation
	err := s.inTx(ctx, func(q *Queries) error {
		u, err := q.GetAdminForUpdate(ctx, userID)
		if err != nil {
			return notFoundAs(err, "admin not found")
		}
		if u.DisabledAt != nil {
			return licensing.Invalid("this admin is disabled: enable them first, then make a new link")
		}
		inv.Replaced = true
		if err := issueInvitation(ctx, q, &inv, u, createdBy, ttl, now); err != nil {
			return err
		}
		action := "user.invite"
		if u.PasswordHash != nil {
			action = "user.password_reset_link"
		}
		return Audit(ctx, q, actor, AuditEntry{Action: action, EntityType: "user", EntityID: u.ID.String(),
			After: map[string]any{"email": u.Email, "invitationId": inv.ID, "expiresAt": inv.ExpiresAt}}, now)
	})
	return inv, err
}

// errLastOwner keeps at least one enabled owner, so the team can always be managed.
var errLastOwner = licensing.Invalid("this is the last owner who can sign in: make someone else an owner first")

// SetAdminRole changes an admin's role; their open sessions see it at the
// next request. changed is false when they had the role already.
func (s *Store) SetAdminRole(ctx context.Context, actor licensing.Actor, userID uuid.UUID, role licensing.AdminRole,
	now time.Time) (u User, changed bool, err error) {
	if _, err := licensing.ParseAdminRole(string(role)); err != nil {
		return u, false, err
	}
	err = s.inTx(ctx, func(q *Queries) error {
		if err := q.LockAdminTeam(ctx); err != nil {
			return err
		}
		if u, err = q.GetAdminForUpdate(ctx, userID); err != nil {
			return notFoundAs(err, "admin not found")
		}
		before := deref(u.AdminRole)
		if before == string(role) {
			return nil
		}
		if before == string(licensing.RoleOwner) && u.DisabledAt == nil {
			if n, err := q.CountEnabledOwners(ctx); err != nil {
				return err
			} else if n <= 1 {
				return errLastOwner
			}
		}
		r := string(role)
		if u, err = q.SetAdminRole(ctx, SetAdminRoleParams{ID: userID, AdminRole: &r}); err != nil {
			return err
		}
		changed = true
		return Audit(ctx, q, actor, AuditEntry{Action: "user.role_change", EntityType: "user", EntityID: u.ID.String(),
			Before: map[string]any{"adminRole": before}, After: map[string]any{"adminRole": r}}, now)
	})
	return u, changed, err
}

// SetAdminDisabled disables (ending their sessions and unused link) or
// enables an admin. The last enabled owner cannot be disabled.
func (s *Store) SetAdminDisabled(ctx context.Context, actor licensing.Actor, userID uuid.UUID, disabled bool,
	now time.Time) (u User, changed bool, err error) {
	err = s.inTx(ctx, func(q *Queries) error {
		if err := q.LockAdminTeam(ctx); err != nil {
			return err
		}
		if u, err = q.GetAdminForUpdate(ctx, userID); err != nil {
			return notFoundAs(err, "admin not found")
		}
		if (u.DisabledAt != nil) == disabled {
			return nil
		}
		var at *time.Time
		action := "user.enable"
		if disabled {
			if deref(u.AdminRole) == string(licensing.RoleOwner) {
				if n, err := q.CountEnabledOwners(ctx); err != nil {
					return err
				} else if n <= 1 {
					return errLastOwner
				}
			}
			at, action = &now, "user.disable"
			if _, err := q.RevokeUserSessions(ctx, RevokeUserSessionsParams{UserID: u.ID, Now: &now}); err != nil {
				return err
			}
			if err := q.RevokeOpenInvitations(ctx, RevokeOpenInvitationsParams{UserID: u.ID, Now: &now}); err != nil {
				return err
			}
		}
		if u, err = q.SetAdminDisabled(ctx, SetAdminDisabledParams{ID: u.ID, DisabledAt: at}); err != nil {
			return err
		}
		changed = true
		return Audit(ctx, q, actor, AuditEntry{Action: action, EntityType: "user", EntityID: u.ID.String(),
			After: map[string]any{"email": u.Email}}, now)
	})
	return u, changed, err
}

// ListAdmins is the admin team.
func (s *Store) ListAdmins(ctx context.Context, maxRows int32) ([]ListAdminsRow, error) {
	return s.q.ListAdmins(ctx, maxRows)
}

// EnableTOTP turns two-factor sign-in on with a sealed secret whose code
// at step was just checked (so that code cannot be used again), and
// replaces the recovery codes by the hashes given.
func (s *Store) EnableTOTP(ctx context.Context, actor licensing.Actor, userID uuid.UUID, sealed []byte, step int64,
	codeHashes [][]byte, now time.Time) error {
	return s.inTx(ctx, func(q *Queries) error {
		if err := q.EnableTOTP(ctx, EnableTOTPParams{ID: userID, SecretSealed: sealed, Now: &now, LastStep: step}); err != nil {
			return err
		}
		if err := replaceRecoveryCodes(ctx, q, userID, codeHashes); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "user.two_factor_enable", EntityType: "user", EntityID: userID.String(),
			After: map[string]any{"recoveryCodes": len(codeHashes)}}, now)
	})
}

func replaceRecoveryCodes(ctx context.Context, q *Queries, userID uuid.UUID, codeHashes [][]byte) error {
	if err := q.DeleteRecoveryCodes(ctx, userID); err != nil {
		return err
	}
	for _, h := range codeHashes {
		if err := q.InsertRecoveryCode(ctx, InsertRecoveryCodeParams{UserID: userID, CodeHash: h}); err != nil {
			return err
		}
	}
	return nil
}

// DisableTOTP turns two-factor sign-in off and forgets the recovery codes.
func (s *Store) DisableTOTP(ctx context.Context, actor licensing.Actor, userID uuid.UUID, now time.Time) error {
	return s.inTx(ctx, func(q *Queries) error {
		if err := q.DisableTOTP(ctx, userID); err != nil {
			return err
		}
		if err := q.DeleteRecoveryCodes(ctx, userID); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "user.two_factor_disable", EntityType: "user", EntityID: userID.String()}, now)
	})
}

// UseTOTPStep records that a code of time step step was accepted; false
// when a code of that step or a later one was accepted before (a replay).
func (s *Store) UseTOTPStep(ctx context.Context, userID uuid.UUID, step int64) (bool, error) {
	n, err := s.q.UseTOTPStep(ctx, UseTOTPStepParams{ID: userID, Step: step})
	return n == 1, err
}

// UseRecoveryCode spends one recovery code (by its hash); false when the
// user has no such unused code. The use is audited.
func (s *Store) UseRecoveryCode(ctx context.Context, actor licensing.Actor, userID uuid.UUID, hash []byte,
	now time.Time) (bool, error) {
	ok := false
	err := s.inTx(ctx, func(q *Queries) error {
		n, err := q.UseRecoveryCode(ctx, UseRecoveryCodeParams{UserID: userID, CodeHash: hash, Now: &now})
		if err != nil || n == 0 {
			return err
		}
		ok = true
		return Audit(ctx, q, actor, AuditEntry{Action: "user.recovery_code_use", EntityType: "user",
			EntityID: userID.String()}, now)
	})
	return ok, err
}

// CountUnusedRecoveryCodes is how many recovery codes a user has left.
func (s *Store) CountUnusedRecoveryCodes(ctx context.Context, userID uuid.UUID) (int64, error) {
	return s.q.CountUnusedRecoveryCodes(ctx, userID)
}

// ListOpenSessionsByUser is a user's signed-in browsers.
func (s *Store) ListOpenSessionsByUser(ctx context.Context, arg ListOpenSessionsByUserParams) ([]ListOpenSessionsByUserRow, error) {
	return s.q.ListOpenSessionsByUser(ctx, arg)
}

// RevokeUserSession ends one of a user's sessions; another user's session
// is not found.
func (s *Store) RevokeUserSession(ctx context.Context, actor licensing.Actor, userID, sessionID uuid.UUID, now time.Time) error {
	return s.inTx(ctx, func(q *Queries) error {
		n, err := q.RevokeUserSession(ctx, RevokeUserSessionParams{ID: sessionID, UserID: userID, Now: &now})
		if err != nil {
			return err
		}
		if n == 0 {
			return licensing.Errorf(licensing.ENOTFOUND, "this session has ended already")
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "user.session_end", EntityType: "user", EntityID: userID.String(),
			After: map[string]any{"sessionId": sessionID}}, now)
	})
}

func deref[T any](p *T) T {
	var z T
	if p != nil {
		z = *p
	}
	return z
}
