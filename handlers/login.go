package handlers

// Sign-in and sign-out for the admin and customer portals: one form, one
// cookie session (session.go), the landing page chosen by the user's role;
// signing out ends the session on the server, here or everywhere.

import (
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/auth"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
)

// dummyPasswordHash is compared against when no user has the email given,
// so that an unknown account takes as long to refuse as a wrong password
// (cost 12, like real hashes) and timing does not reveal who has an account.
const dummyPasswordHash = "$2a$12$Th0aKTSXAVBWjv8fS//pmuEO/unQZzJQYiXm3cczs0asSNXswSuyy"

const badCredentials = "Email or password is incorrect"

func (s *Server) registerLoginRoutes(app *fiber.App) {
	app.Get("/login", s.loginPage)
	app.Post("/login", s.csrfProtect, s.login)
	app.Get("/login/2fa", s.loginCodePage)
	app.Post("/login/2fa", s.csrfProtect, s.loginCode)
	app.Post("/logout", s.csrfProtect, s.logout)
	app.Post("/logout/everywhere", s.requireRole(""), s.csrfProtect, s.logoutEverywhere)
}

// loginPage handles GET /login?next=: the sign-in form, or the user's
// landing page when already signed in.
func (s *Server) loginPage(c *fiber.Ctx) error {
	sess := s.loadSession(c)
	next := cleanNext(c.Query("next"))
	if sess.signedIn() {
		current, err := s.sessionCurrent(c, sess)
		if err != nil {
			return err
		}
		if current {
			return c.Redirect(landingFor(sess.Role, next), fiber.StatusSeeOther)
		}
		s.endSession(c)
	}
	return s.renderLogin(c, fiber.StatusOK, admin.LoginForm{Next: next})
}

// login handles POST /login {email, password, next, csrf_token}.
func (s *Server) login(c *fiber.Ctx) error {
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	password := c.FormValue("password")
	form := admin.LoginForm{Email: email, Next: cleanNext(c.FormValue("next"))}

	if email == "" || password == "" {
		form.Error = badCredentials
		return s.renderLogin(c, fiber.StatusUnauthorized, form)
	}
	wait, err := s.loginWait(c, email)
	if err != nil {
		return err
	}
	if wait > 0 {
		form.Error = fmt.Sprintf("Too many failed sign-in attempts. Wait %s, then try again.", tooSoon(c, wait))
		return s.renderLogin(c, fiber.StatusTooManyRequests, form)
	}

	user, err := s.store.GetUserByEmail(c.UserContext(), email)
	if err != nil && licensing.ErrorCode(err) != licensing.ENOTFOUND {
		return err
	}
	hash := dummyPasswordHash
	if err == nil && user.PasswordHash != nil {
		hash = *user.PasswordHash
	}
	if ok := auth.CheckPassword(hash, password); !ok || err != nil || user.PasswordHash == nil {
		s.loginFailed(c, email)
		form.Error = badCredentials
		return s.renderLogin(c, fiber.StatusUnauthorized, form)
	}
	if user.DisabledAt != nil {
		s.loginSucceeded(c, email)
		form.Error = "This account is disabled. Ask an administrator to enable it again."
		return s.renderLogin(c, fiber.StatusForbidden, form)
	}
	if user.TotpEnabledAt != nil {
		// The second step: until a right code, the browser holds only
		// whose password it was, which grants nothing. Failures are not
		// cleared yet, so guessing codes stays throttled.
		sess := s.loadSession(c)
		now := s.now().Unix()
		*sess = session{CSRF: newToken(), IssuedAt: now, SeenAt: now, Pending: &user.ID, PendingAt: now, Next: form.Next}
		s.saveSession(c, sess)
		return c.Redirect("/login/2fa", fiber.StatusSeeOther)
	}
	s.loginSucceeded(c, email)

	if err := s.startSession(c, user.ID, user.Role, user.Email, user.CustomerID); err != nil {
		return err
	}
	if err := s.store.RecordUserLogin(c.UserContext(), db.RecordUserLoginParams{ID: user.ID, LoggedInAt: ptr(s.now())}); err != nil {
		s.log.Warn("recording sign-in time failed", "user", user.ID, "err", err)
	}
	return c.Redirect(landingFor(user.Role, form.Next), fiber.StatusSeeOther)
}

// logout handles POST /logout: the session's row is revoked, so a copy of
// the cookie stops working too.
func (s *Server) logout(c *fiber.Ctx) error {
	if sess := s.loadSession(c); sess.Token != "" {
		if err := s.store.RevokeSession(c.UserContext(), db.RevokeSessionParams{
			TokenHash: sessionTokenHash(sess.Token), Now: ptr(s.now())}); err != nil {
			return err
		}
	}
	s.endSession(c)
	return signedOut(c)
}

// logoutEverywhere handles POST /logout/everywhere: every session of the
// signed-in user ends, this one included, on every device.
func (s *Server) logoutEverywhere(c *fiber.Ctx) error {
	sess := s.loadSession(c)
	actor := s.userActor(c, sess.UserID.String(), sess.Role, sess.Email)
	n, err := s.store.SignOutEverywhere(c.UserContext(), actor, *sess.UserID, s.now())
	if err != nil {
		return err
	}
	s.endSession(c)
	s.setFlash(c, components.ToastSuccess, fmt.Sprintf("Signed out everywhere: %s ended.", sessionsWord(n)))
	return signedOut(c)
}

func sessionsWord(n int64) string {
	if n == 1 {
		return "1 session"
	}
	return fmt.Sprintf("%d sessions", n)
}

// signedOut sends the browser to the sign-in page (HX-Redirect under HTMX).
func signedOut(c *fiber.Ctx) error {
	return redirect(c, "/login")
}

func (s *Server) renderLogin(c *fiber.Ctx, status int, form admin.LoginForm) error {
	c.Status(status)
	return s.render(c, admin.Login(s.page(c, "Sign in"), form))
}

// cleanNext keeps a local path to return to after sign-in, or nothing.
func cleanNext(next string) string {
	if next == "" {
		return ""
	}
	if n := safeNext(next); n != "/" && !strings.HasPrefix(n, "/login") {
		return string([]byte(n))
	}
	return ""
}

// landingFor is where a user of role goes after sign-in: next when it lies
// inside their own portal, else the portal's home.
func landingFor(role, next string) string {
	home := "/"
	switch role {
	case "admin":
		home = "/admin"
	case "customer":
		home = "/portal"
	}
	if home != "/" && (next == home || strings.HasPrefix(next, home+"/") || strings.HasPrefix(next, home+"?")) {
		return next
	}
	return home
}
