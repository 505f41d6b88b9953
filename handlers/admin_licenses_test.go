package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/nectarcloud/nls/db"
)

func TestAdminLicenseListPageAndPartial(t *testing.T) {
	a := newAdminEnv(t)
	second, _ := a.issue(map[string]any{"plan": "pro"})
	if r := a.do("POST", "/api/licenses/"+second+"/suspend", a.admin, map[string]any{"reason": "x"}); r.Status != 200 {
		t.Fatal(string(r.Body))
	}

	full := a.b.get("/admin/licenses")
	wantStatus(t, full, 200)
	checkCSP(t, full)
	if !strings.Contains(full.Header.Get("Vary"), "HX-Request") {
		t.Errorf("Vary: got %q", full.Header.Get("Vary"))
	}
	one(t, full, `main [data-testid=license-filters]`)
	search := one(t, full, `[data-testid=license-search]`)
	for attr, want := range map[string]string{"hx-get": "/admin/licenses", "hx-target": "#license-results",
		"hx-push-url": "true", "hx-trigger": "input changed delay:300ms, search"} {
		if got := search.AttrOr(attr, ""); got != want {
			t.Errorf("search %s: got %q, want %q", attr, got, want)
		}
	}
	if n := full.Doc.Find(`[data-testid=license-row]`).Length(); n != 2 {
		t.Fatalf("got %d rows, want 2", n)
	}

	// HTMX gets the results alone, not the page.
	part := a.b.htmx("GET", "/admin/licenses?status=suspended", nil)
	wantStatus(t, part, 200)
	if !strings.Contains(part.Header.Get("Vary"), "HX-Request") {
		t.Errorf("partial Vary: got %q", part.Header.Get("Vary"))
	}
	if part.Doc.Find("html body main, nav, [data-testid=license-filters]").Length() != 0 ||
		strings.Contains(string(part.Body), "<html") {
		t.Fatalf("partial carries the page shell: %.500s", part.Body)
	}
	rows := part.Doc.Find(`#license-results [data-testid=license-row]`)
	if rows.Length() != 1 || rows.AttrOr("data-id", "") != second {
		t.Fatalf("status filter: got %d rows (%s), want only %s", rows.Length(), rows.AttrOr("data-id", ""), second)
	}
	if got := rows.Find(`[data-testid=badge]`).AttrOr("data-state", ""); got != "suspended" {
		t.Errorf("badge: got %q", got)
	}

	// Search by customer name, and by the key's checksum suffix.
	for _, q := range []string{"acme", a.key[len(a.key)-8:]} {
		p := a.b.htmx("GET", "/admin/licenses?q="+url.QueryEscape(q), nil)
		if n := p.Doc.Find(`[data-testid=license-row]`).Length(); n == 0 {
			t.Errorf("q=%s: no rows", q)
		}
	}
	p := a.b.htmx("GET", "/admin/licenses?q=nothing-matches-this", nil)
	one(t, p, `[data-testid=empty-state]`)

	// A filter that cannot be read is shown in place.
	bad := a.b.get("/admin/licenses?status=bogus")
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	one(t, bad, `[data-testid=filter-error]`)
	badPart := a.b.htmx("GET", "/admin/licenses?status=bogus", nil)
	wantStatus(t, badPart, 200)
	one(t, badPart, `[data-testid=filter-error]`)
}

func TestAdminLicenseListPaginates(t *testing.T) {
	a := newAdminEnv(t)
	for range 2 {
		a.issue(map[string]any{"plan": "pro"})
	}
	seen := map[string]bool{}
	next := "/admin/licenses?plan=pro&limit=2"
	for pages := 0; next != ""; pages++ {
		if pages > 3 {
			t.Fatal("pagination does not end")
		}
		p := a.b.htmx("GET", next, nil)
		wantStatus(t, p, 200)
		p.Doc.Find(`[data-testid=license-row]`).Each(func(_ int, s *goquery.Selection) {
			id := s.AttrOr("data-id", "")
			if seen[id] {
				t.Errorf("license %s on two pages", id)
			}
			seen[id] = true
		})
		link := p.Doc.Find(`[data-testid=next-page]`)
		next = link.AttrOr("href", "")
		if next != "" {
			if link.AttrOr("hx-get", "") != next || link.AttrOr("hx-push-url", "") != "true" {
				t.Errorf("next link: %v", link.Nodes[0].Attr)
			}
			if !strings.Contains(next, "plan=pro") || !strings.Contains(next, "cursor=") {
				t.Errorf("next link drops the filter or cursor: %s", next)
			}
			next += "&limit=2"
		}
	}
	if len(seen) != 3 {
		t.Fatalf("saw %d licenses over all pages, want 3", len(seen))
	}
}

func TestAdminLicensePage(t *testing.T) {
	a := newAdminEnv(t)
	validate(t, a.testEnv, a.key, "dep-1", nil)
	p := a.b.get("/admin/licenses/" + a.licenseID)
	wantStatus(t, p, 200)
	checkCSP(t, p)
	if got := one(t, p, `#license-header [data-testid=license-status] [data-testid=badge]`).AttrOr("data-state", ""); got != "active" {
		t.Errorf("badge: got %q", got)
	}
	if got := one(t, p, `[data-testid=license-customer]`).Text(); got != "Acme Corp" {
		t.Errorf("customer: got %q", got)
	}
	if got := one(t, p, `[data-testid=license-seats]`).Text(); got != "1 of 2" {
		t.Errorf("seats: got %q", got)
	}
	if got := one(t, p, `[data-testid=features]`).Text(); !strings.Contains(got, "sso") || !strings.Contains(got, "api") {
		t.Errorf("features: got %q", got)
	}
	usage := one(t, p, `[data-testid=usage-line][data-metric=users]`)
	if !strings.Contains(usage.Text(), "0 of 10") {
		t.Errorf("usage: got %q", usage.Text())
	}
	dep := one(t, p, `[data-testid=deployment-row][data-id=dep-1]`)
	if got := dep.Find(`[data-testid=deployment-status]`).Text(); got != "Active" {
		t.Errorf("deployment status: got %q", got)
	}
	if got := dep.Find("form").AttrOr("hx-confirm", ""); got == "" {
		t.Error("release has no hx-confirm")
	}
	one(t, p, `[data-testid=validation-row]`)
	if strings.Contains(string(p.Body), a.key) {
		t.Error("the key is on the page before anyone revealed it")
	}
	if p.Doc.Find(`[data-testid=license-audit] [data-testid=audit-action]`).Text() != "license.create" {
		t.Errorf("audit trail: %q", p.Doc.Find(`[data-testid=license-audit]`).Text())
	}
	for _, action := range []string{"suspend", "renew", "rekey", "revoke"} {
		form := one(t, p, `[data-testid=action-`+action+`]`)
		if form.AttrOr("hx-post", "") != "/admin/licenses/"+a.licenseID+"/"+action || form.AttrOr("hx-target", "") != "#license-header" {
			t.Errorf("%s form: %v", action, form.Nodes[0].Attr)
		}
		if form.Find(`input[name=csrf_token]`).AttrOr("value", "") != a.b.csrf {
			t.Errorf("%s form has no CSRF field", action)
		}
	}
	if one(t, p, `[data-testid=action-revoke]`).AttrOr("hx-confirm", "") == "" {
		t.Error("revoke has no hx-confirm")
	}

	// Reveal: the key in a partial, and an audit row naming the admin.
	r := a.b.htmx("POST", "/admin/licenses/"+a.licenseID+"/reveal", url.Values{})
	wantStatus(t, r, 200)
	if got := one(t, r, `#license-key-reveal [data-testid=license-key]`).Text(); got != a.key {
		t.Errorf("revealed key: got %q", got)
	}
	wantAudit(t, a, "license.reveal_key")

	// Release a deployment: the table comes back with it released.
	rel := a.b.htmx("POST", "/admin/licenses/"+a.licenseID+"/deployments/dep-1/release", url.Values{})
	wantStatus(t, rel, 200)
	if got := one(t, rel, `#deployments [data-testid=deployment-row][data-id=dep-1] [data-testid=deployment-status]`).Text(); got != "Released" {
		t.Errorf("after release: got %q", got)
	}
	one(t, rel, `#toasts[hx-swap-oob] [data-testid=toast][data-kind=success]`)
	if got := validate(t, a.testEnv, a.key, "dep-1", nil)["code"]; got != "DEPLOYMENT_DEACTIVATED" {
		t.Errorf("released deployment validates with %v", got)
	}
}

// wantAudit checks the newest audit row is action, done by the signed-in admin.
func wantAudit(t *testing.T, a *adminEnv, action string) db.AuditLog {
	t.Helper()
	rows, err := a.store.ListAudit(t.Context(), db.ListAuditParams{MaxRows: 1})
	if err != nil || len(rows) != 1 {
		t.Fatalf("audit: %v %v", rows, err)
	}
	got := rows[0]
	if got.Action != action || got.ActorType != "admin" || got.ActorID != a.adminID || got.ActorLabel != adminEmail {
		t.Fatalf("audit row: got %s by %s %s %s, want %s by admin %s %s", got.Action, got.ActorType, got.ActorID,
			got.ActorLabel, action, a.adminID, adminEmail)
	}
	return got
}

func TestAdminSuspendSwapsHeader(t *testing.T) {
	a := newAdminEnv(t)
	a.b.get("/admin/licenses/" + a.licenseID)
	path := "/admin/licenses/" + a.licenseID

	// A suspension needs a reason, shown in place.
	p := a.b.htmx("POST", path+"/suspend", url.Values{"reason": {"  "}})
	wantStatus(t, p, 200)
	one(t, p, `#license-header [data-testid=action-error]`)
	one(t, p, `#toasts [data-testid=toast][data-kind=error]`)

	p = a.b.htmx("POST", path+"/suspend", url.Values{"reason": {"unpaid invoice"}})
	wantStatus(t, p, 200)
	if strings.Contains(string(p.Body), "<html") {
		t.Fatal("an action answered a whole page")
	}
	if got := one(t, p, `#license-header [data-testid=license-status] [data-testid=badge]`); got.AttrOr("data-state", "") != "suspended" || got.Text() != "Suspended" {
		t.Errorf("badge: got %q %q", got.AttrOr("data-state", ""), got.Text())
	}
	if got := one(t, p, `[data-testid=suspended-reason]`).Text(); !strings.Contains(got, "unpaid invoice") {
		t.Errorf("reason: got %q", got)
	}
	one(t, p, `[data-testid=action-reactivate]`)
	toast := one(t, p, `#toasts[hx-swap-oob=beforeend] [data-testid=toast]`)
	if toast.AttrOr("data-kind", "") != "success" {
		t.Errorf("toast kind: %q", toast.AttrOr("data-kind", ""))
	}
	lic, err := a.store.GetLicense(t.Context(), mustUUID(t, a.licenseID))
	if err != nil || lic.Status != "suspended" || lic.SuspendedReason == nil || *lic.SuspendedReason != "unpaid invoice" {
		t.Fatalf("stored license: %v %v %v", lic.Status, lic.SuspendedReason, err)
	}
	wantAudit(t, a, "license.suspend")
	if got := validate(t, a.testEnv, a.key, "dep-1", nil)["code"]; got != "SUSPENDED" {
		t.Errorf("validation after suspend: %v", got)
	}

	// Without JavaScript: a plain form post redirects back with a flash.
	p = a.b.post(path+"/reactivate", nil)
	wantStatus(t, p, http.StatusSeeOther)
	if got := p.Header.Get("Location"); got != path {
		t.Errorf("Location: got %q", got)
	}
	page := a.b.get(path)
	if got := one(t, page, `[data-testid=flash] [data-testid=toast]`).Text(); !strings.Contains(got, "License reactivated.") {
		t.Errorf("flash: got %q", got)
	}
	if got := one(t, page, `#license-header [data-testid=badge]`).AttrOr("data-state", ""); got != "active" {
		t.Errorf("after reactivate: %q", got)
	}
	if a.b.get(path).Doc.Find(`[data-testid=flash] [data-testid=toast]`).Length() != 0 {
		t.Error("the flash showed twice")
	}
}

func TestAdminRenewRekeyRevoke(t *testing.T) {
	a := newAdminEnv(t)
	a.b.get("/admin/licenses/" + a.licenseID)
	path := "/admin/licenses/" + a.licenseID
	before, _ := a.store.GetLicense(t.Context(), mustUUID(t, a.licenseID))

	p := a.b.htmx("POST", path+"/renew", url.Values{"days": {"30"}})
	wantStatus(t, p, 200)
	after, _ := a.store.GetLicense(t.Context(), mustUUID(t, a.licenseID))
	if got := after.ExpiresAt.Sub(*before.ExpiresAt).Hours(); got != 30*24 {
		t.Errorf("renew moved expiry by %v hours, want 720", got)
	}
	if got := one(t, p, `[data-testid=license-expires]`).Text(); got != after.ExpiresAt.UTC().Format("2006-01-02") {
		t.Errorf("expiry shown: %q", got)
	}

	p = a.b.htmx("POST", path+"/rekey", url.Values{})
	wantStatus(t, p, 200)
	newKey := one(t, p, `#license-header [data-testid=new-key] textarea`).Text()
	if !strings.HasPrefix(newKey, "NLS-") || newKey == a.key {
		t.Fatalf("new key: %q", newKey)
	}
	wantAudit(t, a, "license.rekey")
	if got := validate(t, a.testEnv, newKey, "dep-1", nil)["code"]; got != "VALID" {
		t.Errorf("new key validates with %v", got)
	}
	if strings.Contains(string(a.b.get(path).Body), newKey) {
		t.Error("the new key is shown again on reload")
	}

	p = a.b.htmx("POST", path+"/revoke", url.Values{})
	wantStatus(t, p, 200)
	if got := one(t, p, `[data-testid=badge]`).AttrOr("data-state", ""); got != "revoked" {
		t.Errorf("badge after revoke: %q", got)
	}
	if p.Doc.Find(`[data-testid=license-actions]`).Length() != 0 {
		t.Error("a revoked license still offers actions")
	}
	// Refused now: shown in place, not a failed swap.
	p = a.b.htmx("POST", path+"/renew", url.Values{"days": {"30"}})
	wantStatus(t, p, 200)
	if got := one(t, p, `[data-testid=action-error]`).Text(); !strings.Contains(got, "revoked") {
		t.Errorf("refusal: %q", got)
	}
}

func TestAdminIssueLicense(t *testing.T) {
	a := newAdminEnv(t)
	form := a.b.get("/admin/licenses/new")
	wantStatus(t, form, 200)
	checkCSP(t, form)
	if got := one(t, form, `select[name=customerId] option[value="`+a.customerID+`"]`).Text(); !strings.Contains(got, "Acme Corp") {
		t.Errorf("customer option: %q", got)
	}
	one(t, form, `select[name=plan] option[value=pro]`)
	for _, id := range []string{"customerId", "plan", "features", "limits", "maxDeployments", "expiresAt"} {
		one(t, form, `label[for=`+id+`]`)
	}

	bad := a.b.post("/admin/licenses", url.Values{"customerId": {a.customerID}, "plan": {"pro"},
		"limits": {"users=lots"}, "maxDeployments": {"0"}, "expiresAt": {"2001-01-01"}, "features": {"sso, api"}})
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	one(t, bad, `[data-testid=form-errors]`)
	for _, field := range []string{"limits", "maxDeployments", "expiresAt"} {
		one(t, bad, `[data-testid=error-`+field+`]`)
		if got := one(t, bad, `#`+field).AttrOr("aria-invalid", ""); got != "true" {
			t.Errorf("%s aria-invalid: %q", field, got)
		}
	}
	if got := one(t, bad, `#features`).AttrOr("value", ""); got != "sso, api" {
		t.Errorf("features not kept: %q", got)
	}
	if got := one(t, bad, `select[name=customerId] option[selected]`).AttrOr("value", ""); got != a.customerID {
		t.Errorf("customer not kept: %q", got)
	}
	noPlan := a.b.post("/admin/licenses", url.Values{"customerId": {a.customerID}, "plan": {"nope"}})
	wantStatus(t, noPlan, http.StatusUnprocessableEntity)
	one(t, noPlan, `[data-testid=error-plan]`)

	ok := a.b.post("/admin/licenses", url.Values{"customerId": {a.customerID}, "plan": {"pro"},
		"limits": {"users=25\napiCalls=500"}, "maxDeployments": {"3"}, "expiresAt": {"2099-12-31"}, "features": {"sso, reports"}})
	wantStatus(t, ok, http.StatusCreated)
	key := one(t, ok, `[data-testid=license-issued] [data-testid=license-key]`).Text()
	if !strings.HasPrefix(key, "NLS-") {
		t.Fatalf("key: %q", key)
	}
	if !strings.Contains(one(t, ok, `[data-testid=new-key]`).Text(), "Reveal key") {
		t.Error("no shown-once warning")
	}
	one(t, ok, `script[src*="js/copy"]`)
	href := one(t, ok, `[data-testid=view-license]`).AttrOr("href", "")
	res := validate(t, a.testEnv, key, "dep-9", nil)
	lic := res["license"].(map[string]any)
	if res["code"] != "VALID" || lic["maxDeployments"] != float64(3) || lic["limits"].(map[string]any)["users"] != float64(25) {
		t.Fatalf("issued license: %v", res)
	}
	if !strings.HasPrefix(lic["expiresAt"].(string), "2100-01-01") {
		t.Errorf("expiresAt: got %v, want the end of 2099-12-31", lic["expiresAt"])
	}
	if href != "/admin/licenses/"+lic["id"].(string) {
		t.Errorf("view link: %q", href)
	}
	wantAudit(t, a, "license.create")
}
