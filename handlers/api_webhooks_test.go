package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/webhooks"
)

func allowPrivate(c *handlers.Config) {
	c.Webhooks = handlers.WebhooksConfig{Guard: webhooks.Guard{AllowPrivate: true}}
}

func newConformance(t *testing.T, e *testEnv) *conformance {
	t.Helper()
	doc, _ := loadOpenAPI(t, e, true)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &conformance{t: t, e: e, router: router,
		opts: &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
}

func TestWebhookEndpointAPI(t *testing.T) {
	e := newEnv(t, allowPrivate)
	c := newConformance(t, e)
	key := e.apiKey("webhooks:read", "webhooks:write")
	created := c.check("POST", "/api/webhook-endpoints", key, map[string]any{"url": "http://127.0.0.1:9/hook",
		"description": "CRM", "events": []string{"license.suspended", "customer.created"}}, 201)
	secret, _ := created["secret"].(string)
	ep := created["endpoint"].(map[string]any)
	id := ep["id"].(string)
	if !strings.HasPrefix(secret, "whsec_") || ep["enabled"] != true || ep["url"] != "http://127.0.0.1:9/hook" {
		t.Fatalf("created %v", created)
	}
	if evs := ep["events"].([]any); len(evs) != 2 || evs[0] != "license.suspended" || evs[1] != "customer.created" {
		t.Errorf("events %v, want the two in catalogue order", evs)
	}
	got := c.check("GET", "/api/webhook-endpoints/"+id, key, nil, 200)
	list := c.check("GET", "/api/webhook-endpoints?limit=1", key, nil, 200)
	if data := list["data"].([]any); len(data) != 1 {
		t.Errorf("list %v", list)
	}
	for _, r := range []string{"/api/webhook-endpoints/" + id, "/api/webhook-endpoints"} {
		if body := e.do("GET", r, key, nil).Body; strings.Contains(string(body), strings.TrimPrefix(secret, "whsec_")) {
			t.Errorf("GET %s shows the secret", r)
		}
	}
	if got["description"] != "CRM" {
		t.Errorf("got %v", got)
	}
	off := c.check("PATCH", "/api/webhook-endpoints/"+id, key, map[string]any{"enabled": false, "events": []string{"*"}}, 200)
	if off["enabled"] != false || off["disabledReason"] == "" || off["events"].([]any)[0] != "*" {
		t.Errorf("after disabling: %v", off)
	}
	rotated := c.check("POST", "/api/webhook-endpoints/"+id+"/rotate-secret", key, nil, 200)
	if s := rotated["secret"].(string); s == secret || !strings.HasPrefix(s, "whsec_") {
		t.Errorf("rotated secret %q", s)
	}
	until, err := time.Parse(time.RFC3339, rotated["endpoint"].(map[string]any)["previousSecretExpiresAt"].(string))
	if err != nil || until.Sub(time.Now()) < 23*time.Hour || until.Sub(time.Now()) > 25*time.Hour {
		t.Errorf("previous secret expires %v, want in 24 h", until)
	}
	ping := c.check("POST", "/api/webhook-endpoints/"+id+"/ping", key, nil, 202)
	dels := c.check("GET", "/api/webhook-endpoints/"+id+"/deliveries", key, nil, 200)
	d := dels["data"].([]any)
	if len(d) != 1 || d[0].(map[string]any)["eventType"] != "ping" || d[0].(map[string]any)["id"] != ping["deliveryId"] {
		t.Fatalf("deliveries %v, want the ping", dels)
	}
	c.check("POST", "/api/webhook-endpoints/"+id+"/deliveries/"+ping["deliveryId"].(string)+"/resend", key, nil, 202)
	if d := c.check("GET", "/api/webhook-endpoints/"+id+"/deliveries?status=pending&limit=10", key, nil, 200)["data"].([]any); len(d) != 2 {
		t.Errorf("%d pending deliveries after a resend, want 2", len(d))
	}
	if d := c.check("GET", "/api/webhook-endpoints/"+id+"/deliveries?status=delivered", key, nil, 200)["data"].([]any); len(d) != 0 {
		t.Errorf("%d delivered, want 0", len(d))
	}
	c.check("GET", "/api/webhook-endpoints/"+id+"/deliveries?status=bogus", key, nil, 422)
	c.check("POST", "/api/webhook-endpoints/"+id+"/replay", key, map[string]any{"since": time.Now().Add(-time.Hour)}, 202)
	c.check("POST", "/api/webhook-endpoints/"+id+"/replay", key, map[string]any{"since": time.Now().Add(time.Hour)}, 422)

	// Scopes: reading needs webhooks:read, changing webhooks:write.
	reader := e.apiKey("webhooks:read")
	c.check("GET", "/api/webhook-endpoints/"+id, reader, nil, 200)
	c.check("PATCH", "/api/webhook-endpoints/"+id, reader, map[string]any{"enabled": true}, 403)
	c.check("GET", "/api/webhook-endpoints", e.apiKey("licenses:read"), nil, 403)

	c.check("DELETE", "/api/webhook-endpoints/"+id, key, nil, 204)
	c.check("GET", "/api/webhook-endpoints/"+id, key, nil, 404)
	c.check("GET", "/api/webhook-endpoints/"+id+"/deliveries", key, nil, 404)

	var leaked int
	if err := e.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE before::text LIKE '%'||$1||'%'
		OR after::text LIKE '%'||$1||'%'`, strings.TrimPrefix(secret, "whsec_")).Scan(&leaked); err != nil {
		t.Fatal(err)
	}
	var audited int
	if err := e.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE entity_type = 'webhook_endpoint'`).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if leaked != 0 || audited < 5 {
		t.Errorf("audit: %d rows with the secret, %d rows about the endpoint; want 0 and create, update, rotate, replay, delete", leaked, audited)
	}
}

func TestWebhookEndpointAPIRefusesBadInputAndChangesNothing(t *testing.T) {
	e := newEnv(t)
	c := newConformance(t, e)
	key := e.apiKey("webhooks:read", "webhooks:write")
	good := "https://93.184.216.34/nls"
	counts := func() (endpoints, audit int) {
		if err := e.store.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM webhook_endpoints),
			(SELECT count(*) FROM audit_log)`).Scan(&endpoints, &audit); err != nil {
			t.Fatal(err)
		}
		return
	}
	ep0, au0 := counts()
	cases := []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"not a URL", map[string]any{"url": "not a url", "events": []string{"*"}}, 422, "url"},
		{"loopback", map[string]any{"url": "http://127.0.0.1/", "events": []string{"*"}}, 422, "url"},
		{"loopback https", map[string]any{"url": "https://127.0.0.1:8443/", "events": []string{"*"}}, 422, "url"},
		{"metadata", map[string]any{"url": "https://169.254.169.254/latest/meta-data", "events": []string{"*"}}, 422, "url"},
		{"IPv6 loopback", map[string]any{"url": "https://[::1]/", "events": []string{"*"}}, 422, "url"},
		{"mapped loopback", map[string]any{"url": "https://[::ffff:127.0.0.1]/", "events": []string{"*"}}, 422, "url"},
		{"private", map[string]any{"url": "https://10.0.0.8/", "events": []string{"*"}}, 422, "url"},
		{"localhost", map[string]any{"url": "https://localhost/", "events": []string{"*"}}, 422, "url"},
		{"plain http", map[string]any{"url": "http://93.184.216.34/", "events": []string{"*"}}, 422, "url"},
		{"unknown event type", map[string]any{"url": good, "events": []string{"license.exploded"}}, 422, "events"},
		{"no event types", map[string]any{"url": good, "events": []string{}}, 422, "events"},
		{"events missing", map[string]any{"url": good}, 422, "events"},
		{"oversized description", map[string]any{"url": good, "events": []string{"*"}, "description": strings.Repeat("x", 501)}, 422, "description"},
		{"unknown field", map[string]any{"url": good, "events": []string{"*"}, "secret": "whsec_mine"}, 422, "secret"},
		{"wrong type", map[string]any{"url": good, "events": "license.created"}, 422, "events"},
		{"not JSON", "{", 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/api/webhook-endpoints", key, tc.body)
			code := map[int]string{400: "malformed", 422: "invalid"}[tc.status]
			m := wantError(t, r, tc.status, code)
			if tc.field != "" {
				found := false
				for _, d := range m["error"].(map[string]any)["details"].([]any) {
					found = found || d.(map[string]any)["field"] == tc.field
				}
				if !found {
					t.Errorf("details %v do not name %s", m["error"], tc.field)
				}
			}
			if ep, au := counts(); ep != ep0 || au != au0 {
				t.Errorf("a refused request changed something: %d endpoints, %d audit rows", ep-ep0, au-au0)
			}
		})
	}
	c.check("POST", "/api/webhook-endpoints", key, map[string]any{"url": "https://169.254.169.254/", "events": []string{"*"}}, 422)

	// An edit refused leaves the endpoint as it was.
	created := c.check("POST", "/api/webhook-endpoints", key, map[string]any{"url": good, "events": []string{"license.created"}}, 201)
	id := created["endpoint"].(map[string]any)["id"].(string)
	before := e.do("GET", "/api/webhook-endpoints/"+id, key, nil).Body
	_, au1 := counts()
	for _, body := range []map[string]any{
		{"url": "https://127.0.0.1/"},
		{"events": []string{"*", "nope"}, "description": "x"},
		{"description": strings.Repeat("é", 501)},
		{"url": "https://[fe80::1]/", "enabled": false},
	} {
		wantError(t, e.do("PATCH", "/api/webhook-endpoints/"+id, key, body), 422, "invalid")
	}
	if after := e.do("GET", "/api/webhook-endpoints/"+id, key, nil).Body; string(after) != string(before) {
		t.Errorf("refused edits changed the endpoint:\n%s\n%s", before, after)
	}
	if _, au := counts(); au != au1 {
		t.Errorf("refused edits wrote %d audit rows", au-au1)
	}
}
