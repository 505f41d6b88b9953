package handlers_test

// What each role is offered: the admin pages show a button, link or form
// only when the route it targets would not refuse the signed-in role. The
// targets are read from the rendered HTML and checked against the route
// table, so a new button on these pages cannot be forgotten.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/licensing"
)

// pageTarget is one request a page offers to send.
type pageTarget struct {
	method, path, via string
}

// pageTargets lists every admin request doc offers: forms (method and
// action), htmx attributes, the upload form's PUT, and links to admin pages.
func pageTargets(doc *goquery.Document) []pageTarget {
	var out []pageTarget
	add := func(method, path, via string) {
		if path == "" {
			return
		}
		if u, err := url.Parse(path); err == nil {
			path = u.Path
		}
		if strings.HasPrefix(path, "/admin") {
			out = append(out, pageTarget{method, path, via})
		}
	}
	doc.Find("form[action]").Each(func(_ int, s *goquery.Selection) {
		add(strings.ToUpper(s.AttrOr("method", "GET")), s.AttrOr("action", ""), "form action")
	})
	for _, verb := range []string{"get", "post", "put", "delete", "patch"} {
		doc.Find("[hx-" + verb + "]").Each(func(_ int, s *goquery.Selection) {
			add(strings.ToUpper(verb), s.AttrOr("hx-"+verb, ""), "hx-"+verb)
		})
	}
	doc.Find("form[data-upload]").Each(func(_ int, s *goquery.Selection) {
		add(http.MethodPut, s.AttrOr("data-upload", "")+"file", "data-upload")
	})
	doc.Find("a[href]").Each(func(_ int, s *goquery.Selection) {
		if _, dl := s.Attr("download"); !dl {
			add(http.MethodGet, s.AttrOr("href", ""), "link")
		}
	})
	return out
}

func TestAdminPagesOfferOnlyWhatTheRoleMay(t *testing.T) {
	s := newStripeAdmin(t) // an owner, plans, and a Stripe event that needs attention
	owner := s.b
	r := s.do("POST", "/api/customers", s.admin, map[string]any{"name": "Role Corp", "email": "ops@role.example"})
	if r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	customerID := r.JSON(t)["id"].(string)
	r = s.do("POST", "/api/licenses", s.admin, map[string]any{"customerId": customerID, "plan": "team"})
	if r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	m := r.JSON(t)
	licenseID, key := m["license"].(map[string]any)["id"].(string), m["licenseKey"].(string)
	s.validate(key, "role-dep-1") // a deployment with a Release button

	owner.get("/admin")
	if p := owner.htmx("POST", "/admin/customers/"+customerID+"/users", url.Values{"email": {"u@role.example"}, "name": {"U"}}); p.Status != 200 {
		t.Fatalf("invite a customer user: got %d", p.Status)
	}
	owner.get("/admin/releases")
	if p := owner.post("/admin/products", url.Values{"code": {"acme"}, "name": {"Acme"}}); p.Status != 303 {
		t.Fatalf("add product: got %d %s", p.Status, p.Body)
	}
	owner.get("/admin/releases")
	p := owner.post("/admin/releases", url.Values{"product": {"acme"}, "version": {"1.0.0"}, "channel": {"stable"}})
	if p.Status != 303 {
		t.Fatalf("create release: got %d %s", p.Status, p.Body)
	}
	releasePath := p.Header.Get("Location")
	owner.get("/admin/api-keys")
	if p := owner.post("/admin/api-keys", url.Values{"name": {"ci"}, "scopes": {licensing.ScopeLicensesRead}}); p.Status >= 400 {
		t.Fatalf("create API key: got %d %s", p.Status, p.Body)
	}

	r = s.do("POST", "/api/webhook-endpoints", s.admin, map[string]any{"url": "https://8.8.8.8/hook", "events": []string{"*"}})
	if r.Status != 201 {
		t.Fatalf("create a webhook endpoint: got %d %s", r.Status, r.Body)
	}
	webhookID := r.JSON(t)["endpoint"].(map[string]any)["id"].(string)

	pages := []string{"/admin", "/admin/licenses", "/admin/licenses/" + licenseID, "/admin/customers",
		"/admin/customers/" + customerID, "/admin/plans", "/admin/team", "/admin/api-keys", "/admin/stripe-events",
		"/admin/stripe-events/evt_new", "/admin/releases", releasePath, "/admin/notifications", "/admin/usage", "/admin/account",
		"/admin/insights", "/admin/webhooks", "/admin/webhooks/" + webhookID, "/admin/webhooks/" + webhookID + "/edit"}

	const pw = "a long password for the role views"
	browsers := map[licensing.AdminRole]*browser{licensing.RoleOwner: owner}
	for _, role := range []licensing.AdminRole{licensing.RoleAdmin, licensing.RoleSupport, licensing.RoleViewer} {
		email := string(role) + "@nls.example"
		createAdminAs(t, s.testEnv, email, pw, role)
		browsers[role] = signIn(t, s.testEnv, email, pw)
	}
	offered := map[licensing.AdminRole]int{}
	for _, role := range licensing.AdminRoles {
		b := browsers[role]
		for _, path := range pages {
			p := b.get(path)
			if p.Status == http.StatusForbidden && !handlers.AdminRoleAllows(role, http.MethodGet, path) {
				continue // a page the role may not see offers it nothing
			}
			if p.Status != http.StatusOK {
				t.Fatalf("%s: GET %s: got %d, want 200", role, path, p.Status)
			}
			for _, tg := range pageTargets(p.Doc) {
				if tg.method != http.MethodGet {
					offered[role]++
				}
				if !handlers.AdminRoleAllows(role, tg.method, tg.path) {
					t.Errorf("%s: %s offers %s %s (%s), which the role is refused", role, path, tg.method, tg.path, tg.via)
				}
			}
		}
	}
	// The pages do offer actions to those who may take them: the check
	// above is not passing on empty pages.
	if offered[licensing.RoleOwner] <= offered[licensing.RoleAdmin] || offered[licensing.RoleAdmin] <= offered[licensing.RoleSupport] ||
		offered[licensing.RoleSupport] <= offered[licensing.RoleViewer] {
		t.Errorf("actions offered per role: got %v, want owner > admin > support > viewer", offered)
	}
	viewerLicense := browsers[licensing.RoleViewer].get("/admin/licenses/" + licenseID)
	one(t, viewerLicense, `[data-testid=key-hidden]`)
	support := browsers[licensing.RoleSupport].get("/admin/licenses/" + licenseID)
	one(t, support, `[data-testid=release]`)
	if n := support.Doc.Find(`[data-testid=license-actions], [data-testid=edit-license]`).Length(); n != 0 {
		t.Errorf("support sees %d license change actions, want none", n)
	}
}
