package handlers

// The people section of an admin's customer page: the customer's portal
// users, inviting someone (the link shown once, and emailed when SMTP is
// configured), disabling and enabling, and a new link to set a password.
// Each form posts with htmx and swaps the section in place with a toast;
// without JavaScript the form posts normally and the whole page answers.

import (
	"context"
	"strings"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/layouts"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
	"github.com/nectarcloud/nls/web/templates/partials"
)

// customerUsersShown bounds the people list; customers have a handful.
const customerUsersShown = 500

// customerUsers is the people section of a customer's page.
func (s *Server) customerUsers(c *fiber.Ctx, cu db.Customer) (partials.UsersSection, error) {
	v := partials.UsersSection{CustomerID: cu.ID.String(), Archived: cu.ArchivedAt != nil}
	rows, err := s.store.ListCustomerUsers(c.UserContext(), db.ListCustomerUsersParams{CustomerID: &cu.ID,
		MaxRows: customerUsersShown})
	if err != nil {
		return v, err
	}
	now := s.now()
	for _, u := range rows {
		r := partials.UserRow{ID: u.ID.String(), Email: u.Email, Name: u.Name, Status: partials.UserInvited}
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
		v.Users = append(v.Users, r)
	}
	return v, nil
}

// adminInviteUser handles POST /admin/customers/:id/users {email, name}:
// invites the person and shows their link once (201 without htmx), or the
// form with what is wrong (422 without htmx; htmx swaps only 2xx answers,
// so under htmx both are 200).
func (s *Server) adminInviteUser(c *fiber.Ctx) error {
	cu, err := s.customerByParam(c)
	if err != nil {
		return err
	}
	f := partials.InviteUserForm{Email: strings.TrimSpace(strings.Clone(c.FormValue("email"))),
		Name: strings.TrimSpace(strings.Clone(c.FormValue("name"))), Errors: formTextErrors(c)}
	if f.Email == "" {
		f.Errors["email"] = "Enter the email address of the person to invite."
	}
	if len(f.Errors) > 0 {
		return s.answerUsers(c, cu, usersAnswer{form: f, status: fiber.StatusUnprocessableEntity})
	}
	inv, err := s.store.InviteUser(c.UserContext(), s.adminActor(c), db.InviteInput{CustomerID: cu.ID,
		Email: f.Email, Name: f.Name, CreatedBy: s.loadSession(c).UserID, TTL: s.inviteTTL()}, s.now())
	if err != nil {
		if licensing.ErrorCode(err) == licensing.ENOTFOUND {
			return err
		}
		if err := formErrors(err, f.Errors, "email", "name"); err != nil {
			return err
		}
		return s.answerUsers(c, cu, usersAnswer{form: f, status: fiber.StatusUnprocessableEntity})
	}
	link := s.deliverLink(c.UserContext(), inv, cu.Name)
	msg := "Invitation link made for " + inv.User.Email + "."
	if inv.Replaced {
		msg = "New invitation link made for " + inv.User.Email + "; the previous one no longer works."
	}
	return s.answerUsers(c, cu, usersAnswer{link: link, status: fiber.StatusCreated, toast: deliveryToast(msg, link),
		kind: deliveryKind(link)})
}

// adminNewUserLink handles POST /admin/customers/:id/users/:user/link: a new
// link to set a password (an invitation again, or a reset link for someone
// with a password), shown once; their earlier link stops working.
func (s *Server) adminNewUserLink(c *fiber.Ctx) error {
	cu, userID, err := s.customerUserParams(c)
	if err != nil {
		return err
	}
	inv, err := s.store.NewInvitationLink(c.UserContext(), s.adminActor(c), cu.ID, userID, s.loadSession(c).UserID,
		s.inviteTTL(), s.now())
	if err != nil {
		return s.answerUserActionError(c, cu, err)
	}
	link := s.deliverLink(c.UserContext(), inv, cu.Name)
	msg := "New invitation link made for " + inv.User.Email + "; the previous one no longer works."
	if link.Reset {
		msg = "Password reset link made for " + inv.User.Email + "."
	}
	return s.answerUsers(c, cu, usersAnswer{link: link, status: fiber.StatusCreated, toast: deliveryToast(msg, link),
		kind: deliveryKind(link)})
}

// adminDisableUser handles POST /admin/customers/:id/users/:user/disable:
// the user is signed out at their next request and cannot sign in.
func (s *Server) adminDisableUser(c *fiber.Ctx) error {
	return s.adminSetUserDisabled(c, true)
}

// adminEnableUser handles POST /admin/customers/:id/users/:user/enable.
func (s *Server) adminEnableUser(c *fiber.Ctx) error {
	return s.adminSetUserDisabled(c, false)
}

func (s *Server) adminSetUserDisabled(c *fiber.Ctx, disabled bool) error {
	cu, userID, err := s.customerUserParams(c)
	if err != nil {
		return err
	}
	u, changed, err := s.store.SetCustomerUserDisabled(c.UserContext(), s.adminActor(c), cu.ID, userID, disabled, s.now())
	if err != nil {
		return s.answerUserActionError(c, cu, err)
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
	if !isHTMX(c) {
		s.setFlash(c, kind, msg)
		return c.Redirect("/admin/customers/"+cu.ID.String(), fiber.StatusSeeOther)
	}
	return s.answerUsers(c, cu, usersAnswer{toast: msg, kind: kind})
}

// customerUserParams reads :id and :user; a user of another customer is
// not found by the actions, which are scoped to :id.
func (s *Server) customerUserParams(c *fiber.Ctx) (db.Customer, uuid.UUID, error) {
	cu, err := s.customerByParam(c)
	if err != nil {
		return cu, uuid.UUID{}, err
	}
	id, err := parseUUID(c.Params("user"), "user")
	return cu, id, err
}

// answerUserActionError shows a refusal the admin can act on (a disabled
// user has no new link) in the section; anything else is an error page.
func (s *Server) answerUserActionError(c *fiber.Ctx, cu db.Customer, err error) error {
	le := classify(err)
	if le.Code != licensing.EINVALID && le.Code != licensing.ECONFLICT {
		return err
	}
	msg := sentence(le.Message)
	if !isHTMX(c) {
		s.setFlash(c, components.ToastError, msg)
		return c.Redirect("/admin/customers/"+cu.ID.String(), fiber.StatusSeeOther)
	}
	return s.answerUsers(c, cu, usersAnswer{err: msg, toast: msg, kind: components.ToastError})
}

// usersAnswer is what an action shows in the people section.
type usersAnswer struct {
	form   partials.InviteUserForm
	link   *partials.NewUserLink
	err    string
	toast  string
	kind   string
	status int // without htmx; 0: 200
}

// answerUsers renders the people section under htmx (with a toast out of
// band), or the whole customer page.
func (s *Server) answerUsers(c *fiber.Ctx, cu db.Customer, a usersAnswer) error {
	if isHTMX(c) {
		v, err := s.customerUsers(c, cu)
		if err != nil {
			return err
		}
		v.Form, v.Link, v.Error = a.form, a.link, a.err
		comps := []templ.Component{partials.CustomerUsers(v, s.loadSession(c).CSRF)}
		if a.toast != "" {
			comps = append(comps, components.ToastOOB(a.kind, a.toast))
		}
		return s.render(c, templ.Join(comps...))
	}
	d, err := s.customerDetail(c, cu)
	if err != nil {
		return err
	}
	d.Users.Form, d.Users.Link, d.Users.Error = a.form, a.link, a.err
	p := s.page(c, cu.Name)
	if a.toast != "" {
		p.Flash = append(p.Flash, layouts.Flash{Kind: a.kind, Message: a.toast})
	}
	if a.status != 0 {
		c.Status(a.status)
	}
	return s.render(c, admin.CustomerPage(p, d))
}

// deliverLink emails a new link when SMTP is configured, and says what
// happened. A failure to send loses nothing: the link is shown all the same.
func (s *Server) deliverLink(ctx context.Context, inv db.Invitation, customerName string) *partials.NewUserLink {
	l := &partials.NewUserLink{Email: inv.User.Email, URL: s.inviteLink(inv.Token),
		ExpiresAt: fmtDateTime(inv.ExpiresAt) + " UTC", Reset: inv.User.PasswordHash != nil}
	if !s.cfg.Mail.Enabled() {
		l.MailOff = true
		return l
	}
	if err := SendInvitation(ctx, s.cfg.Mail, inv, customerName, l.URL); err != nil {
		s.log.Warn("emailing a link to set a password failed", "user", inv.User.ID, "invitation", inv.ID, "err", err)
		l.MailError = err.Error()
		return l
	}
	l.Emailed = true
	return l
}

func deliveryToast(msg string, l *partials.NewUserLink) string {
	switch {
	case l.Emailed:
		return msg + " It was emailed to them."
	case l.MailError != "":
		return msg + " Emailing it failed: copy the link and send it yourself."
	}
	return msg + " Copy it and send it to them."
}

func deliveryKind(l *partials.NewUserLink) string {
	if l.MailError != "" {
		return components.ToastError
	}
	return components.ToastSuccess
}
