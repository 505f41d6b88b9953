package handlers

// Invitations: the public page behind a link to set a password
// (GET/POST /invite/:token), the password rules every new password meets,
// and the email that carries a link when SMTP is configured.
//
// The token is a bearer secret: only its SHA-256 is stored, it never reaches
// a log line or an audit row, and the request log shows /invite/:token in
// place of the path.

import (
	"context"
	"errors"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/auth"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/notify"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages"
)

const localInviteToken = "inviteToken"

func (s *Server) registerInvitationRoutes(app *fiber.App) {
	app.Get("/invite/:token", s.hideInviteToken, s.invitePage)
	app.Post("/invite/:token", s.hideInviteToken, s.csrfProtect, s.acceptInvite)
}

// hideInviteToken keeps the token for the handler and then replaces the
// request's path, so that the request log (written after the handler, even
// when it fails or panics) never sees it. The page also tells browsers not
// to send the URL on as a Referer, nor to cache it.
func (s *Server) hideInviteToken(c *fiber.Ctx) error {
	c.Locals(localInviteToken, strings.Clone(c.Params("token")))
	defer c.Path("/invite/:token")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}

// openInvitation finds the invitation of the request's token; ok is false
// when the link cannot be used, whatever the reason.
func (s *Server) openInvitation(c *fiber.Ctx) (inv db.GetInvitationByTokenHashRow, hash []byte, ok bool, err error) {
	token, _ := c.Locals(localInviteToken).(string)
	return s.invitations.Open(c.UserContext(), token)
}

// invitePage handles GET /invite/:token: the form to choose a password, or
// a page saying the link cannot be used (410).
func (s *Server) invitePage(c *fiber.Ctx) error {
	inv, _, ok, err := s.openInvitation(c)
	if err != nil {
		return err
	}
	if !ok {
		return s.renderInviteClosed(c)
	}
	return s.renderInvite(c, fiber.StatusOK, pages.InviteForm{Email: inv.Email, Name: inv.Name, Reset: inv.HasPassword})
}

// acceptInvite handles POST /invite/:token {password, confirm, csrf_token}:
// sets the password, uses the link up and signs the user in, landing on
// their portal; or the form again with what is wrong (422).
func (s *Server) acceptInvite(c *fiber.Ctx) error {
	inv, hash, ok, err := s.openInvitation(c)
	if err != nil {
		return err
	}
	if !ok {
		return s.renderInviteClosed(c)
	}
	u, problems, err := s.invitations.Accept(c.UserContext(), s.userActor(c, inv.UserID.String(), inv.Role, inv.Email),
		inv, hash, c.FormValue("password"), c.FormValue("confirm"))
	if len(problems) > 0 {
		f := pages.InviteForm{Email: inv.Email, Name: inv.Name, Reset: inv.HasPassword, Errors: problems}
		return s.renderInvite(c, fiber.StatusUnprocessableEntity, f)
	}
	if err != nil {
		if errors.Is(err, db.ErrInvitationClosed) {
			return s.renderInviteClosed(c) // used by a request that won the race
		}
		return err
	}
	if u.TotpEnabledAt != nil {
		// A new password does not skip the second step.
		now := s.now().Unix()
		s.saveSession(c, &session{CSRF: newToken(), IssuedAt: now, SeenAt: now, Pending: &u.ID, PendingAt: now})
		s.setFlash(c, components.ToastSuccess, "Your new password is set. Type your two-factor code to sign in.")
		return c.Redirect("/login/2fa", fiber.StatusSeeOther)
	}
	if err := s.startSession(c, u.ID, u.Role, u.Email, u.CustomerID); err != nil {
		return err
	}
	now := s.now()
	if err := s.store.RecordUserLogin(c.UserContext(), db.RecordUserLoginParams{ID: u.ID, LoggedInAt: &now}); err != nil {
		s.log.Warn("recording sign-in time failed", "user", u.ID, "err", err)
	}
	msg := "Your password is set and you are signed in."
	if inv.HasPassword {
		msg = "Your new password is set and you are signed in. Other sessions of your account have ended."
	}
	s.setFlash(c, components.ToastSuccess, msg)
	return c.Redirect(landingFor(u.Role, ""), fiber.StatusSeeOther)
}

func (s *Server) renderInvite(c *fiber.Ctx, status int, f pages.InviteForm) error {
	title := "Choose your password"
	if f.Reset {
		title = "Choose a new password"
	}
	f.MinLength = auth.MinPasswordRunes
	c.Status(status)
	return s.render(c, pages.Invite(s.page(c, title), f))
}

// renderInviteClosed answers every link that cannot be used the same way,
// so the page reveals nothing about the link or the account behind it.
func (s *Server) renderInviteClosed(c *fiber.Ctx) error {
	c.Status(fiber.StatusGone)
	return s.render(c, pages.InviteClosed(s.page(c, "This link cannot be used"), durationWords(s.inviteTTL())))
}

func (s *Server) inviteTTL() time.Duration {
	if s.cfg.InviteTTL > 0 {
		return s.cfg.InviteTTL
	}
	return db.DefaultInviteTTL
}

// inviteLink is the URL an invitation token is sent as.
func (s *Server) inviteLink(token string) string {
	return app.InviteLink(s.cfg.BaseURL, token)
}

// userActor names a signed-out person acting on their own account (through
// their link), for the audit log.
func (s *Server) userActor(c *fiber.Ctx, id, role, email string) licensing.Actor {
	t := licensing.ActorCustomerUser
	if role == "admin" {
		t = licensing.ActorAdmin
	}
	return licensing.Actor{Type: t, ID: id, Label: email, IP: c.IP(),
		UserAgent: string([]byte(c.Get(fiber.HeaderUserAgent))), RequestID: requestIDOf(c)}
}

// durationWords says a duration as people do: "7 days", "36 hours".
func durationWords(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	}
	return plural(int64((d+time.Minute-1)/time.Minute), "minute")
}

// Email.

// MailConfig is the SMTP server emails go through (package notify sends them).
type MailConfig = notify.MailConfig

// SendMail sends one plain-text message through the configured server.
func SendMail(ctx context.Context, cfg MailConfig, to mail.Address, subject, body string) error {
	return notify.Send(ctx, cfg, notify.Message{To: to, Subject: subject, Text: body})
}

// SendInvitation emails an invitation's link to its user.
func SendInvitation(ctx context.Context, cfg MailConfig, inv db.Invitation, customerName, link string) error {
	greeting := "Hello,"
	if inv.User.Name != "" {
		greeting = "Hello " + inv.User.Name + ","
	}
	expires := inv.ExpiresAt.UTC().Format("2 January 2006 at 15:04 UTC")
	subject := "Your invitation to the " + customerName + " license portal"
	intro := "You are invited to the license portal of " + customerName + ", where you can see your licenses, keys, " +
		"deployments and usage. Choose your password here to sign in:"
	if inv.User.PasswordHash != nil {
		subject = "Choose a new password for the license portal"
		intro = "An administrator made a link for you to choose a new password for the license portal of " +
			customerName + ":"
	}
	body := greeting + "\n\n" + intro + "\n\n" + link + "\n\nThe link works once and until " + expires +
		". Your email address " + inv.User.Email + " is your sign-in name.\n\n" +
		"If you did not expect this message, you can ignore it.\n"
	return SendMail(ctx, cfg, mail.Address{Name: inv.User.Name, Address: inv.User.Email}, subject, body)
}
