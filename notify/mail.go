// Package notify sends NLS's emails: the SMTP settings, one multipart
// (text and HTML) message per recipient through github.com/wneessen/go-mail,
// the content of each notice, and the signed one-click unsubscribe links.
package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// MailConfig is the SMTP server emails go through.
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

// Message is one email to one recipient.
type Message struct {
	To          mail.Address
	Subject     string
	Text        string
	HTML        string // empty: text only
	Unsubscribe string // one-click unsubscribe URL (RFC 8058); empty: none
}

// Send delivers m through the configured server.
func Send(ctx context.Context, cfg MailConfig, m Message) error {
	if err := cfg.Check(); err != nil {
		return err
	}
	if !cfg.Enabled() {
		return errors.New("email is not configured")
	}
	u, _ := url.Parse(cfg.URL)
	from, _ := mail.ParseAddress(cfg.From)
	msg := gomail.NewMsg()
	if err := msg.From(from.String()); err != nil {
		return fmt.Errorf("sender: %w", err)
	}
	if err := msg.To(m.To.String()); err != nil {
		return fmt.Errorf("recipient: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	if m.Unsubscribe != "" {
		msg.SetGenHeader(gomail.HeaderListUnsubscribe, "<"+m.Unsubscribe+">")
		msg.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}

	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	host := u.Hostname()
	opts := []gomail.Option{gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: host, RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12})}
	port := 587
	if u.Scheme == "smtps" {
		port = 465
		opts = append(opts, gomail.WithSSL())
	} else {
		// STARTTLS whenever the server offers it.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if p := u.Port(); p != "" {
		port, _ = strconv.Atoi(p)
	}
	opts = append(opts, gomail.WithPort(port))
	if u.User != nil && u.User.Username() != "" {
		password, _ := u.User.Password()
		// PLAIN refuses to send the password over a connection that is
		// neither TLS nor to this machine.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(u.User.Username()),
			gomail.WithPassword(password))
	}
	c, err := gomail.NewClient(host, opts...)
	if err != nil {
		return fmt.Errorf("mail client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("sending through the mail server: %w", err)
	}
	return nil
}
