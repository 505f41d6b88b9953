package e2e

// The customer portal in a real browser: an admin invites a customer's
// user from the customer's page; the user sets a password through the
// link, signs in, sees the overview, opens a license, reveals and copies
// the key, releases a deployment in place, downloads an offline license
// file (verified with the client package, as an air-gapped installation
// would load it), reads the activity and signs out; the pages are checked
// at desktop and phone width.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/licensing/client"
)

const (
	portalCustomerName = "Portal E2E GmbH"
	portalUserEmail    = "dana@portal-e2e.example"
	portalUserPassword = "portal-e2e-password-0123"
)

// portalSetup is what the scenario needs from the vendor's side: a
// customer with a license and two installations that checked in.
type portalSetup struct {
	dbURL      string
	customerID string
	licenseID  string
	key        string
}

// inviteCustomerUser gives the customer a user the way a vendor does: an
// admin signs in, invites them from the customer's page and reads the link
// (no SMTP here, so the page says to send it by hand) and signs out; the
// user opens the link, is refused a weak password, sets a good one, which
// signs them in, and signs out again to sign in afresh with it.
func inviteCustomerUser(f *flow, s portalSetup) (email, password string) {
	t := f.t
	t.Helper()
	f.open("/login", `[data-testid=login-form]`)
	f.do("the admin signs in",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=login-email]`), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=status-card]`)))
	f.open("/admin/customers/"+s.customerID, `[data-testid=invite-user-form]`)
	f.setMarker()
	f.do("invite",
		chromedp.SendKeys(chromedp.ID("invite-email"), portalUserEmail),
		chromedp.SendKeys(chromedp.ID("invite-name"), "Dana"),
		chromedp.Click(chromedp.CSS(`[data-testid=invite-user-form] [type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=new-link-url]`)))
	f.wantNoPageLoad("invite")
	link := run(f, "read the link", chromedp.Value(chromedp.CSS(`[data-testid=new-link-url]`)))
	if !strings.HasPrefix(link, f.portal.URL+"/invite/") {
		t.Fatalf("invitation link %q, want one under %s/invite/", link, f.portal.URL)
	}
	if got := run(f, "read the delivery", chromedp.AttributeValue(chromedp.CSS(`[data-testid=link-delivery]`), "data-state")); got.Value != "not-configured" {
		t.Errorf("link delivery %q, want not-configured", got.Value)
	}
	if got := f.text(`[data-testid=user-row] [data-testid=user-email]`); got != portalUserEmail {
		t.Errorf("invited user row shows %q", got)
	}
	f.screenshot("admin-invited-user")
	f.do("the admin signs out",
		chromedp.Click(chromedp.CSS(`aside [data-testid=sign-out] [type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)))

	f.do("open the link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`[data-testid=invite-form]`)))
	if got := run(f, "read the email", chromedp.Value(chromedp.CSS(`[data-testid=invite-email]`))); got != portalUserEmail {
		t.Errorf("invitation page names %q", got)
	}
	f.do("try a weak password",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=new-password]`), "password1234"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=confirm-password]`), "password1234"),
		chromedp.Click(chromedp.CSS(`[data-testid=invite-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=error-password]`)))
	f.allowRefusal("a weak password", http.StatusUnprocessableEntity)
	f.screenshot("invite-weak-password")
	f.do("set the password",
		clearField(`[data-testid=new-password]`),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=new-password]`), portalUserPassword),
		clearField(`[data-testid=confirm-password]`),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=confirm-password]`), portalUserPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=invite-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=license-card]`)))
	if got := f.text(`#toasts`); !strings.Contains(got, "Your password is set") {
		t.Errorf("toast after setting the password %q", got)
	}
	f.do("sign out to sign in afresh",
		chromedp.Click(chromedp.CSS(`aside [data-testid=sign-out] [type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)))
	f.do("open the used link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`[data-testid=invite-closed]`)))
	f.allowRefusal("the used link", http.StatusGone)
	return portalUserEmail, portalUserPassword
}

// allowRefusal takes from the console the browser's note of a page answered
// with status, which the step expects, and fails on any other error.
func (f *flow) allowRefusal(what string, status int) {
	f.t.Helper()
	f.do("settle", chromedp.Sleep(200*time.Millisecond))
	seen := false
	for _, e := range f.console.take() {
		if strings.Contains(e, fmt.Sprintf("status of %d", status)) && !seen {
			seen = true
			continue
		}
		f.t.Errorf("%s: console error: %s", what, e)
	}
	if !seen {
		f.t.Errorf("%s: the page was not answered with %d", what, status)
	}
}

// callJSON sends body to path and decodes the answer, which must have status want.
func callJSON(t *testing.T, base, key, method, path string, body any, want int) map[string]any {
	t.Helper()
	buf, _ := json.Marshal(body)
	req, err := http.NewRequest(method, base+path, bytes.NewReader(buf))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: got %d, want %d: %s", method, path, res.StatusCode, want, raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// setUpPortal creates, through the management and machine APIs, a customer
// with a two-seat license, two installations and some usage.
func setUpPortal(t *testing.T, p *portal, dbURL string) portalSetup {
	t.Helper()
	key := p.apiKey(t)
	s := portalSetup{dbURL: dbURL}
	s.customerID = callJSON(t, p.URL, key, "POST", "/api/customers", map[string]any{"name": portalCustomerName,
		"email": "billing@portal-e2e.example"}, http.StatusCreated)["id"].(string)
	callJSON(t, p.URL, key, "POST", "/api/plans", map[string]any{"code": "team", "name": "Team",
		"features": []string{"sso", "reports"}, "limits": map[string]int{"users": 25, "apiCalls": 5000},
		"maxDeployments": 2, "durationDays": 365, "offlineDays": 14}, http.StatusCreated)
	lic := callJSON(t, p.URL, key, "POST", "/api/licenses", map[string]any{"customerId": s.customerID, "plan": "team"},
		http.StatusCreated)
	s.licenseID, s.key = lic["license"].(map[string]any)["id"].(string), lic["licenseKey"].(string)
	for _, dep := range []string{"web-1", "web-2"} {
		ans := callJSON(t, p.URL, "", "POST", "/api/validation/validate", map[string]any{"licenseKey": s.key,
			"deploymentId": dep, "hostname": dep + ".portal-e2e.example", "appVersion": "3.1.0"}, http.StatusOK)
		if ans["code"] != "VALID" {
			t.Fatalf("validate %s: %v", dep, ans)
		}
	}
	now := time.Now().UTC().Format(time.RFC3339)
	callJSON(t, p.URL, "", "POST", "/api/usage/report", map[string]any{"licenseKey": s.key, "deploymentId": "web-1",
		"reports": []map[string]any{{"id": uuid.NewString(), "periodStart": now, "periodEnd": now,
			"metrics": map[string]int{"users": 18, "apiCalls": 5600}}}}, http.StatusOK)
	return s
}

func TestCustomerPortalInABrowser(t *testing.T) {
	shots := screenshotDir(t)
	requireChromium(t)
	dbURL := dbtest.NewURL(t)
	p := newPortal(t, dbURL)
	p.serve(t)
	p.createAdmin(t)
	setup := setUpPortal(t, p, dbURL)

	f := newFlow(t, p, shots, 4*time.Minute)
	ctx := f.ctx
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatalf("download behaviour: %v", err)
	}
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted,
			Origin: p.URL}); err != nil {
			t.Logf("granting %s: %v", name, err)
		}
	}

	step := func(name string, fn func()) {
		t.Helper()
		t.Logf("step: %s", name)
		fn()
		f.noConsoleErrors(name)
	}
	card := fmt.Sprintf(`[data-testid=license-card][data-id=%q]`, setup.licenseID)

	var email, password string
	step("invite and set a password", func() { email, password = inviteCustomerUser(f, setup) })

	step("sign in", func() {
		f.open("/login", `[data-testid=login-form]`)
		f.do("fill the login form",
			chromedp.SendKeys(chromedp.CSS(`[data-testid=login-email]`), email),
			chromedp.SendKeys(chromedp.ID("password"), password),
			chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)),
			chromedp.WaitVisible(chromedp.CSS(card)),
		)
		f.probeCSP()
		if loc := run(f, "read the URL", chromedp.Location()); loc != p.URL+"/portal" {
			t.Errorf("landed on %q, want /portal", loc)
		}
	})

	step("overview", func() {
		if got := f.text(`aside [data-testid=customer-name]`); got != portalCustomerName {
			t.Errorf("customer name %q", got)
		}
		if got := f.text(card + ` [data-testid=badge]`); got != "Active" {
			t.Errorf("badge %q", got)
		}
		if got := f.text(card + ` [data-testid=license-seats]`); got != "2 of 2 in use" {
			t.Errorf("seats %q", got)
		}
		if got := f.text(card + ` [data-testid=usage-line][data-metric=apiCalls]`); !strings.Contains(got, "over the limit") {
			t.Errorf("apiCalls usage %q, want over the limit", got)
		}
		f.screenshot("portal-overview")
	})

	step("open the license", func() {
		f.do("open", chromedp.Click(chromedp.CSS(card+` [data-testid=license-link]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=license-header]`)))
		if got := f.text(`[data-testid=license-plan]`); got != "Team" {
			t.Errorf("plan %q", got)
		}
		if n := f.eval(`document.querySelectorAll("[data-testid=usage-chart] [data-testid=chart-svg]").length`); n != 2 {
			t.Errorf("got %d usage charts, want 2", n)
		}
		f.screenshot("portal-license")
	})

	step("reveal and copy the key", func() {
		f.setMarker()
		f.do("reveal", chromedp.Click(chromedp.CSS(`[data-testid=reveal-key]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=license-key]`)))
		f.wantNoPageLoad("reveal")
		if got := run(f, "read the key", chromedp.Value(chromedp.CSS(`[data-testid=license-key]`))); got != setup.key {
			t.Fatalf("revealed key differs from the issued one")
		}
		f.do("copy", chromedp.WaitVisible(chromedp.CSS(`[data-testid=copy-key]`)),
			chromedp.Click(chromedp.CSS(`[data-testid=copy-key]`)))
		if !f.waitFor(`document.querySelector("[data-testid=copy-key]").textContent === "Copied"`) {
			t.Fatalf("the copy button never said Copied")
		}
		ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
		copied, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
		cancel()
		switch {
		case err != nil:
			t.Logf("the clipboard cannot be read back here (%v); the button said Copied after writeText succeeded", err)
		case copied != setup.key:
			t.Errorf("the clipboard holds %q, want the key", copied)
		}
		f.screenshot("portal-key-revealed")
	})

	step("release a deployment in place", func() {
		row := `[data-testid=deployment-row][data-id="web-2"]`
		f.setMarker()
		f.do("release", chromedp.Click(chromedp.CSS(row+` [data-testid=release]`)),
			chromedp.WaitVisible(chromedp.CSS(row+`[data-status=deactivated]`)))
		f.wantNoPageLoad("release")
		// The header's count is swapped in out of band beside the row: a
		// read between the two swaps can find the node being replaced.
		seats := `[data-testid=license-header] [data-testid=license-seats]`
		if !f.waitFor(`document.querySelector("` + seats + `")?.textContent.trim() === "1 of 2 in use"`) {
			t.Errorf("seats after release %q", f.text(seats))
		}
		if got := f.text(`#toasts`); !strings.Contains(got, "web-2 released") {
			t.Errorf("toast %q", got)
		}
		ans := callJSON(t, p.URL, "", "POST", "/api/validation/validate", map[string]any{"licenseKey": setup.key,
			"deploymentId": "web-2"}, http.StatusOK)
		if ans["code"] != "DEPLOYMENT_DEACTIVATED" {
			t.Errorf("web-2 validates as %v, want DEPLOYMENT_DEACTIVATED", ans["code"])
		}
		f.screenshot("portal-released")
	})

	step("download an offline license file", func() {
		f.do("fill the offline form",
			chromedp.SendKeys(chromedp.ID("offline-deployment"), "vault-7"),
			chromedp.SendKeys(chromedp.ID("offline-hostname"), "vault.air-gapped.example"),
			chromedp.Click(chromedp.CSS(`[data-testid=offline-download]`)))
		path := filepath.Join(downloads, "nls-offline-vault-7.txt")
		var file []byte
		deadline := time.Now().Add(actionTimeout)
		for {
			if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte("-----END NLS OFFLINE LICENSE-----")) {
				file = b
				break
			}
			if time.Now().After(deadline) {
				entries, _ := os.ReadDir(downloads)
				t.Fatalf("no %s after %s (download folder: %v)", path, actionTimeout, entries)
			}
			time.Sleep(100 * time.Millisecond)
		}
		res, err := http.Get(p.URL + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		jwks, _ := io.ReadAll(res.Body)
		res.Body.Close()
		state := t.TempDir()
		lic, err := client.New(client.Config{OfflineLicenseFile: path, DeploymentID: "vault-7", PublicKeys: jwks,
			StateDir: state})
		if err != nil {
			t.Fatal(err)
		}
		defer lic.Close()
		if err := lic.Start(context.Background()); err != nil {
			t.Fatalf("an air-gapped client refuses the file: %v", err)
		}
		if st := lic.Status(); !st.Valid || st.LicenseID != setup.licenseID || !lic.HasFeature("reports") {
			t.Errorf("the client reads %+v", st)
		}
		other, err := client.New(client.Config{OfflineLicenseFile: path, DeploymentID: "vault-8", PublicKeys: jwks,
			StateDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		var le *client.LicenseError
		if err := other.Start(context.Background()); !errors.As(err, &le) || le.Code != client.CodeLeaseInvalid {
			t.Errorf("another deployment: got %v, want LEASE_INVALID", err)
		}
		if !bytes.Contains(file, []byte("\nDeployment: vault-7\n")) || !bytes.Contains(file, []byte("\nCustomer: "+portalCustomerName+"\n")) {
			t.Errorf("the file's header does not name the deployment and customer:\n%s", file)
		}
		f.open("/portal/licenses/"+setup.licenseID, `[data-testid=license-header]`)
		if got := run(f, "read the status", chromedp.AttributeValue(chromedp.CSS(`[data-testid=deployment-row][data-id="vault-7"]`), "data-status")); got.Value != "offline" {
			t.Errorf("vault-7 shows %q, want offline", got.Value)
		}
		if got := f.text(`[data-testid=license-header] [data-testid=license-seats]`); got != "2 of 2 in use" {
			t.Errorf("seats with the offline file %q", got)
		}
	})

	step("activity", func() {
		f.do("open activity", chromedp.Click(chromedp.CSS(`aside [data-testid=nav] a[href="/portal/activity"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=activity-entry]`)))
		text := f.text(`[data-testid=portal-activity]`)
		for _, want := range []string{"Offline license file issued", "Deployment released", "License key revealed", email, "Vendor staff"} {
			if !strings.Contains(text, want) {
				t.Errorf("activity lacks %q", want)
			}
		}
		f.screenshot("portal-activity")
	})

	step("phone width", func() {
		f.do("375 px viewport", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
		for _, pg := range []struct{ name, path, ready string }{
			{"portal-overview", "/portal", card},
			{"portal-license", "/portal/licenses/" + setup.licenseID, `[data-testid=license-header]`},
			{"portal-activity", "/portal/activity", `[data-testid=portal-activity]`},
			{"portal-billing", "/portal/billing", `[data-testid=billing]`},
		} {
			f.open(pg.path, pg.ready)
			if w := f.eval(`document.documentElement.scrollWidth`); w > 375 {
				culprits := run(f, "find what overflows", chromedp.Evaluate[string](overflowCulprits))
				t.Errorf("%s at 375 px: scrollWidth %d, want <= 375 (horizontal overflow from %s)", pg.path, w, culprits)
			}
			f.screenshot(pg.name + "-375")
		}
		f.do("desktop viewport", chromedp.EmulateViewport(1280, 900))
		for _, path := range []string{"/portal", "/portal/licenses/" + setup.licenseID} {
			f.open(path, `main`)
			if w := f.eval(`document.documentElement.scrollWidth`); w > 1280 {
				t.Errorf("%s at 1280 px: scrollWidth %d", path, w)
			}
		}
	})

	step("sign out", func() {
		f.open("/portal", card)
		f.do("sign out",
			chromedp.Click(chromedp.CSS(`aside [data-testid=sign-out] [type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)))
		if code := f.status("/portal"); code != http.StatusSeeOther {
			t.Errorf("GET /portal after sign-out: got %d, want 303", code)
		}
	})
}
