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
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/auth"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
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

// MailConfig is the SMTP server invitation emails go through.
type MailConfig struct {
	// URL is smtp://user:password@host:port (STARTTLS whenever the server
	// offers it; port 587 by default) or smtps://… (TLS from the start;
	// port 465 by default). Empty: no email is sent.
	URL     string
	From    string         // the sender, e.g. "NLS <licenses@example.com>"
	RootCAs *x509.CertPool // nil: the system's trusted roots
	Timeout time.Duration  // for the whole exchange; 0: 30 seconds
}

// Enabled reports whether email is configured.
func (m MailConfig) Enabled() bool { return m.URL != "" }

// Check validates the settings without connecting.
func (m MailConfig) Check() error {
	if err := m.CheckURL(); err != nil {
		return err
	}
	return m.CheckFrom()
}

// CheckURL validates the server's URL. Its messages never repeat the URL,
// which may carry a password.
func (m MailConfig) CheckURL() error {
	if m.URL == "" {
		return nil
	}
	u, err := url.Parse(m.URL)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" || (u.Path != "" && u.Path != "/") {
		return errors.New("expected smtp://user:password@host:port or smtps://user:password@host:port")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("the port must be a number from 1 to 65535")
		}
	}
	return nil
}

// CheckFrom validates the sender, required when a server is set.
func (m MailConfig) CheckFrom() error {
	if m.URL == "" && m.From == "" {
		return nil
	}
	if m.From == "" {
		return errors.New("a sender address (NLS_SMTP_FROM) is required to send email")
	}
	if _, err := mail.ParseAddress(m.From); err != nil {
		return errors.New("the sender must be an address such as NLS <licenses@example.com>")
	}
	return nil
}

// SendMail sends one plain-text message through the configured server.
func SendMail(ctx context.Context, cfg MailConfig, to mail.Address, subject, body string) error {
	if err := cfg.Check(); err != nil {
		return err
	}
	if !cfg.Enabled() {
		return errors.New("email is not configured")
	}
	u, _ := url.Parse(cfg.URL)
	from, _ := mail.ParseAddress(cfg.From)
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"smtp": "587", "smtps": "465"}[u.Scheme]
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return fmt.Errorf("connecting to the mail server: %w", err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	tlsConfig := &tls.Config{ServerName: host, RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	if u.Scheme == "smtps" {
		conn = tls.Client(conn, tlsConfig)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail server greeting: %w", err)
	}
	defer c.Close()
	if u.Scheme == "smtp" {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConfig); err != nil {
				return fmt.Errorf("mail server STARTTLS: %w", err)
			}
		}
	}
	if u.User != nil && u.User.Username() != "" {
		password, _ := u.User.Password()
		// PlainAuth refuses to send the password over a connection that is
		// neither TLS nor to this machine.
		if err := c.Auth(smtp.PlainAuth("", u.User.Username(), password, host)); err != nil {
			return fmt.Errorf("mail server sign-in: %w", err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return fmt.Errorf("mail server refused the sender: %w", err)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return fmt.Errorf("mail server refused the recipient: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail server refused the message: %w", err)
	}
	if _, err := w.Write(buildMessage(from, to, subject, body)); err != nil {
		return fmt.Errorf("sending the message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail server refused the message: %w", err)
	}
	return c.Quit()
}

// buildMessage is a text/plain UTF-8 message, quoted-printable so that any
// name or language survives 7-bit relays.
func buildMessage(from *mail.Address, to mail.Address, subject, body string) []byte {
	var b strings.Builder
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\n",
		from.String(), to.String(), mime.QEncoding.Encode("utf-8", subject), time.Now().Format(time.RFC1123Z),
		hex.EncodeToString(id), domain)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
	_ = qp.Close()
	return []byte(b.String())
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
