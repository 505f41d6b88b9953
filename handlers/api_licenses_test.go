package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// fixture is a customer and plans to issue licenses against.
type fixture struct {
	*testEnv
	admin      string
	customerID string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	e := newEnv(t)
	f := &fixture{testEnv: e, admin: e.apiKey("admin")}
	r := e.do("POST", "/api/customers", f.admin, map[string]any{"name": "Acme", "email": "ops@acme.example"})
	if r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	f.customerID = r.JSON(t)["id"].(string)
	for _, p := range []map[string]any{
		{"code": "pro", "name": "Pro", "features": []string{"sso", "api"}, "limits": map[string]any{"users": 10, "apiCalls": 1000},
			"maxDeployments": 2, "durationDays": 365, "graceDays": 7, "heartbeatWindowHours": 24},
		{"code": "five", "name": "Five seats", "features": []string{"core"}, "maxDeployments": 5},
		{"code": "forever", "name": "Perpetual", "features": []string{"core"}},
	} {
		if r := e.do("POST", "/api/plans", f.admin, p); r.Status != 201 {
			t.Fatal(string(r.Body))
		}
	}
	return f
}

// issue creates a license and returns its id and key.
func (f *fixture) issue(body map[string]any) (string, string) {
	f.t.Helper()
	if body["customerId"] == nil {
		body["customerId"] = f.customerID
	}
	r := f.do("POST", "/api/licenses", f.admin, body)
	if r.Status != 201 {
		f.t.Fatalf("issue: got %d %s", r.Status, r.Body)
	}
	m := r.JSON(f.t)
	return m["license"].(map[string]any)["id"].(string), m["licenseKey"].(string)
}

func TestLicenseCreateAnswersLicenseAndKey(t *testing.T) {
	f := newFixture(t)
	r := f.do("POST", "/api/licenses", f.admin, map[string]any{"customerId": f.customerID, "plan": "pro",
		"limits": map[string]any{"users": 25}, "notes": "first"})
	if r.Status != 201 {
		t.Fatalf("got %d %s, want 201", r.Status, r.Body)
	}
	m := r.JSON(t)
	key := m["licenseKey"].(string)
	if !strings.HasPrefix(key, "NLS-") {
		t.Fatalf("got key %q, want NLS-…", key)
	}
	lic := m["license"].(map[string]any)
	for _, field := range []string{"id", "customerId", "plan", "status", "features", "limits", "maxDeployments",
		"activeDeployments", "startsAt", "expiresAt", "graceEndsAt", "suspendedReason", "stripeSubscriptionId",
		"createdAt", "updatedAt"} {
		if _, ok := lic[field]; !ok {
			t.Errorf("license lacks %q", field)
		}
	}
	if lic["status"] != "active" || lic["plan"] != "pro" {
		t.Fatalf("got %v, want an active pro license", lic)
	}
	limits := lic["limits"].(map[string]any)
	if limits["users"] != float64(25) || limits["apiCalls"] != float64(1000) {
		t.Fatalf("got limits %v, want users overridden and apiCalls from the plan", limits)
	}
	exp, _ := time.Parse(time.RFC3339, lic["expiresAt"].(string))
	if d := time.Until(exp); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Fatalf("got expiry in %v, want the plan's 365 days", d)
	}
	// The key is not stored in clear.
	var n int
	if err := f.store.Pool.QueryRow(context.Background(),
		"SELECT count(*) FROM license_keys WHERE position(convert_to($1, 'UTF8') in key_sealed) > 0", key[4:40]).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("the key is stored in clear")
	}
}

func TestLicenseActionsChangeEffectiveStatus(t *testing.T) {
	f := newFixture(t)
	id, _ := f.issue(map[string]any{"plan": "pro", "startsAt": time.Now().AddDate(0, 0, -10).Format(time.RFC3339)})
	path := "/api/licenses/" + id
	step := func(method, p string, body any, wantStatus string) map[string]any {
		t.Helper()
		r := f.do(method, p, f.admin, body)
		if r.Status != 200 {
			t.Fatalf("%s %s: got %d %s", method, p, r.Status, r.Body)
		}
		m := r.JSON(t)
		if lic, ok := m["license"].(map[string]any); ok {
			m = lic
		}
		if m["status"] != wantStatus {
			t.Fatalf("%s %s: got status %v, want %s", method, p, m["status"], wantStatus)
		}
		return m
	}
	m := step("POST", path+"/suspend", map[string]any{"reason": "chargeback"}, "suspended")
	if m["suspendedReason"] != "chargeback" {
		t.Fatalf("got reason %v", m["suspendedReason"])
	}
	step("POST", path+"/reactivate", nil, "active")
	past := time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)
	step("PATCH", path, map[string]any{"expiresAt": past}, "grace")
	step("PATCH", path, map[string]any{"graceDays": 0}, "expired")
	m = step("POST", path+"/renew", map[string]any{"days": 30}, "active")
	exp, _ := time.Parse(time.RFC3339, m["expiresAt"].(string))
	if d := time.Until(exp); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Fatalf("renew by days from an expired license: expiry in %v, want about 30 days from now", d)
	}
	future := time.Now().AddDate(1, 0, 0).UTC().Truncate(time.Second)
	m = step("POST", path+"/renew", map[string]any{"expiresAt": future.Format(time.RFC3339)}, "active")
	if got, _ := time.Parse(time.RFC3339, m["expiresAt"].(string)); !got.Equal(future) {
		t.Fatalf("renew by date: got %v, want %v", got, future)
	}
	m = step("PATCH", path, map[string]any{"features": []string{"sso"}, "maxDeployments": nil}, "active")
	if m["maxDeployments"] != nil || len(m["features"].([]any)) != 1 {
		t.Fatalf("patch entitlements: got %v", m)
	}
	step("POST", path+"/revoke", nil, "revoked")
	wantError(t, f.do("POST", path+"/reactivate", f.admin, nil), 409, "conflict")
	wantError(t, f.do("POST", path+"/renew", f.admin, map[string]any{"days": 3}), 409, "conflict")

	// Every change left one audit row, in order.
	rows, err := f.store.Pool.Query(context.Background(),
		"SELECT action FROM audit_log WHERE entity_type = 'license' AND entity_id = $1 ORDER BY seq", id)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for rows.Next() {
		var a string
		_ = rows.Scan(&a)
		actions = append(actions, a)
	}
	want := "license.create license.suspend license.reactivate license.update license.update license.renew license.renew license.update license.revoke"
	if strings.Join(actions, " ") != want {
		t.Fatalf("got audit actions %v, want %s", actions, want)
	}
}

func TestLicenseListFilters(t *testing.T) {
	f := newFixture(t)
	a, _ := f.issue(map[string]any{"plan": "pro"})
	b, _ := f.issue(map[string]any{"plan": "five"})
	c, key := f.issue(map[string]any{"plan": "forever", "notes": "reseller deal"})
	if r := f.do("POST", "/api/licenses/"+b+"/suspend", f.admin, map[string]any{"reason": "audit"}); r.Status != 200 {
		t.Fatal(string(r.Body))
	}
	ids := func(path string) []string {
		t.Helper()
		r := f.do("GET", path, f.admin, nil)
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", path, r.Status, r.Body)
		}
		var out []string
		for _, l := range r.JSON(t)["data"].([]any) {
			out = append(out, l.(map[string]any)["id"].(string))
		}
		return out
	}
	cases := []struct {
		path string
		want []string
	}{
		{"/api/licenses", []string{c, b, a}},
		{"/api/licenses?status=suspended", []string{b}},
		{"/api/licenses?status=active", []string{c, a}},
		{"/api/licenses?plan=pro", []string{a}},
		{"/api/licenses?customerId=" + f.customerID, []string{c, b, a}},
		{"/api/licenses?q=reseller", []string{c}},
		{"/api/licenses?q=" + c, []string{c}},
		{"/api/licenses?q=" + key[len(key)-8:], []string{c}},
		{"/api/licenses?expiresWithinDays=400", []string{a}},
	}
	for _, tc := range cases {
		if got := ids(tc.path); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: got %v, want %v", tc.path, got, tc.want)
		}
	}
	wantError(t, f.do("GET", "/api/licenses?status=bogus", f.admin, nil), 422, "invalid")
}

func TestLicenseBadInput(t *testing.T) {
	f := newFixture(t)
	id, _ := f.issue(map[string]any{"plan": "pro"})
	cases := []struct {
		name   string
		method string
		path   string
		body   any
		status int
	}{
		{"no customer", "POST", "/api/licenses", map[string]any{"plan": "pro"}, 422},
		{"unknown customer", "POST", "/api/licenses", map[string]any{"plan": "pro", "customerId": "6d1f2a1e-0000-4000-8000-000000000000"}, 422},
		{"unknown plan", "POST", "/api/licenses", map[string]any{"plan": "gold", "customerId": f.customerID}, 422},
		{"negative seats", "POST", "/api/licenses", map[string]any{"plan": "pro", "customerId": f.customerID, "maxDeployments": -2}, 422},
		{"expiry before start", "POST", "/api/licenses", map[string]any{"plan": "pro", "customerId": f.customerID,
			"startsAt": "2030-01-01T00:00:00Z", "expiresAt": "2029-01-01T00:00:00Z"}, 422},
		{"bad time", "POST", "/api/licenses", `{"plan":"pro","customerId":"` + f.customerID + `","expiresAt":"tomorrow"}`, 422},
		{"bad feature", "POST", "/api/licenses", map[string]any{"plan": "pro", "customerId": f.customerID, "features": []string{"has space"}}, 422},
		{"suspend without reason", "POST", "/api/licenses/" + id + "/suspend", map[string]any{}, 422},
		{"renew with both", "POST", "/api/licenses/" + id + "/renew", map[string]any{"days": 3, "expiresAt": "2031-01-01T00:00:00Z"}, 422},
		{"renew zero days", "POST", "/api/licenses/" + id + "/renew", map[string]any{"days": 0}, 422},
		{"renew into the past", "POST", "/api/licenses/" + id + "/renew", map[string]any{"expiresAt": "2001-01-01T00:00:00Z"}, 422},
		{"patch plan", "PATCH", "/api/licenses/" + id, map[string]any{"plan": "five"}, 422},
		{"unknown license", "POST", "/api/licenses/6d1f2a1e-0000-4000-8000-000000000000/revoke", nil, 404},
		{"unknown deployment", "DELETE", "/api/licenses/" + id + "/deployments/ghost", nil, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := countRows(t, f.testEnv, "licenses") + countRows(t, f.testEnv, "audit_log")
			code := map[int]string{404: "not_found", 409: "conflict", 422: "invalid"}[tc.status]
			wantError(t, f.do(tc.method, tc.path, f.admin, tc.body), tc.status, code)
			if after := countRows(t, f.testEnv, "licenses") + countRows(t, f.testEnv, "audit_log"); after != before {
				t.Fatalf("rows changed from %d to %d", before, after)
			}
		})
	}
}

func TestRekeyRetiresTheOldKey(t *testing.T) {
	f := newFixture(t)
	id, oldKey := f.issue(map[string]any{"plan": "pro"})
	r := f.do("POST", "/api/licenses/"+id+"/rekey", f.admin, nil)
	if r.Status != 200 {
		t.Fatalf("rekey: %d %s", r.Status, r.Body)
	}
	newKey := r.JSON(t)["licenseKey"].(string)
	if newKey == oldKey {
		t.Fatal("rekey returned the same key")
	}
	if v := validate(t, f.testEnv, oldKey, "d1", nil); v["valid"] != false || v["code"] != "REVOKED" {
		t.Fatalf("old key: got %v %v, want REVOKED", v["valid"], v["code"])
	}
	if v := validate(t, f.testEnv, newKey, "d1", nil); v["valid"] != true {
		t.Fatalf("new key: got %v %v, want valid", v["valid"], v["code"])
	}
}
