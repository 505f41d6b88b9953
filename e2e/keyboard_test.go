package e2e

// Keyboard-only use: an admin signs in, adds a customer, issues a license
// and suspends it with nothing but Tab, Enter and Space (and typing into
// fields), and every element the Tab key reaches shows where focus is.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/nectarcloud/nls/db/dbtest"
)

// focusState is the focused element and whether its focus is visible: an
// outline, or a ring (a box shadow with a spread, which Tailwind's ring
// utilities draw; a plain drop shadow has none).
const focusState = `(() => {
  const e = document.activeElement;
  if (!e || e === document.body) return JSON.stringify({name: "body"});
  const s = getComputedStyle(e);
  const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0;
  const ring = /(\d+(\.\d+)?px ){3}[1-9]/.test(s.boxShadow.replace(/rgba?\([^)]*\)/g, ""));
  const r = e.getBoundingClientRect();
  return JSON.stringify({
    name: e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.dataset.testid ? "[" + e.dataset.testid + "]" : "") +
      " " + (e.innerText || e.value || e.getAttribute("aria-label") || "").trim().slice(0, 40),
    visible: (outline || ring) && r.width > 0 && r.height > 0,
  });
})()`

type focused struct {
	Name    string
	Visible bool
}

// keyboard drives a flow with key events only.
type keyboard struct {
	f       *flow
	unseen  map[string]bool // focused elements whose focus could not be seen
	pressed int
}

func (k *keyboard) press(key string) {
	k.f.t.Helper()
	k.pressed++
	k.f.do("press "+fmt.Sprintf("%q", key), chromedp.KeyEvent(key))
}

func (k *keyboard) focus() focused {
	k.f.t.Helper()
	var fs focused
	s := run(k.f, "read the focus", chromedp.Evaluate[string](focusState))
	if err := json.Unmarshal([]byte(s), &fs); err != nil {
		k.f.t.Fatalf("focus state %s: %v", s, err)
	}
	return fs
}

// tabTo presses Tab until the element matching sel has focus (at most
// limit presses), noting every element on the way whose focus is not seen.
func (k *keyboard) tabTo(sel string, limit int) {
	k.f.t.Helper()
	for range limit {
		k.press(kb.Tab)
		fs := k.focus()
		if fs.Name != "body" && !fs.Visible {
			k.unseen[fs.Name] = true
		}
		if k.f.eval(fmt.Sprintf(`document.activeElement && document.activeElement.matches(%q) ? 1 : 0`, sel)) == 1 {
			return
		}
	}
	k.f.t.Fatalf("Tab did not reach %s within %d presses (focus on %s)", sel, limit, k.focus().Name)
}

// typeText types s into the focused field, key by key.
func (k *keyboard) typeText(s string) {
	k.f.t.Helper()
	k.f.do("type into "+k.focus().Name, chromedp.KeyEvent(s))
}

func (k *keyboard) waitFor(what, cond string) {
	k.f.t.Helper()
	if !k.f.waitFor(cond) {
		page, _ := chromedp.Run(k.f.ctx, chromedp.Evaluate[string](`location.pathname + ": " + (document.querySelector("main") || document.body).innerText.slice(0, 400)`))
		k.f.t.Fatalf("%s: not within %s; the page shows %s", what, actionTimeout, page)
	}
}

func TestKeyboardOnlyAdminFlow(t *testing.T) {
	shots := screenshotDir(t)
	requireChromium(t)
	p := newPortal(t, dbtest.NewURL(t))
	p.createAdmin(t)
	p.serve(t)
	callJSON(t, p.URL, p.apiKey(t), "POST", "/api/plans", map[string]any{"code": "team", "name": "Team",
		"features": []string{"reports"}, "maxDeployments": 3, "durationDays": 365}, http.StatusCreated)

	f := newFlow(t, p, shots, 4*time.Minute)
	k := &keyboard{f: f, unseen: map[string]bool{}}

	f.open("/login", `[data-testid=login-form]`)
	k.tabTo(`[data-testid=login-email]`, 15)
	k.typeText(adminEmail)
	k.tabTo(`#password`, 3)
	k.typeText(adminPassword)
	k.press(kb.Enter)
	k.waitFor("sign in", `location.pathname === "/admin" && !!document.querySelector("[data-testid=status-card]")`)

	// The navigation's Customers item, then Add a customer.
	k.tabTo(`aside a[href="/admin/customers"]`, 25)
	k.press(kb.Enter)
	k.waitFor("open Customers", `location.pathname === "/admin/customers" && !!document.querySelector("[data-testid=add-customer]")`)
	k.tabTo(`[data-testid=add-customer]`, 40)
	k.press(kb.Enter)
	k.waitFor("open the customer form", `!!document.querySelector("[data-testid=customer-form]")`)
	k.tabTo(`[data-testid=customer-form] [name=name]`, 40)
	k.typeText("Keyboard Ltd")
	k.tabTo(`[data-testid=customer-form] [name=email]`, 3)
	k.typeText("ops@keyboard.example")
	k.tabTo(`[data-testid=customer-form] [type=submit]`, 10)
	k.press(kb.Enter)
	k.waitFor("add the customer", `/^\/admin\/customers\/[0-9a-f-]{36}$/.test(location.pathname)`)
	if got := f.text(`main h1`); !strings.Contains(got, "Keyboard Ltd") {
		t.Errorf("customer page heading %q, want Keyboard Ltd", got)
	}

	// Issue a license from the customer's page: the customer is chosen,
	// the plan is picked by typing its first letter into the list.
	k.tabTo(`[data-testid=issue-license]`, 40)
	k.press(kb.Enter)
	k.waitFor("open the license form", `!!document.querySelector("[data-testid=license-form]")`)
	if got := f.eval(`document.querySelector("#customerId").selectedOptions[0].text.includes("Keyboard Ltd") ? 1 : 0`); got != 1 {
		t.Errorf("license form: the customer is not preselected")
	}
	k.tabTo(`#plan`, 40)
	k.typeText("T")
	if got := run(f, "read the plan", chromedp.Value(chromedp.ID("plan"))); got != "team" {
		t.Fatalf("plan after typing T: %q, want team", got)
	}
	k.tabTo(`[data-testid=license-form] [type=submit]`, 20)
	k.press(" ")
	k.waitFor("issue the license", `!!document.querySelector("[data-testid=license-issued]")`)
	k.tabTo(`[data-testid=view-license]`, 40)
	k.press(kb.Enter)
	k.waitFor("open the license", `/^\/admin\/licenses\/[0-9a-f-]{36}$/.test(location.pathname)`)

	// Suspend, with a reason, without a mouse.
	k.tabTo(`#suspend-reason`, 40)
	k.typeText("unpaid invoice")
	k.tabTo(`[data-testid=action-suspend] [type=submit]`, 3)
	k.press(" ")
	k.waitFor("suspend", `!!document.querySelector("[data-testid=license-status] [data-testid=badge][data-state=suspended]")`)
	if got := f.text(`[data-testid=suspended-reason]`); !strings.Contains(got, "unpaid invoice") {
		t.Errorf("suspended reason %q", got)
	}
	f.screenshot("keyboard-suspended")
	f.noConsoleErrors("keyboard flow")

	for name := range k.unseen {
		t.Errorf("focus is not visible on %s", name)
	}
	t.Logf("%d key presses for the whole flow", k.pressed)
}
