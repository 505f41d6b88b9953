package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAdminEditLicense edits a license's entitlements, seats, expiry, grace
// and notes from its admin page, and the next validation answers with them.
func TestAdminEditLicense(t *testing.T) {
	a := newAdminEnv(t)
	path := "/admin/licenses/" + a.licenseID
	lp := a.b.get(path)
	if got := one(t, lp, `[data-testid=license-plan]`).Text(); got != "Pro" {
		t.Errorf("plan in the header: got %q, want its name Pro", got)
	}
	if got := one(t, lp, `[data-testid=edit-license]`).AttrOr("href", ""); got != path+"/edit" {
		t.Errorf("edit link: got %q, want %s/edit", got, path)
	}
	if res := validate(t, a.testEnv, a.key, "dep-1", []string{"reports"}); res["code"] != "FEATURE_NOT_ENTITLED" {
		t.Fatalf("before the edit: got %v, want FEATURE_NOT_ENTITLED", res["code"])
	}
	form := a.b.get(path + "/edit")
	wantStatus(t, form, 200)
	checkCSP(t, form)
	for _, id := range []string{"features", "limit-name-0", "limit-value-0", "maxDeployments", "expiresAt", "graceDays", "notes"} {
		one(t, form, `label[for=`+id+`]`)
	}
	if n, v := one(t, form, `#limit-name-0`).AttrOr("value", ""), one(t, form, `#limit-value-0`).AttrOr("value", ""); n != "users" || v != "10" {
		t.Errorf("limit row prefilled: %q = %q, want users = 10", n, v)
	}
	if got := one(t, form, `#features`).Text(); got != "sso, api" {
		t.Errorf("features prefilled: %q", got)
	}

	bad := a.b.post(path+"/edit", url.Values{"features": {"sso, reports"}, "limitName": {"users", "apiCalls"},
		"limitValue": {"10", "lots"}, "maxDeployments": {"0"}, "expiresAt": {"someday"}, "graceDays": {"400"}})
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	for _, field := range []string{"limits", "maxDeployments", "expiresAt", "graceDays"} {
		one(t, bad, `[data-testid=error-`+field+`]`)
	}
	if got := one(t, bad, `#limit-value-1`).AttrOr("value", ""); got != "lots" {
		t.Errorf("typed limit not kept: %q", got)
	}
	if res := validate(t, a.testEnv, a.key, "dep-1", []string{"reports"}); res["code"] != "FEATURE_NOT_ENTITLED" {
		t.Fatalf("a refused edit changed the license: got %v", res["code"])
	}

	ok := a.b.post(path+"/edit", url.Values{"features": {"sso, reports"}, "limitName": {"", "apiCalls", ""},
		"limitValue": {"", "1,000,000", ""}, "maxDeployments": {"5"}, "expiresAt": {"2099-12-31"}, "graceDays": {"10"},
		"notes": {"upgraded by phone"}})
	wantStatus(t, ok, http.StatusSeeOther)
	if got := ok.Header.Get("Location"); got != path {
		t.Errorf("Location: got %q, want %s", got, path)
	}
	wantAudit(t, a, "license.update")
	res := validate(t, a.testEnv, a.key, "dep-1", []string{"reports"})
	lic := res["license"].(map[string]any)
	limits := lic["limits"].(map[string]any)
	if res["code"] != "VALID" || lic["maxDeployments"] != float64(5) || limits["apiCalls"] != float64(1_000_000) || limits["users"] != nil {
		t.Fatalf("after the edit: got %v, want VALID with apiCalls 1000000, no users limit, 5 deployments", res)
	}
	if !strings.HasPrefix(lic["expiresAt"].(string), "2100-01-01") {
		t.Errorf("expiresAt: got %v, want the end of 2099-12-31", lic["expiresAt"])
	}
	// Saving again without touching the date keeps the expiry to the second.
	again := a.b.post(path+"/edit", url.Values{"features": {"sso, reports"}, "limitName": {"apiCalls"},
		"limitValue": {"1000000"}, "maxDeployments": {""}, "expiresAt": {"2099-12-31"}, "graceDays": {"10"}})
	wantStatus(t, again, http.StatusSeeOther)
	res = validate(t, a.testEnv, a.key, "dep-1", nil)
	lic = res["license"].(map[string]any)
	if lic["maxDeployments"] != nil || !strings.HasPrefix(lic["expiresAt"].(string), "2100-01-01") {
		t.Errorf("second save: maxDeployments %v (want unlimited), expiresAt %v", lic["maxDeployments"], lic["expiresAt"])
	}
}

// TestLicensePageSectionsFollowActions: an action answers with an event
// (HX-Trigger) that the page's other sections listen for, and each section
// fetches itself with what the action changed.
func TestLicensePageSectionsFollowActions(t *testing.T) {
	a := newAdminEnv(t)
	path := "/admin/licenses/" + a.licenseID
	full := a.b.get(path)
	for sel, want := range map[string]string{
		`[data-testid=license-audit]`:  "licenseChanged from:body, deploymentsChanged from:body, keyRevealed from:body",
		`[data-testid=deployments]`:    "licenseChanged from:body",
		`[data-testid=license-header]`: "deploymentsChanged from:body",
	} {
		if got := one(t, full, sel).AttrOr("hx-trigger", ""); got != want {
			t.Errorf("%s hx-trigger: got %q, want %q", sel, got, want)
		}
	}
	p := a.b.htmx("POST", path+"/suspend", url.Values{"reason": {"unpaid"}})
	wantStatus(t, p, 200)
	if got := p.Header.Get("HX-Trigger"); got != "licenseChanged" {
		t.Errorf("suspend HX-Trigger: got %q, want licenseChanged", got)
	}
	audit := a.b.htmx("GET", path+"/sections/audit", nil)
	wantStatus(t, audit, 200)
	if got := one(t, audit, `[data-testid=license-audit]`).Text(); !strings.Contains(got, "license.suspend") {
		t.Errorf("audit section after suspend lacks license.suspend: %q", got)
	}
	if got := a.b.htmx("POST", path+"/reveal", nil).Header.Get("HX-Trigger"); got != "keyRevealed" {
		t.Errorf("reveal HX-Trigger: got %q, want keyRevealed", got)
	}
	h := a.b.htmx("GET", path+"/sections/header", nil)
	if got := one(t, h, `[data-testid=license-status] [data-testid=badge]`).AttrOr("data-state", ""); got != "suspended" {
		t.Errorf("header section state: got %q, want suspended", got)
	}
	wantStatus(t, a.b.htmx("GET", path+"/sections/nope", nil), 404)
	if got := a.b.get(path + "/sections/audit"); got.Status != http.StatusSeeOther || got.Header.Get("Location") != path {
		t.Errorf("a section without htmx: got %d to %q, want 303 to the license page", got.Status, got.Header.Get("Location"))
	}
}

// TestAdminOfflineFile: an admin downloads an offline license file for a
// customer's air-gapped installation; it takes a seat and is audited.
func TestAdminOfflineFile(t *testing.T) {
	a := newAdminEnv(t)
	path := "/admin/licenses/" + a.licenseID
	one(t, a.b.get(path), `[data-testid=admin-offline] input[name=deploymentId]`)
	p := a.b.post(path+"/offline", url.Values{"deploymentId": {"vault-1"}, "hostname": {"vault.airgap"}})
	wantStatus(t, p, 200)
	body := string(p.Body)
	if !strings.HasPrefix(body, "-----BEGIN NLS OFFLINE LICENSE-----") || !strings.Contains(body, "Deployment: vault-1") ||
		!strings.Contains(body, "Customer: Acme Corp") {
		t.Fatalf("offline file: %s", body)
	}
	if got := p.Header.Get("Content-Disposition"); !strings.Contains(got, "attachment") {
		t.Errorf("Content-Disposition: %q", got)
	}
	wantAudit(t, a, "deployment.offline_activate")
	refused := a.b.post(path+"/offline", url.Values{"deploymentId": {""}})
	if refused.Status != http.StatusSeeOther || refused.Header.Get("Location") != path {
		t.Errorf("a blank deployment id: got %d to %q, want 303 back to the license", refused.Status, refused.Header.Get("Location"))
	}
}
