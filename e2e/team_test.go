package e2e

// The admin team in a browser: an owner invites a support admin, who sets
// a password, turns on two-factor sign-in by scanning (here: reading) the
// secret, signs in again with a code, and cannot change a plan.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
)

func TestOwnerInvitesSupportWhoSignsInWithTOTP(t *testing.T) {
	p := startPortal(t) // the first admin: an owner
	key := p.apiKey(t)
	callJSON(t, p.URL, key, "POST", "/api/plans", map[string]any{"code": "team", "name": "Team",
		"features": []string{"sso"}, "maxDeployments": 2, "durationDays": 365}, http.StatusCreated)
	f := newFlow(t, p, screenshotDir(t), 4*time.Minute)

	f.open("/login", `[data-testid=login-form]`)
	f.do("the owner signs in",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=login-email]`), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=status-card]`)))
	f.do("open the team page from the navigation",
		chromedp.Click(chromedp.CSS(`aside nav a[href="/admin/team"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=invite-admin-form]`)))
	const supportEmail, supportPassword = "sam@e2e.example", "correct horse battery staple 42"
	f.do("invite a support admin",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=invite-admin-email]`), supportEmail),
		chromedp.SetValue(chromedp.CSS(`[data-testid=invite-admin-role]`), "support"),
		chromedp.Click(chromedp.CSS(`[data-testid=invite-admin-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=new-link-url]`)))
	link := run(f, "read the link", chromedp.Value(chromedp.CSS(`[data-testid=new-link-url]`)))
	if !strings.HasPrefix(link, p.URL+"/invite/") {
		t.Fatalf("invitation link %q, want one under %s/invite/", link, p.URL)
	}
	f.screenshot("team-invited-support")
	f.do("the owner signs out",
		chromedp.Click(chromedp.CSS(`aside [data-testid=sign-out] [type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)))

	f.do("the support admin sets a password",
		chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`[data-testid=invite-form]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=new-password]`), supportPassword),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=confirm-password]`), supportPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=invite-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=status-card]`)))
	if n := f.eval(`document.querySelectorAll('nav a[href="/admin/team"]').length`); n != 0 {
		t.Errorf("support sees %d Team links, want none", n)
	}

	f.do("start two-factor enrolment",
		chromedp.Click(chromedp.CSS(`aside nav a[href="/admin/account"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=two-factor-setup]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=two-factor-setup]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=two-factor-qr]`)))
	if n := f.eval(`(() => { const i = document.querySelector("[data-testid=two-factor-qr]"); return i.complete ? i.naturalWidth : -1 })()`); n < 100 {
		t.Fatalf("the QR code image is %d pixels wide, want a drawn image", n)
	}
	f.screenshot("two-factor-enrolment")
	secret := f.text(`[data-testid=two-factor-secret]`)
	enrolled := time.Now()
	code, err := totp.GenerateCode(secret, enrolled)
	if err != nil {
		t.Fatal(err)
	}
	f.do("confirm with a code from the secret",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=two-factor-code]`), code),
		chromedp.Click(chromedp.CSS(`[data-testid=two-factor-enrol] [type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=recovery-codes]`)))
	if n := f.eval(`document.querySelectorAll("[data-testid=recovery-code]").length`); n != 10 {
		t.Errorf("got %d recovery codes shown, want 10", n)
	}
	f.do("sign out", chromedp.Click(chromedp.CSS(`aside [data-testid=sign-out] [type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)))

	f.do("the password step",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=login-email]`), supportEmail),
		chromedp.SendKeys(chromedp.ID("password"), supportPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-code-form]`)))
	if got := f.status("/admin"); got != http.StatusSeeOther {
		t.Errorf("after the password alone GET /admin answered %d, want 303 to sign in", got)
	}
	// The enrolment's code is used up: wait for the authenticator's next one.
	next := time.Unix((enrolled.Unix()/30+1)*30, 0)
	for time.Now().Before(next) {
		time.Sleep(time.Until(next))
	}
	code, err = totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.do("the code step",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=login-code]`), code),
		chromedp.Click(chromedp.CSS(`[data-testid=login-code-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=status-card]`)))

	// Support may read plans but not change them.
	f.open("/admin/plans", `main`)
	if got := f.status("/admin/plans"); got != http.StatusOK {
		t.Errorf("support GET /admin/plans: %d, want 200", got)
	}
	if got := f.status("/admin/plans/team/edit"); got != http.StatusForbidden {
		t.Errorf("support GET /admin/plans/team/edit: %d, want 403", got)
	}
	f.do("open the plan's edit form", chromedp.Navigate(p.URL+"/admin/plans/team/edit"),
		chromedp.WaitVisible(chromedp.CSS(`main`)))
	f.allowRefusal("the plan's edit form", http.StatusForbidden)
	if got := f.text(`main`); !strings.Contains(got, "does not allow") {
		t.Errorf("the refusal says %q, want it to name the role", got)
	}
	f.screenshot("support-refused-plan-edit")
	f.noConsoleErrors("team flow")
}
