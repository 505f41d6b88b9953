package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nectarcloud/nls/auth"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

func adminRoutes(licenseID string) [][2]string {
	return [][2]string{
		{"GET", "/admin"},
		{"GET", "/admin/licenses"},
		{"GET", "/admin/licenses?status=active"},
		{"GET", "/admin/licenses/new"},
		{"POST", "/admin/licenses"},
		{"GET", "/admin/licenses/" + licenseID},
		{"POST", "/admin/licenses/" + licenseID + "/reveal"},
		{"POST", "/admin/licenses/" + licenseID + "/suspend"},
		{"POST", "/admin/licenses/" + licenseID + "/reactivate"},
		{"POST", "/admin/licenses/" + licenseID + "/renew"},
		{"POST", "/admin/licenses/" + licenseID + "/revoke"},
		{"POST", "/admin/licenses/" + licenseID + "/rekey"},
		{"POST", "/admin/licenses/" + licenseID + "/deployments/dep-1/release"},
		{"GET", "/admin/usage"},
		{"GET", "/admin/usage?metric=apiCalls&days=7"},
		{"GET", "/admin/stripe-events"},
		{"GET", "/admin/stripe-events?status=needs_attention"},
		{"GET", "/admin/stripe-events/evt_test"},
		{"POST", "/admin/stripe-events/evt_test/replay"},
	}
}

func TestAdminRoutesNeedAnAdminSession(t *testing.T) {
	a := newAdminEnv(t)
	anon := newBrowser(t, a.testEnv)
	for _, r := range adminRoutes(a.licenseID) {
		t.Run(r[0]+" "+r[1], func(t *testing.T) {
			p := anon.send(r[0], r[1], url.Values{}, nil)
			wantStatus(t, p, http.StatusSeeOther)
			loc := p.Header.Get("Location")
			if !strings.HasPrefix(loc, "/login") {
				t.Fatalf("Location: got %q, want /login…", loc)
			}
			if r[0] == "GET" && loc != "/login?next="+url.QueryEscape(r[1]) {
				t.Errorf("Location: got %q, want next=%s", loc, r[1])
			}
			h := anon.send(r[0], r[1], url.Values{}, map[string]string{"HX-Request": "true",
				"HX-Current-URL": "http://example.test/admin/licenses?q=acme"})
			if got := h.Header.Get("HX-Redirect"); got != "/login?next="+url.QueryEscape("/admin/licenses?q=acme") {
				t.Errorf("HX-Redirect: got %q", got)
			}
			if h.Status == http.StatusSeeOther || h.Status == http.StatusFound {
				t.Errorf("HTMX request got a %d redirect", h.Status)
			}
		})
	}
}

func TestAdminRoutesRefuseCustomerUsers(t *testing.T) {
	a := newAdminEnv(t)
	cust, err := a.store.CreateCustomer(t.Context(), licensing.SystemActor("test"), db.CustomerInput{Name: "Beta", Email: "it@beta.example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := auth.HashPassword("customer-pass", 4)
	if _, err := rawQueries(a.store).CreateUser(t.Context(), db.CreateUserParams{Email: "carol@beta.example", Role: "customer",
		CustomerID: &cust.ID, PasswordHash: &hash}); err != nil {
		t.Fatal(err)
	}
	b := signIn(t, a.testEnv, "carol@beta.example", "customer-pass")
	for _, r := range adminRoutes(a.licenseID) {
		p := b.send(r[0], r[1], url.Values{"csrf_token": {b.csrf}}, nil)
		if p.Status != http.StatusForbidden {
			t.Errorf("%s %s: got %d, want 403", r[0], r[1], p.Status)
		}
	}
	lic, err := a.store.GetLicense(t.Context(), mustUUID(t, a.licenseID))
	if err != nil || lic.Status != "active" {
		t.Fatalf("a customer user changed the license: %v %v", lic.Status, err)
	}
}

func TestAdminPostsNeedCSRFToken(t *testing.T) {
	a := newAdminEnv(t)
	path := "/admin/licenses/" + a.licenseID + "/suspend"
	form := url.Values{"reason": {"unpaid"}}
	for name, headers := range map[string]map[string]string{
		"no token":     {"HX-Request": "true"},
		"forged token": {"HX-Request": "true", "X-CSRF-Token": "forged"},
	} {
		t.Run(name, func(t *testing.T) {
			wantStatus(t, a.b.send("POST", path, form, headers), http.StatusForbidden)
		})
	}
	if lic, _ := a.store.GetLicense(t.Context(), mustUUID(t, a.licenseID)); lic.Status != "active" {
		t.Fatalf("license changed without a CSRF token: %s", lic.Status)
	}
	wantStatus(t, a.b.htmx("POST", path, form), http.StatusOK)
	if lic, _ := a.store.GetLicense(t.Context(), mustUUID(t, a.licenseID)); lic.Status != "suspended" {
		t.Fatalf("got status %s, want suspended", lic.Status)
	}
}
