package handlers_test

// Fixture of the customer portal's tests: two customers, A and B, each with
// a license on one plan and a signed-in customer user, and helpers to read
// what the database holds so a test can prove nothing changed.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/auth"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/handlers"
)

const portalPassword = "portal-password-0123456789"

// portalEnv is an app with two customers. Plan "pro": features sso and api,
// limits users 10 and apiCalls 1000, two seats, a 24-hour heartbeat window,
// a 30-day offline window.
type portalEnv struct {
	*fixture
	custB          string
	licA, keyA     string
	licB, keyB     string
	userA, userB   string
	a, b           *browser // signed in as A's and B's user
	stripeCustomer string   // A's Stripe customer id
}

func newPortalEnv(t *testing.T, mutate ...func(*handlers.Config)) *portalEnv {
	t.Helper()
	e := newEnv(t, mutate...)
	f := &fixture{testEnv: e, admin: e.apiKey("admin")}
	pe := &portalEnv{fixture: f, stripeCustomer: "cus_portalA"}
	r := e.do("POST", "/api/customers", f.admin, map[string]any{"name": "Acme Corp", "email": "ops@acme.example",
		"stripeCustomerId": pe.stripeCustomer})
	if r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	f.customerID = r.JSON(t)["id"].(string)
	r = e.do("POST", "/api/customers", f.admin, map[string]any{"name": "Bravo Industries", "email": "it@bravo.example",
		"stripeCustomerId": "cus_portalB"})
	if r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	pe.custB = r.JSON(t)["id"].(string)
	if r := e.do("POST", "/api/plans", f.admin, map[string]any{"code": "pro", "name": "Pro",
		"features": []string{"sso", "api"}, "limits": map[string]any{"users": 10, "apiCalls": 1000}, "maxDeployments": 2,
		"durationDays": 365, "graceDays": 7, "heartbeatWindowHours": 24, "offlineDays": 30}); r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	pe.licA, pe.keyA = f.issue(map[string]any{"plan": "pro"})
	pe.licB, pe.keyB = f.issue(map[string]any{"plan": "pro", "customerId": pe.custB})
	pe.userA = createCustomerUser(t, e, f.customerID, "alice@acme.example")
	pe.userB = createCustomerUser(t, e, pe.custB, "bob@bravo.example")
	pe.a = signIn(t, e, "alice@acme.example", portalPassword)
	pe.b = signIn(t, e, "bob@bravo.example", portalPassword)
	// Sign-in starts a session with a new CSRF token: load a page to hold it.
	pe.a.get("/portal")
	pe.b.get("/portal")
	return pe
}

// createCustomerUser adds a user of customer with portalPassword (bcrypt cost 4).
func createCustomerUser(t *testing.T, e *testEnv, customerID, email string) string {
	t.Helper()
	hash, err := auth.HashPassword(portalPassword, 4)
	if err != nil {
		t.Fatal(err)
	}
	cid := mustUUID(t, customerID)
	u, err := rawQueries(e.store).CreateUser(t.Context(), db.CreateUserParams{Email: email, Name: "Portal User", Role: "customer",
		CustomerID: &cid, PasswordHash: &hash})
	if err != nil {
		t.Fatal(err)
	}
	return u.ID.String()
}

// validate calls the real machine API and returns the answer's code.
func (e *testEnv) validate(key, deployment string) string {
	e.t.Helper()
	r := e.do("POST", "/api/validation/validate", "", map[string]any{"licenseKey": key, "deploymentId": deployment,
		"hostname": deployment + ".example", "appVersion": "2.4.1"})
	if r.Status != 200 {
		e.t.Fatalf("validate %s: got %d %s", deployment, r.Status, r.Body)
	}
	return r.JSON(e.t)["code"].(string)
}

// dbState is what the portal's actions could change: audit rows, and every
// deployment with its status and seat facts. Two equal states mean nothing
// changed.
func (e *testEnv) dbState() string {
	e.t.Helper()
	var b strings.Builder
	var n int64
	if err := e.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	fmt.Fprintf(&b, "audit rows %d\n", n)
	rows, err := e.store.Pool.Query(context.Background(), `SELECT license_id, deployment_id, status, offline,
		coalesce(offline_until::text, ''), last_seen_at::text FROM deployments ORDER BY license_id, deployment_id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var lic uuid.UUID
		var dep, status, until, seen string
		var offline bool
		if err := rows.Scan(&lic, &dep, &status, &offline, &until, &seen); err != nil {
			e.t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s %s offline=%v until=%s seen=%s\n", lic, dep, status, offline, until, seen)
	}
	return b.String()
}

// auditRows is the audit log's rows of action, oldest first, as "actor_type actor_id entity_id".
func (e *testEnv) auditRows(action string) []string {
	e.t.Helper()
	rows, err := e.store.Pool.Query(context.Background(),
		`SELECT actor_type || ' ' || actor_id || ' ' || entity_id || ' ' || coalesce(customer_id::text, '')
		 FROM audit_log WHERE action = $1 ORDER BY id`, action)
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

// exec runs SQL against the test database (ageing rows, setting up states).
func (e *testEnv) exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.store.Pool.Exec(context.Background(), sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

// hxPost posts a form as htmx does, from a portal page.
func (b *browser) hxPost(path string, form url.Values) page {
	b.t.Helper()
	return b.send("POST", path, form, map[string]string{"HX-Request": "true", "X-CSRF-Token": b.csrf,
		"HX-Current-URL": "http://example.test/portal"})
}

// stripeMock runs stripe-mock (bin/stripe-mock, or stripe-mock on PATH) on
// a free port and returns its base URL. Without it the test fails when CI is
// set and is skipped otherwise; `make tools` and scripts/test.sh install it.
func stripeMock(t *testing.T) string {
	t.Helper()
	exe, err := filepath.Abs(filepath.Join("..", "bin", "stripe-mock"))
	if err == nil {
		if _, err = os.Stat(exe); err != nil {
			exe, err = exec.LookPath("stripe-mock")
		}
	}
	if err != nil {
		msg := "stripe-mock is required for the billing tests (make tools, or go install github.com/stripe/stripe-mock@v0.203.0): " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(exe, "-http-port", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(base + "/v1/customers")
		if err == nil {
			res.Body.Close()
			return base
		}
		select {
		case <-done:
			t.Fatal("stripe-mock exited before answering")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripe-mock not answering on %s after 30s: %v", base, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
