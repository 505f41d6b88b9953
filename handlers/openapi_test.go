package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/handlers"
)

// loadOpenAPI fetches GET /api/openapi.json and loads it. With strict set,
// every object schema that says nothing about additionalProperties is made
// closed first, so that a field the code answers but the document leaves
// out fails the response checks (the published document stays open, so
// clients tolerate fields added later).
func loadOpenAPI(t *testing.T, e *testEnv, strict bool) (*openapi3.T, *openapi3.Loader) {
	t.Helper()
	r := e.do("GET", "/api/openapi.json", "", nil)
	if r.Status != 200 {
		t.Fatalf("GET /api/openapi.json: got %d %s", r.Status, r.Body)
	}
	data := r.Body
	if strict {
		var raw any
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatal(err)
		}
		closeObjects(raw)
		var err error
		if data, err = json.Marshal(raw); err != nil {
			t.Fatal(err)
		}
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		t.Fatalf("loading the document: %v", err)
	}
	return doc, loader
}

func closeObjects(v any) {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["properties"].(map[string]any); ok {
			if _, set := x["additionalProperties"]; !set {
				x["additionalProperties"] = false
			}
		}
		for _, c := range x {
			closeObjects(c)
		}
	case []any:
		for _, c := range x {
			closeObjects(c)
		}
	}
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/openapi.json", "", nil)
	if r.Status != 200 {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Fatalf("Cache-Control %q, want public, max-age=300", cc)
	}
	if !json.Valid(r.Body) {
		t.Fatal("the document is not JSON")
	}
	doc, loader := loadOpenAPI(t, e, false)
	if !doc.IsOpenAPI31OrLater() || !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	if _, err := gorillamux.NewRouter(doc); err != nil {
		t.Fatalf("no router can be built from the document: %v", err)
	}
	tags := map[string]bool{"customers": true, "plans": true, "licenses": true, "deployments": true, "usage": true,
		"dashboard": true, "audit": true, "machine": true, "stripe": true, "keys": true, "meta": true,
		"releases": true, "registry": true, "webhooks": true}
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" || op.Summary == "" || len(op.Tags) != 1 || !tags[op.Tags[0]] {
				t.Errorf("%s: wants an operationId, a summary and one known tag (got %q %q %v)", where, op.OperationID, op.Summary, op.Tags)
			}
			if prev, dup := ids[op.OperationID]; dup {
				t.Errorf("operationId %s used by %s and %s", op.OperationID, prev, where)
			}
			ids[op.OperationID] = where
			if op.Responses.Status(500) == nil {
				t.Errorf("%s documents no 500", where)
			}
			if op.Security == nil {
				t.Errorf("%s says nothing about security", where)
			}
			if op.Security != nil && len(*op.Security) > 0 {
				for _, st := range []int{401, 403, 429} {
					if op.Responses.Status(st) == nil {
						t.Errorf("%s needs an API key but documents no %d", where, st)
					}
				}
			}
			if r := op.Responses.Status(429); r != nil && r.Value.Headers["Retry-After"] == nil {
				t.Errorf("%s: 429 without Retry-After", where)
			}
		}
	}
}

// docPath turns a Fiber route path into an OpenAPI path: /x/:id → /x/{id}.
func docPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = "{" + strings.TrimSuffix(s[1:], "?") + "}"
		}
	}
	return strings.Join(parts, "/")
}

func TestOpenAPICoversEveryRoute(t *testing.T) {
	e := newEnv(t)
	doc, _ := loadOpenAPI(t, e, false)
	served := map[string]bool{}
	for _, r := range e.app.GetRoutes(true) {
		if r.Method == http.MethodHead || r.Method == http.MethodOptions || r.Method == "USE" || r.Method == "CONNECT" || r.Method == "TRACE" {
			continue
		}
		if r.Path != "/api" && !strings.HasPrefix(r.Path, "/api/") && !strings.HasPrefix(r.Path, "/.well-known/") {
			continue
		}
		served[r.Method+" "+docPath(r.Path)] = true
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	var missing, stale []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if served[k] {
			continue
		}
		// Documented routes outside /api (health) must be served too.
		method, path, _ := strings.Cut(k, " ")
		if !strings.HasPrefix(path, "/api/") && routeServed(e, method, path) {
			continue
		}
		stale = append(stale, k)
	}
	sort.Strings(missing)
	sort.Strings(stale)
	for _, k := range missing {
		t.Errorf("route %s is served but not in the OpenAPI document", k)
	}
	for _, k := range stale {
		t.Errorf("%s is in the OpenAPI document but no such route is served", k)
	}
}

func routeServed(e *testEnv, method, path string) bool {
	for _, r := range e.app.GetRoutes(true) {
		if r.Method == method && docPath(r.Path) == path {
			return true
		}
	}
	return false
}

// rawDo sends one request through the app and returns it, rebuilt for the
// validator, with the response and its body.
func (e *testEnv) rawDo(method, path, key string, body any) (*http.Request, *http.Response, []byte) {
	e.t.Helper()
	var payload []byte
	switch b := body.(type) {
	case nil:
	case string:
		payload = []byte(b)
	case []byte:
		payload = b
	default:
		var err error
		if payload, err = json.Marshal(b); err != nil {
			e.t.Fatal(err)
		}
	}
	build := func() *http.Request {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(payload)
		}
		req := httptest.NewRequest(method, path, rd)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		return req
	}
	res, err := e.app.Test(build(), 30_000)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	got, _ := io.ReadAll(res.Body)
	return build(), res, got
}

// conformance checks real answers against the document.
type conformance struct {
	t      *testing.T
	e      *testEnv
	router routers.Router
	opts   *openapi3filter.Options
}

// check sends a request, wants status, and validates the answer (status,
// headers, body) against the document; for a success, the request too.
// It returns the decoded body.
func (c *conformance) check(method, path, key string, body any, status int) map[string]any {
	c.t.Helper()
	req, res, got := c.e.rawDo(method, path, key, body)
	if res.StatusCode != status {
		c.t.Fatalf("%s %s: got %d %s, want %d", method, path, res.StatusCode, got, status)
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.t.Fatalf("%s %s: not in the document: %v", method, path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: c.opts}
	if status < 300 {
		if err := openapi3filter.ValidateRequest(c.t.Context(), in); err != nil {
			c.t.Errorf("%s %s: the request does not match the document: %v", method, path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode,
		Header: res.Header, Options: c.opts}
	out.SetBodyBytes(got)
	if err := openapi3filter.ValidateResponse(c.t.Context(), out); err != nil {
		c.t.Errorf("%s %s → %d: the answer does not match the document: %v\n%s", method, path, status, err, got)
	}
	var m map[string]any
	_ = json.Unmarshal(got, &m)
	return m
}

func TestOpenAPIAnswersMatchTheDocument(t *testing.T) {
	f := newFixture(t)
	doc, _ := loadOpenAPI(t, f.testEnv, true)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	c := &conformance{t: t, e: f.testEnv, router: router, opts: opts}
	admin := f.admin

	// Customers and plans.
	cust := c.check("POST", "/api/customers", admin, map[string]any{"name": "Globex", "email": "it@globex.example",
		"company": "Globex Corp", "metadata": map[string]any{"tier": "gold"}}, 201)
	custID := cust["id"].(string)
	c.check("GET", "/api/customers?limit=1", admin, nil, 200)
	c.check("GET", "/api/customers?q=globex&archived=true", admin, nil, 200)
	c.check("GET", "/api/customers/"+custID, admin, nil, 200)
	c.check("PATCH", "/api/customers/"+custID, admin, map[string]any{"company": "Globex Inc", "stripeCustomerId": "cus_123"}, 200)
	c.check("GET", "/api/plans", admin, nil, 200)
	c.check("GET", "/api/plans/pro", admin, nil, 200)
	c.check("PATCH", "/api/plans/five", admin, map[string]any{"description": "Five seats", "durationDays": nil,
		"stripePriceIds": []string{"price_5"}, "quantitySets": "deployments"}, 200)
	c.check("POST", "/api/plans", admin, map[string]any{"code": "pro", "name": "Again"}, 409)

	// Licenses.
	created := c.check("POST", "/api/licenses", admin, map[string]any{"customerId": f.customerID, "plan": "pro",
		"limits": map[string]any{"users": 5, "apiCalls": 1000}, "notes": "openapi"}, 201)
	licID := created["license"].(map[string]any)["id"].(string)
	key := created["licenseKey"].(string)
	c.check("POST", "/api/licenses", admin, map[string]any{"customerId": custID, "plan": "forever"}, 201)
	c.check("GET", "/api/licenses", admin, nil, 200)
	c.check("GET", "/api/licenses?status=active&plan=pro&customerId="+f.customerID+"&expiresWithinDays=400&limit=1", admin, nil, 200)
	c.check("GET", "/api/licenses/"+licID, admin, nil, 200)
	c.check("PATCH", "/api/licenses/"+licID, admin, map[string]any{"notes": "edited", "maxDeployments": 3}, 200)
	c.check("POST", "/api/licenses/"+licID+"/suspend", admin, map[string]any{"reason": "audit"}, 200)
	c.check("POST", "/api/licenses/"+licID+"/reactivate", admin, nil, 200)
	c.check("POST", "/api/licenses/"+licID+"/renew", admin, map[string]any{"days": 30}, 200)
	rekeyed := c.check("POST", "/api/licenses/"+licID+"/rekey", admin, nil, 200)
	key = rekeyed["licenseKey"].(string)

	// Machine API.
	v := c.check("POST", "/api/validation/validate", "", map[string]any{"licenseKey": key, "deploymentId": "dep-1",
		"hostname": "host-1", "appVersion": "1.2.3", "features": []string{"sso"}}, 200)
	if v["valid"] != true {
		t.Fatalf("validate: %v", v)
	}
	v = c.check("POST", "/api/validation/validate", "", map[string]any{"licenseKey": key, "deploymentId": "dep-1",
		"features": []string{"nope"}, "explain": true}, 200)
	if v["valid"] != false || v["code"] != "FEATURE_NOT_ENTITLED" {
		t.Fatalf("validate without the feature: %v", v)
	}
	v = c.check("POST", "/api/validation/validate", "", map[string]any{"licenseKey": "NLS-garbage-00000000", "deploymentId": "dep-1"}, 200)
	if v["valid"] != false {
		t.Fatalf("validate with a bad key: %v", v)
	}
	c.check("POST", "/api/validation/heartbeat", "", map[string]any{"licenseKey": key, "deploymentId": "dep-1"}, 200)
	now := time.Now().UTC()
	u := c.check("POST", "/api/usage/report", "", map[string]any{"licenseKey": key, "deploymentId": "dep-1",
		"reports": []map[string]any{{"id": uuid.NewString(), "periodStart": now.Add(-time.Hour).Format(time.RFC3339),
			"periodEnd": now.Format(time.RFC3339), "metrics": map[string]any{"apiCalls": 12, "users": 3}}}}, 200)
	if _, ok := u["usage"].(map[string]any)["users"]; !ok {
		t.Fatalf("usage report: %v", u)
	}
	c.check("POST", "/api/usage/report", "", map[string]any{"licenseKey": "NLS-garbage-00000000", "deploymentId": "dep-1",
		"reports": []map[string]any{{"id": uuid.NewString(), "periodStart": now.Format(time.RFC3339),
			"periodEnd": now.Format(time.RFC3339), "metrics": map[string]any{"apiCalls": 1}}}}, 401)
	c.check("POST", "/api/usage/report", "", map[string]any{"licenseKey": key, "deploymentId": "dep-1", "reports": []any{}}, 422)

	// Deployments.
	c.check("GET", "/api/licenses/"+licID+"/deployments", admin, nil, 200)
	c.check("DELETE", "/api/licenses/"+licID+"/deployments/dep-1", admin, nil, 200)
	c.check("POST", "/api/licenses/"+licID+"/deployments/dep-1/reactivate", admin, nil, 200)
	c.check("POST", "/api/validation/deactivate", "", map[string]any{"licenseKey": key, "deploymentId": "dep-1"}, 200)

	// Overview, analytics, audit.
	c.check("GET", "/api/admin/dashboard", admin, nil, 200)
	c.check("GET", "/api/usage/analytics?licenseId="+licID, admin, nil, 200)
	c.check("GET", "/api/usage/analytics?customerId="+f.customerID+"&metric=apiCalls&from="+
		now.AddDate(0, 0, -3).Format("2006-01-02")+"&to="+now.Format("2006-01-02"), admin, nil, 200)
	c.check("GET", "/api/usage/analytics", admin, nil, 422)
	audit := c.check("GET", "/api/audit?limit=2", admin, nil, 200)
	if audit["nextCursor"] == nil {
		t.Fatalf("audit: want a next page: %v", audit)
	}
	c.check("GET", "/api/audit?entityType=license&entityId="+licID+"&customerId="+f.customerID+"&from=2020-01-01", admin, nil, 200)
	c.check("POST", "/api/licenses/"+licID+"/revoke", admin, nil, 200)
	c.check("POST", "/api/licenses/"+licID+"/renew", admin, map[string]any{"days": 30}, 409)

	// Errors.
	c.check("GET", "/api/licenses/"+uuid.NewString(), admin, nil, 404)
	c.check("POST", "/api/customers", admin, map[string]any{"name": "No email"}, 422)
	c.check("POST", "/api/customers", admin, "{not json", 400)
	c.check("GET", "/api/customers", "", nil, 401)
	c.check("POST", "/api/customers", f.apiKey("licenses:read"), map[string]any{"name": "X", "email": "x@x.example"}, 403)
	c.check("GET", "/api/licenses?status=bogus", admin, nil, 422)

	// Rate limits answer 429 with Retry-After.
	limited := newEnvOn(t, f.store, func(cfg *handlers.Config) {
		cfg.APIRate = handlers.Rate{Limit: 1, Window: time.Minute}
		cfg.MachineRateIP = handlers.Rate{Limit: 1, Window: time.Minute}
	})
	lc := &conformance{t: t, e: limited, router: router, opts: opts}
	lc.check("GET", "/api/admin/dashboard", admin, nil, 200)
	lc.check("GET", "/api/admin/dashboard", admin, nil, 429)
	lc.check("POST", "/api/validation/validate", "", map[string]any{"licenseKey": key, "deploymentId": "dep-2"}, 200)
	lc.check("POST", "/api/validation/validate", "", map[string]any{"licenseKey": key, "deploymentId": "dep-2"}, 429)

	// Keys and meta.
	c.check("GET", "/.well-known/jwks.json", "", nil, 200)
	c.check("GET", "/api/openapi.json", "", nil, 200)
	c.check("GET", "/healthz", "", nil, 200)
	c.check("GET", "/readyz", "", nil, 200)
}

// A key written twice in one JSON object is legal JSON, but parsers keep only
// one of them, so the document would say two things and publish one.
func TestOpenAPIDocumentHasNoDuplicateKeys(t *testing.T) {
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if seen[key] {
					t.Errorf("%s: key %q appears twice", path, key)
				}
				seen[key] = true
				if err := walk(path + "/" + key); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s/%d", path, i)); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	if err := walk(""); err != nil {
		t.Fatal(err)
	}
}
