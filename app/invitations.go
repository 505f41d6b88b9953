// Invitations: a customer user (or an admin) is invited by a one-time link,
// opens it and chooses a password. The admin portal, the invitation page and
// the CLI share these steps; sending the email is the caller's (mail lives
// with the mail code).
package app

import (
	"context"
	"strings"
	"time"

	"github.com/nectarcloud/nls/auth"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

// InvitationStore is what the invitation steps need of persistence.
type InvitationStore interface {
	InviteUser(ctx context.Context, actor licensing.Actor, in db.InviteInput, now time.Time) (db.Invitation, error)
	GetInvitationByTokenHash(ctx context.Context, tokenHash []byte) (db.GetInvitationByTokenHashRow, error)
	AcceptInvitation(ctx context.Context, actor licensing.Actor, tokenHash []byte, passwordHash string, now time.Time) (db.User, error)
}

// Invitations runs the invitation steps.
type Invitations struct {
	store      InvitationStore
	baseURL    string
	bcryptCost int
	now        func() time.Time
}

// NewInvitations builds the invitation steps; links start with baseURL and
// passwords are hashed at bcryptCost.
func NewInvitations(store InvitationStore, baseURL string, bcryptCost int, now func() time.Time) *Invitations {
	return &Invitations{store: store, baseURL: baseURL, bcryptCost: bcryptCost, now: now}
}

// InviteLink is the URL an invitation token is sent as: the portal's base
// URL, /invite/, the token.
func InviteLink(baseURL, token string) string {
	return strings.TrimRight(baseURL, "/") + "/invite/" + token
}

// Invite creates (or replaces) the invitation of in's person and returns it
// with the link to send; the token is in the link only.
func (x *Invitations) Invite(ctx context.Context, actor licensing.Actor, in db.InviteInput) (db.Invitation, string, error) {
	inv, err := x.store.InviteUser(ctx, actor, in, x.now())
	if err != nil {
		return inv, "", err
	}
	return inv, InviteLink(x.baseURL, inv.Token), nil
}

// Open finds the invitation of a link's token; ok is false when the link
// cannot be used, whatever the reason (malformed, unknown, used, expired).
func (x *Invitations) Open(ctx context.Context, token string) (inv db.GetInvitationByTokenHashRow, hash []byte, ok bool, err error) {
	if len(token) != 43 || strings.Trim(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return inv, nil, false, nil
	}
	hash = db.InviteTokenHash(token)
	inv, err = x.store.GetInvitationByTokenHash(ctx, hash)
	if err != nil {
		if licensing.ErrorCode(err) == licensing.ENOTFOUND {
			return inv, nil, false, nil
		}
		return inv, nil, false, err
	}
	return inv, hash, inv.Open(x.now()), nil
}

// Accept sets the invited person's password and uses the link up. A password
// the policy refuses is answered with its problems by form field and no
// error; a link used meanwhile is db.ErrInvitationClosed.
func (x *Invitations) Accept(ctx context.Context, actor licensing.Actor, inv db.GetInvitationByTokenHashRow, hash []byte,
	password, confirm string) (db.User, map[string]string, error) {
	if problems := auth.PasswordProblems(password, confirm, inv.Email); len(problems) > 0 {
		return db.User{}, problems, nil
	}
	pwHash, err := auth.HashPassword(password, x.bcryptCost)
	if err != nil {
		return db.User{}, nil, licensing.Internal(err)
	}
	u, err := x.store.AcceptInvitation(ctx, actor, hash, pwHash, x.now())
	return u, nil, err
}
