// Integration tests against the real portal process and PostgreSQL.

package client_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/licensing/client"
	"github.com/nectarcloud/nls/licensing/client/fiberclient"
)

// fakeClock is the real clock moved by an offset the test sets.
type fakeClock struct{ off atomic.Int64 }

func (f *fakeClock) Now() time.Time           { return time.Now().Add(time.Duration(f.off.Load())) }
func (f *fakeClock) Set(offset time.Duration) { f.off.Store(int64(offset)) }

// testConfig is a Config with short intervals, so outages and recoveries
// show within a second or two.
func testConfig(p *portal, lic license, dir string, clock *fakeClock) client.Config {
	return client.Config{ServerURL: p.URL, LicenseKey: lic.Key, StateDir: dir,
		HeartbeatInterval: 300 * time.Millisecond, FlushInterval: 200 * time.Millisecond,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
		HTTPClient: &http.Client{Timeout: 10 * time.Second}, Logger: quietLogger(), Now: clock.Now}
}

// countingTransport counts the requests the client makes per path and
// their outcome, so that a test can wait for attempts to have happened
// instead of sleeping and hoping they did.
type countingTransport struct {
	mu       sync.Mutex
	attempts map[string]int // path → requests sent
	failures map[string]int // path → requests that got no answer
	answered map[string]int // path → requests answered 2xx
}

func newCountingTransport() *countingTransport {
	return &countingTransport{attempts: map[string]int{}, failures: map[string]int{}, answered: map[string]int{}}
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.attempts[r.URL.Path]++
	switch {
	case err != nil:
		c.failures[r.URL.Path]++
	case resp.StatusCode/100 == 2:
		c.answered[r.URL.Path]++
	}
	return resp, err
}

func (c *countingTransport) count(m map[string]int, path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return m[path]
}

func startClient(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	c := mustNew(t, cfg)
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return c
}

// eventually polls cond for up to 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get calls the httptest server and returns the status and the error code
// of a refusal.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &body)
	return resp.StatusCode, body.Error.Code
}

// appServer is the vendor's app: every route behind Middleware, /reports
// behind the reports feature, /sso behind the sso feature.
func appServer(t *testing.T, c *client.Client) *httptest.Server {
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.Handle("/", ok)
	mux.Handle("/reports", c.RequireFeature("reports")(ok))
	mux.Handle("/sso", c.RequireFeature("sso")(ok))
	mux.Handle("/users", c.CheckUsageLimit("users", func(r *http.Request) int64 {
		if r.URL.Query().Get("n") == "6" {
			return 6
		}
		return 5
	})(ok))
	srv := httptest.NewServer(c.TrackAPICalls(c.Middleware(mux)))
	t.Cleanup(srv.Close)
	return srv
}

func TestValidateAndFeatures(t *testing.T) {
	p := startPortal(t)
	lic := p.newLicense([]string{"reports"}, map[string]int64{"users": 5}, 30)
	c := startClient(t, testConfig(p, lic, t.TempDir(), &fakeClock{}))

	st := c.Status()
	if !st.Valid || st.Code != licensing.CodeValid || st.State != licensing.StateActive || st.LicenseID != lic.ID {
		t.Fatalf("got %+v, want valid active license %s", st, lic.ID)
	}
	if st.LeaseExpiresAt.Before(time.Now().Add(29*24*time.Hour)) || st.LastContact.IsZero() || st.Offline {
		t.Errorf("got lease until %v, last contact %v, offline %v; want a 30-day lease, online", st.LeaseExpiresAt, st.LastContact, st.Offline)
	}
	if !c.HasFeature("reports") || c.HasFeature("sso") {
		t.Errorf("got reports %v, sso %v; want true, false", c.HasFeature("reports"), c.HasFeature("sso"))
	}
	var lim *client.LimitError
	if err := c.CheckLimit("users", 5); err != nil {
		t.Errorf("CheckLimit(users, 5): got %v, want nil", err)
	}
	if err := c.CheckLimit("users", 6); !errors.As(err, &lim) || lim.Limit != 5 || lim.Current != 6 || lim.Metric != "users" {
		t.Errorf("CheckLimit(users, 6): got %v, want LimitError 6 > 5", err)
	}

	srv := appServer(t, c)
	for _, tc := range []struct {
		path       string
		wantStatus int
		wantCode   string
	}{
		{"/", 200, ""},
		{"/reports", 200, ""},
		{"/sso", 403, "FEATURE_NOT_ENTITLED"},
		{"/users", 200, ""},
		{"/users?n=6", 403, "LIMIT_EXCEEDED"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if status, code := get(t, srv.URL+tc.path); status != tc.wantStatus || code != tc.wantCode {
				t.Errorf("got %d %q, want %d %q", status, code, tc.wantStatus, tc.wantCode)
			}
		})
	}

	// The Fiber adapter gives the same answers.
	app := fiber.New()
	app.Use(fiberclient.TrackAPICalls(c), fiberclient.Middleware(c))
	app.Get("/reports", fiberclient.RequireFeature(c, "reports"), func(ctx *fiber.Ctx) error { return ctx.SendString("ok") })
	app.Get("/sso", fiberclient.RequireFeature(c, "sso"), func(ctx *fiber.Ctx) error { return ctx.SendString("ok") })
	app.Get("/users", fiberclient.CheckUsageLimit(c, "users", func(*fiber.Ctx) int64 { return 6 }),
		func(ctx *fiber.Ctx) error { return ctx.SendString("ok") })
	for path, want := range map[string]int{"/reports": 200, "/sso": 403, "/users": 403} {
		resp, err := app.Test(httptest.NewRequest("GET", path, nil), 10_000)
		if err != nil || resp.StatusCode != want {
			t.Errorf("fiber %s: got %v %v, want %d", path, resp.StatusCode, err, want)
		}
	}

	// API calls were counted and reach the server.
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.usageTotal(lic.ID, "apiCalls"); got != 8 {
		t.Errorf("apiCalls: got %d, want 8 (5 net/http + 3 fiber)", got)
	}

	// Uninstall: the deployment is released and the client refuses.
	if err := c.Deactivate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st.Valid || st.Code != licensing.CodeDeploymentDeactivated {
		t.Errorf("after Deactivate: got %v %s, want invalid DEPLOYMENT_DEACTIVATED", st.Valid, st.Code)
	}
}

func TestOfflineLeaseExpiryAndRecovery(t *testing.T) {
	p := startPortal(t)
	lic := p.newLicense([]string{"reports"}, nil, 1) // leases last one day
	dir := t.TempDir()
	clock := &fakeClock{}
	first := startClient(t, testConfig(p, lic, dir, clock))
	deployment := first.DeploymentID()
	_ = first.Close()

	p.stop()
	// A restart while the server is down starts on the saved lease.
	c := mustNew(t, testConfig(p, lic, dir, clock))
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("Start offline with a valid lease: got %v, want nil", err)
	}
	if c.DeploymentID() != deployment {
		t.Errorf("deployment id: got %s, want the persisted %s", c.DeploymentID(), deployment)
	}
	srv := appServer(t, c)
	if st := c.Status(); !st.Valid || !st.Offline || !c.HasFeature("reports") {
		t.Fatalf("offline: got %+v, want valid, offline, with reports", st)
	}
	if status, _ := get(t, srv.URL+"/reports"); status != 200 {
		t.Errorf("offline /reports: got %d, want 200", status)
	}

	// A day and an hour later the lease has run out: fail closed.
	clock.Set(25 * time.Hour)
	if st := c.Status(); st.Valid || st.Code != client.CodeLeaseExpired || !strings.Contains(st.Detail, "unreachable") {
		t.Fatalf("after the lease: got %v %s %q, want invalid LEASE_EXPIRED", st.Valid, st.Code, st.Detail)
	}
	if status, code := get(t, srv.URL+"/"); status != 403 || code != "LEASE_EXPIRED" {
		t.Errorf("after the lease: got %d %s, want 403 LEASE_EXPIRED", status, code)
	}

	// The server returns (same port, same database) and the clock is right
	// again: the client recovers by itself.
	clock.Set(0)
	p.start()
	eventually(t, "recovery after the server returned", func() bool {
		st := c.Status()
		return st.Valid && !st.Offline && st.Code == licensing.CodeValid
	})
	if status, _ := get(t, srv.URL+"/reports"); status != 200 {
		t.Errorf("recovered /reports: got %d, want 200", status)
	}
}

func TestSuspendAndReactivate(t *testing.T) {
	p := startPortal(t)
	lic := p.newLicense([]string{"reports"}, nil, 30)
	dir := t.TempDir()
	c := startClient(t, testConfig(p, lic, dir, &fakeClock{}))
	srv := appServer(t, c)

	p.api("POST", "/api/licenses/"+lic.ID+"/suspend", map[string]any{"reason": "x"}, http.StatusOK)
	eventually(t, "the suspension to reach the client", func() bool { return c.Status().Code == licensing.CodeSuspended })
	if st := c.Status(); st.Valid || c.HasFeature("reports") {
		t.Errorf("suspended: got valid %v, reports %v; want false, false", st.Valid, c.HasFeature("reports"))
	}
	if status, code := get(t, srv.URL+"/"); status != 403 || code != "SUSPENDED" {
		t.Errorf("suspended: got %d %s, want 403 SUSPENDED", status, code)
	}
	if _, err := os.Stat(filepath.Join(dir, "lease.jwt")); !os.IsNotExist(err) {
		t.Errorf("suspended: the lease is still on disk (%v); a restart offline would bring it back", err)
	}

	p.api("POST", "/api/licenses/"+lic.ID+"/reactivate", nil, http.StatusOK)
	eventually(t, "the reactivation to reach the client", func() bool { return c.Valid() })
	if status, _ := get(t, srv.URL+"/reports"); status != 200 {
		t.Errorf("reactivated: got %d, want 200", status)
	}
}

func TestUsageDuringOutageSentOnce(t *testing.T) {
	p := startPortal(t)
	lic := p.newLicense(nil, map[string]int64{"workflowExecutions": 1000}, 30)
	cfg := testConfig(p, lic, t.TempDir(), &fakeClock{})
	tr := newCountingTransport()
	cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	c := startClient(t, cfg)

	c.Add(client.MetricAPICalls, 3)
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.stop()
	c.Add(client.MetricAPICalls, 10)
	c.RecordWorkflowExecution()
	c.RecordWorkflowExecution()
	c.Set(client.MetricUsers, 7)
	c.Set(client.MetricUsers, 4) // the batch keeps the peak
	c.RecordIntegrationUse("slack")
	c.RecordIntegrationUse("slack")
	c.RecordIntegrationUse("github")
	eventually(t, "the batch to be persisted in the outbox", func() bool { return c.Pending() > 0 })
	failed := tr.count(tr.failures, "/api/usage/report")
	eventually(t, "three sends to fail", func() bool { return tr.count(tr.failures, "/api/usage/report") >= failed+3 })
	if c.Pending() == 0 {
		t.Fatal("the outbox emptied while the server was down")
	}

	p.start()
	eventually(t, "the outbox to be sent", func() bool { return c.Pending() == 0 })
	for metric, want := range map[string]int64{"apiCalls": 13, "workflowExecutions": 2, "users": 7,
		"integration.slack": 2, "integration.github": 1, "integrations": 2} {
		if got := p.usageTotal(lic.ID, metric); got != want {
			t.Errorf("%s: got %d, want %d", metric, got, want)
		}
	}
}

// TestHelperProcess is the app that crashes: run by TestCrashBetweenPersistAndSend.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("NLS_CLIENT_HELPER") != "1" {
		return // only as the helper process
	}
	c, err := client.New(client.Config{ServerURL: os.Getenv("NLS_HELPER_URL"), LicenseKey: os.Getenv("NLS_HELPER_KEY"),
		StateDir: os.Getenv("NLS_HELPER_STATE"), Logger: quietLogger()})
	if err != nil {
		os.Exit(2)
	}
	c.Add(client.MetricWorkflowExecutions, 7)
	if err := c.Checkpoint(); err != nil {
		os.Exit(3)
	}
	os.Exit(0) // killed before sending: no Close, no Flush
}

func TestCrashBetweenPersistAndSend(t *testing.T) {
	p := startPortal(t)
	lic := p.newLicense(nil, nil, 30)
	dir := t.TempDir()

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "NLS_CLIENT_HELPER=1", "NLS_HELPER_URL="+p.URL, "NLS_HELPER_KEY="+lic.Key,
		"NLS_HELPER_STATE="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.json"))
	if len(files) != 1 {
		t.Fatalf("outbox after the crash: got %d files, want 1", len(files))
	}
	saved, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}

	// The next run sends it.
	c := startClient(t, testConfig(p, lic, dir, &fakeClock{}))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if c.Pending() != 0 {
		t.Fatalf("pending after Close: got %d, want 0", c.Pending())
	}
	if got := p.usageTotal(lic.ID, "workflowExecutions"); got != 7 {
		t.Fatalf("workflowExecutions: got %d, want 7", got)
	}

	// A crash after the server counted it but before the file was deleted:
	// the batch is sent again with the same id and counted once.
	if err := os.WriteFile(files[0], saved, 0o600); err != nil {
		t.Fatal(err)
	}
	again := mustNew(t, testConfig(p, lic, dir, &fakeClock{}))
	if err := again.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if again.Pending() != 0 {
		t.Errorf("pending after the resend: got %d, want 0", again.Pending())
	}
	if got := p.usageTotal(lic.ID, "workflowExecutions"); got != 7 {
		t.Errorf("workflowExecutions after the resend: got %d, want 7", got)
	}
}

func TestForgedLeasesAndClockRefused(t *testing.T) {
	p := startPortal(t)
	lic := p.newLicense([]string{"reports"}, nil, 30)
	jwks := p.jwks()
	dir := t.TempDir()
	clock := &fakeClock{}
	cfg := testConfig(p, lic, dir, clock)
	tr := newCountingTransport()
	cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	c := startClient(t, cfg)
	lease, err := os.ReadFile(filepath.Join(dir, "lease.jwt"))
	if err != nil {
		t.Fatal(err)
	}

	// Online, a clock set back by days is refused, through heartbeats too.
	clock.Set(-72 * time.Hour)
	if st := c.Status(); st.Valid || st.Code != client.CodeClockTampered {
		t.Fatalf("clock back online: got %v %s, want CLOCK_TAMPERED", st.Valid, st.Code)
	}
	// Two heartbeats answered after the clock moved: the second surely
	// started after it, and neither may have made the license valid again.
	beats := tr.count(tr.answered, "/api/validation/heartbeat")
	eventually(t, "two heartbeats with the clock set back", func() bool {
		return tr.count(tr.answered, "/api/validation/heartbeat") >= beats+2
	})
	if st := c.Status(); st.Valid || st.Code != client.CodeClockTampered {
		t.Fatalf("clock back online after heartbeats: got %v %s, want CLOCK_TAMPERED", st.Valid, st.Code)
	}
	clock.Set(0)
	eventually(t, "validity once the clock is right", c.Valid)
	_ = c.Close()
	p.stop()

	offline := func(t *testing.T, dir, deployment string, clock *fakeClock) *client.Client {
		cfg := testConfig(p, lic, dir, clock)
		cfg.DeploymentID, cfg.PublicKeys = deployment, jwks
		oc := mustNew(t, cfg)
		t.Cleanup(func() { _ = oc.Close() })
		if err := oc.Start(context.Background()); err == nil {
			t.Error("Start: got nil, want an error")
		}
		return oc
	}
	writeLease := func(t *testing.T, token []byte) string {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, "lease.jwt"), token, 0o600); err != nil {
			t.Fatal(err)
		}
		return d
	}

	t.Run("copied to another deployment", func(t *testing.T) {
		oc := offline(t, writeLease(t, lease), "another-deployment", &fakeClock{})
		if st := oc.Status(); st.Valid || st.Code != client.CodeLeaseInvalid {
			t.Errorf("got %v %s, want LEASE_INVALID", st.Valid, st.Code)
		}
	})
	t.Run("edited by hand", func(t *testing.T) {
		parts := strings.Split(strings.TrimSpace(string(lease)), ".")
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var claims map[string]any
		_ = json.Unmarshal(payload, &claims)
		claims["features"] = []string{"reports", "sso", "everything"}
		claims["exp"] = time.Now().Add(10 * 365 * 24 * time.Hour).Unix()
		edited, _ := json.Marshal(claims)
		parts[1] = base64.RawURLEncoding.EncodeToString(edited)
		oc := offline(t, writeLease(t, []byte(strings.Join(parts, "."))), c.DeploymentID(), &fakeClock{})
		if st := oc.Status(); st.Valid || st.Code != client.CodeLeaseInvalid || oc.HasFeature("sso") {
			t.Errorf("got %v %s, want LEASE_INVALID", st.Valid, st.Code)
		}
	})
	t.Run("clock set back by days", func(t *testing.T) {
		back := &fakeClock{}
		back.Set(-72 * time.Hour)
		oc := offline(t, dir, c.DeploymentID(), back)
		if st := oc.Status(); st.Valid || st.Code != client.CodeClockTampered {
			t.Errorf("got %v %s, want CLOCK_TAMPERED", st.Valid, st.Code)
		}
		if status, code := get(t, appServer(t, oc).URL+"/"); status != 403 || code != "CLOCK_TAMPERED" {
			t.Errorf("middleware: got %d %s, want 403 CLOCK_TAMPERED", status, code)
		}
	})
}
