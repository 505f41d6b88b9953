package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/auth"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/licensing"
)

func sessionCookie(t *testing.T, p page) *http.Cookie {
	t.Helper()
	for _, c := range p.Cookies {
		if c.Name == "nls_session" {
			return c
		}
	}
	t.Fatalf("no nls_session cookie set; headers %v", p.Header)
	return nil
}

func TestLoginSessionCookieFlags(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "secure"}[secure], func(t *testing.T) {
			e := newEnv(t, func(c *handlers.Config) { c.SecureCookies = secure })
			createAdmin(t, e, adminEmail, adminPassword)
			b := newBrowser(t, e)
			form := b.get("/login")
			wantStatus(t, form, 200)
			one(t, form, `[data-testid=login-form] input[name=csrf_token]`)
			for _, p := range []page{form, b.post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})} {
				c := sessionCookie(t, p)
				if !c.HttpOnly {
					t.Error("session cookie is not HttpOnly")
				}
				if c.SameSite != http.SameSiteLaxMode {
					t.Errorf("SameSite: got %v, want Lax", c.SameSite)
				}
				if c.Secure != secure {
					t.Errorf("Secure: got %v, want %v", c.Secure, secure)
				}
			}
		})
	}
}

func TestLoginRedirectsByRoleAndNext(t *testing.T) {
	e := newEnv(t)
	createAdmin(t, e, adminEmail, adminPassword)
	cust, err := e.store.CreateCustomer(t.Context(), licensing.SystemActor("test"), db.CustomerInput{Name: "Beta", Email: "it@beta.example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := auth.HashPassword("customer-pass", 4)
	u, err := rawQueries(e.store).CreateUser(t.Context(), db.CreateUserParams{Email: "carol@beta.example", Role: "customer",
		CustomerID: &cust.ID, PasswordHash: &hash})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, email, pw, next, want string
	}{
		{"admin home", adminEmail, adminPassword, "", "/admin"},
		{"admin next", adminEmail, adminPassword, "/admin/licenses?status=active", "/admin/licenses?status=active"},
		{"off-site next ignored", adminEmail, adminPassword, "//evil.example/x", "/admin"},
		{"email case ignored", strings.ToUpper(adminEmail), adminPassword, "", "/admin"},
		{"customer", "carol@beta.example", "customer-pass", "/admin", "/portal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, e)
			b.get("/login?next=" + url.QueryEscape(tc.next))
			p := b.post("/login", url.Values{"email": {tc.email}, "password": {tc.pw}, "next": {tc.next}})
			wantStatus(t, p, http.StatusSeeOther)
			if got := p.Header.Get("Location"); got != tc.want {
				t.Fatalf("Location: got %q, want %q", got, tc.want)
			}
		})
	}
	got, err := e.store.GetUserByID(t.Context(), u.ID)
	if err != nil || got.LastLoginAt == nil {
		t.Fatalf("last_login_at not recorded: %v %v", got.LastLoginAt, err)
	}
}

func TestLoginWrongPasswordKeepsEmail(t *testing.T) {
	e := newEnv(t)
	createAdmin(t, e, adminEmail, adminPassword)
	for _, tc := range []struct{ name, email, pw string }{
		{"wrong password", adminEmail, "nope"},
		{"unknown user", "nobody@nls.example", adminPassword},
		{"empty password", adminEmail, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, e)
			b.get("/login")
			p := b.post("/login", url.Values{"email": {tc.email}, "password": {tc.pw}})
			wantStatus(t, p, http.StatusUnauthorized)
			if got := one(t, p, `[data-testid=login-error]`).Text(); got != "Email or password is incorrect" {
				t.Errorf("error: got %q", got)
			}
			if got := one(t, p, `[data-testid=login-email]`).AttrOr("value", ""); got != tc.email {
				t.Errorf("email kept: got %q, want %q", got, tc.email)
			}
			if one(t, p, `#password`).AttrOr("value", "") != "" {
				t.Error("password echoed back")
			}
			if b.get("/admin").Status != http.StatusSeeOther {
				t.Error("a failed sign-in left a session")
			}
		})
	}
}

func TestLoginDisabledUserRefused(t *testing.T) {
	e := newEnv(t)
	id := createAdmin(t, e, adminEmail, adminPassword)
	if _, err := e.store.Pool.Exec(t.Context(), `UPDATE users SET disabled_at = now() WHERE id = $1`, uuid.MustParse(id)); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e)
	b.get("/login")
	p := b.post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
	wantStatus(t, p, http.StatusForbidden)
	one(t, p, `[data-testid=login-error]`)
	if b.get("/admin").Status != http.StatusSeeOther {
		t.Error("a disabled user got a session")
	}
}

func TestLoginNeedsCSRFToken(t *testing.T) {
	e := newEnv(t)
	createAdmin(t, e, adminEmail, adminPassword)
	b := newBrowser(t, e)
	b.get("/login")
	p := b.send("POST", "/login", url.Values{"email": {adminEmail}, "password": {adminPassword}}, nil)
	wantStatus(t, p, http.StatusForbidden)
	p = b.send("POST", "/login", url.Values{"email": {adminEmail}, "password": {adminPassword}, "csrf_token": {"forged"}}, nil)
	wantStatus(t, p, http.StatusForbidden)
}

func TestLoginThenSignOut(t *testing.T) {
	e := newEnv(t)
	createAdmin(t, e, adminEmail, adminPassword)
	b := signIn(t, e, adminEmail, adminPassword)
	home := b.get("/admin")
	wantStatus(t, home, 200)
	if home.Doc.Find(`[data-testid=sign-out] input[name=csrf_token]`).Length() == 0 {
		t.Error("no sign-out form with a CSRF field")
	}
	if b.send("POST", "/logout", url.Values{}, nil).Status != http.StatusForbidden {
		t.Error("sign-out without CSRF token was accepted")
	}
	p := b.post("/logout", nil)
	wantStatus(t, p, http.StatusSeeOther)
	if got := p.Header.Get("Location"); got != "/login" {
		t.Errorf("Location: got %q, want /login", got)
	}
	if got := b.get("/admin"); got.Status != http.StatusSeeOther {
		t.Errorf("after sign-out /admin: got %d, want 303", got.Status)
	}
}
