package handlers_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
)

func countRows(t *testing.T, e *testEnv, table string) int {
	t.Helper()
	var n int
	if err := e.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCustomersLifecycle(t *testing.T) {
	e := newEnv(t)
	key := e.apiKey("customers:read", "customers:write")

	r := e.do("POST", "/api/customers", key, map[string]any{"name": "Acme", "email": "ops@acme.example",
		"company": "Acme GmbH", "metadata": map[string]any{"crm": "A-1"}})
	if r.Status != 201 {
		t.Fatalf("create: got %d %s, want 201", r.Status, r.Body)
	}
	created := r.JSON(t)
	id := created["id"].(string)
	for _, f := range []string{"id", "name", "email", "company", "stripeCustomerId", "createdAt"} {
		if _, ok := created[f]; !ok {
			t.Errorf("customer lacks %q: %s", f, r.Body)
		}
	}

	r = e.do("GET", "/api/customers/"+id, key, nil)
	if r.Status != 200 || r.JSON(t)["email"] != "ops@acme.example" {
		t.Fatalf("get: got %d %s", r.Status, r.Body)
	}
	r = e.do("PATCH", "/api/customers/"+id, key, map[string]any{"name": "Acme Robotics"})
	if r.Status != 200 || r.JSON(t)["name"] != "Acme Robotics" || r.JSON(t)["email"] != "ops@acme.example" {
		t.Fatalf("patch: got %d %s, want the name changed and the email kept", r.Status, r.Body)
	}
	r = e.do("POST", "/api/customers/"+id+"/archive", key, nil)
	if r.Status != 200 || r.JSON(t)["archivedAt"] == nil {
		t.Fatalf("archive: got %d %s", r.Status, r.Body)
	}
	// Archived customers leave the default list but stay reachable.
	r = e.do("GET", "/api/customers", key, nil)
	if n := len(r.JSON(t)["data"].([]any)); n != 0 {
		t.Fatalf("list after archive: got %d customers, want 0", n)
	}
	r = e.do("GET", "/api/customers?archived=true", key, nil)
	if n := len(r.JSON(t)["data"].([]any)); n != 1 {
		t.Fatalf("list with archived: got %d customers, want 1", n)
	}
	// Each change left one audit row.
	var n int
	if err := e.store.Pool.QueryRow(context.Background(),
		"SELECT count(*) FROM audit_log WHERE entity_type = 'customer' AND entity_id = $1", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("got %d audit rows for the customer, want 3 (create, update, archive)", n)
	}
}

func TestCustomersPaginationAndSearch(t *testing.T) {
	e := newEnv(t)
	key := e.apiKey("admin")
	for i := 0; i < 7; i++ {
		r := e.do("POST", "/api/customers", key, map[string]any{"name": fmt.Sprintf("Customer %d", i),
			"email": fmt.Sprintf("c%d@example.com", i)})
		if r.Status != 201 {
			t.Fatal(string(r.Body))
		}
	}
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		path := "/api/customers?limit=3"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		m := e.do("GET", path, key, nil).JSON(t)
		pages++
		for _, c := range m["data"].([]any) {
			id := c.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("customer %s appeared twice", id)
			}
			seen[id] = true
		}
		if m["nextCursor"] == nil {
			break
		}
		cursor = m["nextCursor"].(string)
	}
	if len(seen) != 7 || pages != 3 {
		t.Fatalf("got %d customers over %d pages, want 7 over 3", len(seen), pages)
	}
	m := e.do("GET", "/api/customers?q=customer%205", key, nil).JSON(t)
	if n := len(m["data"].([]any)); n != 1 {
		t.Fatalf("search: got %d, want 1", n)
	}
	// LIKE wildcards in the query are literal.
	m = e.do("GET", "/api/customers?q=%25", key, nil).JSON(t)
	if n := len(m["data"].([]any)); n != 0 {
		t.Fatalf("search for %%: got %d, want 0", n)
	}
}

func TestCustomersBadInput(t *testing.T) {
	e := newEnv(t)
	key := e.apiKey("admin")
	cases := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"malformed JSON", "POST", "/api/customers", `{"name":`, 400, "malformed"},
		{"not an object", "POST", "/api/customers", `[1,2]`, 400, "malformed"},
		{"trailing data", "POST", "/api/customers", `{"name":"a","email":"a@b.example"} {}`, 400, "malformed"},
		{"empty body", "POST", "/api/customers", ``, 400, "malformed"},
		{"wrong type", "POST", "/api/customers", `{"name": ["a"], "email": "a@b.example"}`, 422, "invalid"},
		{"missing name", "POST", "/api/customers", map[string]any{"email": "a@b.example"}, 422, "invalid"},
		{"bad email", "POST", "/api/customers", map[string]any{"name": "A", "email": "not-an-email"}, 422, "invalid"},
		{"metadata not object", "POST", "/api/customers", `{"name":"A","email":"a@b.example","metadata":[1]}`, 422, "invalid"},
		{"unknown id", "GET", "/api/customers/6d1f2a1e-0000-4000-8000-000000000000", nil, 404, "not_found"},
		{"malformed id", "GET", "/api/customers/nope", nil, 404, "not_found"},
		{"patch unknown", "PATCH", "/api/customers/6d1f2a1e-0000-4000-8000-000000000000", map[string]any{"name": "x"}, 404, "not_found"},
		{"bad limit", "GET", "/api/customers?limit=500", nil, 422, "invalid"},
		{"bad cursor", "GET", "/api/customers?cursor=%%%", nil, 422, "invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := countRows(t, e, "customers") + countRows(t, e, "audit_log")
			m := wantError(t, e.do(tc.method, tc.path, key, tc.body), tc.status, tc.code)
			if tc.status == 422 && len(m["error"].(map[string]any)["details"].([]any)) == 0 && tc.name != "bad cursor" && tc.name != "bad limit" {
				t.Fatalf("422 without a named field: %v", m)
			}
			if after := countRows(t, e, "customers") + countRows(t, e, "audit_log"); after != before {
				t.Fatalf("rows changed from %d to %d", before, after)
			}
		})
	}
}

func TestAPIKeyAuth(t *testing.T) {
	e := newEnv(t)
	readOnly := e.apiKey("customers:read")
	wantError(t, e.do("GET", "/api/customers", "", nil), 401, "unauthorized")
	wantError(t, e.do("GET", "/api/customers", "nls_unknown", nil), 401, "unauthorized")
	wantError(t, e.do("POST", "/api/customers", readOnly, map[string]any{"name": "A", "email": "a@b.example"}), 403, "forbidden")
	wantError(t, e.do("GET", "/api/audit", readOnly, nil), 403, "forbidden")
	// A revoked key stops working at once.
	var id string
	if err := e.store.Pool.QueryRow(context.Background(), "SELECT id::text FROM api_keys").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/api/customers", readOnly, nil); r.Status != 200 {
		t.Fatalf("before revoking: got %d", r.Status)
	}
	var lastUsed *string
	if err := e.store.Pool.QueryRow(context.Background(), "SELECT last_used_at::text FROM api_keys").Scan(&lastUsed); err != nil || lastUsed == nil {
		t.Fatalf("last_used_at not kept: %v %v", lastUsed, err)
	}
	if _, err := e.store.Pool.Exec(context.Background(), "UPDATE api_keys SET revoked_at = now()"); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.do("GET", "/api/customers", readOnly, nil), 401, "unauthorized")
}
