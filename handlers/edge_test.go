// Tests of the HTTP edge: what the server does with traffic and bytes it did
// not expect (reused buffers, bad text, foreign request ids, wrong methods,
// oversized headers), over a real listener where Fiber's buffer reuse matters.
package handlers_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/web/static"
)

// serve runs the app on a real listener for the rest of the test.
func (e *testEnv) serve() string {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	go func() { _ = e.app.Listener(ln) }()
	e.t.Cleanup(func() { _ = e.app.Shutdown() })
	return "http://" + ln.Addr().String()
}

// TestMetricsUnderKeepAliveTraffic drives mixed methods over reused
// connections, as real clients do, then checks that every series /metrics
// exports carries labels the app can produce: with labels read from Fiber's
// reused request buffer they read "GETT" or "POS" and the scrape fails.
func TestMetricsUnderKeepAliveTraffic(t *testing.T) {
	e := newEnv(t)
	base := e.serve()
	key := e.apiKey("admin")

	reqs := []struct{ method, path string }{
		{"GET", "/healthz"},
		{"POST", "/api/validation/validate"},
		{"DELETE", "/api/licenses/" + "00000000-0000-0000-0000-000000000000" + "/deployments/some-deployment"},
		{"PATCH", "/api/customers/00000000-0000-0000-0000-000000000001"},
		{"GET", "/api/customers?limit=2"},
		{"POST", "/api/customers"},
		{"OPTIONS", "/api/plans"},
		{"GET", "/no/such/page/with/a/rather/long/path/that/fills/the/buffer"},
		{"PUT", "/api/plans"},
	}
	const workers, rounds = 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}, Timeout: 10 * time.Second}
			defer client.CloseIdleConnections()
			for i := 0; i < rounds; i++ {
				r := reqs[(i+w)%len(reqs)]
				req, _ := http.NewRequest(r.method, base+r.path, strings.NewReader(`{"name":"x"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+key)
				res, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: got status %d, want 200: %s", res.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}

	routes := map[string]bool{"unmatched": true}
	for _, r := range e.app.GetRoutes(true) {
		routes[r.Path] = true
	}
	methods := map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
		"DELETE": true, "OPTIONS": true, "CONNECT": true, "TRACE": true}
	seen := map[string]float64{}
	for _, name := range []string{"nls_http_requests_total", "nls_http_request_duration_seconds"} {
		f := families[name]
		if f == nil {
			t.Fatalf("/metrics has no %s", name)
		}
		for _, m := range f.GetMetric() {
			var method, route string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "method":
					method = l.GetValue()
					if !methods[method] {
						t.Errorf("%s: method label %q is not an HTTP method", name, method)
					}
				case "route":
					route = l.GetValue()
					if !routes[route] {
						t.Errorf("%s: route label %q is not a route of the app", name, route)
					}
				case "status":
					if n, err := strconv.Atoi(l.GetValue()); err != nil || n < 100 || n > 599 {
						t.Errorf("%s: status label %q is not an HTTP status", name, l.GetValue())
					}
				}
			}
			if name == "nls_http_requests_total" {
				seen[method] += m.GetCounter().GetValue()
			}
		}
	}
	// Every request was counted under its own method.
	want := map[string]float64{}
	for w := 0; w < workers; w++ {
		for i := 0; i < rounds; i++ {
			want[reqs[(i+w)%len(reqs)].method]++
		}
	}
	for m, n := range want {
		if seen[m] != n {
			t.Errorf("requests counted under %s: got %v, want %v", m, seen[m], n)
		}
	}
	if t.Failed() {
		fmt.Println(string(body))
	}
}

// send makes one request to a served app with extra headers.
func send(t *testing.T, method, url, body string, headers map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// auditRequestIDs are the request ids of the audit rows of action.
func (e *testEnv) auditRequestIDs(action string) []string {
	e.t.Helper()
	rows, err := e.store.Pool.Query(e.t.Context(), `SELECT request_id FROM audit_log WHERE action = $1 ORDER BY id`, action)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestRequestIDTrustedOnlyFromProxies: a caller's X-Request-Id reaches the
// audit log only through a trusted proxy; anyone else gets an id of ours.
func TestRequestIDTrustedOnlyFromProxies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies []string
		adopted bool
	}{
		{"no trusted proxies", nil, false},
		{"caller is not a trusted proxy", []string{"10.9.8.7"}, false},
		{"caller is a trusted proxy", []string{"127.0.0.1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *handlers.Config) { c.TrustedProxies = tc.proxies })
			base := e.serve()
			key := e.apiKey("admin")
			const theirs = "forged-request-id-0001"
			r := send(t, "POST", base+"/api/customers", `{"name":"Acme","email":"ops@acme.test"}`,
				map[string]string{"Authorization": "Bearer " + key, "X-Request-Id": theirs})
			if r.Status != http.StatusCreated {
				t.Fatalf("create customer: got %d, want 201: %s", r.Status, r.Body)
			}
			got := r.Header.Get("X-Request-Id")
			if (got == theirs) != tc.adopted {
				t.Fatalf("X-Request-Id answered %q; caller's %q adopted: got %v, want %v", got, theirs, got == theirs, tc.adopted)
			}
			ids := e.auditRequestIDs("customer.create")
			if len(ids) != 1 || ids[0] != got {
				t.Fatalf("audit request ids %q, want [%q]", ids, got)
			}
		})
	}
}

// TestCSRFTokenNeverFromQueryString: a token in the URL (which ends up in
// logs, Referer headers and history) does not authorise a form post.
func TestCSRFTokenNeverFromQueryString(t *testing.T) {
	a := newAdminEnv(t)
	b := a.b
	b.get("/admin/customers/new")
	form := url.Values{"name": {"Query Token Ltd"}, "email": {"q@token.example"}}
	p := b.send("POST", "/admin/customers?csrf_token="+url.QueryEscape(b.csrf), form, nil)
	wantStatus(t, p, http.StatusForbidden)
	if rows := a.auditRows("customer.create"); len(rows) != 1 { // the fixture's own customer only
		t.Fatalf("customers created: got %d audit rows, want 1 (the fixture's)", len(rows))
	}
	// The same token in the body is accepted.
	p = b.post("/admin/customers", form)
	if p.Status >= 400 {
		t.Fatalf("token in the body: got %d, want success\n%.800s", p.Status, p.Body)
	}
}

// TestWrongMethodIs405WithAllow: a route that exists under other methods
// answers 405 naming them in Allow (the envelope under /api), not 404.
func TestWrongMethodIs405WithAllow(t *testing.T) {
	e := newEnv(t)
	key := e.apiKey("admin")
	for _, tc := range []struct {
		method, path string
		allow        []string
	}{
		{"PUT", "/api/plans", []string{"GET", "POST"}},
		{"DELETE", "/api/validation/validate", []string{"POST"}},
		{"POST", "/api/customers/00000000-0000-0000-0000-000000000001", []string{"GET", "PATCH"}},
		{"GET", "/api/usage/report", []string{"POST"}},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.do(tc.method, tc.path, key, nil)
			wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
			allow := r.Header.Values("Allow")
			got := map[string]bool{}
			for _, v := range allow {
				for _, m := range strings.Split(v, ",") {
					got[strings.TrimSpace(m)] = true
				}
			}
			for _, m := range tc.allow {
				if !got[m] {
					t.Errorf("Allow %q lacks %s", allow, m)
				}
			}
			if got[tc.method] {
				t.Errorf("Allow %q names the refused method %s", allow, tc.method)
			}
		})
	}
	// A path no method serves is still 404.
	wantError(t, e.do("PUT", "/api/no-such-thing", key, nil), http.StatusNotFound, "not_found")
	// Outside /api the answer is a page, with the same status and Allow.
	r := e.do("DELETE", "/login", "", nil)
	if r.Status != http.StatusMethodNotAllowed || !strings.Contains(strings.Join(r.Header.Values("Allow"), ","), "POST") {
		t.Fatalf("DELETE /login: got %d Allow %q, want 405 naming POST", r.Status, r.Header.Values("Allow"))
	}
}

// TestOversizedHeadersUnderAPIAnswerTheEnvelope: a header block larger
// than the read buffer is refused by the HTTP server before any route
// runs; under /api the refusal is still the JSON envelope, with 431.
func TestOversizedHeadersUnderAPIAnswerTheEnvelope(t *testing.T) {
	e := newEnv(t)
	base := e.serve()
	big := strings.Repeat("a", 20<<10)
	r := send(t, "GET", base+"/api/plans", "", map[string]string{"X-Padding": big})
	wantError(t, r, http.StatusRequestHeaderFieldsTooLarge, "headers_too_large")
	r = send(t, "POST", base+"/api/validation/validate", `{"licenseKey":"x"}`, map[string]string{"Cookie": "a=" + big})
	wantError(t, r, http.StatusRequestHeaderFieldsTooLarge, "headers_too_large")
	// Headers of a normal size still reach the route.
	if r := send(t, "GET", base+"/api/plans", "", map[string]string{"X-Padding": big[:4<<10]}); r.Status != http.StatusUnauthorized {
		t.Fatalf("GET /api/plans with a 4 KiB header: got %d, want 401: %s", r.Status, r.Body)
	}
}

// detailFields are the fields an error envelope's details name, with their messages.
func detailFields(t *testing.T, r response) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range r.JSON(t)["error"].(map[string]any)["details"].([]any) {
		m := d.(map[string]any)
		out[m["field"].(string)], _ = m["message"].(string)
	}
	return out
}

// TestUnknownFieldsInManagementBodiesAreRefused: a typo such as
// "maxDeployment" is a 422 naming it, not silently ignored; the machine
// API stays lenient so that older and newer clients keep working.
func TestUnknownFieldsInManagementBodiesAreRefused(t *testing.T) {
	f := newFixture(t)
	licID, key := f.issue(map[string]any{"plan": "pro"})
	for _, tc := range []struct {
		name, method, path string
		body               map[string]any
		unknown            []string
		suggest            string
	}{
		{"license typo", "POST", "/api/licenses", map[string]any{"customerId": f.customerID, "plan": "pro", "maxDeployment": 3}, []string{"maxDeployment"}, "maxDeployments"},
		{"two unknown", "PATCH", "/api/licenses/" + licID, map[string]any{"notes": "n", "expiresat": nil, "colour": "red"}, []string{"colour", "expiresat"}, "expiresAt"},
		{"customer", "POST", "/api/customers", map[string]any{"name": "A", "email": "a@a.example", "phone": "1"}, []string{"phone"}, ""},
		{"plan", "POST", "/api/plans", map[string]any{"code": "x", "name": "X", "graceDay": 3}, []string{"graceDay"}, "graceDays"},
		{"suspend", "POST", "/api/licenses/" + licID + "/suspend", map[string]any{"reason": "r", "notify": true}, []string{"notify"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(tc.method, tc.path, f.admin, tc.body)
			wantError(t, r, http.StatusUnprocessableEntity, "invalid")
			got := detailFields(t, r)
			if len(got) != len(tc.unknown) {
				t.Fatalf("got details %v, want %v", got, tc.unknown)
			}
			for _, u := range tc.unknown {
				if _, ok := got[u]; !ok {
					t.Errorf("details %v do not name %q", got, u)
				}
			}
			if tc.suggest != "" && !strings.Contains(strings.Join(mapValues(got), " "), tc.suggest) {
				t.Errorf("details %v do not suggest %q", got, tc.suggest)
			}
		})
	}
	// Nothing was changed by the refused requests.
	r := f.do("GET", "/api/licenses/"+licID, f.admin, nil)
	if st := r.JSON(t)["status"]; st != "active" {
		t.Fatalf("license status %v after refused requests, want active", st)
	}
	// The machine API ignores fields it does not know.
	r = f.do("POST", "/api/validation/validate", "", map[string]any{"licenseKey": key, "deploymentId": "d1", "clientBuild": "x"})
	if r.Status != http.StatusOK {
		t.Fatalf("validate with an extra field: got %d, want 200: %s", r.Status, r.Body)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestLicenseDatesOutsideTheWindowAreRefused: years 1 and 9999 are typos
// or probes; dates must fall in 2000-01-01 … 2999-12-31.
func TestLicenseDatesOutsideTheWindowAreRefused(t *testing.T) {
	a := newAdminEnv(t)
	f := a.fixture
	lic := "/api/licenses/" + a.licenseID
	for _, tc := range []struct {
		name, method, path string
		body               map[string]any
		field              string
	}{
		{"startsAt year 1", "POST", "/api/licenses", map[string]any{"customerId": f.customerID, "plan": "pro", "startsAt": "0001-01-01T00:00:00Z"}, "startsAt"},
		{"expiresAt year 9999", "POST", "/api/licenses", map[string]any{"customerId": f.customerID, "plan": "pro", "expiresAt": "9999-12-31T00:00:00Z"}, "expiresAt"},
		{"update expiresAt year 9999", "PATCH", lic, map[string]any{"expiresAt": "9999-01-01T00:00:00Z"}, "expiresAt"},
		{"renew to year 3000", "POST", lic + "/renew", map[string]any{"expiresAt": "3000-01-01T00:00:00Z"}, "expiresAt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(tc.method, tc.path, f.admin, tc.body)
			wantError(t, r, http.StatusUnprocessableEntity, "invalid")
			if msg := detailFields(t, r)[tc.field]; !strings.Contains(msg, "2000-01-01") || !strings.Contains(msg, "2999-12-31") {
				t.Fatalf("detail for %s: %q, want the window named", tc.field, msg)
			}
		})
	}
	// Inside the window is fine.
	if r := f.do("PATCH", lic, f.admin, map[string]any{"expiresAt": "2999-12-31T00:00:00Z"}); r.Status != http.StatusOK {
		t.Fatalf("expiresAt 2999-12-31: got %d, want 200: %s", r.Status, r.Body)
	}
	// The admin form shows the window at the field.
	a.b.get("/admin/licenses/new")
	p := a.b.htmx("POST", "/admin/licenses", url.Values{"customerId": {f.customerID}, "plan": {"pro"}, "expiresAt": {"9999-12-31"}})
	wantStatus(t, p, http.StatusUnprocessableEntity)
	if !strings.Contains(string(p.Body), "between 2000-01-01 and 2999-12-31") {
		t.Fatalf("form does not name the window:\n%.1500s", p.Body)
	}
}

// TestCallerRequestIDIsLoggedBesideOurs: an untrusted caller's id is kept
// only as a separate, sanitised and length-limited log field.
func TestCallerRequestIDIsLoggedBesideOurs(t *testing.T) {
	store := dbtest.NewStore(t)
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	keys, sealer := testKeys(t)
	app := handlers.New(testConfig(), handlers.Deps{Store: store, Log: slog.New(slog.NewJSONHandler(&logs, nil)),
		Limiter: handlers.NewMemoryLimiter(nil), Assets: assets, Registry: prometheus.NewRegistry(), Keys: keys,
		Sealer: sealer, Sessions: handlers.SessionKeys("test-session-secret-0123456789abcdef", "")})
	e := &testEnv{t: t, app: app, store: store}
	base := e.serve()
	theirs := "evil id <b>=" + strings.Repeat("x", 100)
	r := send(t, "GET", base+"/api/plans", "", map[string]string{"X-Request-Id": theirs})
	ours := r.Header.Get("X-Request-Id")
	if ours == "" || ours == theirs {
		t.Fatalf("X-Request-Id %q, want one of ours", ours)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), ours) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the access log line is written after the answer is sent
	}
	var line map[string]any
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, ours) && strings.Contains(l, `"msg":"request"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line == nil {
		t.Fatalf("no access log line for request %s:\n%s", ours, logs.String())
	}
	want := ("evil_id__b__" + strings.Repeat("x", 100))[:64]
	if line["request_id"] != ours || line["caller_request_id"] != want {
		t.Fatalf("logged request_id %v caller_request_id %v, want %s and %s", line["request_id"], line["caller_request_id"], ours, want)
	}
}
