package handlers

// Sign-in and sign-out for the admin and customer portals: one form, one
// cookie session (session.go), the landing page chosen by the user's role.

import (
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
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
	app.Post("/logout", s.csrfProtect, s.logout)
}

// loginPage handles GET /login?next=: the sign-in form, or the user's
// landing page when already signed in.
func (s *Server) loginPage(c *fiber.Ctx) error {
	sess := s.loadSession(c)
	next := cleanNext(c.Query("next"))
	if sess.signedIn() {
		return c.Redirect(landingFor(sess.Role, next), fiber.StatusSeeOther)
	}
	return s.renderLogin(c, fiber.StatusOK, admin.LoginForm{Next: next})
}

// login handles POST /login {email, password, next, csrf_token}.
func (s *Server) login(c *fiber.Ctx) error {
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	password := c.FormValue("password")
	form := admin.LoginForm{Email: email, Next: cleanNext(c.FormValue("next"))}

	if retry, limited := s.loginLimited(c, email); limited {
		mins := int((retry + time.Minute - 1) / time.Minute)
		if mins < 1 {
			mins = 1
		}
		c.Set(fiber.HeaderRetryAfter, fmt.Sprint(int((retry+time.Second-1)/time.Second)))
		unit := "minutes"
		if mins == 1 {
			unit = "minute"
		}
		form.Error = fmt.Sprintf("Too many sign-in attempts. Try again in %d %s.", mins, unit)
		return s.renderLogin(c, fiber.StatusTooManyRequests, form)
	}

	if email == "" || password == "" {
		form.Error = badCredentials
		return s.renderLogin(c, fiber.StatusUnauthorized, form)
	}
	user, err := s.store.Q.GetUserByEmail(c.UserContext(), email)
	if err != nil && licensing.ErrorCode(db.Translate(err)) != licensing.ENOTFOUND {
		return db.Translate(err)
	}
	hash := dummyPasswordHash
	if err == nil && user.PasswordHash != nil {
		hash = *user.PasswordHash
	}
	if ok := CheckPassword(hash, password); !ok || err != nil || user.PasswordHash == nil {
		form.Error = badCredentials
		return s.renderLogin(c, fiber.StatusUnauthorized, form)
	}
	if user.DisabledAt != nil {
		form.Error = "This account is disabled. Ask an administrator to enable it again."
		return s.renderLogin(c, fiber.StatusForbidden, form)
	}

	s.startSession(c, user.ID, user.Role, user.Email, user.CustomerID)
	if err := s.store.Q.RecordUserLogin(c.UserContext(), db.RecordUserLoginParams{ID: user.ID, LoggedInAt: ptr(s.now())}); err != nil {
		s.log.Warn("recording sign-in time failed", "user", user.ID, "err", err)
	}
	return c.Redirect(landingFor(user.Role, form.Next), fiber.StatusSeeOther)
}

// logout handles POST /logout.
func (s *Server) logout(c *fiber.Ctx) error {
	s.endSession(c)
	if isHTMX(c) {
		c.Set("HX-Redirect", "/login")
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect("/login", fiber.StatusSeeOther)
}

// loginLimited counts one attempt against the account and the client IP
// and reports whether either is over s.cfg.LoginRate.
func (s *Server) loginLimited(c *fiber.Ctx, email string) (time.Duration, bool) {
	r := s.cfg.LoginRate
	if r.Limit <= 0 || s.limiter == nil {
		return 0, false
	}
	var longest time.Duration
	limited := false
	for _, key := range []string{"login:account:" + email, "login:ip:" + c.IP()} {
		ok, retry, err := s.limiter.Allow(c.UserContext(), key, r)
		if err != nil {
			s.log.Warn("rate limiter unavailable, allowing sign-in attempt", "err", err)
			continue
		}
		if !ok {
			limited = true
			longest = max(longest, retry)
		}
	}
	return longest, limited
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
