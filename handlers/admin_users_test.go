package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

// customerUser invites email into the env's customer, sets its password
// and returns its id.
func (e *acctEnv) customerUser(email string) string {
	e.t.Helper()
	e.acceptInvite(e.invite(email, ""), customerPassword)
	u, err := e.store.GetUserByEmail(e.t.Context(), email)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID.String()
}

func TestDisabledUsersCannotSignInAndLoseTheirSession(t *testing.T) {
	e := newAcctEnv(t)
	id := e.customerUser("dana@acme.example")
	e.clock.Advance(time.Second)
	b := signIn(t, e.testEnv, "dana@acme.example", customerPassword)
	wantStatus(t, b.get("/portal/account"), http.StatusOK)
	kept := map[string]*http.Cookie{}
	for k, v := range b.cookies {
		kept[k] = v
	}

	usersURL := "/admin/customers/" + e.customerID + "/users/" + id
	p := e.admin.htmx("POST", usersURL+"/disable", nil)
	wantStatus(t, p, http.StatusOK)
	if got := one(t, p, `[data-testid=user-row]`).AttrOr("data-state", ""); got != "disabled" {
		t.Errorf("state: got %q, want disabled", got)
	}
	one(t, p, `[data-testid=user-enable]`)
	if p.Doc.Find(`[data-testid=user-disable], [data-testid=user-link]`).Length() != 0 {
		t.Error("a disabled user still offers disable or a new link")
	}
	if one(t, p, `#toasts [data-testid=toast]`).AttrOr("data-kind", "") != "success" {
		t.Error("no toast")
	}
	if !strings.Contains(one(t, p, `[data-testid=user-disable], form[data-testid=user-enable]`).AttrOr("hx-confirm", ""), "Enable") {
		t.Error("enabling is not confirmed")
	}

	// The open session ends at its next request, page or htmx.
	next := b.get("/portal/account")
	wantStatus(t, next, http.StatusSeeOther)
	if loc := next.Header.Get("Location"); !strings.HasPrefix(loc, "/login") {
		t.Fatalf("Location: got %q, want /login", loc)
	}
	b.cookies = kept
	h := b.send("GET", "/portal/account", nil, map[string]string{"HX-Request": "true"})
	if h.Header.Get("HX-Redirect") == "" || h.Status == http.StatusOK {
		t.Errorf("htmx request of a disabled user: %d, HX-Redirect %q", h.Status, h.Header.Get("HX-Redirect"))
	}
	// The right password is refused, saying why.
	nb := newBrowser(t, e.testEnv)
	nb.get("/login")
	refused := nb.post("/login", url.Values{"email": {"dana@acme.example"}, "password": {customerPassword}})
	wantStatus(t, refused, http.StatusForbidden)
	if !strings.Contains(one(t, refused, `[data-testid=login-error]`).Text(), "disabled") {
		t.Error("the sign-in page does not say the account is disabled")
	}
	// A wrong password says only that it is wrong.
	wrong := nb.post("/login", url.Values{"email": {"dana@acme.example"}, "password": {"not-the-password-1"}})
	if strings.Contains(one(t, wrong, `[data-testid=login-error]`).Text(), "disabled") {
		t.Error("a wrong password reveals the account is disabled")
	}
	// A link to set a password does not work for a disabled user either.
	reset := e.admin.htmx("POST", usersURL+"/link", nil)
	if !strings.Contains(one(t, reset, `[data-testid=users-error]`).Text(), "disabled") {
		t.Error("a new link for a disabled user was not refused")
	}

	// Enabled again: the password works; the session from before does not.
	p = e.admin.htmx("POST", usersURL+"/enable", nil)
	if got := one(t, p, `[data-testid=user-row]`).AttrOr("data-state", ""); got != "active" {
		t.Errorf("state: got %q, want active", got)
	}
	b.cookies = kept
	wantStatus(t, b.get("/portal/account"), http.StatusSeeOther)
	e.clock.Advance(time.Second)
	wantStatus(t, signIn(t, e.testEnv, "dana@acme.example", customerPassword).get("/portal/account"), http.StatusOK)

	// Without JavaScript: a redirect back with a message.
	plain := e.admin.post(usersURL+"/disable", nil)
	wantStatus(t, plain, http.StatusSeeOther)
	page := e.admin.get("/admin/customers/" + e.customerID)
	if !strings.Contains(one(t, page, `[data-testid=flash] [data-testid=toast]`).Text(), "disabled") {
		t.Error("no message after disabling without JavaScript")
	}
	// Disabling twice changes nothing and says so.
	twice := e.admin.htmx("POST", usersURL+"/disable", nil)
	if one(t, twice, `#toasts [data-testid=toast]`).AttrOr("data-kind", "") != "info" {
		t.Error("disabling a disabled user is not reported as already done")
	}

	audit := e.auditText()
	for _, action := range []string{"user.disable", "user.enable"} {
		if !strings.Contains(audit, action+" user "+id) {
			t.Errorf("no %s row:\n%s", action, audit)
		}
	}
	if strings.Count(audit, "user.disable user "+id) != 2 {
		t.Errorf("want two disable rows (the repeat writes none):\n%s", audit)
	}
}

func TestUserActionsStayWithinTheCustomer(t *testing.T) {
	e := newAcctEnv(t)
	other, err := e.store.CreateCustomer(t.Context(), licensing.SystemActor("test"),
		db.CustomerInput{Name: "Globex", Email: "it@globex.example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	inv, err := e.store.InviteUser(t.Context(), licensing.SystemActor("test"), db.InviteInput{CustomerID: other.ID,
		Email: "hank@globex.example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"disable", "enable", "link"} {
		p := e.admin.htmx("POST", "/admin/customers/"+e.customerID+"/users/"+inv.User.ID.String()+"/"+action, nil)
		wantStatus(t, p, http.StatusNotFound)
	}
	wantStatus(t, e.admin.htmx("POST", "/admin/customers/"+e.customerID+"/users/not-a-uuid/disable", nil), http.StatusNotFound)
	wantStatus(t, e.admin.htmx("POST", "/admin/customers/00000000-0000-0000-0000-000000000000/users", url.Values{"email": {"x@y.example"}}),
		http.StatusNotFound)
	u, _ := e.store.GetUserByID(t.Context(), inv.User.ID)
	if u.DisabledAt != nil {
		t.Fatal("another customer's user was disabled")
	}
	// Their link still works: no new one was made.
	b := newBrowser(t, e.testEnv)
	wantStatus(t, b.get("/invite/"+inv.Token), http.StatusOK)
}

func TestUserRoutesAreForAdminsWithCSRF(t *testing.T) {
	e := newAcctEnv(t)
	id := e.customerUser("carol@acme.example")
	routes := []string{
		"/admin/customers/" + e.customerID + "/users",
		"/admin/customers/" + e.customerID + "/users/" + id + "/disable",
		"/admin/customers/" + e.customerID + "/users/" + id + "/enable",
		"/admin/customers/" + e.customerID + "/users/" + id + "/link",
	}
	e.clock.Advance(time.Second)
	customer := signIn(t, e.testEnv, "carol@acme.example", customerPassword)
	wantStatus(t, customer.get("/portal/account"), http.StatusOK) // the session's CSRF token
	anon := newBrowser(t, e.testEnv)
	for _, r := range routes {
		t.Run(r, func(t *testing.T) {
			// A customer user gets 403 on every admin page and action.
			wantStatus(t, customer.post(r, url.Values{"email": {"eve@acme.example"}}), http.StatusForbidden)
			wantStatus(t, customer.get("/admin/customers/"+e.customerID), http.StatusForbidden)
			// Signed out: sent to sign in.
			wantStatus(t, anon.send("POST", r, url.Values{}, nil), http.StatusSeeOther)
			// An admin without the CSRF token: 403.
			wantStatus(t, e.admin.send("POST", r, url.Values{"email": {"eve@acme.example"}}, map[string]string{"HX-Request": "true"}),
				http.StatusForbidden)
		})
	}
	if u, _ := e.store.GetUserByID(t.Context(), mustUUID(t, id)); u.DisabledAt != nil {
		t.Fatal("the user was disabled without an admin's CSRF token")
	}
	if _, err := e.store.GetUserByEmail(t.Context(), "eve@acme.example"); err == nil {
		t.Fatal("a user was invited without an admin's CSRF token")
	}
	// An admin has no customer account page.
	wantStatus(t, e.admin.get("/portal/account"), http.StatusForbidden)
}
