package handlers

// The admin team page (owners only): the admins with their role, last
// sign-in and two-factor state; inviting an admin by email with a role (a
// link that works once, emailed when SMTP is configured); changing a role;
// disabling and enabling. Every change is audited by the store.

import (
	"context"
	"net/mail"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/layouts"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
	"github.com/nectarcloud/nls/web/templates/partials"
)

const teamShown = 500

// teamView is the team as the page shows it.
func (s *Server) teamView(c *fiber.Ctx) (partials.TeamView, error) {
	v := partials.TeamView{Me: s.loadSession(c).UserID.String(), Form: partials.InviteAdminForm{Role: string(licensing.RoleSupport)}}
	for _, r := range licensing.AdminRoles {
		v.Roles = append(v.Roles, string(r))
	}
	rows, err := s.store.ListAdmins(c.UserContext(), teamShown)
	if err != nil {
		return v, err
	}
	now := s.now()
	for _, u := range rows {
		r := partials.AdminRow{ID: u.ID.String(), Email: u.Email, Name: u.Name, Role: deref(u.AdminRole),
			Status: partials.UserInvited, TwoFactorOn: u.TotpOn}
		switch {
		case u.DisabledAt != nil:
			r.Status = partials.UserDisabled
		case u.HasPassword:
			r.Status = partials.UserActive
		case u.InvitationExpiresAt != nil && !now.Before(*u.InvitationExpiresAt):
			r.LinkExpired = true
		case u.InvitationExpiresAt != nil:
			r.LinkExpires = fmtDateTime(*u.InvitationExpiresAt) + " UTC"
		}
		if u.LastLoginAt != nil {
			r.LastLogin = fmtDateTime(*u.LastLoginAt)
		}
		v.Admins = append(v.Admins, r)
	}
	return v, nil
}

// renderTeam shows the team page with what an action left to say.
func (s *Server) renderTeam(c *fiber.Ctx, status int, edit func(*partials.TeamView), flash *layouts.Flash) error {
	v, err := s.teamView(c)
	if err != nil {
		return err
	}
	if edit != nil {
		edit(&v)
	}
	p := s.page(c, "Team")
	if flash != nil {
		p.Flash = append(p.Flash, *flash)
	}
	c.Status(status)
	return s.render(c, admin.TeamPage(p, v))
}

// adminTeam handles GET /admin/team.
func (s *Server) adminTeam(c *fiber.Ctx) error { return s.renderTeam(c, fiber.StatusOK, nil, nil) }

// adminInviteAdmin handles POST /admin/team {email, name, role}: the link
// is shown once (201), or the form with what is wrong (422).
func (s *Server) adminInviteAdmin(c *fiber.Ctx) error {
	f := partials.InviteAdminForm{Email: strings.TrimSpace(c.FormValue("email")), Name: strings.TrimSpace(c.FormValue("name")),
		Role: c.FormValue("role"), Errors: formTextErrors(c)}
	if f.Email == "" {
		f.Errors["email"] = "Enter the email address of the person to invite."
	}
	if len(f.Errors) == 0 {
		inv, err := s.store.InviteAdmin(c.UserContext(), s.adminActor(c), db.AdminInvite{Email: f.Email, Name: f.Name,
			Role: licensing.AdminRole(f.Role), CreatedBy: s.loadSession(c).UserID, TTL: s.inviteTTL()}, s.now())
		if err == nil {
			link := s.deliverAdminLink(c.UserContext(), inv)
			msg := "Invitation link made for " + inv.User.Email + " as " + f.Role + "."
			return s.renderTeam(c, fiber.StatusCreated, func(v *partials.TeamView) { v.Link = link },
				&layouts.Flash{Kind: deliveryKind(link), Message: deliveryToast(msg, link)})
		}
		if err := formErrors(err, f.Errors, "email", "name", "role"); err != nil {
			return err
		}
	}
	return s.renderTeam(c, fiber.StatusUnprocessableEntity, func(v *partials.TeamView) { v.Form = f }, nil)
}

// adminNewAdminLink handles POST /admin/team/:user/link: a new invitation
// or password reset link, shown once.
func (s *Server) adminNewAdminLink(c *fiber.Ctx) error {
	id, err := parseUUID(c.Params("user"), "user")
	if err != nil {
		return err
	}
	inv, err := s.store.NewAdminLink(c.UserContext(), s.adminActor(c), id, s.loadSession(c).UserID, s.inviteTTL(), s.now())
	if err != nil {
		return s.teamActionError(c, err)
	}
	link := s.deliverAdminLink(c.UserContext(), inv)
	msg := "New invitation link made for " + inv.User.Email + "; the previous one no longer works."
	if link.Reset {
		msg = "Password reset link made for " + inv.User.Email + "."
	}
	return s.renderTeam(c, fiber.StatusCreated, func(v *partials.TeamView) { v.Link = link },
		&layouts.Flash{Kind: deliveryKind(link), Message: deliveryToast(msg, link)})
}

// adminSetAdminRole handles POST /admin/team/:user/role {role}.
func (s *Server) adminSetAdminRole(c *fiber.Ctx) error {
	id, err := s.otherAdmin(c)
	if err != nil {
		return err
	}
	role, err := licensing.ParseAdminRole(c.FormValue("role"))
	if err != nil {
		return s.teamActionError(c, err)
	}
	u, changed, err := s.store.SetAdminRole(c.UserContext(), s.adminActor(c), id, role, s.now())
	if err != nil {
		return s.teamActionError(c, err)
	}
	msg, kind := u.Email+" is now "+string(role)+".", components.ToastSuccess
	if !changed {
		msg, kind = u.Email+" was "+string(role)+" already.", components.ToastInfo
	}
	s.setFlash(c, kind, msg)
	return redirect(c, "/admin/team")
}

// adminDisableAdmin handles POST /admin/team/:user/disable: signed out
// everywhere at once and unable to sign in.
func (s *Server) adminDisableAdmin(c *fiber.Ctx) error { return s.setAdminDisabled(c, true) }

// adminEnableAdmin handles POST /admin/team/:user/enable.
func (s *Server) adminEnableAdmin(c *fiber.Ctx) error { return s.setAdminDisabled(c, false) }

func (s *Server) setAdminDisabled(c *fiber.Ctx, disabled bool) error {
	id, err := s.otherAdmin(c)
	if err != nil {
		return err
	}
	u, changed, err := s.store.SetAdminDisabled(c.UserContext(), s.adminActor(c), id, disabled, s.now())
	if err != nil {
		return s.teamActionError(c, err)
	}
	msg, kind := u.Email+" can sign in again.", components.ToastSuccess
	switch {
	case disabled && changed:
		msg = u.Email + " is disabled and signed out everywhere."
	case disabled:
		msg, kind = u.Email+" was already disabled.", components.ToastInfo
	case !changed:
		msg, kind = u.Email+" was already enabled.", components.ToastInfo
	}
	s.setFlash(c, kind, msg)
	return redirect(c, "/admin/team")
}

// otherAdmin reads :user; an owner changes others, never themself here
// (so no one locks themself out by a slip).
func (s *Server) otherAdmin(c *fiber.Ctx) (uuid.UUID, error) {
	id, err := parseUUID(c.Params("user"), "user")
	if err != nil {
		return id, err
	}
	if me := s.loadSession(c).UserID; me != nil && *me == id {
		return id, licensing.Invalid("you cannot change your own role or disable yourself; ask another owner")
	}
	return id, nil
}

// teamActionError shows a refusal the owner can act on in the page; any
// other error is an error page.
func (s *Server) teamActionError(c *fiber.Ctx, err error) error {
	le := classify(err)
	if le.Code != licensing.EINVALID && le.Code != licensing.ECONFLICT {
		return err
	}
	msg := sentence(le.Message)
	return s.renderTeam(c, fiber.StatusUnprocessableEntity, func(v *partials.TeamView) { v.Error = msg },
		&layouts.Flash{Kind: components.ToastError, Message: msg})
}

// deliverAdminLink emails an admin's link when SMTP is configured.
func (s *Server) deliverAdminLink(ctx context.Context, inv db.Invitation) *partials.NewUserLink {
	l := &partials.NewUserLink{Email: inv.User.Email, URL: s.inviteLink(inv.Token),
		ExpiresAt: fmtDateTime(inv.ExpiresAt) + " UTC", Reset: inv.User.PasswordHash != nil}
	if !s.cfg.Mail.Enabled() {
		l.MailOff = true
		return l
	}
	if err := SendAdminInvitation(ctx, s.cfg.Mail, inv, l.URL); err != nil {
		s.log.Warn("emailing an admin's link failed", "user", inv.User.ID, "invitation", inv.ID, "err", err)
		l.MailError = err.Error()
		return l
	}
	l.Emailed = true
	return l
}

// SendAdminInvitation emails an admin their link to set a password.
func SendAdminInvitation(ctx context.Context, cfg MailConfig, inv db.Invitation, link string) error {
	greeting := "Hello,"
	if inv.User.Name != "" {
		greeting = "Hello " + inv.User.Name + ","
	}
	expires := inv.ExpiresAt.UTC().Format("2 January 2006 at 15:04 UTC")
	subject := "Your invitation to the NLS admin portal"
	intro := "You are invited to the NLS admin portal as " + deref(inv.User.AdminRole) + ". Choose your password here to sign in:"
	if inv.User.PasswordHash != nil {
		subject = "Choose a new password for the NLS admin portal"
		intro = "An owner made a link for you to choose a new password for the NLS admin portal:"
	}
	body := greeting + "\n\n" + intro + "\n\n" + link + "\n\nThe link works once and until " + expires +
		". Your email address " + inv.User.Email + " is your sign-in name.\n\n" +
		"If you did not expect this message, you can ignore it.\n"
	return SendMail(ctx, cfg, mail.Address{Name: inv.User.Name, Address: inv.User.Email}, subject, body)
}
