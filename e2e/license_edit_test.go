package e2e

// The license page in a real browser: an action in the header updates the
// audit trail further down without a reload, and editing the license's
// entitlements changes what the machine API answers.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

func TestLicensePageActionsAndEditInABrowser(t *testing.T) {
	shots := screenshotDir(t)
	requireChromium(t)
	p := startPortal(t)
	key := p.apiKey(t)
	cust := callJSON(t, p.URL, key, "POST", "/api/customers", map[string]any{"name": "Edit E2E Ltd",
		"email": "ops@edit-e2e.example"}, http.StatusCreated)["id"].(string)
	callJSON(t, p.URL, key, "POST", "/api/plans", map[string]any{"code": "basic", "name": "Basic",
		"features": []string{"sso"}, "limits": map[string]int{"users": 5}, "maxDeployments": 1}, http.StatusCreated)
	lic := callJSON(t, p.URL, key, "POST", "/api/licenses", map[string]any{"customerId": cust, "plan": "basic"},
		http.StatusCreated)
	id, licenseKey := lic["license"].(map[string]any)["id"].(string), lic["licenseKey"].(string)
	validate := func(dep string) map[string]any {
		return callJSON(t, p.URL, "", "POST", "/api/validation/validate", map[string]any{"licenseKey": licenseKey,
			"deploymentId": dep, "features": []string{"reports"}}, http.StatusOK)
	}
	if got := validate("edit-1")["code"]; got != "FEATURE_NOT_ENTITLED" {
		t.Fatalf("before the edit: got %v, want FEATURE_NOT_ENTITLED", got)
	}

	f := newFlow(t, p, shots, 3*time.Minute)
	// A viewer far from UTC, so that times shown in their zone differ.
	if _, err := chromedp.Call(f.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"}); err != nil {
		t.Fatalf("time zone override: %v", err)
	}
	f.open("/login", `[data-testid=login-form]`)
	f.do("sign in",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=login-email]`), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=status-card]`)))
	f.open("/admin/licenses/"+id, `[data-testid=license-audit]`)
	if got := f.text(`[data-testid=license-audit]`); strings.Contains(got, "license.suspend") {
		t.Fatalf("the audit trail shows a suspension before any: %q", got)
	}

	t.Log("step: suspend, and the audit trail follows without a reload")
	f.setMarker()
	f.do("suspend",
		chromedp.SendKeys(chromedp.ID("suspend-reason"), "e2e: checking the audit trail"),
		chromedp.Click(chromedp.CSS(`[data-testid=action-suspend] [type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=license-status] [data-testid=badge][data-state=suspended]`)))
	if !f.waitFor(`document.querySelector("[data-testid=license-audit]").innerText.includes("license.suspend")`) {
		t.Errorf("the audit trail never showed license.suspend after suspending: %q", f.text(`[data-testid=license-audit]`))
	}
	f.wantNoPageLoad("suspend")
	// The toast can be dismissed; times are shown in the browser's zone,
	// relative, with the absolute time in the title.
	f.do("dismiss the toast", chromedp.Click(chromedp.CSS(`#toasts [data-testid=toast-close]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#toasts [data-testid=toast]`)))
	if !f.waitFor(`(() => { const t = document.querySelector("[data-testid=license-audit] time[data-time=relative]");
		return !!t && !t.textContent.endsWith("UTC") && t.title.includes("GMT+9"); })()`) {
		t.Errorf("audit times were not localised to Tokyo: %q, title %q", f.text(`[data-testid=license-audit] time`),
			run(f, "read the title", chromedp.Evaluate[string](`document.querySelector("[data-testid=license-audit] time").title`)))
	}
	f.do("reactivate",
		chromedp.Click(chromedp.CSS(`[data-testid=action-reactivate] [type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=license-status] [data-testid=badge][data-state=active]`)))
	if !f.waitFor(`document.querySelector("[data-testid=license-audit]").innerText.includes("license.reactivate")`) {
		t.Errorf("the audit trail never showed license.reactivate: %q", f.text(`[data-testid=license-audit]`))
	}
	f.wantNoPageLoad("reactivate")
	f.noConsoleErrors("actions")

	t.Log("step: edit the entitlements")
	f.do("open the edit form", chromedp.Click(chromedp.CSS(`[data-testid=edit-license]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=license-edit-form]`)))
	f.screenshot("license-edit")
	f.do("edit",
		clearField(`#features`), chromedp.SendKeys(chromedp.ID("features"), "sso, reports"),
		clearField(`#limit-value-0`), chromedp.SendKeys(chromedp.ID("limit-value-0"), "50"),
		chromedp.SendKeys(chromedp.ID("limit-name-1"), "apiCalls"),
		chromedp.SendKeys(chromedp.ID("limit-value-1"), "1000000"),
		clearField(`#maxDeployments`), chromedp.SendKeys(chromedp.ID("maxDeployments"), "3"),
		chromedp.Click(chromedp.CSS(`[data-testid=license-edit-form] [type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=license-header]`)))
	if got := f.text(`#toasts`); !strings.Contains(got, "License saved") {
		t.Errorf("toast after saving: got %q, want License saved", got)
	}
	if got := f.text(`[data-testid=license-audit]`); !strings.Contains(got, "license.update") {
		t.Errorf("audit trail after the edit lacks license.update: %q", got)
	}
	f.noConsoleErrors("edit")
	ans := validate("edit-1")
	l := ans["license"].(map[string]any)
	limits := l["limits"].(map[string]any)
	if ans["code"] != "VALID" || l["maxDeployments"] != float64(3) || limits["users"] != float64(50) || limits["apiCalls"] != float64(1_000_000) {
		t.Errorf("validation after the edit: got %v, want VALID with users 50, apiCalls 1000000, 3 deployments", ans)
	}
}
