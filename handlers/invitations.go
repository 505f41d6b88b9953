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
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

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
	if len(token) != 43 || strings.Trim(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return inv, nil, false, nil
	}
	hash = db.InviteTokenHash(token)
	inv, err = s.store.Q.GetInvitationByTokenHash(c.UserContext(), hash)
	if err != nil {
		if err = db.Translate(err); licensing.ErrorCode(err) == licensing.ENOTFOUND {
			return inv, nil, false, nil
		}
		return inv, nil, false, err
	}
	return inv, hash, inv.Open(s.now()), nil
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
	password, confirm := c.FormValue("password"), c.FormValue("confirm")
	f := pages.InviteForm{Email: inv.Email, Name: inv.Name, Reset: inv.HasPassword,
		Errors: passwordProblems(password, confirm, inv.Email)}
	if len(f.Errors) > 0 {
		return s.renderInvite(c, fiber.StatusUnprocessableEntity, f)
	}
	pwHash, err := HashPassword(password, s.cfg.BcryptCost)
	if err != nil {
		return licensing.Internal(err)
	}
	now := s.now()
	u, err := s.store.AcceptInvitation(c.UserContext(), s.userActor(c, inv.UserID.String(), inv.Role, inv.Email),
		hash, pwHash, now)
	if err != nil {
		if errors.Is(err, db.ErrInvitationClosed) {
			return s.renderInviteClosed(c) // used by a request that won the race
		}
		return err
	}
	if err := s.startSession(c, u.ID, u.Role, u.Email, u.CustomerID); err != nil {
		return err
	}
	if err := s.store.Q.RecordUserLogin(c.UserContext(), db.RecordUserLoginParams{ID: u.ID, LoggedInAt: &now}); err != nil {
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
	f.MinLength = minPasswordRunes
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
	return InviteLink(s.cfg.BaseURL, token)
}

// InviteLink is the URL an invitation token is sent as: the portal's base
// URL, /invite/, the token.
func InviteLink(baseURL, token string) string {
	return strings.TrimRight(baseURL, "/") + "/invite/" + token
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

// Password rules.

const (
	minPasswordRunes = 12
	// bcrypt reads only the first 72 bytes of a password; a longer one is
	// refused rather than silently cut, so every character typed counts.
	maxPasswordBytes = 72
)

// passwordProblems checks a new password and its confirmation, by form
// field ("password", "confirm"); empty when both are fine.
func passwordProblems(password, confirm, email string) map[string]string {
	errs := map[string]string{}
	lower := strings.ToLower(password)
	local, _, _ := strings.Cut(strings.ToLower(email), "@")
	switch {
	case password == "":
		errs["password"] = "Enter a password."
	case utf8.RuneCountInString(password) < minPasswordRunes:
		errs["password"] = fmt.Sprintf("Use at least %d characters.", minPasswordRunes)
	case len(password) > maxPasswordBytes:
		errs["password"] = "Use at most 72 bytes: 72 plain letters, digits or symbols (accented letters and emoji count 2 to 4 each)."
	case !utf8.ValidString(password):
		errs["password"] = "The password contains characters that cannot be read. Type it again."
	case lower == strings.ToLower(email) || lower == local || (utf8.RuneCountInString(local) >= 3 && strings.Contains(lower, local)):
		errs["password"] = "Do not use your email address, or its part before the @, in your password."
	case commonPassword(lower):
		errs["password"] = "This password is one of the most common ones, which are guessed first. Choose another."
	}
	if _, bad := errs["password"]; !bad && confirm != password {
		errs["confirm"] = "The two passwords differ. Type the same password twice."
	}
	return errs
}

// commonPassword reports whether a lower-cased password is among the most
// common ones (of 12 characters or more, once spaces are removed) or uses
// fewer than four different characters.
func commonPassword(lower string) bool {
	squeezed := strings.ReplaceAll(lower, " ", "")
	distinct := map[rune]bool{}
	for _, r := range squeezed {
		distinct[r] = true
	}
	if len(distinct) < 4 {
		return true
	}
	_, found := commonPasswords[squeezed]
	return found
}

// commonPasswords are the long-enough entries at the top of public lists of
// leaked passwords, lower-cased without spaces.
var commonPasswords = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, p := range strings.Fields(`
		123456789012 1234567890123 12345678901234 123456789012345 1234567890123456 123456123456
		123412341234 123123123123 123321123321 111222333444 121212121212 112233445566 098765432109
		987654321098 12345678910 1234567891011 123456789123 123456789abc 12345678abcd abcd12345678
		qwertyuiop12 qwertyuiop123 qwertyuiop1234 qwertyuiopasdf qwertyuiopasdfghjkl
		qwertyuiopasdfghjklzxcvbnm qwerty123456 qwertyqwerty qwerty12345678 1q2w3e4r5t6y 1q2w3e4r5t6y7u
		1q2w3e4r5t6y7u8i 1qaz2wsx3edc 1qaz2wsx3edc4rfv 1qazxsw23edc q1w2e3r4t5y6 zaq12wsxcde3
		zaq1zaq1zaq1 zxcvbnm12345 zxcvbnm123456 asdfghjkl123 asdfghjkl1234 asdfasdfasdf asdf1234asdf
		qwer1234qwer zxcv1234zxcv 1234qwerasdf 1234qwerasdfzxcv qazwsxedcrfv qazwsxedc123 123qweasdzxc
		qweasdzxc123 123qwe123qwe abcdefghijkl abcdefghijklm abcdefg12345 abc123abc123 abcd1234abcd
		a1b2c3d4e5f6 1a2b3c4d5e6f password1234 password12345 password123456 password1234! password123!
		password2023 password2024 password2025 password2026 passwordpassword passw0rd1234 p@ssw0rd1234
		p@ssword1234 p@ssw0rd123! mypassword123 mypassword1234 secretpassword thisisapassword
		thisismypassword iloveyou1234 iloveyou123456 iloveyouiloveyou welcome12345 welcome123456
		welcome@1234 welcome2024! letmein12345 letmein123456 letmeinletmein changeme1234 changeme123!
		changemenow! administrator administrator1 administrator123 admin1234567 admin12345678
		adminadmin123 adminadminadmin trustno1trustno1 correcthorsebatterystaple monkey123456
		dragon123456 football1234 baseball1234 sunshine1234 princess1234 superman1234 starwars1234
		michael12345 computer1234 whatever1234 internet1234 qwerty123456789 1234567890qwerty
		qwerty1234567890 987654321qwerty 0987654321qwerty 147258369147 159357159357 147852369147
		741852963741 789456123789 963852741963 asdfghjklasdfghjkl 1234567890abc opensesame123
	`) {
		m[p] = struct{}{}
	}
	return m
}()

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
