package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nectarcloud/nls/auth"
	"github.com/nectarcloud/nls/handlers"
)

func TestChangePasswordEndsOtherSessions(t *testing.T) {
	e := newAcctEnv(t)
	id := e.customerUser("pat@acme.example")
	e.clock.Advance(time.Second)
	laptop := signIn(t, e.testEnv, "pat@acme.example", customerPassword)
	phone := signIn(t, e.testEnv, "pat@acme.example", customerPassword)
	e.clock.Advance(time.Second)

	page := laptop.get("/portal/account")
	wantStatus(t, page, http.StatusOK)
	checkCSP(t, page)
	if got := one(t, page, `[data-testid=account-customer]`).Text(); got != "Acme Corp" {
		t.Errorf("customer: %q", got)
	}
	if a := one(t, page, `nav[data-testid=nav] a[aria-current=page]`); a.AttrOr("href", "") != "/portal/account" {
		t.Errorf("active nav item: %q", a.AttrOr("href", ""))
	}
	if page.Doc.Find(`nav[data-testid=nav] a[href^="/admin"]`).Length() != 0 {
		t.Error("the customer portal shows admin navigation")
	}

	const newPassword = "velvet-harbour-compass-7"
	for _, tc := range []struct {
		name                       string
		current, password, confirm string
		field                      string
	}{
		{"wrong current password", "not-my-password-x", newPassword, newPassword, "current"},
		{"too short", customerPassword, "short-one", "short-one", "password"},
		{"contains the email's name", customerPassword, "pat-is-my-name-1", "pat-is-my-name-1", "password"},
		{"common", customerPassword, "qwertyuiop123", "qwertyuiop123", "password"},
		{"the same as now", customerPassword, customerPassword, customerPassword, "password"},
		{"confirmation differs", customerPassword, newPassword, newPassword + "!", "confirm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := laptop.post("/portal/account/password", url.Values{"current": {tc.current}, "password": {tc.password},
				"confirm": {tc.confirm}})
			wantStatus(t, p, http.StatusUnprocessableEntity)
			one(t, p, `[data-testid=error-`+tc.field+`]`)
			if p.Doc.Find(`input[type=password][value]`).Length() != 0 {
				t.Error("a password was sent back in the page")
			}
		})
	}
	// Nothing changed so far: the phone still works.
	wantStatus(t, phone.get("/portal/account"), http.StatusOK)

	// Without the CSRF token: 403, nothing changes.
	wantStatus(t, laptop.send("POST", "/portal/account/password", url.Values{"current": {customerPassword},
		"password": {newPassword}, "confirm": {newPassword}}, nil), http.StatusForbidden)

	oldCSRF := laptop.csrf
	done := laptop.post("/portal/account/password", url.Values{"current": {customerPassword}, "password": {newPassword},
		"confirm": {newPassword}})
	wantStatus(t, done, http.StatusSeeOther)
	if loc := done.Header.Get("Location"); loc != "/portal/account" {
		t.Fatalf("Location: %q", loc)
	}
	after := laptop.get("/portal/account")
	wantStatus(t, after, http.StatusOK)
	if !strings.Contains(one(t, after, `[data-testid=flash] [data-testid=toast]`).Text(), "Password changed") {
		t.Error("no confirmation")
	}
	if laptop.csrf == oldCSRF {
		t.Error("the session was not renewed (same CSRF token)")
	}
	// The other session ends at its next request.
	if p := phone.get("/portal/account"); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/login") {
		t.Fatalf("the other session: got %d %q, want a redirect to sign in", p.Status, p.Header.Get("Location"))
	}
	// Only the new password signs in.
	b := newBrowser(t, e.testEnv)
	b.get("/login")
	wantStatus(t, b.post("/login", url.Values{"email": {"pat@acme.example"}, "password": {customerPassword}}), http.StatusUnauthorized)
	signIn(t, e.testEnv, "pat@acme.example", newPassword)

	audit := e.auditText()
	if !strings.Contains(audit, "customer_user "+id+" user.password_change user "+id) {
		t.Errorf("no password change row by the user:\n%s", audit)
	}
	logs := e.logs.String()
	for _, secret := range []string{customerPassword, newPassword} {
		if strings.Contains(audit, secret) || strings.Contains(logs, secret) {
			t.Errorf("a password reached the audit log or the logs")
		}
	}
}

func TestChangePasswordIsRateLimited(t *testing.T) {
	e := newAcctEnv(t, func(c *handlers.Config) {
		c.LoginThrottle = handlers.LoginThrottle{FreeFailures: 3, MaxDelay: time.Minute, Forget: time.Hour}
	})
	e.customerUser("guess@acme.example")
	e.clock.Advance(time.Second)
	b := signIn(t, e.testEnv, "guess@acme.example", customerPassword)
	b.get("/portal/account")
	form := func(current string) url.Values {
		return url.Values{"current": {current}, "password": {"velvet-harbour-compass-7"}, "confirm": {"velvet-harbour-compass-7"}}
	}
	// Wrong current passwords count as failed sign-ins (3 free per account
	// and address): a few wrong guesses, then every attempt must wait, even
	// with the right password.
	limited := 0
	for i := 0; i < 5 && limited == 0; i++ {
		p := b.post("/portal/account/password", form("wrong-guess-number-"+string(rune('a'+i))))
		switch p.Status {
		case http.StatusUnprocessableEntity:
		case http.StatusTooManyRequests:
			limited = i + 1
			if p.Header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			one(t, p, `[data-testid=error-form]`)
		default:
			t.Fatalf("attempt %d: got %d", i+1, p.Status)
		}
	}
	if limited != 4 {
		t.Fatalf("limited at attempt %d, want 4", limited)
	}
	wantStatus(t, b.post("/portal/account/password", form(customerPassword)), http.StatusTooManyRequests)
	if u, _ := e.store.GetUserByEmail(t.Context(), "guess@acme.example"); !auth.CheckPassword(*u.PasswordHash, customerPassword) {
		t.Fatal("the password changed while rate limited")
	}
}
