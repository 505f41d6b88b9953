package handlers_test

import (
	"context"
	"slices"
	"testing"
)

// Every change the vendor cares about, made through the API and the machine
// API, records its domain event with the ids concerned.
func TestChangesRecordTheirEvents(t *testing.T) {
	e := newEnv(t)
	f := &fixture{testEnv: e, admin: e.apiKey("admin")}
	r := e.do("POST", "/api/customers", f.admin, map[string]any{"name": "Acme Corp", "email": "ops@acme.example"})
	if r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	f.customerID = r.JSON(t)["id"].(string)
	if r := e.do("PATCH", "/api/customers/"+f.customerID, f.admin, map[string]any{"company": "Acme GmbH"}); r.Status != 200 {
		t.Fatal(string(r.Body))
	}
	if r := e.do("POST", "/api/plans", f.admin, map[string]any{"code": "pro", "name": "Pro", "maxDeployments": 2,
		"durationDays": 365}); r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	lic, key := f.issue(map[string]any{"plan": "pro"})
	steps := []struct{ method, path string }{
		{"POST", "/api/licenses/" + lic + "/suspend"},
		{"POST", "/api/licenses/" + lic + "/reactivate"},
		{"POST", "/api/licenses/" + lic + "/renew"},
		{"PATCH", "/api/licenses/" + lic},
	}
	bodies := []map[string]any{{"reason": "test"}, nil, {"days": 30}, {"notes": "changed"}}
	for i, s := range steps {
		if r := e.do(s.method, s.path, f.admin, bodies[i]); r.Status != 200 {
			t.Fatalf("%s %s: %d %s", s.method, s.path, r.Status, r.Body)
		}
	}
	if got := e.validate(key, "node-1"); got != "VALID" {
		t.Fatalf("validate: %s", got)
	}
	e.validate(key, "node-1") // the same installation again: no second activation
	if r := e.do("DELETE", "/api/licenses/"+lic+"/deployments/node-1", f.admin, nil); r.Status != 200 {
		t.Fatal(string(r.Body))
	}
	r = e.do("POST", "/api/licenses/"+lic+"/rekey", f.admin, nil)
	if r.Status != 200 {
		t.Fatal(string(r.Body))
	}
	if r := e.do("POST", "/api/licenses/"+lic+"/revoke", f.admin, nil); r.Status != 200 {
		t.Fatal(string(r.Body))
	}

	rows, err := e.store.Pool.Query(context.Background(), `SELECT type, coalesce(license_id::text, ''), customer_id::text,
		deployment_id IS NOT NULL FROM events ORDER BY occurred_at, id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var types []string
	for rows.Next() {
		var typ, licID, custID string
		var hasDep bool
		if err := rows.Scan(&typ, &licID, &custID, &hasDep); err != nil {
			t.Fatal(err)
		}
		types = append(types, typ)
		if custID != f.customerID || (typ != "customer.created" && typ != "customer.updated" && licID != lic) {
			t.Errorf("%s: license %q customer %q, want %s and %s", typ, licID, custID, lic, f.customerID)
		}
		if hasDep != (typ == "deployment.activated" || typ == "deployment.released") {
			t.Errorf("%s: deployment id set %v", typ, hasDep)
		}
	}
	slices.Sort(types)
	want := []string{"customer.created", "customer.updated", "deployment.activated", "deployment.released",
		"license.created", "license.reactivated", "license.rekeyed", "license.renewed", "license.revoked",
		"license.suspended", "license.updated"}
	if !slices.Equal(types, want) {
		t.Fatalf("events %q,\nwant %q", types, want)
	}
}
