package handlers

// The customer portal's account page: who is signed in, and changing the
// password (which ends every other session of the account).

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/auth"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/portal"
)

func (s *Server) registerPortalAccountRoutes(app *fiber.App) {
	g := app.Group("/portal/account", s.requireRole("customer"), s.csrfProtect)
	g.Get("/", s.portalAccount)
	g.Post("/password", s.portalChangePassword)
	g.Post("/2fa/setup", s.totpSetup)
	g.Post("/2fa/confirm", s.totpConfirm)
	g.Post("/2fa/disable", s.totpDisable)
	g.Post("/sessions/:session/revoke", s.revokeOwnSession)
}

// portalAccount handles GET /portal/account.
func (s *Server) portalAccount(c *fiber.Ctx) error {
	return s.renderAccount(c, fiber.StatusOK, portal.PasswordForm{})
}

// portalChangePassword handles POST /portal/account/password {current,
// password, confirm}: checks the current password (a wrong one counts as a
// failed sign-in, with the same delays), sets the new one, ends every
// other session and renews this one; or the form again with what is wrong.
func (s *Server) portalChangePassword(c *fiber.Ctx) error {
	sess := s.loadSession(c)
	f := portal.PasswordForm{Errors: map[string]string{}}
	current, password, confirm := c.FormValue("current"), c.FormValue("password"), c.FormValue("confirm")

	wait, err := s.loginWait(c, sess.Email)
	if err != nil {
		return err
	}
	if wait > 0 {
		f.Errors["form"] = fmt.Sprintf("Too many wrong passwords. Wait %s, then try again.", tooSoon(c, wait))
		return s.renderAccount(c, fiber.StatusTooManyRequests, f)
	}
	u, err := s.store.GetUserByID(c.UserContext(), *sess.UserID)
	if err != nil {
		return err
	}
	if current == "" || u.PasswordHash == nil || !auth.CheckPassword(*u.PasswordHash, current) {
		if current != "" {
			s.loginFailed(c, sess.Email)
		}
		f.Errors["current"] = "This is not your current password."
		return s.renderAccount(c, fiber.StatusUnprocessableEntity, f)
	}
	f.Errors = auth.PasswordProblems(password, confirm, u.Email)
	if len(f.Errors) == 0 && password == current {
		f.Errors["password"] = "Choose a password different from your current one."
	}
	if len(f.Errors) > 0 {
		return s.renderAccount(c, fiber.StatusUnprocessableEntity, f)
	}
	hash, err := auth.HashPassword(password, s.cfg.BcryptCost)
	if err != nil {
		return licensing.Internal(err)
	}
	if _, err := s.store.ChangePassword(c.UserContext(), s.userActor(c, u.ID.String(), u.Role, u.Email), u.ID, hash,
		s.now()); err != nil {
		return err
	}
	// A new session (and CSRF token) for this browser, issued after the
	// change; every session issued before it is refused from now on.
	if err := s.startSession(c, u.ID, u.Role, u.Email, u.CustomerID); err != nil {
		return err
	}
	s.setFlash(c, components.ToastSuccess, "Password changed. Any other session of your account has been signed out.")
	return c.Redirect("/portal/account", fiber.StatusSeeOther)
}

func (s *Server) renderAccount(c *fiber.Ctx, status int, f portal.PasswordForm) error {
	sess := s.loadSession(c)
	ctx := c.UserContext()
	u, err := s.store.GetUserByID(ctx, *sess.UserID)
	if err != nil {
		return err
	}
	// The portal's layout: its navigation (Account marked) and the
	// customer's name.
	p := s.portalPage(c, "Your account")
	f.MinLength = auth.MinPasswordRunes
	a := portal.Account{Email: u.Email, Name: u.Name, Customer: p.Customer.Name, Form: f}
	if a.Notices, err = s.noticeChoices(c, u.Email); err != nil {
		return err
	}
	if a.Security, err = s.securityView(c, u); err != nil {
		return err
	}
	if u.LastLoginAt != nil {
		a.LastLogin = fmtDateTime(*u.LastLoginAt)
	}
	c.Status(status)
	return s.render(c, portal.AccountPage(p, a))
}
