package handlers_test

import (
	"testing"
)

func TestPlansLifecycle(t *testing.T) {
	e := newEnv(t)
	key := e.apiKey("admin")
	r := e.do("POST", "/api/plans", key, map[string]any{"code": "pro", "name": "Pro", "features": []string{"sso", "sso", "api"},
		"limits": map[string]any{"users": 50}, "maxDeployments": 3, "durationDays": 365, "stripePriceIds": []string{"price_pro_m"},
		"quantitySets": "users"})
	if r.Status != 201 {
		t.Fatalf("create: got %d %s", r.Status, r.Body)
	}
	p := r.JSON(t)
	if p["graceDays"] != float64(7) || p["offlineDays"] != float64(30) || p["dunningDays"] != float64(14) {
		t.Fatalf("defaults not applied: %s", r.Body)
	}
	if f := p["features"].([]any); len(f) != 2 {
		t.Fatalf("got features %v, want duplicates removed", f)
	}
	id := p["id"].(string)

	wantError(t, e.do("POST", "/api/plans", key, map[string]any{"code": "pro", "name": "Again"}), 409, "conflict")
	wantError(t, e.do("POST", "/api/plans", key, map[string]any{"code": "other", "name": "Other",
		"stripePriceIds": []string{"price_pro_m"}}), 409, "conflict")

	r = e.do("PATCH", "/api/plans/pro", key, map[string]any{"graceDays": 10, "maxDeployments": nil})
	if r.Status != 200 {
		t.Fatalf("patch: got %d %s", r.Status, r.Body)
	}
	p = r.JSON(t)
	if p["graceDays"] != float64(10) || p["maxDeployments"] != nil || p["durationDays"] != float64(365) {
		t.Fatalf("patch: got %s, want grace 10, unlimited seats, duration kept", r.Body)
	}
	if r := e.do("GET", "/api/plans/"+id, key, nil); r.Status != 200 || r.JSON(t)["code"] != "pro" {
		t.Fatalf("get by id: %d %s", r.Status, r.Body)
	}
	m := e.do("GET", "/api/plans", key, nil).JSON(t)
	if len(m["data"].([]any)) != 1 || m["nextCursor"] != nil {
		t.Fatalf("list: %v", m)
	}
}

func TestPlansBadInput(t *testing.T) {
	e := newEnv(t)
	key := e.apiKey("admin")
	reader := e.apiKey("licenses:read")
	cases := []struct {
		name   string
		key    string
		body   any
		status int
		code   string
	}{
		{"missing code", key, map[string]any{"name": "X"}, 422, "invalid"},
		{"bad code", key, map[string]any{"code": "Bad Code", "name": "X"}, 422, "invalid"},
		{"negative seats", key, map[string]any{"code": "x", "name": "X", "maxDeployments": -1}, 422, "invalid"},
		{"negative limit", key, map[string]any{"code": "x", "name": "X", "limits": map[string]any{"users": -5}}, 422, "invalid"},
		{"fractional limit", key, `{"code":"x","name":"X","limits":{"users":1.5}}`, 422, "invalid"},
		{"bad quantity target", key, map[string]any{"code": "x", "name": "X", "quantitySets": "cores"}, 422, "invalid"},
		{"string seats", key, `{"code":"x","name":"X","maxDeployments":"3"}`, 422, "invalid"},
		{"offline days zero", key, map[string]any{"code": "x", "name": "X", "offlineDays": 0}, 422, "invalid"},
		{"no admin scope", reader, map[string]any{"code": "x", "name": "X"}, 403, "forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.do("POST", "/api/plans", tc.key, tc.body), tc.status, tc.code)
			if n := countRows(t, e, "plans"); n != 0 {
				t.Fatalf("got %d plans, want none stored", n)
			}
		})
	}
	wantError(t, e.do("GET", "/api/plans/nope", key, nil), 404, "not_found")
}
