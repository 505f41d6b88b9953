package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nectarcloud/nls/handlers"
)

// acceptLink opens an invitation link and chooses a password; the new
// browser is signed in.
func acceptLink(t *testing.T, e *testEnv, link, pw string) *browser {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e)
	wantStatus(t, b.get(u.Path), http.StatusOK)
	p := b.post(u.Path, url.Values{"password": {pw}, "confirm": {pw}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("accepting the invitation: got %d\n%.1500s", p.Status, p.Body)
	}
	return b
}

// An owner invites a support admin, who signs in and is refused plan and
// team changes; the owner then changes their role and disables them.
func TestTeamInviteRoleAndDisable(t *testing.T) {
	a := newAdminEnv(t)
	p := a.b.get("/admin/team")
	wantStatus(t, p, http.StatusOK)
	if p.Doc.Find(`nav a[href="/admin/team"]`).Length() == 0 {
		t.Error("the owner has no Team link")
	}
	p = a.b.post("/admin/team", url.Values{"email": {"sam@nls.example"}, "name": {"Sam"}, "role": {"support"}})
	wantStatus(t, p, http.StatusCreated)
	link := one(t, p, `[data-testid=new-link-url]`).AttrOr("value", "")
	if !strings.Contains(link, "/invite/") {
		t.Fatalf("invitation link: got %q", link)
	}
	if got := one(t, p, `[data-testid=team-row][data-email="sam@nls.example"] [data-testid=team-role-select] option[selected]`).Text(); got != "support" {
		t.Errorf("role shown: got %q, want support", got)
	}
	// A bad role is refused in the form.
	p = a.b.post("/admin/team", url.Values{"email": {"eve@nls.example"}, "role": {"root"}})
	wantStatus(t, p, http.StatusUnprocessableEntity)

	sam := acceptLink(t, a.testEnv, link, "correct horse battery staple 42")
	p = sam.get("/admin")
	wantStatus(t, p, http.StatusOK)
	if p.Doc.Find(`nav a[href="/admin/team"]`).Length() != 0 {
		t.Error("support sees the Team link")
	}
	wantStatus(t, sam.get("/admin/plans/new"), http.StatusForbidden)
	wantStatus(t, sam.get("/admin/team"), http.StatusForbidden)
	wantStatus(t, sam.htmx("POST", "/admin/plans/pro/edit", url.Values{"name": {"Changed"}}), http.StatusForbidden)
	wantStatus(t, sam.htmx("POST", "/admin/licenses/"+a.licenseID+"/reveal", nil), http.StatusOK)

	// The owner makes Sam a viewer: no reveal any more, at the next request.
	samID := one(t, a.b.get("/admin/team"), `[data-testid=team-row][data-email="sam@nls.example"]`).Find("form").AttrOr("action", "")
	samID = strings.TrimSuffix(strings.TrimPrefix(samID, "/admin/team/"), "/role")
	wantStatus(t, a.b.post("/admin/team/"+samID+"/role", url.Values{"role": {"viewer"}}), http.StatusSeeOther)
	wantStatus(t, sam.htmx("POST", "/admin/licenses/"+a.licenseID+"/reveal", nil), http.StatusForbidden)
	// Nobody changes their own role here.
	wantStatus(t, a.b.post("/admin/team/"+a.adminID+"/role", url.Values{"role": {"viewer"}}), http.StatusUnprocessableEntity)

	// Disabled: signed out at once.
	wantStatus(t, a.b.post("/admin/team/"+samID+"/disable", nil), http.StatusSeeOther)
	wantSignedOut(t, sam, "/admin")
	for _, action := range []string{"user.invite", "user.role_change", "user.disable"} {
		if rows := a.auditRows(action); len(rows) == 0 {
			t.Errorf("no %s audit row", action)
		}
	}
}

// With NLS_REQUIRE_2FA_OWNERS an owner without two-factor sign-in is sent
// to set it up and can do nothing else; other roles are not.
func TestOwnersMustEnrolWhenRequired(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	e := newClockEnv(t, clock, func(c *handlers.Config) { c.RequireOwner2FA = true })
	createAdmin(t, e, adminEmail, adminPassword)
	createAdminAs(t, e, "viewer@nls.example", "a long password for the viewer", "viewer")
	owner := signIn(t, e, adminEmail, adminPassword)
	for _, path := range []string{"/admin", "/admin/licenses", "/admin/team"} {
		p := owner.get(path)
		if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/admin/account#two-factor" {
			t.Fatalf("GET %s: got %d to %q, want 303 to the two-factor setup", path, p.Status, p.Header.Get("Location"))
		}
	}
	viewer := signIn(t, e, "viewer@nls.example", "a long password for the viewer")
	wantStatus(t, viewer.get("/admin"), http.StatusOK)

	enrol(t, owner, "/admin/account", clock)
	wantStatus(t, owner.get("/admin"), http.StatusOK)
	wantStatus(t, owner.get("/admin/team"), http.StatusOK)
}

// With SMTP configured, the invited admin gets their link by email.
func TestTeamInvitationEmailed(t *testing.T) {
	srv := startSMTP(t, nil, "", "")
	a := newAdminEnv(t, func(c *handlers.Config) {
		c.Mail = handlers.MailConfig{URL: "smtp://" + srv.addr(), From: "NLS <licenses@vendor.example>"}
	})
	a.b.get("/admin/team")
	p := a.b.post("/admin/team", url.Values{"email": {"vic@nls.example"}, "role": {"viewer"}})
	wantStatus(t, p, http.StatusCreated)
	if got := one(t, p, `[data-testid=link-delivery]`).AttrOr("data-state", ""); got != "emailed" {
		t.Fatalf("delivery: got %q, want emailed", got)
	}
	link := one(t, p, `[data-testid=new-link-url]`).AttrOr("value", "")
	msgs := srv.messages()
	if len(msgs) != 1 || msgs[0].To != "vic@nls.example" {
		t.Fatalf("got %d messages (%+v), want 1 to vic@nls.example", len(msgs), msgs)
	}
	_, body := readMail(t, msgs[0].Data)
	if !strings.Contains(body, link) || !strings.Contains(body, "as viewer") {
		t.Errorf("the email does not carry the link and the role:\n%s", body)
	}
}
