// Text PostgreSQL cannot store (a NUL byte, invalid UTF-8) in any field or
// parameter of any route that takes text is refused at the edge with a 422
// naming the field (in place on HTML forms), never a 500, storing nothing.
package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// auditCount is how many audit rows exist: a refused request adds none.
func (e *testEnv) auditCount() int {
	e.t.Helper()
	var n int
	if err := e.store.Pool.QueryRow(e.t.Context(), `SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestUnstorableTextIsRefusedEverywhere(t *testing.T) {
	a := newAdminEnv(t)
	e := a.testEnv
	lic := "/api/licenses/" + a.licenseID
	cust := "/api/customers/" + a.customerID
	const nul, badUTF8 = `\u0000`, "\xff\xfe"

	json := []struct {
		name, method, path, body, field string
	}{
		{"customer name NUL", "POST", "/api/customers", `{"name":"Acme` + nul + `","email":"x@acme.example"}`, "name"},
		{"customer name bad UTF-8", "POST", "/api/customers", `{"name":"Acme` + badUTF8 + `","email":"x@acme.example"}`, "name"},
		{"customer company", "POST", "/api/customers", `{"name":"Acme","email":"x@acme.example","company":"C` + nul + `"}`, "company"},
		{"customer metadata value", "POST", "/api/customers", `{"name":"Acme","email":"x@acme.example","metadata":{"tier":"a` + nul + `"}}`, "metadata.tier"},
		{"customer metadata key", "POST", "/api/customers", `{"name":"Acme","email":"x@acme.example","metadata":{"t` + badUTF8 + `":"a"}}`, "metadata."},
		{"customer update", "PATCH", cust, `{"name":"B` + nul + `"}`, "name"},
		{"plan name", "POST", "/api/plans", `{"code":"basic","name":"Basic` + nul + `"}`, "name"},
		{"plan feature", "POST", "/api/plans", `{"code":"basic","name":"Basic","features":["ok","s` + badUTF8 + `"]}`, "features[1]"},
		{"plan update", "PATCH", "/api/plans/pro", `{"name":"Pro` + nul + `"}`, "name"},
		{"license notes", "POST", "/api/licenses", `{"customerId":"` + a.customerID + `","plan":"pro","notes":"n` + nul + `"}`, "notes"},
		{"license update notes", "PATCH", lic, `{"notes":"n` + badUTF8 + `"}`, "notes"},
		{"suspend reason", "POST", lic + "/suspend", `{"reason":"r` + nul + `"}`, "reason"},
		{"validate hostname", "POST", "/api/validation/validate", `{"licenseKey":"` + a.key + `","deploymentId":"d1","hostname":"h` + nul + `"}`, "hostname"},
		{"validate appVersion", "POST", "/api/validation/validate", `{"licenseKey":"` + a.key + `","deploymentId":"d1","appVersion":"1` + badUTF8 + `"}`, "appVersion"},
		{"heartbeat deployment", "POST", "/api/validation/heartbeat", `{"licenseKey":"` + a.key + `","deploymentId":"d` + nul + `"}`, "deploymentId"},
		{"usage metric name", "POST", "/api/usage/report", `{"licenseKey":"` + a.key + `","deploymentId":"d1","reports":[{"id":"7c0a3c36-9d1c-4d55-a1de-7a8d3e2f1b00","periodStart":"2026-01-01T00:00:00Z","periodEnd":"2026-01-02T00:00:00Z","metrics":{"api` + nul + `":1}}]}`, "reports[0].metrics."},
	}
	for _, tc := range json {
		t.Run("json "+tc.name, func(t *testing.T) {
			before := e.auditCount()
			r := e.do(tc.method, tc.path, a.admin, []byte(tc.body))
			m := wantError(t, r, http.StatusUnprocessableEntity, "invalid")
			details := m["error"].(map[string]any)["details"].([]any)
			if len(details) == 0 {
				t.Fatalf("no details: %s", r.Body)
			}
			if f, _ := details[0].(map[string]any)["field"].(string); !strings.HasPrefix(f, tc.field) {
				t.Fatalf("got field %q, want %q: %s", f, tc.field, r.Body)
			}
			if got := e.auditCount(); got != before {
				t.Fatalf("audit rows: got %d, want %d (nothing stored)", got, before)
			}
		})
	}

	query := []struct{ name, path, param string }{
		{"customer search", "/api/customers?q=ac%00me", "q"},
		{"license search", "/api/licenses?q=%FF", "q"},
		{"license plan filter", "/api/licenses?plan=pro%00", "plan"},
		{"license status filter", "/api/licenses?status=%C3", "status"},
		{"audit filter", "/api/audit?action=license%00", "action"},
		{"usage metric", "/api/usage/analytics?metric=a%00&licenseId=" + a.licenseID, "metric"},
		{"plans list", "/api/plans?cursor=%00", "cursor"},
	}
	for _, tc := range query {
		t.Run("query "+tc.name, func(t *testing.T) {
			r := e.do("GET", tc.path, a.admin, nil)
			m := wantError(t, r, http.StatusUnprocessableEntity, "invalid")
			if f := m["error"].(map[string]any)["details"].([]any)[0].(map[string]any)["field"]; f != tc.param {
				t.Fatalf("got field %v, want %s", f, tc.param)
			}
		})
	}

	// Admin pages: a query string is refused with the error page; a form is
	// shown again with the problem at the field, storing nothing.
	t.Run("admin license search", func(t *testing.T) {
		p := a.b.get("/admin/licenses?q=%00")
		wantStatus(t, p, http.StatusUnprocessableEntity)
		if !strings.Contains(string(p.Body), "NUL byte or invalid UTF-8") {
			t.Fatalf("page does not say what is wrong:\n%.1500s", p.Body)
		}
	})
	a.b.get("/admin/customers/new")
	forms := []struct {
		name, path string
		form       url.Values
		field      string
	}{
		{"new customer", "/admin/customers", url.Values{"name": {"Acme\x00"}, "email": {"n@acme.example"}}, "name"},
		{"edit customer", "/admin/customers/" + a.customerID + "/edit", url.Values{"name": {"Acme"}, "email": {"ops@acme.example"}, "company": {"C\xff"}}, "company"},
		{"new plan", "/admin/plans", url.Values{"code": {"basic"}, "name": {"Basic\x00"}}, "name"},
		{"new license", "/admin/licenses", url.Values{"customerId": {a.customerID}, "plan": {"pro"}, "notes": {"n\xff"}}, "notes"},
		{"new API key", "/admin/api-keys", url.Values{"name": {"k\x00"}, "scopes": {"admin"}}, "name"},
		// The people section answers htmx with 200 and the form in place, as for a missing email.
		{"invite user", "/admin/customers/" + a.customerID + "/users", url.Values{"email": {"u@acme.example"}, "name": {"U\x00"}}, "name"},
	}
	for _, tc := range forms {
		t.Run("form "+tc.name, func(t *testing.T) {
			before := e.auditCount()
			p := a.b.htmx("POST", tc.path, tc.form)
			if p.Status != http.StatusUnprocessableEntity && !(tc.name == "invite user" && p.Status == http.StatusOK) {
				t.Fatalf("got status %d, want 422\n%.1500s", p.Status, p.Body)
			}
			if !strings.Contains(string(p.Body), "NUL byte or invalid UTF-8") {
				t.Fatalf("form does not show the problem:\n%.2000s", p.Body)
			}
			if p.Doc.Find("[data-testid=error-page]").Length() != 0 {
				t.Fatalf("got the error page, want the form with the error in place:\n%.1500s", p.Body)
			}
			if got := e.auditCount(); got != before {
				t.Fatalf("audit rows: got %d, want %d (nothing stored)", got, before)
			}
		})
	}
	t.Run("form suspend reason", func(t *testing.T) {
		before := e.auditCount()
		// License actions answer their header with the problem in it, as for a missing reason.
		p := a.b.htmx("POST", "/admin/licenses/"+a.licenseID+"/suspend", url.Values{"reason": {"late\x00"}})
		if p.Status >= 500 || !strings.Contains(string(p.Body), "NUL byte or invalid UTF-8") {
			t.Fatalf("got %d without the problem shown:\n%.1500s", p.Status, p.Body)
		}
		if got := e.auditCount(); got != before {
			t.Fatalf("audit rows: got %d, want %d (nothing stored)", got, before)
		}
	})
}

func TestUnstorableTextInPortalForms(t *testing.T) {
	pe := newPortalEnv(t)
	before := pe.auditCount()
	p := pe.a.hxPost("/portal/licenses/"+pe.licA+"/offline", url.Values{"deploymentId": {"dep-1"}, "hostname": {"h\xff"}})
	wantStatus(t, p, http.StatusUnprocessableEntity)
	if got := pe.auditCount(); got != before {
		t.Fatalf("audit rows: got %d, want %d (nothing stored)", got, before)
	}
	p = pe.a.get("/portal/activity?before=%00")
	wantStatus(t, p, http.StatusUnprocessableEntity)
}
