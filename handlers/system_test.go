package handlers_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"github.com/nectarcloud/nls/handlers"
)

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/healthz", "", nil); r.Status != 200 || r.JSON(t)["status"] != "ok" {
		t.Fatalf("healthz: got %d %s, want 200 ok", r.Status, r.Body)
	}
	if r := e.do("GET", "/readyz", "", nil); r.Status != 200 {
		t.Fatalf("readyz: got %d %s, want 200", r.Status, r.Body)
	}
	// The database goes away: the process stays alive, but is not ready.
	var name string
	if err := e.store.Pool.QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	cfg := e.store.Pool.Config().ConnConfig.Copy()
	cfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(context.Background(), "ALTER DATABASE "+name+" ALLOW_CONNECTIONS false"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "ALTER DATABASE "+name+" ALLOW_CONNECTIONS true")
	})
	if _, err := admin.Exec(context.Background(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name); err != nil {
		t.Fatal(err)
	}
	e.store.Pool.Reset()
	wantError(t, e.do("GET", "/readyz", "", nil), 503, "unavailable")
	if r := e.do("GET", "/healthz", "", nil); r.Status != 200 {
		t.Fatalf("healthz without a database: got %d, want 200", r.Status)
	}
}

func TestMetricsCountRequests(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 3; i++ {
		e.do("GET", "/healthz", "", nil)
	}
	e.do("GET", "/api/nope", "", nil)
	r := e.do("GET", "/metrics", "", nil)
	if r.Status != 200 {
		t.Fatalf("metrics: got %d, want 200", r.Status)
	}
	body := string(r.Body)
	for _, want := range []string{
		`nls_http_requests_total{method="GET",route="/healthz",status="200"} 3`,
		`nls_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`nls_http_request_duration_seconds_bucket{method="GET",route="/healthz"`,
		`nls_db_pool_max_connections`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestMetricsToken(t *testing.T) {
	e := newEnv(t, func(c *handlers.Config) { c.MetricsToken = "s3cret-token" })
	wantError(t, e.do("GET", "/metrics", "", nil), 401, "unauthorized")
	if r := e.do("GET", "/metrics", "s3cret-token", nil); r.Status != 200 {
		t.Fatalf("metrics with token: got %d, want 200", r.Status)
	}
}

func TestErrorEnvelope(t *testing.T) {
	e := newEnv(t)
	wantError(t, e.do("GET", "/api/no-such-route", "", nil), 404, "not_found")
	key := e.apiKey("admin")
	// Fiber refuses an oversized body before routing; only a real connection
	// shows the answer. The limit is small here so that the whole body is
	// written before the server answers and closes.
	small := newEnvOn(t, e.store, func(c *handlers.Config) { c.BodyLimit = 4 << 10 })
	big := `{"name": "` + strings.Repeat("x", 8<<10) + `", "email": "a@b.example"}`
	wantError(t, small.live("POST", "/api/customers", key, big), 413, "too_large")
	wantError(t, e.do("POST", "/api/customers", key, `{"name": `), 400, "malformed")
	wantError(t, e.do("POST", "/api/customers", key, `{"name": 5, "email": "a@b.example"}`), 422, "invalid")
	// Nothing was stored by the refused requests.
	var n int
	if err := e.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM customers").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("got %d customers after refused requests, want 0", n)
	}
}

func TestPanicIsInternalErrorWithoutCause(t *testing.T) {
	e := newEnv(t)
	e.app.Get("/api/test-panic", func(c *fiber.Ctx) error { panic("secret database password is hunter2") })
	r := e.do("GET", "/api/test-panic", "", nil)
	m := wantError(t, r, 500, "internal")
	if msg := m["error"].(map[string]any)["message"]; msg != "internal error" {
		t.Fatalf("got message %q, want %q", msg, "internal error")
	}
	if strings.Contains(string(r.Body), "hunter2") || strings.Contains(string(r.Body), "panic") {
		t.Fatalf("the cause leaked into the response: %s", r.Body)
	}
	// The server keeps serving.
	if r := e.do("GET", "/healthz", "", nil); r.Status != 200 {
		t.Fatalf("after a panic: got %d, want 200", r.Status)
	}
}

// TestRequestIDEchoed: behind a trusted proxy the proxy's id is kept, and
// an unsafe one replaced (see TestRequestIDTrustedOnlyFromProxies for
// callers that are not proxies).
func TestRequestIDEchoed(t *testing.T) {
	e := newEnv(t, func(c *handlers.Config) { c.TrustedProxies = []string{"0.0.0.0/0"} })
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("X-Request-Id", "proxy-abc-123")
	res, err := e.app.Test(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Header.Get("X-Request-Id"); got != "proxy-abc-123" {
		t.Fatalf("got X-Request-Id %q, want the caller's", got)
	}
	req = httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set("X-Request-Id", "bad id with spaces<script>")
	res, _ = e.app.Test(req)
	if got := res.Header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " <") {
		t.Fatalf("got X-Request-Id %q, want a fresh safe id", got)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/healthz", "", nil)
	csp := r.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("got CSP %q, want self-only without unsafe-inline", csp)
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("missing nosniff/DENY headers: %v", r.Header)
	}
}

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	e := newEnv(t, func(c *handlers.Config) { c.APIRate = handlers.Rate{Limit: 3, Window: 60e9} })
	key := e.apiKey("admin")
	for i := 0; i < 3; i++ {
		if r := e.do("GET", "/api/customers", key, nil); r.Status != 200 {
			t.Fatalf("request %d: got %d, want 200", i, r.Status)
		}
	}
	r := e.do("GET", "/api/customers", key, nil)
	wantError(t, r, 429, "rate_limited")
	if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("got Retry-After %q, want seconds to wait", ra)
	}
}

func TestCORSOnlyForConfiguredOrigins(t *testing.T) {
	e := newEnv(t, func(c *handlers.Config) { c.CORSOrigins = []string{"https://app.example.com"} })
	for _, tc := range []struct {
		origin string
		allow  bool
	}{{"https://app.example.com", true}, {"https://evil.example", false}} {
		req := httptest.NewRequest("OPTIONS", "/api/customers", nil)
		req.Header.Set("Origin", tc.origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		res, err := e.app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		got := res.Header.Get("Access-Control-Allow-Origin")
		if tc.allow != (got == tc.origin) {
			t.Fatalf("origin %s: got Access-Control-Allow-Origin %q, want allowed=%v", tc.origin, got, tc.allow)
		}
	}
}

func TestStaticFilesAreFingerprintedAndCached(t *testing.T) {
	e := newEnv(t)
	home := e.do("GET", "/", "", nil)
	if home.Status != 200 || !strings.Contains(home.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("home: got %d %s", home.Status, home.Header.Get("Content-Type"))
	}
	// The page links its stylesheet by a fingerprinted name.
	body := string(home.Body)
	i := strings.Index(body, "/static/css/app.")
	if i < 0 {
		t.Fatalf("no fingerprinted stylesheet link in %s", body)
	}
	href := body[i : i+strings.Index(body[i:], `"`)]
	r := e.do("GET", href, "", nil)
	if r.Status != 200 || !strings.Contains(r.Header.Get("Cache-Control"), "immutable") || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("%s: got %d, Cache-Control %q, Content-Type %q", href, r.Status, r.Header.Get("Cache-Control"), r.Header.Get("Content-Type"))
	}
	if r := e.do("GET", "/static/css/app.0000000000.css", "", nil); r.Status != 404 {
		t.Fatalf("a stale fingerprint: got %d, want 404", r.Status)
	}
	// Unknown pages get the HTML error page, not JSON.
	r = e.do("GET", "/no-such-page", "", nil)
	if r.Status != 404 || !strings.Contains(string(r.Body), `data-testid="error-page"`) {
		t.Fatalf("unknown page: got %d %.200s", r.Status, r.Body)
	}
}
