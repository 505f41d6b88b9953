package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/nectarcloud/nls/licensing"
)

// The admin sees findings on the Insights page (filtered, by revenue), in
// the dashboard's box and on the license and customer pages, each with its
// evidence and chart; support staff acknowledge and dismiss (with a reason),
// viewers only read.
func TestAdminInsightsPages(t *testing.T) {
	a := newAdminEnv(t)
	plantFindings(t, a.fixture, a.licenseID)

	p := a.b.get("/admin/insights")
	wantStatus(t, p, 200)
	checkCSP(t, p)
	if n := p.Doc.Find(`[data-testid=finding]`).Length(); n != 2 {
		t.Fatalf("insights page: %d findings, want 2", n)
	}
	p = a.b.get("/admin/insights?kind=key_attack")
	if n := p.Doc.Find(`[data-testid=finding]`).Length(); n != 1 || one(t, p, `[data-testid=finding-ips]`).Text() != "Addresses: 203.0.113.7" {
		t.Errorf("kind filter: %d findings", n)
	}
	p = a.b.get("/admin/insights?sort=revenue")
	first := p.Doc.Find(`[data-testid=finding]`).First()
	if first.AttrOr("data-kind", "") != "upgrade_opportunity" || !strings.Contains(first.Find(`[data-testid=finding-revenue]`).Text(), "$250.00") {
		t.Errorf("by revenue, first: %s", first.Text())
	}
	if p := a.b.get("/admin/insights?severity=loud"); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("unknown severity: %d", p.Status)
	}

	p = a.b.get("/admin")
	box := one(t, p, `[data-testid=findings-box]`)
	if box.Find(`[data-testid=findings-box-item]`).Length() != 2 ||
		box.Find(`[data-testid=findings-box-count][data-severity=critical]`).Text() != "1 critical" {
		t.Errorf("dashboard box: %s", box.Text())
	}

	p = a.b.get("/admin/licenses/" + a.licenseID)
	sec := one(t, p, `#insights[data-testid=findings-section]`)
	f := sec.Find(`[data-testid=finding]`)
	if f.Length() != 1 || f.AttrOr("data-kind", "") != "upgrade_opportunity" || f.Find(`[data-testid=sparkline] polyline`).Length() != 1 ||
		!strings.Contains(f.Find(`[data-testid=finding-suggested]`).Text(), "enterprise") {
		t.Fatalf("license page findings: %s", sec.Text())
	}
	id := f.AttrOr("data-id", "")
	p = a.b.get("/admin/customers/" + a.customerID)
	if one(t, p, `[data-testid=findings-section]`).Find(`[data-testid=finding]`).Length() != 1 {
		t.Error("customer page does not show the license's finding")
	}

	const pw = "a long password for insights"
	createAdminAs(t, a.testEnv, "viewer@nls.example", pw, licensing.RoleViewer)
	createAdminAs(t, a.testEnv, "support@nls.example", pw, licensing.RoleSupport)
	viewer := signIn(t, a.testEnv, "viewer@nls.example", pw)
	p = viewer.get("/admin/licenses/" + a.licenseID)
	if p.Doc.Find(`[data-testid=finding-acknowledge], [data-testid=finding-dismiss]`).Length() != 0 {
		t.Error("a viewer is offered acknowledge or dismiss")
	}
	if p := viewer.post("/admin/findings/"+id+"/acknowledge", nil); p.Status != http.StatusForbidden {
		t.Errorf("viewer acknowledges: %d", p.Status)
	}
	support := signIn(t, a.testEnv, "support@nls.example", pw)
	support.get("/admin/licenses/" + a.licenseID)
	if p := support.post("/admin/findings/"+id+"/acknowledge", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("support acknowledges: %d %s", p.Status, p.Body)
	}
	p = support.get("/admin/licenses/" + a.licenseID)
	if got := one(t, p, `[data-testid=finding]`).AttrOr("data-status", ""); got != "acknowledged" {
		t.Errorf("status after acknowledging: %s", got)
	}
	if p := support.post("/admin/findings/"+id+"/dismiss", url.Values{"reason": {"  "}}); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("dismiss without a reason: %d", p.Status)
	}
	if p := support.post("/admin/findings/"+id+"/dismiss", url.Values{"reason": {"Renewal talks already under way"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("dismiss: %d %s", p.Status, p.Body)
	}
	p = a.b.get("/admin/licenses/" + a.licenseID)
	f = one(t, p, `[data-testid=finding]`)
	if f.AttrOr("data-status", "") != "dismissed" || !strings.Contains(f.Find(`[data-testid=finding-dismiss-reason]`).Text(), "Renewal talks") {
		t.Errorf("after dismissing: %s", f.Text())
	}
	if rows := a.auditRows("finding.dismissed"); len(rows) != 1 {
		t.Errorf("audit rows of the dismissal: %v", rows)
	}
}

// Each admin chooses on their account page which findings email them.
func TestAdminSavesAlertPreferences(t *testing.T) {
	a := newAdminEnv(t)
	p := a.b.get("/admin/account")
	wantStatus(t, p, 200)
	if _, ok := one(t, p, `[data-testid=alert-delivery-off]`).Attr("checked"); !ok {
		t.Error("alerts are not off by default")
	}
	form := url.Values{"delivery": {"immediate"}, "minSeverity": {"critical"}, "kinds": {"key_attack", "sharing_suspected"}}
	if p := a.b.post("/admin/account/alerts", form); p.Status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", p.Status, p.Body)
	}
	p = a.b.get("/admin/account")
	for _, sel := range []string{`[data-testid=alert-delivery-immediate]`, `[data-testid=alert-kind-key_attack]`, `[data-testid=alert-kind-sharing_suspected]`} {
		if _, ok := one(t, p, sel).Attr("checked"); !ok {
			t.Errorf("%s not checked after saving", sel)
		}
	}
	if _, ok := one(t, p, `[data-testid=alert-kind-forecast]`).Attr("checked"); ok {
		t.Error("forecast checked without being chosen")
	}
	if got := one(t, p, `[data-testid=alert-severity] option[selected]`).AttrOr("value", ""); got != "critical" {
		t.Errorf("severity: %q", got)
	}
	if p := a.b.post("/admin/account/alerts", url.Values{"delivery": {"pager"}, "minSeverity": {"critical"}}); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("unknown delivery: %d", p.Status)
	}
}
