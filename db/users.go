package db

// Customer users' accounts: invitations (single-use, expiring links to set a
// password), disabling and enabling, and password changes. Each change is
// one transaction with its audit row. Tokens and password hashes never
// reach the audit log.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/licensing"
)

// DefaultInviteTTL is how long an invitation link works unless configured.
const DefaultInviteTTL = 7 * 24 * time.Hour

// emailTaken refuses an address that belongs to an admin or to another
// customer's user, without saying which.
const emailTaken = "this email address already has an account; use another address"

// ErrInvitationClosed is the one answer for a link that cannot be used:
// unknown, used, replaced, expired, or its user disabled. Which of these it
// is stays unsaid.
var ErrInvitationClosed = licensing.Errorf(licensing.ENOTFOUND, "this link is not valid any more")

// InviteTokenHash is how an invitation token is stored and looked up.
func InviteTokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// newInviteToken is 32 random bytes, base64url without padding.
func newInviteToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// InviteInput is who to invite, into which customer, and for how long.
type InviteInput struct {
	CustomerID uuid.UUID
	Email      string
	Name       string
	CreatedBy  *uuid.UUID    // the inviting admin; nil from the command line
	TTL        time.Duration // 0: DefaultInviteTTL
}

// Invitation is a link just made. Token is shown once and stored only as
// its SHA-256.
type Invitation struct {
	ID        uuid.UUID
	User      User
	Token     string
	ExpiresAt time.Time
	Replaced  bool // an earlier link of the same user stopped working
}

// Open reports whether the invitation can still be used at now.
func (r GetInvitationByTokenHashRow) Open(now time.Time) bool {
	return r.UsedAt == nil && r.RevokedAt == nil && r.DisabledAt == nil && now.Before(r.ExpiresAt)
}

// InviteUser invites a person into a customer: a new customer user without a
// password, or an invited one who never set theirs (whose earlier link then
// stops working). An address that already belongs to an admin or to another
// customer's user is refused without naming them.
func (s *Store) InviteUser(ctx context.Context, actor licensing.Actor, in InviteInput, now time.Time) (Invitation, error) {
	in.Email, in.Name = strings.TrimSpace(in.Email), strings.TrimSpace(in.Name)
	var p licensing.Problems
	if !licensing.ValidEmail(in.Email) {
		p.Add("email", "must be an email address like ada@example.com")
	}
	p.CheckText("name", in.Name, false, 200)
	if err := p.Err(); err != nil {
		return Invitation{}, err
	}
	var inv Invitation
	err := s.inTx(ctx, func(q *Queries) error {
		cu, err := q.GetCustomerForUpdate(ctx, in.CustomerID)
		if err != nil {
			return notFoundAs(err, "customer not found")
		}
		if cu.ArchivedAt != nil {
			return licensing.Invalid("this customer is archived: no one new can be invited")
		}
		u, err := q.GetUserByEmailForUpdate(ctx, in.Email)
		switch {
		case licensing.ErrorCode(Translate(err)) == licensing.ENOTFOUND:
			u, err = q.CreateUser(ctx, CreateUserParams{Email: in.Email, Name: in.Name, Role: "customer",
				CustomerID: &in.CustomerID})
			if err != nil {
				// Someone else took the address in the meantime.
				return conflictAs(err, "email", emailTaken)
			}
		case err != nil:
			return err
		case u.Role != "customer" || u.CustomerID == nil || *u.CustomerID != in.CustomerID:
			return emailConflict()
		case u.DisabledAt != nil:
			return licensing.Invalid("this person's account is disabled: enable it first, then make a new link",
				licensing.ErrorDetail{Field: "email", Message: "this person's account is disabled: enable it first, then make a new link"})
		case u.PasswordHash != nil:
			msg := "this person already has an account here; to let them choose a new password, use “Password reset link” in the list"
			return licensing.Invalid(msg, licensing.ErrorDetail{Field: "email", Message: msg})
		default:
			inv.Replaced = true
			if in.Name != "" && in.Name != u.Name {
				if err := q.UpdateUserName(ctx, UpdateUserNameParams{ID: u.ID, Name: in.Name}); err != nil {
					return err
				}
				u.Name = in.Name
			}
		}
		if err := issueInvitation(ctx, q, &inv, u, in.CreatedBy, in.TTL, now); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "user.invite", EntityType: "user", EntityID: u.ID.String(),
			CustomerID: &in.CustomerID, After: map[string]any{"email": u.Email, "name": u.Name, "role": u.Role,
				"invitationId": inv.ID, "expiresAt": inv.ExpiresAt, "replacesEarlierLink": inv.Replaced}}, now)
	})
	return inv, err
}

func emailConflict() error {
	return &licensing.Error{Code: licensing.ECONFLICT, Message: emailTaken,
		Details: []licensing.ErrorDetail{{Field: "email", Message: emailTaken}}}
}

// NewInvitationLink makes a fresh link for one of a customer's users: an
// invitation again for someone who never set a password, a password reset
// link for someone who did. Their earlier unused link stops working.
func (s *Store) NewInvitationLink(ctx context.Context, actor licensing.Actor, customerID, userID uuid.UUID,
	createdBy *uuid.UUID, ttl time.Duration, now time.Time) (Invitation, error) {
	var inv Invitation
	err := s.inTx(ctx, func(q *Queries) error {
		u, err := q.GetCustomerUserForUpdate(ctx, GetCustomerUserForUpdateParams{ID: userID, CustomerID: &customerID})
		if err != nil {
			return notFoundAs(err, "user not found")
		}
		if u.DisabledAt != nil {
			return licensing.Invalid("this person's account is disabled: enable it first, then make a new link")
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
			CustomerID: &customerID, After: map[string]any{"email": u.Email, "invitationId": inv.ID,
				"expiresAt": inv.ExpiresAt}}, now)
	})
	return inv, err
}

// issueInvitation withdraws u's open links and makes a new one into inv.
func issueInvitation(ctx context.Context, q *Queries, inv *Invitation, u User, createdBy *uuid.UUID,
	ttl time.Duration, now time.Time) error {
	if ttl <= 0 {
		ttl = DefaultInviteTTL
	}
	if err := q.RevokeOpenInvitations(ctx, RevokeOpenInvitationsParams{UserID: u.ID, Now: &now}); err != nil {
		return err
	}
	token, err := newInviteToken()
	if err != nil {
		return licensing.Internal(err)
	}
	row, err := q.CreateInvitation(ctx, CreateInvitationParams{UserID: u.ID, TokenHash: InviteTokenHash(token),
		CreatedBy: createdBy, ExpiresAt: now.Add(ttl), CreatedAt: now})
	if err != nil {
		return err
	}
	inv.ID, inv.User, inv.Token, inv.ExpiresAt = row.ID, u, token, row.ExpiresAt
	return nil
}

// AcceptInvitation sets the password of the invitation's user and uses the
// invitation up, in one transaction: the user can then sign in, and any
// session of theirs from before ends. actor is the invited user. A link
// that cannot be used answers ErrInvitationClosed.
func (s *Store) AcceptInvitation(ctx context.Context, actor licensing.Actor, tokenHash []byte, passwordHash string,
	now time.Time) (User, error) {
	var u User
	err := s.inTx(ctx, func(q *Queries) error {
		inv, err := q.GetInvitationByTokenHashForUpdate(ctx, tokenHash)
		if err != nil {
			if licensing.ErrorCode(Translate(err)) == licensing.ENOTFOUND {
				return ErrInvitationClosed
			}
			return err
		}
		if !GetInvitationByTokenHashRow(inv).Open(now) {
			return ErrInvitationClosed
		}
		if u, err = q.SetUserPasswordReturning(ctx, SetUserPasswordReturningParams{ID: inv.UserID,
			PasswordHash: &passwordHash}); err != nil {
			return err
		}
		if _, err := q.RevokeUserSessions(ctx, RevokeUserSessionsParams{UserID: u.ID, Now: &now}); err != nil {
			return err
		}
		if err := q.MarkInvitationUsed(ctx, MarkInvitationUsedParams{ID: inv.ID, Now: &now}); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "user.set_password", EntityType: "user",
			EntityID: u.ID.String(), CustomerID: u.CustomerID,
			After: map[string]any{"via": "invitation", "invitationId": inv.ID}}, now)
	})
	return u, err
}

// ChangePassword replaces a user's password (already checked and hashed by
// the caller). Every session issued before now ends, and any unused link
// to set a password stops working.
func (s *Store) ChangePassword(ctx context.Context, actor licensing.Actor, userID uuid.UUID, passwordHash string,
	now time.Time) (User, error) {
	var u User
	err := s.inTx(ctx, func(q *Queries) error {
		var err error
		if u, err = q.SetUserPasswordReturning(ctx, SetUserPasswordReturningParams{ID: userID,
			PasswordHash: &passwordHash}); err != nil {
			return notFoundAs(err, "user not found")
		}
		if _, err := q.RevokeUserSessions(ctx, RevokeUserSessionsParams{UserID: u.ID, Now: &now}); err != nil {
			return err
		}
		if err := q.RevokeOpenInvitations(ctx, RevokeOpenInvitationsParams{UserID: u.ID, Now: &now}); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "user.password_change", EntityType: "user",
			EntityID: u.ID.String(), CustomerID: u.CustomerID, After: map[string]any{"sessionsEnded": true}}, now)
	})
	return u, err
}

// SetCustomerUserDisabled disables or enables one of a customer's users.
// Disabling ends their sessions and withdraws their unused link at once.
// changed is false when the user already was in that state (nothing is
// written then).
func (s *Store) SetCustomerUserDisabled(ctx context.Context, actor licensing.Actor, customerID, userID uuid.UUID,
	disabled bool, now time.Time) (u User, changed bool, err error) {
	err = s.inTx(ctx, func(q *Queries) error {
		before, err := q.GetCustomerUserForUpdate(ctx, GetCustomerUserForUpdateParams{ID: userID, CustomerID: &customerID})
		if err != nil {
			return notFoundAs(err, "user not found")
		}
		u = before
		if (before.DisabledAt != nil) == disabled {
			return nil
		}
		action := "user.enable"
		if disabled {
			action = "user.disable"
			if u, err = q.DisableCustomerUser(ctx, DisableCustomerUserParams{ID: userID, CustomerID: &customerID,
				Now: &now}); err != nil {
				return err
			}
			if err := q.RevokeOpenInvitations(ctx, RevokeOpenInvitationsParams{UserID: userID, Now: &now}); err != nil {
				return err
			}
			if _, err := q.RevokeUserSessions(ctx, RevokeUserSessionsParams{UserID: userID, Now: &now}); err != nil {
				return err
			}
		} else if u, err = q.EnableCustomerUser(ctx, EnableCustomerUserParams{ID: userID, CustomerID: &customerID}); err != nil {
			return err
		}
		changed = true
		return Audit(ctx, q, actor, AuditEntry{Action: action, EntityType: "user", EntityID: userID.String(),
			CustomerID: &customerID, Before: map[string]any{"email": before.Email, "disabledAt": before.DisabledAt},
			After: map[string]any{"email": u.Email, "disabledAt": u.DisabledAt}}, now)
	})
	return u, changed, err
}

// notFoundAs names what was not found; other errors pass through translated.
func notFoundAs(err error, msg string) error {
	err = Translate(err)
	if licensing.ErrorCode(err) == licensing.ENOTFOUND {
		return &licensing.Error{Code: licensing.ENOTFOUND, Message: msg, Err: err}
	}
	return err
}

// The reads and small writes handlers call. Each returns the query's rows;
// errors arrive already translated by the connection (conn.go).

func (s *Store) RecordUserLogin(ctx context.Context, arg RecordUserLoginParams) error {
	return s.q.RecordUserLogin(ctx, arg)
}

func (s *Store) GetUserByEmail(ctx context.Context, email string) (User, error) {
	return s.q.GetUserByEmail(ctx, email)
}

func (s *Store) GetUserByID(ctx context.Context, id uuid.UUID) (User, error) {
	return s.q.GetUserByID(ctx, id)
}

func (s *Store) ListCustomerUsers(ctx context.Context, arg ListCustomerUsersParams) ([]ListCustomerUsersRow, error) {
	return s.q.ListCustomerUsers(ctx, arg)
}

func (s *Store) GetInvitationByTokenHash(ctx context.Context, tokenHash []byte) (GetInvitationByTokenHashRow, error) {
	return s.q.GetInvitationByTokenHash(ctx, tokenHash)
}

func (s *Store) CountUsers(ctx context.Context) (int64, error) { return s.q.CountUsers(ctx) }
