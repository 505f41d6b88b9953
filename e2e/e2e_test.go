package e2e

// The admin portal in a real browser: sign in, set up a customer and a plan,
// issue a license, suspend and reactivate it in place, find it by search,
// read the audit trail and sign out. Along the way it saves screenshots to
// test-artifacts/screenshots, fails on console errors and CSP violations,
// and checks that the main pages fit a 375 px wide phone.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

const (
	customerName  = "E2E Customer"
	customerEmail = "billing@e2e-customer.example"
	planCode      = "e2e-pro"
	planName      = "E2E Pro"
	suspendReason = "e2e: unpaid invoice"
)

// cspReporter runs in every document before the page's own scripts and turns
// each CSP violation into a console error, so none can pass unnoticed even
// if the browser logs it somewhere the listener does not see.
const cspReporter = `document.addEventListener("securitypolicyviolation", (e) => {
  console.error("Content Security Policy violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline") +
    " at " + e.sourceFile + ":" + e.lineNumber);
});`

// overflowCulprits names the outermost elements that reach past the right
// edge of the viewport, leaving out those inside a scrolling container.
const overflowCulprits = `(() => {
  const w = document.documentElement.clientWidth;
  const past = (el) => el.getBoundingClientRect().right > w + 0.5;
  const clipped = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== "visible") return true;
    }
    return false;
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).slice(0, 4).join(".") : "") +
    (el.dataset.testid ? "[data-testid=" + el.dataset.testid + "]" : "");
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest("details:not([open]) > :not(summary)")) continue;
    if (past(el) && !clipped(el) && !(el.parentElement && past(el.parentElement) && !clipped(el.parentElement))) {
      out.push(name(el) + " (right edge " + Math.round(el.getBoundingClientRect().right) + ")");
    }
  }
  return out.slice(0, 5).join("; ") || "nothing found";
})()`

// consoleLog collects the errors the page reports: console.error calls,
// uncaught exceptions and browser log entries of level error.
type consoleLog struct {
	mu     sync.Mutex
	errors []string
}

// listen is a chromedp listener: it runs on the tab's event loop, so it only
// appends under the lock.
func (l *consoleLog) listen(ev any) {
	var msg string
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type != runtime.ConsoleAPICalledTypeError && e.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		parts := make([]string, 0, len(e.Args))
		for _, a := range e.Args {
			switch {
			case len(a.Value) > 0:
				var s string
				if json.Unmarshal(a.Value, &s) == nil {
					parts = append(parts, s)
				} else {
					parts = append(parts, string(a.Value))
				}
			default:
				parts = append(parts, a.Description)
			}
		}
		msg = "console." + string(e.Type) + ": " + strings.Join(parts, " ")
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg = "uncaught exception: " + d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		msg += fmt.Sprintf(" at %s:%d", d.URL, d.LineNumber+1)
	case *log.EventEntryAdded:
		if e.Entry == nil || e.Entry.Level != log.EntryLevelError {
			return
		}
		msg = "browser log (" + string(e.Entry.Source) + "): " + e.Entry.Text + " " + e.Entry.URL
	default:
		return
	}
	l.mu.Lock()
	l.errors = append(l.errors, msg)
	l.mu.Unlock()
}

// take returns the errors collected since the last call.
func (l *consoleLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.errors
	l.errors = nil
	return out
}

// flow is one browser session against one portal.
type flow struct {
	t       *testing.T
	ctx     context.Context
	portal  *portal
	console *consoleLog
	shots   string
}

// actionTimeout bounds each step, so that a wait that never ends fails
// with its own name rather than at the test's deadline.
const actionTimeout = 30 * time.Second

func (f *flow) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		f.t.Fatalf("%s: %v", what, err)
	}
}

func run[T any](f *flow, what string, a chromedp.Action[T]) T {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		f.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (f *flow) open(path string, ready string) {
	f.t.Helper()
	f.do("open "+path, chromedp.Navigate(f.portal.URL+path), chromedp.WaitVisible(chromedp.CSS(ready)))
}

func (f *flow) text(sel string) string {
	f.t.Helper()
	return strings.TrimSpace(run(f, "read "+sel, chromedp.Text(chromedp.CSS(sel))))
}

func (f *flow) eval(js string) int {
	f.t.Helper()
	return run(f, js, chromedp.Evaluate[int](js))
}

// screenshot saves the whole page as test-artifacts/screenshots/<name>.png.
func (f *flow) screenshot(name string) {
	f.t.Helper()
	png := run(f, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(f.shots, name+".png"), png, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// noConsoleErrors fails on every error the pages reported since the last
// check, and names CSP violations as such.
func (f *flow) noConsoleErrors(where string) {
	f.t.Helper()
	// Give late events (a blocked resource, a failed fetch) a moment to arrive.
	f.do("settle", chromedp.Sleep(200*time.Millisecond))
	for _, e := range f.console.take() {
		if strings.Contains(e, "Content Security Policy") {
			f.t.Errorf("%s: CSP violation: %s", where, e)
		} else {
			f.t.Errorf("%s: console error: %s", where, e)
		}
	}
}

// probeCSP breaks the page's Content-Security-Policy on purpose (an inline
// script) and checks that the violation is caught, so that a silent run
// means no violation rather than a deaf listener.
func (f *flow) probeCSP() {
	f.t.Helper()
	f.do("CSP probe", chromedp.Evaluate[chromedp.Void](`(() => {
		const s = document.createElement("script");
		s.textContent = "window.__nls_inline_ran = true";
		document.head.appendChild(s);
	})()`), chromedp.Sleep(300*time.Millisecond))
	got := f.console.take()
	caught := false
	for _, e := range got {
		caught = caught || strings.Contains(e, "Content Security Policy")
	}
	if !caught {
		f.t.Fatalf("CSP probe: an inline script was not reported as a CSP violation; console got %q", got)
	}
	if ran := f.eval(`window.__nls_inline_ran ? 1 : 0`); ran != 0 {
		f.t.Fatalf("CSP probe: an inline script ran; the Content-Security-Policy does not block it")
	}
}

// setMarker puts a value on window that only survives while no page loads.
func (f *flow) setMarker() {
	f.t.Helper()
	f.do("set marker", chromedp.Evaluate[chromedp.Void](`window.__nls_marker = 1`))
}

func (f *flow) wantNoPageLoad(action string) {
	f.t.Helper()
	if got := f.eval(`window.__nls_marker || 0`); got != 1 {
		f.t.Fatalf("%s: window marker got %d, want 1: the page was reloaded instead of swapped in place", action, got)
	}
}

// status is the HTTP status of GET path for the browser's session, without
// following redirects. It goes through Go rather than fetch() because a 404
// fetched by the page would be logged as a console error.
func (f *flow) status(path string) int {
	f.t.Helper()
	res, err := chromedp.Call(f.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{f.portal.URL}})
	if err != nil {
		f.t.Fatalf("reading the browser's cookies: %v", err)
	}
	req, err := http.NewRequest(http.MethodGet, f.portal.URL+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, c := range res.Cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	client := &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := client.Do(req)
	if err != nil {
		f.t.Fatalf("GET %s: %v", path, err)
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	return r.StatusCode
}

// clearField empties a text field. chromedp.Clear resets only the value
// attribute, which no longer shows once something was typed.
func clearField(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = ""`, sel))
}

// fillAndSubmit fills the named fields of the form that holds the first
// field and submits it through its submit button, as a person would.
func (f *flow) fillAndSubmit(what string, fields [][2]string) {
	f.t.Helper()
	form := fmt.Sprintf(`main form:has([name=%q])`, fields[0][0])
	for _, kv := range fields {
		sel := chromedp.CSS(fmt.Sprintf(`%s [name=%q]`, form, kv[0]))
		f.do(what+": fill "+kv[0], clearField(string(sel)), chromedp.SendKeys(sel, kv[1]))
	}
	f.do(what+": submit", chromedp.Click(chromedp.CSS(form+` [type=submit]`)))
	// Saved means the browser left the form for another page without errors.
	if !f.waitFor(`document.readyState === "complete" && !location.pathname.endsWith("/new") &&
		!document.querySelector("[aria-invalid=true], [role=alert]")`) {
		page, _ := chromedp.Run(f.ctx, chromedp.Evaluate[string](`location.pathname + ": " + document.querySelector("main").innerText`))
		f.t.Fatalf("%s: not saved within %s; the page shows %s", what, actionTimeout, page)
	}
}

// waitFor evaluates cond until it is true or actionTimeout passes. Unlike
// chromedp.Poll it carries on across page loads, when the page's JavaScript
// context goes away mid-evaluation.
func (f *flow) waitFor(cond string) bool {
	f.t.Helper()
	deadline := time.Now().Add(actionTimeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(f.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return true
		}
		if f.ctx.Err() != nil {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func TestAdminPortalInABrowser(t *testing.T) {
	shots := screenshotDir(t)
	// Screenshots of an earlier run must not pass for pages this run did not reach.
	old, _ := filepath.Glob(filepath.Join(shots, "*.png"))
	for _, f := range old {
		_ = os.Remove(f)
	}
	requireChromium(t) // before the slow part, so a skip is quick
	p := startPortal(t)
	f := newFlow(t, p, shots, 4*time.Minute)
	console := f.console
	// Prove the listener sees console errors before trusting its silence.
	f.do("console probe", chromedp.Evaluate[chromedp.Void](`console.error("e2e-console-probe")`), chromedp.Sleep(200*time.Millisecond))
	if got := console.take(); len(got) != 1 || !strings.Contains(got[0], "e2e-console-probe") {
		t.Fatalf("console listener: got %q, want the probe error", got)
	}

	step := func(name string, fn func()) {
		t.Helper()
		t.Logf("step: %s", name)
		fn() // a step Fatals when later steps cannot go on, else it Errors
		f.noConsoleErrors(name)
	}

	step("sign in", func() {
		f.open("/login", `[data-testid=login-form]`)
		f.probeCSP()
		f.screenshot("login")
		f.do("fill the login form",
			chromedp.SendKeys(chromedp.CSS(`[data-testid=login-email]`), adminEmail),
			chromedp.SendKeys(chromedp.ID("password"), adminPassword),
			chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=status-card]`)),
		)
		if got := f.text(`[data-testid=user-email]`); got != adminEmail {
			t.Fatalf("signed in as %q, want %q", got, adminEmail)
		}
		f.screenshot("dashboard")
	})

	step("create a customer and a plan", func() {
		f.open("/admin/customers/new", `main form`)
		f.screenshot("customer-new")
		f.fillAndSubmit("new customer", [][2]string{{"name", customerName}, {"email", customerEmail}, {"company", "E2E GmbH"}})
		f.open("/admin/plans/new", `main form`)
		f.screenshot("plan-new")
		f.fillAndSubmit("new plan", [][2]string{{"code", planCode}, {"name", planName}})
		for _, page := range []struct{ path, name, want string }{{"/admin/customers", "customers", customerName},
			{"/admin/plans", "plans", planCode}} {
			f.open(page.path, `main`)
			f.screenshot(page.name)
			if got := f.text(`main`); !strings.Contains(got, page.want) {
				t.Errorf("%s lacks %q", page.path, page.want)
			}
		}
	})

	var licenseID string
	step("issue a license", func() {
		f.open("/admin/licenses/new", `[data-testid=license-form]`)
		f.screenshot("license-new")
		chosen := run(f, "choose the customer", chromedp.Evaluate[string](fmt.Sprintf(`(() => {
			const s = document.querySelector("#customerId");
			const o = [...s.options].find((o) => o.text.startsWith(%q));
			if (!o) return "";
			s.value = o.value;
			return o.value;
		})()`, customerName)))
		if chosen == "" {
			t.Fatalf("the issue form offers no customer named %q", customerName)
		}
		f.do("choose the plan", chromedp.SetValue(chromedp.ID("plan"), planCode))
		if got := run(f, "read the plan", chromedp.Value(chromedp.ID("plan"))); got != planCode {
			t.Fatalf("the issue form offers no plan %q (got %q)", planCode, got)
		}
		f.do("fill and submit the issue form",
			chromedp.SendKeys(chromedp.ID("notes"), "issued by the e2e test"),
			chromedp.Click(chromedp.CSS(`[data-testid=license-form] [type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=license-issued]`)),
		)
		key := run(f, "read the key", chromedp.Value(chromedp.CSS(`[data-testid=license-key]`)))
		if !strings.HasPrefix(key, "NLS-") || len(key) < 40 {
			t.Fatalf("issued key %q does not look like a license key", key)
		}
		href := run(f, "read the license link", chromedp.AttributeValue(chromedp.CSS(`[data-testid=view-license]`), "href"))
		licenseID = strings.TrimPrefix(href.Value, "/admin/licenses/")
		if len(licenseID) != 36 {
			t.Fatalf("view-license link %q has no license id", href.Value)
		}
	})

	const badge = `[data-testid=license-status] [data-testid=badge]`
	step("open the license page", func() {
		f.do("open the license",
			chromedp.Click(chromedp.CSS(`[data-testid=view-license]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=license-header]`)),
		)
		if got := f.text(`[data-testid=license-plan]`); got != planName {
			t.Errorf("plan got %q, want %q (its name, not its code)", got, planName)
		}
		if got := f.text(`[data-testid=license-header] [data-testid=license-customer]`); got != customerName {
			t.Errorf("customer got %q, want %q", got, customerName)
		}
		if got := f.text(badge); got != "Active" {
			t.Errorf("status badge got %q, want Active", got)
		}
		f.screenshot("license")
	})

	step("suspend in place", func() {
		f.setMarker()
		f.do("suspend",
			chromedp.SendKeys(chromedp.ID("suspend-reason"), suspendReason),
			chromedp.Click(chromedp.CSS(`[data-testid=action-suspend] [type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(badge+`[data-state=suspended]`)),
		)
		f.wantNoPageLoad("suspend")
		if got := f.text(badge); got != "Suspended" {
			t.Errorf("status badge got %q, want Suspended", got)
		}
		if got := f.text(`[data-testid=suspended-reason]`); !strings.Contains(got, suspendReason) {
			t.Errorf("suspended reason got %q, want it to contain %q", got, suspendReason)
		}
		if got := f.text(`#toasts`); !strings.Contains(got, "License suspended") {
			t.Errorf("toast got %q, want it to say License suspended", got)
		}
		f.screenshot("license-suspended")
	})

	step("reactivate in place", func() {
		f.do("reactivate",
			chromedp.Click(chromedp.CSS(`[data-testid=action-reactivate] [type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(badge+`[data-state=active]`)),
		)
		f.wantNoPageLoad("reactivate")
		if got := f.text(badge); got != "Active" {
			t.Errorf("status badge got %q, want Active", got)
		}
	})

	step("find the license by search", func() {
		f.open("/admin/licenses", `[data-testid=license-search]`)
		f.screenshot("licenses")
		f.setMarker()
		search := chromedp.CSS(`[data-testid=license-search]`)
		row := chromedp.CSS(fmt.Sprintf(`[data-testid=license-results] [data-testid=license-row][data-id=%q]`, licenseID))
		// First a search that matches nothing, so that the second one is seen
		// to bring the row back rather than leave the first page in place.
		f.do("search for nothing",
			chromedp.SendKeys(search, "no-such-license-zz"),
			chromedp.WaitNotPresent(row),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=license-results] [data-testid=empty-state]`)),
		)
		f.do("search by customer",
			clearField(`[data-testid=license-search]`),
			chromedp.SendKeys(search, customerName),
			chromedp.WaitVisible(row),
		)
		f.wantNoPageLoad("search")
		loc := run(f, "read the URL", chromedp.Location())
		if !strings.Contains(loc, "q=E2E") {
			t.Errorf("URL after search got %q, want it to carry q= (hx-push-url)", loc)
		}
		if n := f.eval(`document.querySelectorAll("[data-testid=license-row]").length`); n != 1 {
			t.Errorf("rows after search got %d, want 1", n)
		}
	})

	step("audit trail", func() {
		f.open("/admin/licenses/"+licenseID, `[data-testid=license-audit]`)
		actions := f.text(`[data-testid=license-audit]`)
		for _, want := range []string{"license.suspend", "license.reactivate"} {
			if !strings.Contains(actions, want) {
				t.Errorf("license audit trail lacks %s:\n%s", want, actions)
			}
		}
		f.open("/admin/audit", `main`)
		f.screenshot("audit")
		all := f.text(`main`)
		for _, want := range []string{"license.suspend", "license.reactivate"} {
			if !strings.Contains(all, want) {
				t.Errorf("/admin/audit lacks %s", want)
			}
		}
	})

	step("phone width", func() {
		f.do("375 px viewport", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
		for _, pg := range []struct{ name, path, ready string }{
			{"dashboard", "/admin", `[data-testid=status-card]`},
			{"licenses", "/admin/licenses", `[data-testid=license-results]`},
			{"license", "/admin/licenses/" + licenseID, `[data-testid=license-header]`},
		} {
			f.open(pg.path, pg.ready)
			if w := f.eval(`document.documentElement.scrollWidth`); w > 375 {
				culprits := run(f, "find what overflows", chromedp.Evaluate[string](overflowCulprits))
				t.Errorf("%s at 375 px: scrollWidth %d, want <= 375 (horizontal overflow from %s)", pg.path, w, culprits)
			}
			f.screenshot(pg.name + "-375")
		}
		f.do("desktop viewport", chromedp.EmulateViewport(1280, 900))
	})

	step("sign out", func() {
		f.open("/admin", `[data-testid=status-card]`)
		f.do("sign out",
			chromedp.Click(chromedp.CSS(`aside [data-testid=sign-out] [type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)),
		)
		f.open("/admin", `[data-testid=login-form]`)
		loc := run(f, "read the URL", chromedp.Location())
		if !strings.HasPrefix(loc, p.URL+"/login") {
			t.Errorf("/admin after sign-out landed on %q, want the login page", loc)
		}
		if code := f.status("/admin"); code != http.StatusSeeOther && code != http.StatusFound {
			t.Errorf("GET /admin after sign-out: got %d, want a redirect", code)
		}
	})
}
