package handlers

// Two-factor sign-in and sessions on the account pages of both portals
// (/admin/account and /portal/account): turning TOTP on (QR code, first
// code, recovery codes shown once) and off, and signing out one session.
// The second step of signing in (/login/2fa) is here too.

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/pquerna/otp"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/insights"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/layouts"
	"github.com/nectarcloud/nls/web/templates/pages"
	"github.com/nectarcloud/nls/web/templates/partials"
)

const (
	adminAccountPath  = "/admin/account"
	portalAccountPath = "/portal/account"
	// pendingFor is how long the code may take after a right password.
	pendingFor = 5 * time.Minute
)

// accountBase is the account page of the signed-in user's portal.
func accountBase(sess *session) string {
	if sess.Role == "customer" {
		return portalAccountPath
	}
	return adminAccountPath
}

// accountPage is the layout of a page under the user's account.
func (s *Server) accountPage(c *fiber.Ctx, title string) layouts.Page {
	if s.loadSession(c).Role == "customer" {
		return s.portalPage(c, title)
	}
	return s.page(c, title)
}

// securityView is the two-factor state and open sessions of the signed-in user.
func (s *Server) securityView(c *fiber.Ctx, u db.User) (partials.SecurityView, error) {
	sess := s.loadSession(c)
	ctx := c.UserContext()
	v := partials.SecurityView{Base: accountBase(sess), TwoFactorOn: u.TotpEnabledAt != nil,
		Required: s.cfg.RequireOwner2FA && deref(u.AdminRole) == string(licensing.RoleOwner)}
	if v.TwoFactorOn {
		n, err := s.store.CountUnusedRecoveryCodes(ctx, u.ID)
		if err != nil {
			return v, err
		}
		v.RecoveryLeft = n
	}
	now := s.now()
	rows, err := s.store.ListOpenSessionsByUser(ctx, db.ListOpenSessionsByUserParams{UserID: u.ID, Now: now,
		IdleSince: now.Add(-sessionIdle)})
	if err != nil {
		return v, err
	}
	mine := sessionTokenHash(sess.Token)
	for _, r := range rows {
		v.Sessions = append(v.Sessions, partials.SessionRow{ID: r.ID.String(), Created: fmtDateTime(r.CreatedAt),
			LastSeen: fmtDateTime(r.LastSeenAt), IP: r.Ip, UserAgent: r.UserAgent, Current: bytes.Equal(r.TokenHash, mine)})
	}
	return v, nil
}

// adminAccount handles GET /admin/account.
func (s *Server) adminAccount(c *fiber.Ctx) error {
	sess := s.loadSession(c)
	u, err := s.store.GetUserByID(c.UserContext(), *sess.UserID)
	if err != nil {
		return err
	}
	v, err := s.securityView(c, u)
	if err != nil {
		return err
	}
	prefs, err := s.store.GetFindingAlertPrefs(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	return s.render(c, pages.AdminAccountPage(s.page(c, "Your account"),
		pages.AdminAccount{Email: u.Email, Role: roleName(s.account(c).adminRole), Security: v, Alerts: alertPrefsView(prefs)}))
}

func alertPrefsView(p db.FindingAlertPrefs) pages.AlertPrefs {
	v := pages.AlertPrefs{MinSeverity: p.MinSeverity, Delivery: p.Delivery}
	for _, k := range insights.Kinds {
		v.Kinds = append(v.Kinds, pages.AlertKind{Value: string(k.Kind), Label: k.Label, Chosen: slices.Contains(p.Kinds, string(k.Kind))})
	}
	for _, sev := range insights.Severities {
		v.Severities = append(v.Severities, string(sev))
	}
	return v
}

// adminSaveAlerts handles POST /admin/account/alerts: which findings email
// the admin, and how.
func (s *Server) adminSaveAlerts(c *fiber.Ctx) error {
	sess := s.loadSession(c)
	var kinds []string
	for _, k := range c.Request().PostArgs().PeekMulti("kinds") {
		kinds = append(kinds, string(k))
	}
	p := db.FindingAlertPrefs{Kinds: kinds, MinSeverity: strings.Clone(c.FormValue("minSeverity")),
		Delivery: strings.Clone(c.FormValue("delivery"))}
	if err := s.store.SetFindingAlertPrefs(c.UserContext(), *sess.UserID, p, s.now()); err != nil {
		return err
	}
	s.setFlash(c, components.ToastSuccess, "Alert preferences saved.")
	return redirect(c, "/admin/account#alerts")
}

func (s *Server) adminTOTPSetup(c *fiber.Ctx) error   { return s.totpSetup(c) }
func (s *Server) adminTOTPConfirm(c *fiber.Ctx) error { return s.totpConfirm(c) }
func (s *Server) adminTOTPDisable(c *fiber.Ctx) error { return s.totpDisable(c) }
func (s *Server) adminRevokeSession(c *fiber.Ctx) error {
	return s.revokeOwnSession(c)
}

func (s *Server) twoFactor() *app.TwoFactor {
	return app.NewTwoFactor(s.store, s.sealer, "NLS", s.now)
}

// totpSetup handles POST {account}/2fa/setup: a new secret, kept in the
// (encrypted) session cookie until a code from it is confirmed.
func (s *Server) totpSetup(c *fiber.Ctx) error {
	sess := s.loadSession(c)
	if s.account(c).totp {
		s.setFlash(c, components.ToastInfo, "Two-factor sign-in is on already.")
		return redirect(c, accountBase(sess))
	}
	e, err := s.twoFactor().NewEnrolment(sess.Email)
	if err != nil {
		return err
	}
	sess.Enrol = e.URL
	s.saveSession(c, sess)
	return s.render(c, pages.TwoFactorSetupPage(s.accountPage(c, "Set up two-factor sign-in"),
		pages.TwoFactorSetup{Base: accountBase(sess), QR: e.QR, Secret: e.Secret}))
}

// totpConfirm handles POST {account}/2fa/confirm {code}: a right code turns
// two-factor sign-in on and shows the recovery codes once; a wrong one
// shows the QR code again and counts as a failed sign-in.
func (s *Server) totpConfirm(c *fiber.Ctx) error {
	sess := s.loadSession(c)
	base := accountBase(sess)
	key, err := otp.NewKeyFromURL(sess.Enrol)
	if sess.Enrol == "" || err != nil {
		s.setFlash(c, components.ToastError, "That setup expired. Start again.")
		return redirect(c, base)
	}
	again := func(status int, msg string) error {
		e, err := app.EnrolmentOf(key.Secret(), key.URL())
		if err != nil {
			return err
		}
		c.Status(status)
		return s.render(c, pages.TwoFactorSetupPage(s.accountPage(c, "Set up two-factor sign-in"),
			pages.TwoFactorSetup{Base: base, QR: e.QR, Secret: e.Secret, Error: msg}))
	}
	wait, err := s.loginWait(c, sess.Email)
	if err != nil {
		return err
	}
	if wait > 0 {
		return again(fiber.StatusTooManyRequests, fmt.Sprintf("Too many wrong codes. Wait %s, then try again.", tooSoon(c, wait)))
	}
	codes, ok, err := s.twoFactor().Confirm(c.UserContext(), s.sessionActor(c), *sess.UserID, key.Secret(), c.FormValue("code"))
	if err != nil {
		return err
	}
	if !ok {
		s.loginFailed(c, sess.Email)
		return again(fiber.StatusUnprocessableEntity, "That code is not right. Type the code the app shows now.")
	}
	s.loginSucceeded(c, sess.Email)
	sess.Enrol = ""
	s.saveSession(c, sess)
	return s.render(c, pages.RecoveryCodesPage(s.accountPage(c, "Two-factor sign-in is on"), base, codes))
}

// totpDisable handles POST {account}/2fa/disable {code}: a current code or
// a recovery code turns two-factor sign-in off. Owners who must use it
// cannot.
func (s *Server) totpDisable(c *fiber.Ctx) error {
	sess := s.loadSession(c)
	base := accountBase(sess)
	if s.cfg.RequireOwner2FA && s.account(c).adminRole == licensing.RoleOwner {
		return licensing.Errorf(licensing.EFORBIDDEN, "owners must use two-factor sign-in here")
	}
	wait, err := s.loginWait(c, sess.Email)
	if err != nil {
		return err
	}
	if wait > 0 {
		s.setFlash(c, components.ToastError, fmt.Sprintf("Too many wrong codes. Wait %s, then try again.", tooSoon(c, wait)))
		return redirect(c, base)
	}
	u, err := s.store.GetUserByID(c.UserContext(), *sess.UserID)
	if err != nil {
		return err
	}
	actor := s.sessionActor(c)
	ok, _, err := s.twoFactor().Check(c.UserContext(), actor, u, c.FormValue("code"))
	if err != nil {
		return err
	}
	if !ok {
		s.loginFailed(c, sess.Email)
		s.setFlash(c, components.ToastError, "That code is not right, so two-factor sign-in stays on. Try again with a new code.")
		return redirect(c, base)
	}
	if err := s.twoFactor().Disable(c.UserContext(), actor, u.ID); err != nil {
		return err
	}
	s.setFlash(c, components.ToastSuccess, "Two-factor sign-in is off. Your password alone signs you in now.")
	return redirect(c, base)
}

// revokeOwnSession handles POST {account}/sessions/:session/revoke: that
// browser is signed out at its next request; signing out this browser
// goes to the sign-in page.
func (s *Server) revokeOwnSession(c *fiber.Ctx) error {
	sess := s.loadSession(c)
	id, err := parseUUID(c.Params("session"), "session")
	if err != nil {
		return err
	}
	rows, err := s.store.ListOpenSessionsByUser(c.UserContext(), db.ListOpenSessionsByUserParams{UserID: *sess.UserID,
		Now: s.now(), IdleSince: s.now().Add(-sessionIdle)})
	if err != nil {
		return err
	}
	current := false
	for _, r := range rows {
		if r.ID == id && bytes.Equal(r.TokenHash, sessionTokenHash(sess.Token)) {
			current = true
		}
	}
	if err := s.store.RevokeUserSession(c.UserContext(), s.sessionActor(c), *sess.UserID, id, s.now()); err != nil {
		return err
	}
	if current {
		s.endSession(c)
		return signedOut(c)
	}
	s.setFlash(c, components.ToastSuccess, "That session is signed out.")
	return redirect(c, accountBase(sess))
}

// sessionActor names the signed-in user (admin or customer user) for the audit log.
func (s *Server) sessionActor(c *fiber.Ctx) licensing.Actor {
	sess := s.loadSession(c)
	if sess.Role == "customer" {
		return s.userActor(c, sess.UserID.String(), sess.Role, sess.Email)
	}
	return s.adminActor(c)
}

// loginCodePage handles GET /login/2fa: the code form, for a browser whose
// password was right a moment ago.
func (s *Server) loginCodePage(c *fiber.Ctx) error {
	if s.pendingUser(c) == nil {
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	return s.render(c, pages.LoginCode(s.page(c, "Sign in"), pages.LoginCodeForm{}))
}

// pendingUser is whose password this browser got right, within pendingFor.
func (s *Server) pendingUser(c *fiber.Ctx) *session {
	sess := s.loadSession(c)
	if sess.Pending == nil || s.now().Sub(time.Unix(sess.PendingAt, 0)) > pendingFor {
		return nil
	}
	return sess
}

// loginCode handles POST /login/2fa {code}: the second step. A right code
// (or an unused recovery code) signs in; a wrong one counts as a failed
// sign-in of the account, with the same delays as a wrong password.
func (s *Server) loginCode(c *fiber.Ctx) error {
	sess := s.pendingUser(c)
	if sess == nil {
		s.setFlash(c, components.ToastInfo, "Sign in again: the code was not typed in time.")
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	ctx := c.UserContext()
	u, err := s.store.GetUserByID(ctx, *sess.Pending)
	if err != nil {
		return err
	}
	form := pages.LoginCodeForm{}
	wait, err := s.loginWait(c, u.Email)
	if err != nil {
		return err
	}
	if wait > 0 {
		form.Error = fmt.Sprintf("Too many failed sign-in attempts. Wait %s, then try again.", tooSoon(c, wait))
		c.Status(fiber.StatusTooManyRequests)
		return s.render(c, pages.LoginCode(s.page(c, "Sign in"), form))
	}
	if u.DisabledAt != nil {
		s.endSession(c)
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	actor := s.userActor(c, u.ID.String(), u.Role, u.Email)
	ok, recovery, err := s.twoFactor().Check(ctx, actor, u, c.FormValue("code"))
	if err != nil {
		return err
	}
	if !ok {
		s.loginFailed(c, u.Email)
		form.Error = "That code is not right. Type the code your app shows now, or an unused recovery code."
		c.Status(fiber.StatusUnauthorized)
		return s.render(c, pages.LoginCode(s.page(c, "Sign in"), form))
	}
	s.loginSucceeded(c, u.Email)
	next := sess.Next
	if err := s.startSession(c, u.ID, u.Role, u.Email, u.CustomerID); err != nil {
		return err
	}
	if err := s.store.RecordUserLogin(ctx, db.RecordUserLoginParams{ID: u.ID, LoggedInAt: ptr(s.now())}); err != nil {
		s.log.Warn("recording sign-in time failed", "user", u.ID, "err", err)
	}
	if recovery {
		s.setFlash(c, components.ToastInfo, "You signed in with a recovery code; it cannot be used again.")
	}
	return c.Redirect(landingFor(u.Role, next), fiber.StatusSeeOther)
}
