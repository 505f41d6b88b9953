package handlers_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/handlers"
)

// Tenant isolation: a user of customer A who names customer B's license or
// deployment, in the URL or a form, gets 404 — the same answer as for an id
// that does not exist — and nothing changes.
func TestPortalIsolationMatrix(t *testing.T) {
	pe := newPortalEnv(t)
	if code := pe.validate(pe.keyB, "b-host-1"); code != "VALID" {
		t.Fatalf("B's deployment: got %s", code)
	}
	if code := pe.validate(pe.keyA, "a-host-1"); code != "VALID" {
		t.Fatalf("A's deployment: got %s", code)
	}
	unknown := uuid.NewString()
	type req struct {
		name   string
		method string
		path   string
		form   url.Values
		htmx   bool
	}
	cases := []req{
		{"B's license page", "GET", "/portal/licenses/" + pe.licB, nil, false},
		{"B's license page under htmx", "GET", "/portal/licenses/" + pe.licB, nil, true},
		{"reveal B's key", "POST", "/portal/licenses/" + pe.licB + "/reveal", url.Values{}, false},
		{"reveal B's key under htmx", "POST", "/portal/licenses/" + pe.licB + "/reveal", url.Values{}, true},
		{"release B's deployment", "POST", "/portal/licenses/" + pe.licB + "/deployments/b-host-1/release", url.Values{}, false},
		{"release B's deployment under htmx", "POST", "/portal/licenses/" + pe.licB + "/deployments/b-host-1/release", url.Values{}, true},
		{"release B's deployment under A's license", "POST", "/portal/licenses/" + pe.licA + "/deployments/b-host-1/release", url.Values{}, true},
		{"offline file for B's license", "POST", "/portal/licenses/" + pe.licB + "/offline", url.Values{"deploymentId": {"a-site"}}, false},
		{"offline file for B's license naming B's deployment", "POST", "/portal/licenses/" + pe.licB + "/offline", url.Values{"deploymentId": {"b-host-1"}}, false},
		{"unknown license page", "GET", "/portal/licenses/" + unknown, nil, false},
		{"reveal an unknown license", "POST", "/portal/licenses/" + unknown + "/reveal", url.Values{}, true},
		{"release under an unknown license", "POST", "/portal/licenses/" + unknown + "/deployments/b-host-1/release", url.Values{}, true},
		{"offline file for an unknown license", "POST", "/portal/licenses/" + unknown + "/offline", url.Values{"deploymentId": {"x"}}, false},
		{"malformed license id", "GET", "/portal/licenses/not-a-uuid", nil, false},
		{"malformed license id in an action", "POST", "/portal/licenses/not-a-uuid/reveal", url.Values{}, true},
	}
	// The answer to B's id must not differ from the answer to an unknown id.
	mainText := func(p page) string {
		rid := p.Header.Get("X-Request-Id")
		return strings.Join(strings.Fields(strings.ReplaceAll(p.Doc.Find("main").Text(), rid, "")), " ")
	}
	var unknownPage string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := pe.dbState()
			var p page
			switch {
			case tc.method == "GET" && tc.htmx:
				p = pe.a.send("GET", tc.path, nil, map[string]string{"HX-Request": "true"})
			case tc.method == "GET":
				p = pe.a.get(tc.path)
			case tc.htmx:
				p = pe.a.hxPost(tc.path, tc.form)
			default:
				p = pe.a.post(tc.path, tc.form)
			}
			wantStatus(t, p, http.StatusNotFound)
			for _, leak := range []string{"Bravo", pe.keyB, pe.keyB[len(pe.keyB)-8:], "b-host-1.example"} {
				if strings.Contains(string(p.Body), leak) {
					t.Errorf("the 404 shows %q", leak)
				}
			}
			if after := pe.dbState(); after != before {
				t.Errorf("the database changed:\nbefore %s\nafter  %s", before, after)
			}
			if tc.name == "unknown license page" {
				unknownPage = mainText(p)
			}
		})
	}
	p := pe.a.get("/portal/licenses/" + pe.licB)
	if got := mainText(p); unknownPage == "" || got != unknownPage {
		t.Errorf("B's license answers %q, an unknown id %q: they must not differ", got, unknownPage)
	}

	t.Run("form fields naming B's ids are ignored", func(t *testing.T) {
		before := pe.auditRows("deployment.offline_activate")
		form := url.Values{"deploymentId": {"a-site-9"}, "licenseId": {pe.licB}, "license_id": {pe.licB},
			"customerId": {pe.custB}, "customer_id": {pe.custB}}
		p := pe.a.post("/portal/licenses/"+pe.licA+"/offline", form)
		wantStatus(t, p, http.StatusOK)
		if !strings.Contains(string(p.Body), "License: "+pe.licA) || strings.Contains(string(p.Body), pe.licB) {
			t.Fatalf("the file is not A's:\n%s", p.Body)
		}
		var n int
		if err := pe.store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM deployments WHERE license_id = $1`,
			pe.licB).Scan(&n); err != nil || n != 1 {
			t.Errorf("B's license has %d deployments (err %v), want 1", n, err)
		}
		if got := pe.auditRows("deployment.offline_activate"); len(got) != len(before)+1 ||
			!strings.Contains(got[len(got)-1], pe.licA+"/a-site-9 "+pe.customerID) {
			t.Errorf("audit rows %v, want one more for A's license and customer", got)
		}
		p = pe.a.hxPost("/portal/licenses/"+pe.licA+"/reveal", url.Values{"licenseId": {pe.licB}, "customerId": {pe.custB}})
		wantStatus(t, p, http.StatusOK)
		if got := one(t, p, "[data-testid=license-key]").Text(); got != pe.keyA {
			t.Errorf("revealed %q, want A's key", got)
		}
		p = pe.a.get("/portal/activity?customerId=" + pe.custB)
		if strings.Contains(string(p.Body), pe.licB[:8]) {
			t.Error("the activity page shows B's license when asked for B's customer id")
		}
	})

	t.Run("B sees none of A", func(t *testing.T) {
		p := pe.b.get("/portal")
		wantStatus(t, p, http.StatusOK)
		if n := p.Doc.Find("[data-testid=license-card]").Length(); n != 1 {
			t.Errorf("B's overview lists %d licenses, want 1", n)
		}
		for _, leak := range []string{"Acme", pe.licA, "a-host-1"} {
			if strings.Contains(string(p.Body), leak) {
				t.Errorf("B's overview shows %q", leak)
			}
		}
		p = pe.b.get("/portal/activity")
		for _, leak := range []string{pe.licA[:8], "alice@acme.example", "a-site-9"} {
			if strings.Contains(string(p.Body), leak) {
				t.Errorf("B's activity shows %q", leak)
			}
		}
	})
}

// Who may use the portal: signed-out visitors are sent to sign in; an
// admin gets 403 (vendor staff manage customers from the admin portal,
// audited as themselves, never inside a customer's portal); a post without
// the CSRF token is refused; none of these change anything.
func TestPortalAccessRules(t *testing.T) {
	pe := newPortalEnv(t)
	if code := pe.validate(pe.keyA, "a-host-1"); code != "VALID" {
		t.Fatal(code)
	}
	createAdmin(t, pe.testEnv, adminEmail, adminPassword)
	before := pe.dbState()
	actions := []string{"/portal/licenses/" + pe.licA + "/reveal", "/portal/licenses/" + pe.licA + "/deployments/a-host-1/release",
		"/portal/licenses/" + pe.licA + "/offline", "/portal/billing"}

	t.Run("signed out", func(t *testing.T) {
		anon := newBrowser(t, pe.testEnv)
		for _, path := range []string{"/portal", "/portal/licenses/" + pe.licA, "/portal/activity", "/portal/billing"} {
			p := anon.get(path)
			wantStatus(t, p, http.StatusSeeOther)
			if loc, want := p.Header.Get("Location"), "/login?next="+url.QueryEscape(path); loc != want {
				t.Errorf("GET %s: redirected to %q, want %q", path, loc, want)
			}
		}
		anon.get("/login") // a CSRF token of an anonymous session
		for _, path := range actions {
			p := anon.post(path, url.Values{"deploymentId": {"x"}})
			wantStatus(t, p, http.StatusSeeOther)
			if loc := p.Header.Get("Location"); !strings.HasPrefix(loc, "/login") {
				t.Errorf("POST %s: redirected to %q, want the login page", path, loc)
			}
			p = anon.hxPost(path, url.Values{})
			wantStatus(t, p, http.StatusUnauthorized)
			if p.Header.Get("HX-Redirect") == "" {
				t.Errorf("POST %s under htmx: no HX-Redirect", path)
			}
		}
	})

	t.Run("admin", func(t *testing.T) {
		admin := signIn(t, pe.testEnv, adminEmail, adminPassword)
		for _, path := range []string{"/portal", "/portal/licenses/" + pe.licA, "/portal/activity"} {
			wantStatus(t, admin.get(path), http.StatusForbidden)
		}
		admin.get("/admin")
		for _, path := range actions {
			wantStatus(t, admin.post(path, url.Values{"deploymentId": {"x"}}), http.StatusForbidden)
		}
	})

	t.Run("without the CSRF token", func(t *testing.T) {
		for _, path := range actions {
			p := pe.a.send("POST", path, url.Values{"deploymentId": {"x"}}, nil)
			wantStatus(t, p, http.StatusForbidden)
			p = pe.a.send("POST", path, url.Values{"deploymentId": {"x"}, "csrf_token": {"forged"}},
				map[string]string{"HX-Request": "true", "X-CSRF-Token": "forged"})
			wantStatus(t, p, http.StatusForbidden)
		}
	})

	t.Run("a customer user on the admin portal", func(t *testing.T) {
		wantStatus(t, pe.a.get("/admin"), http.StatusForbidden)
		p := pe.a.get("/admin/licenses/" + pe.licA)
		wantStatus(t, p, http.StatusForbidden)
		// The refusal leads back to their own portal, and shows none of the
		// admin's navigation.
		if href := p.Doc.Find(`[data-testid=error-home]`).AttrOr("href", ""); href != "/portal" {
			t.Errorf("error page leads to %q, want /portal", href)
		}
		if n := p.Doc.Find(`nav a[href^="/admin"]`).Length(); n != 0 {
			t.Errorf("error page shows %d links into the admin portal", n)
		}
	})

	if after := pe.dbState(); after != before {
		t.Errorf("the database changed:\nbefore %s\nafter  %s", before, after)
	}
}

// reportUsage sends one usage report through the machine API.
func (pe *portalEnv) reportUsage(key, deployment string, metrics map[string]int64) {
	pe.t.Helper()
	now := time.Now().UTC().Format(time.RFC3339)
	r := pe.do("POST", "/api/usage/report", "", map[string]any{"licenseKey": key, "deploymentId": deployment,
		"reports": []map[string]any{{"id": uuid.NewString(), "periodStart": now, "periodEnd": now, "metrics": metrics}}})
	if r.Status != 200 {
		pe.t.Fatalf("usage report: got %d %s", r.Status, r.Body)
	}
}

func TestPortalOverview(t *testing.T) {
	pe := newPortalEnv(t)
	now := time.Now().UTC()
	pe.validate(pe.keyA, "a-host-1")
	pe.reportUsage(pe.keyA, "a-host-1", map[string]int64{"users": 4, "apiCalls": 1200})
	grace, _ := pe.issue(map[string]any{"plan": "pro", "startsAt": now.AddDate(0, 0, -60).Format(time.RFC3339),
		"expiresAt": now.AddDate(0, 0, -2).Format(time.RFC3339), "graceDays": 7})
	pastDue, _ := pe.issue(map[string]any{"plan": "pro"})
	pe.exec(`UPDATE licenses SET payment_state = 'past_due', past_due_since = $2 WHERE id = $1`, pastDue, now.AddDate(0, 0, -3))
	suspended, _ := pe.issue(map[string]any{"plan": "pro"})
	if r := pe.do("POST", "/api/licenses/"+suspended+"/suspend", pe.admin, map[string]any{"reason": "internal note: chargeback case 8812"}); r.Status != 200 {
		t.Fatal(string(r.Body))
	}
	p := pe.a.get("/portal")
	wantStatus(t, p, http.StatusOK)
	checkCSP(t, p)
	if got := strings.TrimSpace(one(t, p, "aside [data-testid=customer-name]").Text()); got != "Acme Corp" {
		t.Errorf("customer name got %q, want Acme Corp", got)
	}
	var nav []string
	p.Doc.Find("aside [data-testid=nav] a").Each(func(_ int, s *goquery.Selection) { nav = append(nav, s.AttrOr("href", "")) })
	if got := strings.Join(nav, " "); got != "/portal /portal/downloads /portal/activity /portal/account" {
		t.Errorf("nav got %q, want Overview, Downloads, Activity, Account (no Billing without Stripe)", got)
	}
	if cur := p.Doc.Find(`aside [aria-current=page]`).AttrOr("href", ""); cur != "/portal" {
		t.Errorf("current nav item %q, want /portal", cur)
	}
	if n := p.Doc.Find("[data-testid=license-card]").Length(); n != 4 {
		t.Fatalf("got %d license cards, want 4", n)
	}
	card := func(id string) *goquery.Selection {
		s := p.Doc.Find(`[data-testid=license-card][data-id="` + id + `"]`)
		if s.Length() != 1 {
			t.Fatalf("no card for %s", id)
		}
		return s
	}
	day := func(t time.Time) string { return t.Format("2006-01-02") }
	a := card(pe.licA)
	if got := a.Find("[data-testid=badge]").AttrOr("data-state", ""); got != "active" {
		t.Errorf("A's license badge %q, want active", got)
	}
	if got := a.Find("[data-testid=license-seats]").Text(); got != "1 of 2 in use" {
		t.Errorf("seats got %q, want 1 of 2 in use", got)
	}
	if got := a.Find("[data-testid=license-link]").Text(); got != "Pro" {
		t.Errorf("plan got %q, want Pro", got)
	}
	users := a.Find(`[data-testid=usage-line][data-metric=users]`)
	if got := strings.Join(strings.Fields(users.Text()), " "); got != "Active users 4 of 10 (40%)" {
		t.Errorf("users line got %q", got)
	}
	calls := a.Find(`[data-testid=usage-line][data-metric=apiCalls]`)
	if got := strings.Join(strings.Fields(calls.Text()), " "); got != "API calls 1,200 of 1,000 (120%) over the limit" {
		t.Errorf("apiCalls line got %q", got)
	}
	if !calls.Find(".bg-rose-600.w-full").Is("span") {
		t.Error("the exceeded bar is not full and red")
	}
	g := card(grace)
	if got := g.Find("[data-testid=badge]").Text(); got != "Grace period" {
		t.Errorf("grace badge %q", got)
	}
	if got := g.Find("[data-testid=license-notice]").Text(); !strings.Contains(got, "grace period ends on "+day(now.AddDate(0, 0, 5))) {
		t.Errorf("grace notice %q lacks the grace end date", got)
	}
	pd := card(pastDue)
	if got := pd.Find("[data-testid=license-notice]").Text(); !strings.Contains(got, "suspended on "+day(now.AddDate(0, 0, 11))) ||
		!strings.Contains(got, "overdue since "+day(now.AddDate(0, 0, -3))) {
		t.Errorf("past-due notice %q lacks its dates", got)
	}
	s := card(suspended)
	if got := s.Find("[data-testid=license-notice]").Text(); !strings.Contains(got, "Suspended by your vendor") {
		t.Errorf("suspended notice %q", got)
	}
	if strings.Contains(string(p.Body), "chargeback case 8812") {
		t.Error("the vendor's suspension note is shown to the customer")
	}
	if strings.Contains(string(p.Body), pe.keyA[len(pe.keyA)-20:]) {
		t.Error("the overview shows the key")
	}

	t.Run("empty", func(t *testing.T) {
		r := pe.do("POST", "/api/customers", pe.admin, map[string]any{"name": "Charlie", "email": "c@charlie.example"})
		createCustomerUser(t, pe.testEnv, r.JSON(t)["id"].(string), "carol@charlie.example")
		c := signIn(t, pe.testEnv, "carol@charlie.example", portalPassword)
		p := c.get("/portal")
		wantStatus(t, p, http.StatusOK)
		one(t, p, "[data-testid=empty-state]")
	})
}

func TestPortalLicensePage(t *testing.T) {
	pe := newPortalEnv(t)
	pe.validate(pe.keyA, "a-host-1")
	pe.reportUsage(pe.keyA, "a-host-1", map[string]int64{"apiCalls": 700})
	pe.reportUsage(pe.keyA, "a-host-1", map[string]int64{"apiCalls": 500, "users": 12})
	p := pe.a.get("/portal/licenses/" + pe.licA)
	wantStatus(t, p, http.StatusOK)
	checkCSP(t, p)
	if strings.Contains(string(p.Body), pe.keyA) || strings.Contains(string(p.Body), pe.keyA[12:40]) {
		t.Fatal("the page shows the key before it is revealed")
	}
	masked := one(t, p, "[data-testid=masked-key]").Text()
	if !strings.Contains(masked, pe.keyA[:12]) || !strings.Contains(masked, pe.keyA[len(pe.keyA)-8:]) {
		t.Errorf("masked key %q does not show the key's ends", masked)
	}
	var features []string
	p.Doc.Find("[data-testid=feature]").Each(func(_ int, s *goquery.Selection) { features = append(features, s.Text()) })
	if got := strings.Join(features, ","); got != "sso,api" {
		t.Errorf("features got %q", got)
	}
	if got := one(t, p, `[data-testid=limit][data-metric=apiCalls]`).Text(); !strings.Contains(got, "1,000") {
		t.Errorf("apiCalls limit %q", got)
	}
	if got := one(t, p, "[data-testid=max-deployments]").Text(); got != "2" {
		t.Errorf("max deployments %q", got)
	}
	row := one(t, p, `[data-testid=deployment-row][data-id=a-host-1]`)
	if got := cells(row); !strings.HasPrefix(got, "a-host-1|Active|a-host-1.example|2.4.1|") || row.AttrOr("data-status", "") != "active" {
		t.Errorf("deployment row %q (status %s)", got, row.AttrOr("data-status", ""))
	}
	if row.Find("form[hx-confirm]").Length() != 1 {
		t.Error("the release button does not ask for confirmation")
	}
	charts := p.Doc.Find("[data-testid=usage-chart]")
	if charts.Length() != 2 {
		t.Fatalf("got %d usage charts, want one per limit (2)", charts.Length())
	}
	// The running total of apiCalls today is 1200: 1000 within the limit, 200 over.
	last := p.Doc.Find(`[data-testid=usage-chart][data-metric=apiCalls] [data-testid=chart-table] tbody tr`).Last()
	if got := cells(last); !strings.HasSuffix(got, "|1,000|200") {
		t.Errorf("apiCalls chart's last day %q, want 1,000 within and 200 over", got)
	}
	apiChart := one(t, p, `[data-testid=usage-chart][data-metric=apiCalls]`)
	if got := apiChart.Find(`[data-testid=chart-limit-label]`).Text(); got != "Limit 1,000" {
		t.Errorf("apiCalls chart's limit line label %q, want Limit 1,000", got)
	}
	last = p.Doc.Find(`[data-testid=usage-chart][data-metric=users] [data-testid=chart-table] tbody tr`).Last()
	if got := cells(last); !strings.HasSuffix(got, "|10|2") {
		t.Errorf("users chart's last day %q, want 10 within and 2 over", got)
	}
	one(t, p, "[data-testid=offline-form]")
	if p.Doc.Find(`script[src*="copy"]`).Length() != 1 {
		t.Error("the page does not load the copy script")
	}
}

func TestPortalRevealKey(t *testing.T) {
	pe := newPortalEnv(t)
	p := pe.a.hxPost("/portal/licenses/"+pe.licA+"/reveal", url.Values{})
	wantStatus(t, p, http.StatusOK)
	if got := one(t, p, "[data-testid=license-key]").Text(); got != pe.keyA {
		t.Fatalf("revealed %q, want the license's key", got)
	}
	one(t, p, "[data-testid=copy-key][data-copy]")
	if p.Doc.Find("html").Length() != 0 && p.Doc.Find("nav").Length() != 0 {
		t.Error("the htmx answer is a whole page, want the key block")
	}
	if cc := p.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	rows := pe.auditRows("license.reveal_key")
	if want := "customer_user " + pe.userA + " " + pe.licA + " " + pe.customerID; len(rows) != 1 || rows[0] != want {
		t.Fatalf("audit rows %v, want [%s]", rows, want)
	}
	var label string
	if err := pe.store.Pool.QueryRow(t.Context(), `SELECT actor_label FROM audit_log WHERE action = 'license.reveal_key'`).Scan(&label); err != nil || label != "alice@acme.example" {
		t.Errorf("actor label %q (%v), want the user's email", label, err)
	}
	// Without JavaScript: the whole page, with the key.
	p = pe.a.post("/portal/licenses/"+pe.licA+"/reveal", nil)
	wantStatus(t, p, http.StatusOK)
	if got := one(t, p, "[data-testid=license-key]").Text(); got != pe.keyA {
		t.Errorf("revealed %q without htmx", got)
	}
	one(t, p, "[data-testid=license-header]")
	if n := len(pe.auditRows("license.reveal_key")); n != 2 {
		t.Errorf("got %d reveal rows, want 2 (every reveal is audited)", n)
	}
}

// Releasing a machine that is gone frees its seat for a new installation,
// through the real validation API; the released one is refused.
func TestPortalReleaseFreesASeat(t *testing.T) {
	pe := newPortalEnv(t)
	for _, d := range []string{"dep-1", "dep-2"} {
		if code := pe.validate(pe.keyA, d); code != "VALID" {
			t.Fatalf("%s: got %s", d, code)
		}
	}
	if code := pe.validate(pe.keyA, "dep-3"); code != "TOO_MANY_DEPLOYMENTS" {
		t.Fatalf("dep-3 before the release: got %s, want TOO_MANY_DEPLOYMENTS", code)
	}
	p := pe.a.hxPost("/portal/licenses/"+pe.licA+"/deployments/dep-1/release", url.Values{})
	wantStatus(t, p, http.StatusOK)
	if got := one(t, p, `[data-testid=deployment-row][data-id=dep-1]`).AttrOr("data-status", ""); got != "deactivated" {
		t.Errorf("dep-1 shows %q, want deactivated", got)
	}
	if one(t, p, `[data-testid=deployment-row][data-id=dep-1]`).Find("[data-testid=release]").Length() != 0 {
		t.Error("a released deployment still offers Release")
	}
	if got := one(t, p, `[hx-swap-oob][data-testid=license-seats]`).Text(); got != "1 of 2 in use" {
		t.Errorf("seats after release %q, want 1 of 2 in use", got)
	}
	if got := one(t, p, "#toasts [data-testid=toast]").Text(); !strings.Contains(got, "dep-1 released") {
		t.Errorf("toast %q", got)
	}
	if rows := pe.auditRows("deployment.release"); len(rows) != 1 || rows[0] != "customer_user "+pe.userA+" "+pe.licA+"/dep-1 "+pe.customerID {
		t.Errorf("audit rows %v", rows)
	}
	if code := pe.validate(pe.keyA, "dep-3"); code != "VALID" {
		t.Errorf("dep-3 after the release: got %s, want VALID", code)
	}
	if code := pe.validate(pe.keyA, "dep-1"); code != "DEPLOYMENT_DEACTIVATED" {
		t.Errorf("dep-1 after the release: got %s, want DEPLOYMENT_DEACTIVATED", code)
	}
	// Releasing it again changes nothing; without JavaScript it redirects
	// back with a message.
	p = pe.a.post("/portal/licenses/"+pe.licA+"/deployments/dep-2/release", nil)
	wantStatus(t, p, http.StatusSeeOther)
	if loc := p.Header.Get("Location"); loc != "/portal/licenses/"+pe.licA {
		t.Errorf("redirected to %q", loc)
	}
	p = pe.a.get("/portal/licenses/" + pe.licA)
	if got := one(t, p, "#toasts [data-testid=toast]").Text(); !strings.Contains(got, "dep-2 released") {
		t.Errorf("flash %q", got)
	}
	if n := len(pe.auditRows("deployment.release")); n != 2 {
		t.Errorf("got %d release rows, want 2", n)
	}
	wantStatus(t, pe.a.hxPost("/portal/licenses/"+pe.licA+"/deployments/no-such/release", url.Values{}), http.StatusNotFound)
}

func TestPortalNavShowsBillingWhenStripeIsConfigured(t *testing.T) {
	pe := newPortalEnv(t, func(c *handlers.Config) { c.StripeAPIKey = "sk_test_123" })
	p := pe.a.get("/portal/activity")
	var nav []string
	p.Doc.Find("aside [data-testid=nav] a").Each(func(_ int, s *goquery.Selection) { nav = append(nav, s.Text()) })
	if got := strings.Join(nav, ","); got != "Overview,Downloads,Activity,Billing,Account" {
		t.Errorf("nav got %q", got)
	}
	if cur := p.Doc.Find(`aside [aria-current=page]`).Text(); cur != "Activity" {
		t.Errorf("current nav item %q, want Activity", cur)
	}
	if href := p.Doc.Find(`aside [data-testid=logo]`).AttrOr("href", ""); href != "/portal" {
		t.Errorf("the logo links to %q, want /portal", href)
	}
}

var activityID = regexp.MustCompile(`before=(\d+)`)

// The activity page: the customer's own entries, newest first, a page at
// a time; the vendor's staff appear as "Vendor staff" only.
func TestPortalActivity(t *testing.T) {
	pe := newPortalEnv(t)
	createAdmin(t, pe.testEnv, adminEmail, adminPassword)
	admin := signIn(t, pe.testEnv, adminEmail, adminPassword)
	admin.get("/admin/licenses/" + pe.licA)
	if p := admin.post("/admin/licenses/"+pe.licA+"/renew", url.Values{"days": {"30"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("renew: %d %s", p.Status, p.Body)
	}
	pe.validate(pe.keyA, "a-host-1")
	pe.a.hxPost("/portal/licenses/"+pe.licA+"/deployments/a-host-1/release", url.Values{})
	for range 52 {
		pe.a.hxPost("/portal/licenses/"+pe.licA+"/reveal", url.Values{})
	}
	pe.b.hxPost("/portal/licenses/"+pe.licB+"/reveal", url.Values{})

	p := pe.a.get("/portal/activity")
	wantStatus(t, p, http.StatusOK)
	checkCSP(t, p)
	entries := p.Doc.Find("[data-testid=activity-entry]")
	if entries.Length() != 50 {
		t.Fatalf("first page has %d entries, want 50", entries.Length())
	}
	first := entries.First()
	if got := first.Find("[data-testid=activity-action]").Text(); got != "License key revealed" {
		t.Errorf("newest entry %q", got)
	}
	if got := first.Find("[data-testid=activity-actor]").Text(); got != "alice@acme.example" {
		t.Errorf("actor %q", got)
	}
	if href := first.Find("[data-testid=activity-entity]").AttrOr("href", ""); href != "/portal/licenses/"+pe.licA {
		t.Errorf("entity link %q", href)
	}
	next := one(t, p, "[data-testid=next-page]").AttrOr("href", "")
	if !activityID.MatchString(next) {
		t.Fatalf("next page link %q", next)
	}
	p2 := pe.a.send("GET", next, nil, map[string]string{"HX-Request": "true"})
	wantStatus(t, p2, http.StatusOK)
	if p2.Doc.Find("aside").Length() != 0 {
		t.Error("the htmx page answer is a whole page")
	}
	byAction := map[string]string{}
	var actions []string
	p2.Doc.Find("[data-testid=activity-entry]").Each(func(_ int, s *goquery.Selection) {
		a := s.Find("[data-testid=activity-action]").Text()
		actions = append(actions, a)
		byAction[a] = s.Find("[data-testid=activity-actor]").Text()
	})
	want := []string{"License key revealed", "License key revealed", "Deployment released", "License renewed", "License issued"}
	if len(actions) < len(want) || strings.Join(actions[:len(want)], ",") != strings.Join(want, ",") {
		t.Errorf("second page actions %q, want them to start %q", actions, want)
	}
	for action, actor := range map[string]string{"Deployment released": "alice@acme.example",
		"License renewed": "Vendor staff", "License issued": "Vendor staff"} {
		if byAction[action] != actor {
			t.Errorf("%s: actor %q, want %q", action, byAction[action], actor)
		}
	}
	body := string(p.Body) + string(p2.Body)
	for _, leak := range []string{adminEmail, "bob@bravo.example", pe.licB[:8], "test key"} {
		if strings.Contains(body, leak) {
			t.Errorf("the activity shows %q", leak)
		}
	}
	// No id repeats across the pages.
	seen := map[string]bool{}
	for _, pg := range []page{p, p2} {
		pg.Doc.Find("[data-testid=activity-entry]").Each(func(_ int, s *goquery.Selection) {
			id := s.AttrOr("data-id", "")
			if seen[id] {
				t.Errorf("entry %s on both pages", id)
			}
			seen[id] = true
		})
	}
	wantStatus(t, pe.a.get("/portal/activity?before=x"), http.StatusBadRequest)
}

// cells is a table row's cells, trimmed and joined with "|".
func cells(row *goquery.Selection) string {
	var out []string
	row.Find("th, td").Each(func(_ int, c *goquery.Selection) {
		out = append(out, strings.Join(strings.Fields(c.Text()), " "))
	})
	return strings.Join(out, "|")
}
