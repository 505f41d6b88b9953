package e2e

// A downgrade from the license page in a real browser: the preview names
// the deployments that will lose their seat (newest first) and changes
// nothing; confirming changes the plan in place, the deployments table then
// marks the lost seats, and the machine API refuses them.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestPlanDowngradeInABrowser(t *testing.T) {
	shots := screenshotDir(t)
	requireChromium(t)
	p := startPortal(t)
	key := p.apiKey(t)
	cust := callJSON(t, p.URL, key, "POST", "/api/customers", map[string]any{"name": "Downgrade E2E Ltd",
		"email": "ops@downgrade-e2e.example"}, http.StatusCreated)["id"].(string)
	callJSON(t, p.URL, key, "POST", "/api/plans", map[string]any{"code": "team", "name": "Team",
		"features": []string{"sso"}, "maxDeployments": 3}, http.StatusCreated)
	callJSON(t, p.URL, key, "POST", "/api/plans", map[string]any{"code": "solo", "name": "Solo",
		"features": []string{"sso"}, "maxDeployments": 1}, http.StatusCreated)
	lic := callJSON(t, p.URL, key, "POST", "/api/licenses", map[string]any{"customerId": cust, "plan": "team"},
		http.StatusCreated)
	id, licenseKey := lic["license"].(map[string]any)["id"].(string), lic["licenseKey"].(string)
	validate := func(dep string) string {
		return callJSON(t, p.URL, "", "POST", "/api/validation/validate", map[string]any{"licenseKey": licenseKey,
			"deploymentId": dep, "hostname": "host-" + dep}, http.StatusOK)["code"].(string)
	}
	for _, d := range []string{"first", "second", "third"} { // activated in this order
		if got := validate(d); got != "VALID" {
			t.Fatalf("%s: got %s, want VALID", d, got)
		}
	}
	plan := func() string {
		return callJSON(t, p.URL, key, "GET", "/api/licenses/"+id, nil, http.StatusOK)["plan"].(string)
	}

	f := newFlow(t, p, shots, 3*time.Minute)
	f.open("/login", `[data-testid=login-form]`)
	f.do("sign in",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=login-email]`), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=status-card]`)))
	f.open("/admin/licenses/"+id, `[data-testid=plan-change]`)
	f.setMarker()

	t.Log("step: preview the downgrade")
	f.do("preview",
		chromedp.SetValue(chromedp.ID("change-plan"), "solo"),
		chromedp.Click(chromedp.CSS(`[data-testid=plan-change-form] input[name=overrides][value=keep]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=plan-change-form] [type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=plan-preview]`)))
	f.screenshot("plan-change-preview")
	losing := run(f, "read the preview", chromedp.Evaluate[string](
		`[...document.querySelectorAll("[data-testid=preview-losing-row]")].map(r => r.dataset.id).join(",")`))
	if losing != "third,second" {
		t.Errorf("preview: got %q losing their seat, want third,second (newest first)", losing)
	}
	if got := f.text(`[data-testid=preview-loss]`); !strings.Contains(got, "2 deployments lose their seat") {
		t.Errorf("preview says %q", got)
	}
	if got := plan(); got != "team" {
		t.Fatalf("the preview changed the plan to %s", got)
	}
	f.wantNoPageLoad("preview")

	t.Log("step: confirm, and the page follows without a reload")
	f.do("confirm", chromedp.Click(chromedp.CSS(`[data-testid=plan-confirm] [type=submit]`)))
	if !f.waitFor(`document.querySelector("[data-testid=license-plan]").innerText === "Solo"`) {
		t.Fatalf("the header never showed plan Solo: %q", f.text(`[data-testid=license-plan]`))
	}
	if !f.waitFor(`[...document.querySelectorAll("[data-testid=deployment-seat-lost]")].map(e => e.closest("tr").dataset.id).sort().join(",") === "second,third"`) {
		t.Errorf("the deployments table never marked second and third as having lost their seat: %q", f.text(`[data-testid=deployments]`))
	}
	if !f.waitFor(`document.querySelector("[data-testid=license-audit]").innerText.includes("license.plan_change")`) {
		t.Errorf("the audit trail never showed license.plan_change: %q", f.text(`[data-testid=license-audit]`))
	}
	if got := f.text(`#toasts`); !strings.Contains(got, "2 deployments lose their seat at the next check: third, second") {
		t.Errorf("toast after the change: %q", got)
	}
	if f.eval(`document.querySelectorAll("[data-testid=plan-preview]").length`) != 0 {
		t.Error("the preview is still shown after the change")
	}
	f.wantNoPageLoad("confirm")
	f.screenshot("plan-change-done")
	f.noConsoleErrors("plan change")

	if got := plan(); got != "solo" {
		t.Errorf("plan after the change: got %s, want solo", got)
	}
	for dep, want := range map[string]string{"first": "VALID", "second": "TOO_MANY_DEPLOYMENTS", "third": "TOO_MANY_DEPLOYMENTS"} {
		if got := validate(dep); got != want {
			t.Errorf("%s after the downgrade: got %s, want %s", dep, got, want)
		}
	}
}
