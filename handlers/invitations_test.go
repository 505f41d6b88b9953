package handlers_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/static"
)

// acctClock is the app's clock (Deps.Now), moved forward by tests.
type acctClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *acctClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *acctClock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// syncBuffer collects the app's log lines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// acctEnv is an app with a settable clock and captured logs, one customer
// (Acme) and a signed-in admin.
type acctEnv struct {
	*testEnv
	clock      *acctClock
	logs       *syncBuffer
	customerID string
	admin      *browser
}

const acctBaseURL = "https://portal.example.test"

func newAcctEnv(t *testing.T, mutate ...func(*handlers.Config)) *acctEnv {
	t.Helper()
	store := dbtest.NewStore(t)
	cfg := testConfig()
	cfg.BaseURL = acctBaseURL
	cfg.BcryptCost = 4
	for _, m := range mutate {
		m(&cfg)
	}
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	keys, sealer := testKeys(t)
	clock := &acctClock{t: time.Now().UTC()}
	app := handlers.New(cfg, handlers.Deps{Store: store, Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Limiter: handlers.NewMemoryLimiter(nil), Assets: assets, Registry: prometheus.NewRegistry(), Keys: keys,
		Sealer: sealer, Sessions: handlers.SessionKeys("test-session-secret-0123456789abcdef", ""), Now: clock.Now})
	e := &acctEnv{testEnv: &testEnv{t: t, app: app, store: store, cfg: cfg}, clock: clock, logs: logs}
	cu, err := store.CreateCustomer(t.Context(), licensing.SystemActor("test"),
		db.CustomerInput{Name: "Acme Corp", Email: "ops@acme.example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.customerID = cu.ID.String()
	createAdmin(t, e.testEnv, adminEmail, adminPassword)
	e.admin = signIn(t, e.testEnv, adminEmail, adminPassword)
	wantStatus(t, e.admin.get("/admin/customers/"+e.customerID), http.StatusOK) // the session's CSRF token
	return e
}

// invite invites email into the customer through the admin page (htmx)
// and returns the link shown.
func (e *acctEnv) invite(email, name string) string {
	e.t.Helper()
	p := e.admin.htmx("POST", "/admin/customers/"+e.customerID+"/users", url.Values{"email": {email}, "name": {name}})
	wantStatus(e.t, p, http.StatusOK)
	link := one(e.t, p, `[data-testid=new-link-url]`).AttrOr("value", "")
	if !strings.HasPrefix(link, acctBaseURL+"/invite/") {
		e.t.Fatalf("link %q does not start with %s/invite/", link, acctBaseURL)
	}
	return link
}

// pathOf is a link's path, as the test app is reached.
func pathOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

// acceptInvite sets password through the link in a fresh browser and
// returns it, signed in.
func (e *acctEnv) acceptInvite(link, password string) *browser {
	e.t.Helper()
	b := newBrowser(e.t, e.testEnv)
	path := pathOf(e.t, link)
	wantStatus(e.t, b.get(path), http.StatusOK)
	p := b.post(path, url.Values{"password": {password}, "confirm": {password}})
	wantStatus(e.t, p, http.StatusSeeOther)
	if loc := p.Header.Get("Location"); loc != "/portal" {
		e.t.Fatalf("after setting the password: Location %q, want /portal", loc)
	}
	return b
}

// audit is every audit row's text, for checks on what was recorded.
func (e *acctEnv) auditText() string {
	e.t.Helper()
	rows, err := e.store.Pool.Query(e.t.Context(),
		`SELECT actor_type || ' ' || coalesce(actor_id, '') || ' ' || action || ' ' || entity_type || ' ' || entity_id || ' ' ||
		        coalesce(before::text, '') || ' ' || coalesce(after::text, '') FROM audit_log ORDER BY seq`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			e.t.Fatal(err)
		}
		out.WriteString(line + "\n")
	}
	return out.String()
}

const customerPassword = "plum-orchard-lantern-42"

func TestInvitationFromTheCustomerPageToThePortal(t *testing.T) {
	e := newAcctEnv(t)
	p := e.admin.htmx("POST", "/admin/customers/"+e.customerID+"/users",
		url.Values{"email": {"dev@acme.example"}, "name": {"Dev Eloper"}})
	wantStatus(t, p, http.StatusOK)
	if p.Doc.Find("html").Length() != 0 && p.Doc.Find("[data-testid=nav]").Length() != 0 {
		t.Fatal("an htmx request got the whole page")
	}
	if got := p.Header.Get("Vary"); !strings.Contains(got, "HX-Request") {
		t.Errorf("Vary: got %q, want HX-Request", got)
	}
	one(t, p, `#customer-people`)
	row := one(t, p, `[data-testid=user-row]`)
	if row.AttrOr("data-state", "") != "invited" || row.Find(`[data-testid=user-email]`).Text() != "dev@acme.example" {
		t.Errorf("user row: state %q, %q", row.AttrOr("data-state", ""), row.Text())
	}
	if got := one(t, p, `[data-testid=link-delivery]`).AttrOr("data-state", ""); got != "not-configured" {
		t.Errorf("delivery: got %q, want not-configured", got)
	}
	if one(t, p, `#toasts[hx-swap-oob] [data-testid=toast]`).AttrOr("data-kind", "") != "success" {
		t.Error("no success toast")
	}
	link := one(t, p, `[data-testid=new-link-url]`).AttrOr("value", "")
	token := strings.TrimPrefix(link, acctBaseURL+"/invite/")
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token %q: %d bytes, %v; want 32 random bytes in base64url", token, len(raw), err)
	}
	var stored int
	if err := e.store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM user_invitations WHERE token_hash = sha256($1::bytea)`,
		[]byte(token)).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("stored by its SHA-256: %d rows, %v", stored, err)
	}

	// The page shows the link once: reloading it shows none.
	if n := e.admin.get("/admin/customers/" + e.customerID).Doc.Find(`[data-testid=new-link-url]`).Length(); n != 0 {
		t.Fatalf("the link is shown again on reload (%d)", n)
	}

	// The invited person opens the link: a form, nothing cached or referred.
	b := newBrowser(t, e.testEnv)
	form := b.get("/invite/" + token)
	wantStatus(t, form, http.StatusOK)
	checkCSP(t, form)
	if got := one(t, form, `[data-testid=invite-email]`).AttrOr("value", ""); got != "dev@acme.example" {
		t.Errorf("email shown: %q", got)
	}
	if form.Header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(form.Header.Get("Cache-Control"), "no-store") {
		t.Errorf("headers: Referrer-Policy %q, Cache-Control %q", form.Header.Get("Referrer-Policy"), form.Header.Get("Cache-Control"))
	}
	if strings.Contains(string(form.Body), token) {
		t.Error("the page repeats the token")
	}

	// A weak password is refused in place; the link still works.
	weak := b.post("/invite/"+token, url.Values{"password": {"short"}, "confirm": {"short"}})
	wantStatus(t, weak, http.StatusUnprocessableEntity)
	one(t, weak, `[data-testid=error-password]`)
	if one(t, weak, `#password`).AttrOr("aria-invalid", "") != "true" {
		t.Error("the password field is not marked invalid")
	}

	done := b.post("/invite/"+token, url.Values{"password": {customerPassword}, "confirm": {customerPassword}})
	wantStatus(t, done, http.StatusSeeOther)
	if loc := done.Header.Get("Location"); loc != "/portal" {
		t.Fatalf("Location: got %q, want /portal", loc)
	}
	acct := b.get("/portal/account")
	wantStatus(t, acct, http.StatusOK)
	if got := one(t, acct, `[data-testid=account-email]`).Text(); got != "dev@acme.example" {
		t.Errorf("signed in as %q", got)
	}
	if one(t, acct, `[data-testid=toast]`).AttrOr("data-kind", "") != "success" {
		t.Error("no welcome message after setting the password")
	}

	// Single use: the link is gone, in the same browser or another.
	for _, br := range []*browser{b, newBrowser(t, e.testEnv)} {
		again := br.get("/invite/" + token)
		wantStatus(t, again, http.StatusGone)
		one(t, again, `[data-testid=invite-closed]`)
		wantStatus(t, br.post("/invite/"+token, url.Values{"password": {"another-pass-phrase-9"}, "confirm": {"another-pass-phrase-9"}}),
			http.StatusGone)
	}
	// The new password signs in; the user shows as active.
	signIn(t, e.testEnv, "dev@acme.example", customerPassword)
	page := e.admin.get("/admin/customers/" + e.customerID)
	if got := one(t, page, `[data-testid=user-row]`).AttrOr("data-state", ""); got != "active" {
		t.Errorf("after setting the password: state %q, want active", got)
	}
	if one(t, page, `[data-testid=user-row] [data-testid=user-last-login]`).Text() == "Never" {
		t.Error("last sign-in not recorded")
	}

	// Audited: the invite by the admin, the password by the user; neither
	// the token nor the password appears in the audit log or the logs.
	u, err := e.store.GetUserByEmail(t.Context(), "dev@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	audit := e.auditText()
	if !strings.Contains(audit, "admin ") || !strings.Contains(audit, "user.invite user "+u.ID.String()) {
		t.Errorf("no user.invite row by the admin:\n%s", audit)
	}
	if !strings.Contains(audit, "customer_user "+u.ID.String()+" user.set_password user "+u.ID.String()) {
		t.Errorf("no user.set_password row by the customer user:\n%s", audit)
	}
	logs := e.logs.String()
	for _, secret := range []string{token, customerPassword, *u.PasswordHash} {
		if strings.Contains(audit, secret) {
			t.Errorf("the audit log contains a secret %.8q…", secret)
		}
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain a secret %.8q…", secret)
		}
	}
	if !strings.Contains(logs, "path=/invite/:token") {
		t.Errorf("the request log does not show the hidden path:\n%s", logs)
	}
}

func TestInvitationLinkExpires(t *testing.T) {
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		want time.Duration // the configured or default lifetime
	}{
		{"default seven days", 0, 7 * 24 * time.Hour},
		{"configured", 90 * time.Minute, 90 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAcctEnv(t, func(c *handlers.Config) { c.InviteTTL = tc.ttl })
			link := e.invite("late@acme.example", "")
			path := pathOf(t, link)
			b := newBrowser(t, e.testEnv)
			e.clock.Advance(tc.want - time.Minute)
			wantStatus(t, b.get(path), http.StatusOK)
			e.clock.Advance(2 * time.Minute)
			p := b.get(path)
			wantStatus(t, p, http.StatusGone)
			one(t, p, `[data-testid=invite-closed]`)
			wantStatus(t, b.post(path, url.Values{"password": {customerPassword}, "confirm": {customerPassword}}), http.StatusGone)
			if u, _ := e.store.GetUserByEmail(t.Context(), "late@acme.example"); u.PasswordHash != nil {
				t.Fatal("an expired link set a password")
			}
			// The admin (signed in again after days away) sees it expired.
			admin := signIn(t, e.testEnv, adminEmail, adminPassword)
			if admin.get("/admin/customers/"+e.customerID).Doc.Find(`[data-testid=user-link-expired]`).Length() != 1 {
				t.Error("the people list does not say the link expired")
			}
		})
	}
}

func TestInvitationWrongToken(t *testing.T) {
	e := newAcctEnv(t)
	e.invite("real@acme.example", "")
	unknown := make([]byte, 32)
	_, _ = rand.Read(unknown)
	b := newBrowser(t, e.testEnv)
	var first string
	for _, tok := range []string{base64.RawURLEncoding.EncodeToString(unknown), "abc", strings.Repeat("%", 43),
		strings.Repeat("A", 500)} {
		p := b.get("/invite/" + url.PathEscape(tok))
		wantStatus(t, p, http.StatusGone)
		msg := one(t, p, `[data-testid=invite-closed]`).Text()
		if first == "" {
			first = msg
		} else if msg != first {
			t.Errorf("the pages differ: %q vs %q", msg, first)
		}
		if strings.Contains(string(p.Body), "goroutine") || strings.Contains(string(p.Body), ".go:") {
			t.Fatalf("a stack trace: %s", p.Body)
		}
		wantStatus(t, b.post("/invite/"+url.PathEscape(tok), url.Values{"password": {customerPassword},
			"confirm": {customerPassword}}), http.StatusGone)
	}
}

func TestInvitingAgainReplacesTheLink(t *testing.T) {
	e := newAcctEnv(t)
	first := e.invite("twice@acme.example", "Twice")
	second := e.invite("twice@acme.example", "")
	b := newBrowser(t, e.testEnv)
	wantStatus(t, b.get(pathOf(t, first)), http.StatusGone)
	wantStatus(t, b.get(pathOf(t, second)), http.StatusOK)

	// The "New invitation link" button does the same.
	u, err := e.store.GetUserByEmail(t.Context(), "twice@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "Twice" {
		t.Errorf("name: got %q, want it kept", u.Name)
	}
	p := e.admin.htmx("POST", "/admin/customers/"+e.customerID+"/users/"+u.ID.String()+"/link", nil)
	wantStatus(t, p, http.StatusOK)
	third := one(t, p, `[data-testid=new-link-url]`).AttrOr("value", "")
	wantStatus(t, b.get(pathOf(t, second)), http.StatusGone)
	e.acceptInvite(third, customerPassword)

	// Once the user has a password, the form refuses to invite them again
	// and the button makes a reset link instead.
	again := e.admin.htmx("POST", "/admin/customers/"+e.customerID+"/users", url.Values{"email": {"twice@acme.example"}})
	wantStatus(t, again, http.StatusOK)
	if !strings.Contains(one(t, again, `[data-testid=error-email]`).Text(), "already has an account here") {
		t.Errorf("re-inviting an active user: %q", again.Doc.Find(`[data-testid=error-email]`).Text())
	}
	reset := e.admin.htmx("POST", "/admin/customers/"+e.customerID+"/users/"+u.ID.String()+"/link", nil)
	if !strings.Contains(one(t, reset, `[data-testid=new-user-link] label`).Text(), "Password reset link") {
		t.Error("the link for an active user is not called a reset link")
	}
	e.clock.Advance(time.Second)
	old := signIn(t, e.testEnv, "twice@acme.example", customerPassword)
	e.clock.Advance(time.Second)
	e.acceptInvite(one(t, reset, `[data-testid=new-link-url]`).AttrOr("value", ""), "second-plum-orchard-77")
	// Resetting ends the sessions signed in with the old password.
	if p := old.get("/portal/account"); p.Status != http.StatusSeeOther {
		t.Errorf("a session from before the reset: got %d, want 303 to sign in", p.Status)
	}
	if !strings.Contains(e.auditText(), "user.password_reset_link") {
		t.Error("the reset link is not audited")
	}
}

func TestInviteFormErrorsInPlace(t *testing.T) {
	e := newAcctEnv(t)
	other, err := e.store.CreateCustomer(t.Context(), licensing.SystemActor("test"),
		db.CustomerInput{Name: "Globex Secretive", Email: "it@globex.example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.InviteUser(t.Context(), licensing.SystemActor("test"), db.InviteInput{CustomerID: other.ID,
		Email: "hank@globex.example"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, email, userName, field, want string
	}{
		{"no email", "", "Ann", "email", "Enter the email address"},
		{"not an email", "not-an-email", "Ann", "email", "ust be an email address"},
		{"an admin's email", adminEmail, "", "email", "already has an account; use another address"},
		{"another customer's user, in other case", "HANK@globex.example", "", "email", "already has an account; use another address"},
		{"name too long", "ann@acme.example", strings.Repeat("n", 201), "name", "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"email": {tc.email}, "name": {tc.userName}}
			p := e.admin.htmx("POST", "/admin/customers/"+e.customerID+"/users", form)
			wantStatus(t, p, http.StatusOK) // htmx swaps only 2xx answers
			got := one(t, p, `[data-testid=error-`+tc.field+`]`).Text()
			if !strings.Contains(got, tc.want) {
				t.Errorf("error: got %q, want %q", got, tc.want)
			}
			if strings.Contains(string(p.Body), "Globex") {
				t.Error("the answer names the other customer")
			}
			if p.Doc.Find(`[data-testid=new-link-url]`).Length() != 0 {
				t.Error("a link was shown for a refused invitation")
			}
			// What was typed is kept.
			if v := p.Doc.Find(`input[name=email]`).AttrOr("value", ""); v != strings.TrimSpace(tc.email) {
				t.Errorf("email kept: %q", v)
			}
			// Without JavaScript: the whole page, 422.
			full := e.admin.post("/admin/customers/"+e.customerID+"/users", form)
			wantStatus(t, full, http.StatusUnprocessableEntity)
			one(t, full, `[data-testid=customer-name]`)
			one(t, full, `[data-testid=error-`+tc.field+`]`)
		})
	}
	var n int
	if err := e.store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM users WHERE customer_id = $1`,
		mustUUID(t, e.customerID)).Scan(&n); err != nil || n != 0 {
		t.Fatalf("refused invitations made %d users (%v)", n, err)
	}

	// An archived customer takes no one new.
	if _, err := e.store.ArchiveCustomer(t.Context(), licensing.SystemActor("test"), other.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	p := e.admin.htmx("POST", "/admin/customers/"+other.ID.String()+"/users", url.Values{"email": {"new@globex.example"}})
	wantStatus(t, p, http.StatusOK)
	one(t, p, `[data-testid=error-form]`)
}

func TestInvitationWithoutJavaScript(t *testing.T) {
	e := newAcctEnv(t)
	p := e.admin.post("/admin/customers/"+e.customerID+"/users", url.Values{"email": {"plain@acme.example"}})
	wantStatus(t, p, http.StatusCreated)
	one(t, p, `[data-testid=customer-name]`)
	link := one(t, p, `[data-testid=new-link-url]`).AttrOr("value", "")
	if one(t, p, `[data-testid=flash] [data-testid=toast]`).AttrOr("data-kind", "") != "success" {
		t.Error("no message on the page")
	}
	if p.Doc.Find(`script[src*="copy"]`).Length() != 1 {
		t.Error("the copy button's script is missing")
	}
	e.acceptInvite(link, customerPassword)
}

func TestPasswordRules(t *testing.T) {
	e := newAcctEnv(t)
	link := e.invite("jordan.lee@acme.example", "")
	path := pathOf(t, link)
	b := newBrowser(t, e.testEnv)
	b.get(path)
	for _, tc := range []struct {
		name, password, confirm, field string
	}{
		{"empty", "", "", "password"},
		{"eleven characters", "abcdefgh-10", "abcdefgh-10", "password"},
		{"the email", "jordan.lee@acme.example", "jordan.lee@acme.example", "password"},
		{"the local part", "Jordan.Lee", "Jordan.Lee", "password"},
		{"contains the local part", "my-JORDAN.LEE-password", "my-JORDAN.LEE-password", "password"},
		{"common", "Password1234", "Password1234", "password"},
		{"common with spaces", "correct horse battery staple", "correct horse battery staple", "password"},
		{"one character", "aaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaa", "password"},
		{"over 72 bytes", strings.Repeat("kiwi-", 14) + "xyz", strings.Repeat("kiwi-", 14) + "xyz", "password"},
		{"over 72 bytes in accented letters", strings.Repeat("éàü", 13), strings.Repeat("éàü", 13), "password"},
		{"confirmation differs", customerPassword, customerPassword + "x", "confirm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.post(path, url.Values{"password": {tc.password}, "confirm": {tc.confirm}})
			wantStatus(t, p, http.StatusUnprocessableEntity)
			one(t, p, `[data-testid=error-`+tc.field+`]`)
			if p.Doc.Find(`input[type=password][value]`).Length() != 0 {
				t.Error("a password was sent back in the page")
			}
		})
	}
	// Twelve characters, some of them accented: accepted (72 bytes exactly
	// is the most bcrypt reads).
	ok := strings.Repeat("é", 6) + "kiwi-42"
	if got := len(ok); got > 72 {
		t.Fatalf("test password is %d bytes", got)
	}
	p := b.post(path, url.Values{"password": {ok}, "confirm": {ok}})
	wantStatus(t, p, http.StatusSeeOther)
	signIn(t, e.testEnv, "jordan.lee@acme.example", ok)
}

// smtpRecorder is a small SMTP server speaking to the real net/smtp
// client: EHLO, optional STARTTLS and AUTH PLAIN, MAIL, RCPT, DATA. It
// records every message it accepts.
type smtpRecorder struct {
	t        *testing.T
	ln       net.Listener
	tls      *tls.Config // nil: STARTTLS not offered
	user     string      // set: AUTH PLAIN is required
	password string
	mu       sync.Mutex
	msgs     []smtpMessage
}

type smtpMessage struct {
	From, To string
	Data     []byte
	TLS      bool
	User     string
}

func startSMTP(t *testing.T, tlsConfig *tls.Config, user, password string) *smtpRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpRecorder{t: t, ln: ln, tls: tlsConfig, user: user, password: password}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *smtpRecorder) addr() string { return s.ln.Addr().String() }

func (s *smtpRecorder) messages() []smtpMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMessage(nil), s.msgs...)
}

func (s *smtpRecorder) serve(conn net.Conn) {
	defer func() { conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	tp := textproto.NewConn(conn)
	var m smtpMessage
	authed := s.user == ""
	reply := func(code int, lines ...string) {
		for i, l := range lines {
			sep := " "
			if i < len(lines)-1 {
				sep = "-"
			}
			_ = tp.PrintfLine("%d%s%s", code, sep, l)
		}
	}
	reply(220, "smtp.test ESMTP ready")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			ext := []string{"smtp.test greets you"}
			if s.tls != nil && !m.TLS {
				ext = append(ext, "STARTTLS")
			}
			if s.user != "" {
				ext = append(ext, "AUTH PLAIN")
			}
			reply(250, append(ext, "8BITMIME")...)
		case "STARTTLS":
			if s.tls == nil || m.TLS {
				reply(502, "not offered")
				continue
			}
			reply(220, "go ahead")
			tc := tls.Server(conn, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, m.TLS = tc, true
			tp = textproto.NewConn(conn)
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			raw, _ := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(raw), "\x00")
			if strings.ToUpper(mech) != "PLAIN" || len(parts) != 3 || parts[1] != s.user || parts[2] != s.password {
				reply(535, "5.7.8 authentication failed")
				continue
			}
			authed, m.User = true, parts[1]
			reply(235, "2.7.0 accepted")
		case "MAIL":
			if !authed {
				reply(530, "5.7.0 authentication required")
				continue
			}
			m.From = between(arg, "<", ">")
			reply(250, "ok")
		case "RCPT":
			m.To = between(arg, "<", ">")
			reply(250, "ok")
		case "DATA":
			reply(354, "end with .")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			m.Data = data
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			reply(250, "queued")
		case "RSET", "NOOP":
			reply(250, "ok")
		case "QUIT":
			reply(221, "bye")
			return
		default:
			reply(502, "unknown command")
		}
	}
}

func between(s, open, end string) string {
	_, rest, _ := strings.Cut(s, open)
	in, _, _ := strings.Cut(rest, end)
	return in
}

// selfSignedTLS is a certificate for 127.0.0.1 and a pool trusting it.
func selfSignedTLS(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

// readMail parses a recorded message: headers and the decoded text.
func readMail(t *testing.T, data []byte) (*mail.Message, string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a mail message: %v\n%s", err, data)
	}
	if msg.Header.Get("Content-Transfer-Encoding") != "quoted-printable" {
		t.Fatalf("encoding %q", msg.Header.Get("Content-Transfer-Encoding"))
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	return msg, string(body)
}

func TestInvitationEmailed(t *testing.T) {
	t.Run("plain SMTP", func(t *testing.T) {
		srv := startSMTP(t, nil, "", "")
		e := newAcctEnv(t, func(c *handlers.Config) {
			c.Mail = handlers.MailConfig{URL: "smtp://" + srv.addr(), From: "NLS Licensing <licenses@vendor.example>"}
		})
		p := e.admin.htmx("POST", "/admin/customers/"+e.customerID+"/users",
			url.Values{"email": {"zoe@acme.example"}, "name": {"Zoë Ångström"}})
		wantStatus(t, p, http.StatusOK)
		if got := one(t, p, `[data-testid=link-delivery]`).AttrOr("data-state", ""); got != "emailed" {
			t.Fatalf("delivery: got %q, want emailed", got)
		}
		link := one(t, p, `[data-testid=new-link-url]`).AttrOr("value", "")
		msgs := srv.messages()
		if len(msgs) != 1 {
			t.Fatalf("got %d messages, want 1", len(msgs))
		}
		m := msgs[0]
		if m.From != "licenses@vendor.example" || m.To != "zoe@acme.example" {
			t.Errorf("envelope: from %q to %q", m.From, m.To)
		}
		msg, body := readMail(t, m.Data)
		if !strings.Contains(body, link+"\r\n") && !strings.Contains(body, link+"\n") {
			t.Errorf("the body does not carry the link %s on a line of its own:\n%s", link, body)
		}
		if !strings.Contains(body, "Zoë Ångström") || !strings.Contains(body, "Acme Corp") {
			t.Errorf("body: %s", body)
		}
		subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil || !strings.Contains(subject, "Acme Corp") {
			t.Errorf("subject %q (%v)", subject, err)
		}
		to, err := msg.Header.AddressList("To")
		if err != nil || len(to) != 1 || to[0].Address != "zoe@acme.example" || to[0].Name != "Zoë Ångström" {
			t.Errorf("To: %v (%v)", to, err)
		}
		e.acceptInvite(link, customerPassword)
		if strings.Contains(e.logs.String(), strings.TrimPrefix(link, acctBaseURL+"/invite/")) {
			t.Error("the token reached the logs")
		}
	})

	t.Run("STARTTLS and AUTH", func(t *testing.T) {
		serverTLS, roots := selfSignedTLS(t)
		srv := startSMTP(t, serverTLS, "mailer", "s3cret pass")
		e := newAcctEnv(t, func(c *handlers.Config) {
			c.Mail = handlers.MailConfig{URL: "smtp://mailer:s3cret%20pass@" + srv.addr(), From: "licenses@vendor.example",
				RootCAs: roots}
		})
		p := e.admin.htmx("POST", "/admin/customers/"+e.customerID+"/users", url.Values{"email": {"tls@acme.example"}})
		if got := one(t, p, `[data-testid=link-delivery]`).AttrOr("data-state", ""); got != "emailed" {
			t.Fatalf("delivery: got %q, want emailed: %s", got, p.Doc.Find(`[data-testid=link-delivery]`).Text())
		}
		msgs := srv.messages()
		if len(msgs) != 1 || !msgs[0].TLS || msgs[0].User != "mailer" {
			t.Fatalf("got %+v, want one message sent over TLS after signing in", msgs)
		}
	})

	t.Run("sending fails", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := ln.Addr().String()
		ln.Close() // nothing listens there any more
		e := newAcctEnv(t, func(c *handlers.Config) {
			c.Mail = handlers.MailConfig{URL: "smtp://" + dead, From: "licenses@vendor.example", Timeout: 5 * time.Second}
		})
		p := e.admin.htmx("POST", "/admin/customers/"+e.customerID+"/users", url.Values{"email": {"lost@acme.example"}})
		wantStatus(t, p, http.StatusOK)
		d := one(t, p, `[data-testid=link-delivery]`)
		if d.AttrOr("data-state", "") != "failed" || !strings.Contains(d.Text(), "could not be sent") {
			t.Fatalf("delivery: %q %q", d.AttrOr("data-state", ""), d.Text())
		}
		if one(t, p, `#toasts [data-testid=toast]`).AttrOr("data-kind", "") != "error" {
			t.Error("the toast does not say sending failed")
		}
		// The invitation is not lost.
		e.acceptInvite(one(t, p, `[data-testid=new-link-url]`).AttrOr("value", ""), customerPassword)
	})

	t.Run("authentication refused", func(t *testing.T) {
		serverTLS, roots := selfSignedTLS(t)
		srv := startSMTP(t, serverTLS, "mailer", "right")
		e := newAcctEnv(t, func(c *handlers.Config) {
			c.Mail = handlers.MailConfig{URL: "smtp://mailer:wrong@" + srv.addr(), From: "licenses@vendor.example", RootCAs: roots}
		})
		p := e.admin.htmx("POST", "/admin/customers/"+e.customerID+"/users", url.Values{"email": {"auth@acme.example"}})
		d := one(t, p, `[data-testid=link-delivery]`)
		if d.AttrOr("data-state", "") != "failed" || !strings.Contains(d.Text(), "535") {
			t.Fatalf("delivery: %q", d.Text())
		}
		if strings.Contains(string(p.Body), "wrong") || strings.Contains(e.logs.String(), "wrong") {
			t.Error("the SMTP password was shown or logged")
		}
		if len(srv.messages()) != 0 {
			t.Fatal("a message went through without signing in")
		}
	})
}

func TestInvitePageNeedsCSRFToken(t *testing.T) {
	e := newAcctEnv(t)
	path := pathOf(t, e.invite("csrf@acme.example", ""))
	b := newBrowser(t, e.testEnv)
	b.get(path)
	for name, form := range map[string]url.Values{
		"no token":     {"password": {customerPassword}, "confirm": {customerPassword}},
		"forged token": {"password": {customerPassword}, "confirm": {customerPassword}, "csrf_token": {"forged"}},
	} {
		t.Run(name, func(t *testing.T) {
			wantStatus(t, b.send("POST", path, form, nil), http.StatusForbidden)
		})
	}
	// A token from another browser's session does not work either.
	other := newBrowser(t, e.testEnv)
	other.get("/login")
	wantStatus(t, b.send("POST", path, url.Values{"password": {customerPassword}, "confirm": {customerPassword},
		"csrf_token": {other.csrf}}, nil), http.StatusForbidden)
	if u, _ := e.store.GetUserByEmail(t.Context(), "csrf@acme.example"); u.PasswordHash != nil {
		t.Fatal("a password was set without a CSRF token")
	}
	wantStatus(t, b.get(path), http.StatusOK) // still usable
}
