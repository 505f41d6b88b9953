package e2e

// Accessibility of every page: axe-core (node_modules/axe-core, a dev
// dependency in package.json) is injected into each admin and customer
// portal page at desktop (1280 px) and phone (390 px) width, and any
// serious or critical violation fails the test. Screenshots of every page
// at both widths go to test-artifacts/screenshots/axe-<page>-<width>.png.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nectarcloud/nls/db/dbtest"
)

// axeViolation is the part of an axe-core result the report needs.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeRun runs axe over the page and returns its serious and critical
// violations with the first few offending elements of each.
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then((r) =>
  r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
  })))`

// axePage is one page the test checks, with what shows it has loaded.
type axePage struct{ name, path, ready string }

func (f *flow) axe(src string, pg axePage, width int) []axeViolation {
	f.t.Helper()
	f.do(fmt.Sprintf("%d px viewport", width), chromedp.EmulateViewport(int64(width), 900))
	f.open(pg.path, pg.ready)
	if f.eval(`typeof window.axe === "object" ? 1 : 0`) == 0 {
		f.do("inject axe-core", chromedp.Evaluate[chromedp.Void](src))
	}
	s := run(f, "axe "+pg.path, chromedp.Evaluate[string](axeRun+`.then((v) => JSON.stringify(v))`,
		chromedp.EvalAwaitPromise))
	var out []axeViolation
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		f.t.Fatalf("axe %s: %v (%s)", pg.path, err, s)
	}
	f.screenshot(fmt.Sprintf("axe-%s-%d", pg.name, width))
	return out
}

func TestAccessibilityOfEveryPage(t *testing.T) {
	shots := screenshotDir(t)
	requireChromium(t)
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is a dev dependency (npm ci installs it): %v", err)
	}
	dbURL := dbtest.NewURL(t)
	p := newPortal(t, dbURL)
	p.env = append(p.env, "STRIPE_WEBHOOK_SECRET="+usageStripeSecret)
	p.createAdmin(t)
	p.serve(t)
	setup := setUpPortal(t, p, dbURL)
	postStripeEvent(t, p.URL, "evt_axe_unmapped", "price_axe")
	out := p.run(t, "", nil, "user", "invite", "--customer", setup.customerID, "--email", portalUserEmail, "--name", "Dana")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	link := strings.TrimSpace(lines[len(lines)-1])

	f := newFlow(t, p, shots, 8*time.Minute)
	widths := []int{1280, 390}
	counts := map[string]int{}
	check := func(pages []axePage) {
		t.Helper()
		for _, pg := range pages {
			for _, w := range widths {
				vs := f.axe(string(src), pg, w)
				counts[fmt.Sprintf("%s @%d", pg.path, w)] = len(vs)
				for _, v := range vs {
					t.Errorf("%s at %d px: %s (%s): %s — %s", pg.path, w, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, ", "))
				}
			}
			f.noConsoleErrors(pg.path)
		}
	}

	// The customer's user first: accepting the invitation signs them in.
	f.do("open the invitation", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`[data-testid=invite-form]`)))
	check([]axePage{{"invite", strings.TrimPrefix(link, p.URL), `[data-testid=invite-form]`}})
	f.do("set the password",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=new-password]`), portalUserPassword),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=confirm-password]`), portalUserPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=invite-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=license-card]`)))
	check([]axePage{
		{"portal-overview", "/portal", `[data-testid=license-card]`},
		{"portal-license", "/portal/licenses/" + setup.licenseID, `[data-testid=license-header]`},
		{"portal-activity", "/portal/activity", `main`},
		{"portal-billing", "/portal/billing", `main`},
		{"portal-account", "/portal/account", `main`},
	})
	f.do("sign out", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(p.URL+"/portal"),
		chromedp.Click(chromedp.CSS(`aside [data-testid=sign-out] [type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)))

	check([]axePage{{"login", "/login", `[data-testid=login-form]`}})
	// Prove axe reports a violation before trusting its silence: an image
	// without alternative text is a critical one (image-alt).
	f.do("axe probe", chromedp.Evaluate[chromedp.Void](`(() => {
		const i = document.createElement("img");
		i.src = document.querySelector("link[rel=icon]").href;
		i.id = "axe-probe";
		document.querySelector("main").appendChild(i);
	})()`))
	probe := run(f, "axe probe", chromedp.Evaluate[string](axeRun+`.then((v) => v.map((x) => x.id).join(","))`,
		chromedp.EvalAwaitPromise))
	if !strings.Contains(probe, "image-alt") {
		t.Fatalf("axe probe: an image without alt text was not reported (got %q)", probe)
	}
	f.do("the admin signs in",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=login-email]`), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=status-card]`)))
	check([]axePage{
		{"dashboard", "/admin", `[data-testid=status-card]`},
		{"licenses", "/admin/licenses", `[data-testid=license-results]`},
		{"license-new", "/admin/licenses/new", `[data-testid=license-form]`},
		{"license", "/admin/licenses/" + setup.licenseID, `[data-testid=license-header]`},
		{"customers", "/admin/customers", `main`},
		{"customer-new", "/admin/customers/new", `main form`},
		{"customer", "/admin/customers/" + setup.customerID, `[data-testid=invite-user-form]`},
		{"customer-edit", "/admin/customers/" + setup.customerID + "/edit", `main form`},
		{"plans", "/admin/plans", `main`},
		{"plan-new", "/admin/plans/new", `main form`},
		{"plan-edit", "/admin/plans/team/edit", `main form`},
		{"usage", "/admin/usage", `main`},
		{"audit", "/admin/audit", `main`},
		{"audit-verify", "/admin/audit/verify", `main`},
		{"api-keys", "/admin/api-keys", `main`},
		{"stripe-events", "/admin/stripe-events", `[data-testid=stripe-event-row]`},
		{"stripe-event", "/admin/stripe-events/evt_axe_unmapped", `[data-testid=stripe-payload]`},
		{"insights", "/admin/insights", `main`},
		{"webhooks", "/admin/webhooks", `main`},
		{"releases", "/admin/releases", `main`},
		{"notifications", "/admin/notifications", `main`},
		{"team", "/admin/team", `main`},
		{"account", "/admin/account", `main`},
	})

	// On a phone the license list shows each license's status and expiry
	// without sideways scrolling, and the filters are folded away.
	f.do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	f.open("/admin/licenses", `[data-testid=license-results]`)
	if n := f.eval(`(() => { const w = document.documentElement.clientWidth;
		return [...document.querySelectorAll("[data-testid=license-row]")].filter((r) =>
			r.querySelector("[data-testid=badge]").getBoundingClientRect().right > w ||
			r.lastElementChild.getBoundingClientRect().right > w).length; })()`); n != 0 {
		t.Errorf("license list at 390 px: %d rows whose status or expiry lies past the right edge", n)
	}
	if open := f.eval(`document.querySelector("[data-testid=more-filters]").open ? 1 : 0`); open != 0 {
		t.Errorf("license list at 390 px: the filters are not folded away")
	}
	f.do("desktop", chromedp.EmulateViewport(1280, 900))

	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var report strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&report, "%-60s %d\n", k, counts[k])
	}
	t.Logf("serious and critical axe-core violations per page:\n%s", report.String())
	if code := f.status("/admin"); code != http.StatusOK {
		t.Errorf("GET /admin at the end: got %d, want 200 (the session was lost)", code)
	}
}
