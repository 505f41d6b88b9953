package handlers_test

// Two-factor sign-in, one's own sessions and the team page, through the
// portal's forms with a clock the test moves: codes are computed by the
// TOTP library from the secret the enrolment page shows.

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/pquerna/otp/totp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/web/static"
)

// testClock is policies_machine_test.go's.

// newClockEnv is newEnv with the server's clock under the test's control.
func newClockEnv(t *testing.T, clock *testClock, mutate ...func(*handlers.Config)) *testEnv {
	t.Helper()
	store := dbtest.NewStore(t)
	cfg := testConfig()
	for _, m := range mutate {
		m(&cfg)
	}
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	keys, sealer := testKeys(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("NLS_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	app := handlers.New(cfg, handlers.Deps{Store: store, Log: log,
		Limiter: handlers.NewMemoryLimiter(nil), Assets: assets, Registry: prometheus.NewRegistry(), Keys: keys,
		Sealer: sealer, Sessions: handlers.SessionKeys("test-session-secret-0123456789abcdef", ""), Now: clock.Now})
	return &testEnv{t: t, app: app, store: store, cfg: cfg}
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol turns two-factor sign-in on for b's account (base: its account
// page) and returns the secret and the recovery codes.
func enrol(t *testing.T, b *browser, base string, clock *testClock) (string, []string) {
	t.Helper()
	b.get(base)
	p := b.post(base+"/2fa/setup", nil)
	wantStatus(t, p, http.StatusOK)
	if src := one(t, p, `[data-testid=two-factor-qr]`).AttrOr("src", ""); !strings.HasPrefix(src, "data:image/png;base64,") {
		t.Fatalf("QR code: got src %.40q, want a PNG data URI", src)
	}
	secret := strings.TrimSpace(one(t, p, `[data-testid=two-factor-secret]`).Text())
	right := code(t, secret, clock.Now())
	wrong := "000000"
	if right == wrong {
		wrong = "111111"
	}
	p = b.post(base+"/2fa/confirm", url.Values{"code": {wrong}})
	wantStatus(t, p, http.StatusUnprocessableEntity)
	one(t, p, `[data-testid=two-factor-error]`)
	p = b.post(base+"/2fa/confirm", url.Values{"code": {right}})
	if p.Status != http.StatusOK {
		t.Fatalf("right code: got %d: %s", p.Status, p.Doc.Find("main").Text())
	}
	var codes []string
	p.Doc.Find(`[data-testid=recovery-code]`).Each(func(_ int, s *goquery.Selection) { codes = append(codes, s.Text()) })
	if len(codes) != 10 {
		t.Fatalf("got %d recovery codes, want 10", len(codes))
	}
	if got := one(t, b.get(base), `[data-testid=two-factor-status]`).Text(); !strings.HasPrefix(strings.TrimSpace(got), "On") {
		t.Fatalf("after enrolment the account says %q, want On", got)
	}
	return secret, codes
}

// passwordStep signs in with the password only; two-factor accounts land
// on the code form.
func passwordStep(t *testing.T, e *testEnv, email, pw string) *browser {
	t.Helper()
	b := newBrowser(t, e)
	b.get("/login")
	p := b.post("/login", url.Values{"email": {email}, "password": {pw}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/login/2fa" {
		t.Fatalf("password step: got %d to %q, want 303 to /login/2fa", p.Status, p.Header.Get("Location"))
	}
	one(t, b.get("/login/2fa"), `[data-testid=login-code-form]`)
	return b
}

func TestTwoFactorEnrolAndSignIn(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	e := newClockEnv(t, clock)
	createAdmin(t, e, adminEmail, adminPassword)
	owner := signIn(t, e, adminEmail, adminPassword)
	secret, recovery := enrol(t, owner, "/admin/account", clock)
	if rows := e.auditRows("user.two_factor_enable"); len(rows) != 1 {
		t.Fatalf("got %d user.two_factor_enable audit rows, want 1", len(rows))
	}

	// The password alone grants nothing.
	clock.Add(time.Minute)
	b := passwordStep(t, e, adminEmail, adminPassword)
	wantSignedOut(t, b, "/admin")
	right := code(t, secret, clock.Now())
	wrong := "123456"
	if wrong == right {
		wrong = "654321"
	}
	p := b.post("/login/2fa", url.Values{"code": {wrong}})
	wantStatus(t, p, http.StatusUnauthorized)
	one(t, p, `[data-testid=login-error]`)
	wantSignedOut(t, b, "/admin")
	p = b.post("/login/2fa", url.Values{"code": {right}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/admin" {
		t.Fatalf("right code: got %d to %q, want 303 to /admin", p.Status, p.Header.Get("Location"))
	}
	wantStatus(t, b.get("/admin"), http.StatusOK)

	// The same code does not work twice.
	b2 := passwordStep(t, e, adminEmail, adminPassword)
	wantStatus(t, b2.post("/login/2fa", url.Values{"code": {right}}), http.StatusUnauthorized)
	clock.Add(30 * time.Second)
	wantStatus(t, b2.post("/login/2fa", url.Values{"code": {code(t, secret, clock.Now())}}), http.StatusSeeOther)

	// A recovery code works once.
	b3 := passwordStep(t, e, adminEmail, adminPassword)
	wantStatus(t, b3.post("/login/2fa", url.Values{"code": {strings.ToUpper(recovery[0])}}), http.StatusSeeOther)
	wantStatus(t, b3.get("/admin"), http.StatusOK)
	b4 := passwordStep(t, e, adminEmail, adminPassword)
	wantStatus(t, b4.post("/login/2fa", url.Values{"code": {recovery[0]}}), http.StatusUnauthorized)
	wantStatus(t, b4.post("/login/2fa", url.Values{"code": {recovery[1]}}), http.StatusSeeOther)
	if got := one(t, b4.get("/admin/account"), `[data-testid=two-factor-status]`).Text(); !strings.Contains(got, "8 recovery codes left") {
		t.Errorf("account page: got %q, want 8 recovery codes left", got)
	}

}

// Wrong codes count as failed sign-ins: after the free ones, even the
// right code waits, and typing the password again does not reset that.
func TestTwoFactorCodesAreThrottled(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	e := newClockEnv(t, clock, func(c *handlers.Config) {
		c.LoginThrottle = handlers.LoginThrottle{FreeFailures: 3, MaxDelay: time.Minute, Forget: time.Hour}
	})
	createAdmin(t, e, adminEmail, adminPassword)
	secret, _ := enrol(t, signIn(t, e, adminEmail, adminPassword), "/admin/account", clock)
	clock.Add(time.Minute)
	right := code(t, secret, clock.Now())
	wrong := "123456"
	if wrong == right {
		wrong = "654321"
	}
	b := passwordStep(t, e, adminEmail, adminPassword)
	for i := 0; i < 3; i++ {
		wantStatus(t, b.post("/login/2fa", url.Values{"code": {wrong}}), http.StatusUnauthorized)
	}
	wantStatus(t, b.post("/login/2fa", url.Values{"code": {right}}), http.StatusTooManyRequests)
	b = newBrowser(t, e)
	b.get("/login")
	wantStatus(t, b.post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}}), http.StatusTooManyRequests)
	clock.Add(2 * time.Second)
	b = passwordStep(t, e, adminEmail, adminPassword)
	wantStatus(t, b.post("/login/2fa", url.Values{"code": {right}}), http.StatusSeeOther)
}

func TestTwoFactorForCustomerUsers(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	e := newClockEnv(t, clock)
	f := &fixture{testEnv: e, admin: e.apiKey("admin")}
	r := e.do("POST", "/api/customers", f.admin, map[string]any{"name": "Acme Corp", "email": "ops@acme.example"})
	if r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	createCustomerUser(t, e, r.JSON(t)["id"].(string), "alice@acme.example")
	a := signIn(t, e, "alice@acme.example", portalPassword)
	secret, _ := enrol(t, a, "/portal/account", clock)
	clock.Add(time.Minute)
	b := passwordStep(t, e, "alice@acme.example", portalPassword)
	wantSignedOut(t, b, "/portal")
	p := b.post("/login/2fa", url.Values{"code": {code(t, secret, clock.Now())}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/portal" {
		t.Fatalf("right code: got %d to %q, want 303 to /portal", p.Status, p.Header.Get("Location"))
	}
	wantStatus(t, b.get("/portal"), http.StatusOK)

	// Turning it off needs a code; then the password alone signs in.
	clock.Add(time.Minute)
	b.get("/portal/account")
	wantStatus(t, b.post("/portal/account/2fa/disable", url.Values{"code": {"000000"}}), http.StatusSeeOther)
	if got := one(t, b.get("/portal/account"), `[data-testid=two-factor-status]`).Text(); !strings.HasPrefix(strings.TrimSpace(got), "On") {
		t.Fatalf("a wrong code turned it off: %q", got)
	}
	wantStatus(t, b.post("/portal/account/2fa/disable", url.Values{"code": {code(t, secret, clock.Now())}}), http.StatusSeeOther)
	signIn(t, e, "alice@acme.example", portalPassword)
}

func TestSignOutOneSession(t *testing.T) {
	for _, tc := range []struct{ name, base, home string }{
		{"admin", "/admin/account", "/admin"},
		{"customer", "/portal/account", "/portal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pe := newPortalEnv(t)
			email, pw, a := "alice@acme.example", portalPassword, pe.a // signed in already
			if tc.name == "admin" {
				createAdmin(t, pe.testEnv, adminEmail, adminPassword)
				email, pw = adminEmail, adminPassword
				a = signIn(t, pe.testEnv, email, pw)
			}
			b := signIn(t, pe.testEnv, email, pw)
			p := a.get(tc.base)
			rows := p.Doc.Find(`[data-testid=session-row]`)
			if rows.Length() != 2 {
				t.Fatalf("got %d sessions listed, want 2", rows.Length())
			}
			var other string
			rows.Each(func(_ int, r *goquery.Selection) {
				if r.Find(`[data-testid=session-current]`).Length() == 0 {
					other = r.Find("form").AttrOr("action", "")
				}
			})
			if other == "" {
				t.Fatal("no session without the This browser mark")
			}
			wantStatus(t, a.post(other, nil), http.StatusSeeOther)
			wantSignedOut(t, b, tc.home)
			wantStatus(t, a.get(tc.home), http.StatusOK)
			if n := a.get(tc.base).Doc.Find(`[data-testid=session-row]`).Length(); n != 1 {
				t.Fatalf("after signing one out: %d sessions listed, want 1", n)
			}
			// Another user's session cannot be named.
			wantStatus(t, a.post(strings.Replace(other, other[len(tc.base)+10:len(tc.base)+46],
				"00000000-0000-0000-0000-000000000000", 1), nil), http.StatusNotFound)
		})
	}
}
