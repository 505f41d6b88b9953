// The licensing policies through the machine API, each at its boundaries:
// fingerprint lock and component matching, the transfer budget, seat
// overage, soft and hard limits, a downgrade with excess deployments, the
// maintain strategy at the exact expiry instant, and lease hours.
package handlers_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/web/static"
)

// testClock is the server's clock in these tests, moved by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// policyEnv is a server on a fresh database whose clock the test moves,
// with one customer and an admin API key.
type policyEnv struct {
	*testEnv
	clock      *testClock
	admin      string
	customerID string
}

func newPolicyEnv(t *testing.T) *policyEnv {
	t.Helper()
	store := dbtest.NewStore(t)
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	keys, sealer := testKeys(t)
	cfg := testConfig()
	a := handlers.New(cfg, handlers.Deps{Store: store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Limiter: handlers.NewMemoryLimiter(nil), Assets: assets, Registry: prometheus.NewRegistry(), Keys: keys, Sealer: sealer,
		Sessions: handlers.SessionKeys("test-session-secret-0123456789abcdef", ""), Now: clock.Now})
	e := &policyEnv{testEnv: &testEnv{t: t, app: a, store: store, cfg: cfg}, clock: clock}
	e.admin = e.apiKey("admin")
	r := e.do("POST", "/api/customers", e.admin, map[string]any{"name": "Acme", "email": "ops@acme.example"})
	if r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	e.customerID = r.JSON(t)["id"].(string)
	return e
}

func (e *policyEnv) plan(body map[string]any) string {
	e.t.Helper()
	r := e.do("POST", "/api/plans", e.admin, body)
	if r.Status != 201 {
		e.t.Fatalf("plan: got %d %s", r.Status, r.Body)
	}
	return r.JSON(e.t)["id"].(string)
}

// publish creates a release of product through the release API, published
// at the given instant (nil: a draft).
func (e *policyEnv) publish(product, version string, at *time.Time) {
	e.t.Helper()
	body := map[string]any{"product": product, "version": version}
	if at != nil {
		body["publishedAt"] = at.UTC().Format(time.RFC3339)
	}
	if r := e.do("POST", "/api/releases", e.admin, body); r.Status != 201 {
		e.t.Fatalf("release %s %s: got %d %s", product, version, r.Status, r.Body)
	}
}

func (e *policyEnv) product(code string) {
	e.t.Helper()
	r := e.do("POST", "/api/products", e.admin, map[string]any{"code": code, "name": code, "repository": "acme/" + code})
	if r.Status != 201 {
		e.t.Fatalf("product %s: got %d %s", code, r.Status, r.Body)
	}
}

func (e *policyEnv) license(body map[string]any) (string, string) {
	e.t.Helper()
	body["customerId"] = e.customerID
	r := e.do("POST", "/api/licenses", e.admin, body)
	if r.Status != 201 {
		e.t.Fatalf("license: got %d %s", r.Status, r.Body)
	}
	m := r.JSON(e.t)
	return m["license"].(map[string]any)["id"].(string), m["licenseKey"].(string)
}

// check posts a validation with extra fields and returns the answer.
func (e *policyEnv) check(key, deployment string, extra map[string]any) map[string]any {
	e.t.Helper()
	body := map[string]any{"licenseKey": key, "deploymentId": deployment}
	for k, v := range extra {
		body[k] = v
	}
	r := e.do("POST", "/api/validation/validate", "", body)
	if r.Status != 200 {
		e.t.Fatalf("validate %s: got %d %s", deployment, r.Status, r.Body)
	}
	return r.JSON(e.t)
}

func wantCode(t *testing.T, ans map[string]any, code string, valid bool) {
	t.Helper()
	if ans["code"] != code || ans["valid"] != valid {
		t.Fatalf("got %v (valid %v: %v), want %s (valid %v)", ans["code"], ans["valid"], ans["detail"], code, valid)
	}
	if hasLease := ans["lease"] != nil; hasLease != valid {
		t.Fatalf("got lease %v, want a lease only when valid", ans["lease"])
	}
}

// leaseClaims decodes a lease's payload (its signature is checked by the
// licensing tests and the clients).
func leaseClaims(t *testing.T, ans map[string]any) map[string]any {
	t.Helper()
	parts := strings.Split(ans["lease"].(string), ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func components(id string, host, mac, cpu, disk string) map[string]any {
	return map[string]any{"fingerprint": id, "fingerprintComponents": map[string]any{"host": host, "mac": mac, "cpu": cpu, "disk": disk}}
}

// A client's state folder copied to a second machine brings the deployment
// id but not the machine: under lock that second machine is refused.
func TestFingerprintLockRefusesACopiedStateFolder(t *testing.T) {
	e := newPolicyEnv(t)
	e.plan(map[string]any{"code": "locked", "name": "Locked", "maxDeployments": 2, "fingerprintPolicy": "lock"})
	_, key := e.license(map[string]any{"plan": "locked"})

	first := e.check(key, "dep-1", map[string]any{"fingerprint": "machine-a"})
	wantCode(t, first, "VALID", true)
	if fp := leaseClaims(t, first)["fingerprint"]; fp != "machine-a" {
		t.Errorf("lease fingerprint: got %v, want machine-a (so a copied lease fails offline too)", fp)
	}
	copied := e.check(key, "dep-1", map[string]any{"fingerprint": "machine-b"})
	wantCode(t, copied, "FINGERPRINT_MISMATCH", false)
	if !strings.Contains(copied["detail"].(string), "bound to another machine") {
		t.Errorf("detail: got %v", copied["detail"])
	}
	wantCode(t, e.check(key, "dep-1", nil), "FINGERPRINT_MISMATCH", false)
	wantCode(t, e.check(key, "dep-1", map[string]any{"fingerprint": "machine-a"}), "VALID", true)
	if rows := e.auditRows("deployment.fingerprint_refused"); len(rows) != 2 {
		t.Errorf("got %d refusal audit rows, want 2: %v", len(rows), rows)
	}
	// The refused machine did not take over the stored fingerprint.
	var stored string
	if err := e.store.Pool.QueryRow(context.Background(), `SELECT fingerprint FROM deployments WHERE deployment_id = 'dep-1'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != "machine-a" {
		t.Errorf("stored fingerprint: got %q, want machine-a", stored)
	}
	// Under none (the default) another fingerprint is still VALID.
	e.plan(map[string]any{"code": "open", "name": "Open", "maxDeployments": 2})
	_, open := e.license(map[string]any{"plan": "open"})
	wantCode(t, e.check(open, "dep-1", map[string]any{"fingerprint": "machine-a"}), "VALID", true)
	wantCode(t, e.check(open, "dep-1", map[string]any{"fingerprint": "machine-b"}), "VALID", true)
}

func TestFingerprintComponentsMostThroughMachineAPI(t *testing.T) {
	e := newPolicyEnv(t)
	e.plan(map[string]any{"code": "parts", "name": "Parts", "maxDeployments": 2, "fingerprintPolicy": "components",
		"fingerprintMatch": "most"})
	_, key := e.license(map[string]any{"plan": "parts"})
	wantCode(t, e.check(key, "dep-1", components("m1", "h1", "a1", "c1", "d1")), "VALID", true)
	// A replaced disk: four of five equal.
	wantCode(t, e.check(key, "dep-1", components("m1", "h1", "a1", "c1", "d2")), "VALID", true)
	if rows := e.auditRows("deployment.fingerprint_changed"); len(rows) != 1 {
		t.Errorf("got %d change audit rows, want 1", len(rows))
	}
	var comps string
	if err := e.store.Pool.QueryRow(context.Background(), `SELECT fingerprint_components::text FROM deployments WHERE deployment_id = 'dep-1'`).Scan(&comps); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(comps, `"disk": "d2"`) {
		t.Errorf("stored components: got %s, want the new disk", comps)
	}
	// Three of five changed against what is stored now: two equal, refused.
	wantCode(t, e.check(key, "dep-1", components("m1", "h9", "a9", "c1", "d9")), "FINGERPRINT_MISMATCH", false)
	if rows := e.auditRows("deployment.fingerprint_refused"); len(rows) != 1 {
		t.Errorf("got %d refusal audit rows, want 1", len(rows))
	}
}

func TestTransferBudgetThroughMachineAPI(t *testing.T) {
	e := newPolicyEnv(t)
	e.plan(map[string]any{"code": "budget", "name": "Budget", "maxDeployments": 10, "transfersPerPeriod": 3,
		"transferPeriodDays": 30})
	id, key := e.license(map[string]any{"plan": "budget"})
	for _, d := range []string{"d1", "d2", "d3", "d4", "d5"} {
		wantCode(t, e.check(key, d, nil), "VALID", true)
	}
	release := func(d string) response {
		return e.do("POST", "/api/validation/deactivate", "", map[string]any{"licenseKey": key, "deploymentId": d})
	}
	first := e.clock.Now()
	if r := release("d1"); r.Status != 200 { // budget-3
		t.Fatalf("1st release: got %d %s", r.Status, r.Body)
	}
	e.clock.Add(24 * time.Hour)
	if r := release("d2"); r.Status != 200 { // budget-2
		t.Fatalf("2nd release: got %d %s", r.Status, r.Body)
	}
	e.clock.Add(24 * time.Hour)
	if r := release("d3"); r.Status != 200 { // at budget-1: the last one allowed
		t.Fatalf("3rd release (budget-1 used): got %d %s", r.Status, r.Body)
	}
	r := release("d4") // at budget: refused with the refill date
	body := wantError(t, r, 409, "conflict")
	refill := first.AddDate(0, 0, 30).UTC().Format(time.RFC3339)
	if !strings.Contains(string(r.Body), refill) {
		t.Fatalf("got %s, want the refill date %s", r.Body, refill)
	}
	_ = body
	if wantCode(t, e.check(key, "d4", nil), "VALID", true); false {
		t.Fatal("unreachable")
	}
	// An admin may release beyond the budget (budget+1), and it is not counted.
	if r := e.do("DELETE", "/api/licenses/"+id+"/deployments/d4", e.admin, nil); r.Status != 200 {
		t.Fatalf("admin release beyond the budget: got %d %s", r.Status, r.Body)
	}
	// 1 s before the refill the oldest still counts; at the refill it has left.
	e.clock.Set(first.AddDate(0, 0, 30).Add(-time.Second))
	wantError(t, release("d5"), 409, "conflict")
	e.clock.Set(first.AddDate(0, 0, 30))
	if r := release("d5"); r.Status != 200 {
		t.Fatalf("release after the refill: got %d %s", r.Status, r.Body)
	}
}

func TestSeatOverageThroughMachineAPI(t *testing.T) {
	e := newPolicyEnv(t)
	e.plan(map[string]any{"code": "over", "name": "Overage", "maxDeployments": 4, "seatOverage": "1.25x"})
	id, key := e.license(map[string]any{"plan": "over"})
	for _, d := range []string{"d1", "d2", "d3", "d4"} {
		wantCode(t, e.check(key, d, nil), "VALID", true)
	}
	fifth := e.check(key, "d5", nil) // exactly 1.25 × 4 = 5
	wantCode(t, fifth, "SEAT_OVERAGE", true)
	if fifth["license"].(map[string]any)["activeDeployments"] != float64(5) {
		t.Errorf("got %v active, want 5", fifth["license"])
	}
	wantCode(t, e.check(key, "d6", nil), "TOO_MANY_DEPLOYMENTS", false)
	wantCode(t, e.check(key, "d1", nil), "SEAT_OVERAGE", true) // every installation sees the warning
	var peak, max int
	if err := e.store.Pool.QueryRow(context.Background(), `SELECT peak_seats, max_deployments FROM seat_overages WHERE license_id = $1`,
		uuid.MustParse(id)).Scan(&peak, &max); err != nil {
		t.Fatal(err)
	}
	if peak != 5 || max != 4 {
		t.Errorf("recorded overage: got peak %d of %d, want 5 of 4", peak, max)
	}
}

func TestSoftAndHardLimitsThroughMachineAPI(t *testing.T) {
	e := newPolicyEnv(t)
	e.plan(map[string]any{"code": "metered", "name": "Metered", "maxDeployments": 2,
		"limits": map[string]any{"users": 10, "apiCalls": 100}, "limitEnforcement": map[string]any{"users": "soft"}})
	_, key := e.license(map[string]any{"plan": "metered"})
	ans := e.check(key, "d1", nil)
	wantCode(t, ans, "VALID", true)
	if enf, _ := leaseClaims(t, ans)["limitEnforcement"].(map[string]any); enf["users"] != "soft" || enf["apiCalls"] != nil {
		t.Errorf("lease limitEnforcement: got %v, want users soft only", enf)
	}
	start := e.clock.Now().Add(-time.Minute)
	r := e.do("POST", "/api/usage/report", "", usageReport(key, "d1",
		report(uuid.New(), start, map[string]any{"users": 13, "apiCalls": 101})))
	if r.Status != 200 {
		t.Fatalf("usage: got %d %s", r.Status, r.Body)
	}
	usage := r.JSON(t)["usage"].(map[string]any)
	users, calls := usage["users"].(map[string]any), usage["apiCalls"].(map[string]any)
	if users["exceeded"] != true || users["blocked"] != nil || users["enforcement"] != "soft" {
		t.Errorf("soft users: got %v, want exceeded, not blocked", users)
	}
	if calls["exceeded"] != true || calls["blocked"] != true || calls["enforcement"] != "hard" {
		t.Errorf("hard apiCalls: got %v, want exceeded and blocked", calls)
	}
}

func TestDowngradeWithExcessDeployments(t *testing.T) {
	e := newPolicyEnv(t)
	e.plan(map[string]any{"code": "five", "name": "Five", "maxDeployments": 5})
	id, key := e.license(map[string]any{"plan": "five"})
	for _, d := range []string{"d1", "d2", "d3", "d4", "d5"} {
		wantCode(t, e.check(key, d, nil), "VALID", true)
		e.clock.Add(time.Minute) // activation order: d1 oldest
	}
	if r := e.do("PATCH", "/api/licenses/"+id, e.admin, map[string]any{"maxDeployments": 3}); r.Status != 200 {
		t.Fatalf("downgrade: got %d %s", r.Status, r.Body)
	}
	for _, d := range []string{"d1", "d2", "d3"} {
		wantCode(t, e.check(key, d, nil), "VALID", true)
	}
	for _, d := range []string{"d4", "d5"} {
		ans := e.check(key, d, nil)
		wantCode(t, ans, "TOO_MANY_DEPLOYMENTS", false)
		if !strings.Contains(ans["detail"].(string), "lost its seat") {
			t.Errorf("%s detail: got %v", d, ans["detail"])
		}
	}
	wantCode(t, e.check(key, "d6", nil), "TOO_MANY_DEPLOYMENTS", false)
}

func TestMaintainAtTheExpiryInstant(t *testing.T) {
	e := newPolicyEnv(t)
	e.plan(map[string]any{"code": "fallback", "name": "Fallback", "maxDeployments": 5, "graceDays": 1,
		"expiryStrategy": "maintain"})
	expiry := e.clock.Now().Add(48 * time.Hour)
	graceEnd := expiry.AddDate(0, 0, 1)
	_, key := e.license(map[string]any{"plan": "fallback", "expiresAt": expiry.Format(time.RFC3339)})
	// Release dates are the distribution's: published through the release
	// API (the plan names no product, so every product's releases count).
	e.product("app")
	before, after := expiry.Add(-time.Second), expiry.Add(time.Second)
	e.publish("app", "1.4.0", &before)
	e.publish("app", "1.5.0", &after)
	e.clock.Set(expiry) // the expiry instant: still active, every version
	wantCode(t, e.check(key, "d1", map[string]any{"appVersion": "1.5.0"}), "VALID", true)
	e.clock.Set(graceEnd) // the grace end instant: still in grace, every version, but no time left to lease
	if ans := e.check(key, "d1", map[string]any{"appVersion": "1.5.0"}); ans["code"] != "GRACE_PERIOD" || ans["valid"] != true || ans["lease"] != nil {
		t.Fatalf("at the grace end: got %v %v lease %v, want GRACE_PERIOD without a lease", ans["code"], ans["valid"], ans["lease"])
	}
	e.clock.Set(graceEnd.Add(time.Second)) // expired: the fallback applies
	locked := e.check(key, "d1", map[string]any{"appVersion": "1.4.0"})
	wantCode(t, locked, "VERSION_LOCKED", true)
	if locked["license"].(map[string]any)["newestAllowedVersion"] != "1.4.0" || leaseClaims(t, locked)["maxVersion"] != "1.4.0" {
		t.Errorf("got %v, want newest allowed 1.4.0 in the answer and the lease", locked["license"])
	}
	newer := e.check(key, "d1", map[string]any{"appVersion": "1.5.0"})
	wantCode(t, newer, "EXPIRED", false)
	if !strings.Contains(newer["detail"].(string), "versions up to 1.4.0") {
		t.Errorf("detail: got %v", newer["detail"])
	}
	wantCode(t, e.check(key, "d1", nil), "EXPIRED", false)
	// The version-locked lease is not cut at the (past) grace end.
	if exp, _ := time.Parse(time.RFC3339, locked["leaseExpiresAt"].(string)); !exp.After(e.clock.Now().Add(24 * time.Hour)) {
		t.Errorf("version-locked lease ends %v, want the full window", exp)
	}
}

// TestMaintainReadsTheLicensesProducts: under maintain, the release dates
// are the publication dates of the releases of the products the license is
// entitled to. Another product's version and a draft change nothing.
func TestMaintainReadsTheLicensesProducts(t *testing.T) {
	e := newPolicyEnv(t)
	planID := e.plan(map[string]any{"code": "fallback", "name": "Fallback", "maxDeployments": 5, "graceDays": 0,
		"expiryStrategy": "maintain"})
	e.product("app")
	e.product("other")
	if r := e.do("PUT", "/api/plans/"+planID+"/distribution", e.admin, map[string]any{"products": []string{"app"}}); r.Status != 200 {
		t.Fatalf("distribution: got %d %s", r.Status, r.Body)
	}
	expiry := e.clock.Now().Add(10 * 24 * time.Hour)
	_, key := e.license(map[string]any{"plan": "fallback", "expiresAt": expiry.Format(time.RFC3339)})
	at := func(d time.Duration) *time.Time { t := expiry.Add(d); return &t }
	e.publish("app", "1.3.0", at(-72*time.Hour))
	e.publish("app", "1.4.0", at(-time.Hour))
	e.publish("app", "1.5.0", at(time.Hour))    // after the expiry
	e.publish("app", "1.9.0", nil)              // a draft: no release date
	e.publish("other", "2.0.0", at(-time.Hour)) // another product's line
	if r := e.do("GET", "/api/releases?product=app", e.admin, nil); r.Status != 200 {
		t.Fatalf("releases: got %d %s", r.Status, r.Body)
	}

	e.clock.Set(expiry.Add(time.Second)) // no grace: expired one second later
	locked := e.check(key, "d1", map[string]any{"appVersion": "1.4.0"})
	wantCode(t, locked, "VERSION_LOCKED", true)
	if got := locked["license"].(map[string]any)["newestAllowedVersion"]; got != "1.4.0" {
		t.Errorf("newestAllowedVersion: got %v, want 1.4.0 (other's 2.0.0 is not this license's product)", got)
	}
	wantCode(t, e.check(key, "d1", map[string]any{"appVersion": "1.3.0"}), "VERSION_LOCKED", true)
	for _, v := range []string{"1.5.0", "1.9.0", "2.0.0"} {
		ans := e.check(key, "d1", map[string]any{"appVersion": v})
		wantCode(t, ans, "EXPIRED", false)
		if !strings.Contains(ans["detail"].(string), "versions up to 1.4.0") {
			t.Errorf("%s detail: got %v", v, ans["detail"])
		}
	}

	// The license's own entitlement wins over its plan's: entitled to
	// "other" only, 2.0.0 (published before expiry) runs and 1.5.0 does not.
	lid := locked["license"].(map[string]any)["id"].(string)
	if r := e.do("PUT", "/api/licenses/"+lid+"/distribution", e.admin, map[string]any{"products": []string{"other"}}); r.Status != 200 {
		t.Fatalf("license distribution: got %d %s", r.Status, r.Body)
	}
	wantCode(t, e.check(key, "d1", map[string]any{"appVersion": "2.0.0"}), "VERSION_LOCKED", true)
	wantCode(t, e.check(key, "d1", map[string]any{"appVersion": "2.0.1"}), "EXPIRED", false)
}

func TestLeaseHoursShortenOnlineLeases(t *testing.T) {
	e := newPolicyEnv(t)
	e.plan(map[string]any{"code": "short", "name": "Short", "maxDeployments": 2, "leaseHours": 6})
	_, key := e.license(map[string]any{"plan": "short"})
	ans := e.check(key, "d1", nil)
	wantCode(t, ans, "VALID", true)
	if got, want := ans["leaseExpiresAt"], e.clock.Now().Add(6*time.Hour).Format(time.RFC3339); got != want {
		t.Errorf("leaseExpiresAt: got %v, want %v", got, want)
	}
}

func TestPlanChangeThroughAPI(t *testing.T) {
	e := newPolicyEnv(t)
	e.plan(map[string]any{"code": "five", "name": "Five", "maxDeployments": 5, "features": []string{"core", "sso"}, "graceDays": 7})
	e.plan(map[string]any{"code": "three", "name": "Three", "maxDeployments": 3, "features": []string{"core"}, "graceDays": 3,
		"fingerprintPolicy": "none"})
	id, key := e.license(map[string]any{"plan": "five", "graceDays": 10}) // graceDays overridden
	for _, d := range []string{"d1", "d2", "d3", "d4", "d5"} {
		wantCode(t, e.check(key, d, nil), "VALID", true)
		e.clock.Add(time.Minute)
	}
	wantError(t, e.do("PATCH", "/api/licenses/"+id, e.admin, map[string]any{"plan": "three"}), 422, "invalid")
	wantError(t, e.do("PATCH", "/api/licenses/"+id, e.admin, map[string]any{"plan": "nope", "overrides": "keep"}), 422, "invalid")
	wantError(t, e.do("PATCH", "/api/licenses/"+id, e.admin, map[string]any{"plan": "three", "overrides": "keep", "notes": "x"}), 422, "invalid")

	r := e.do("PATCH", "/api/licenses/"+id, e.admin, map[string]any{"plan": "three", "overrides": "keep"})
	if r.Status != 200 {
		t.Fatalf("downgrade: got %d %s", r.Status, r.Body)
	}
	l := r.JSON(t)
	if l["plan"] != "three" || l["maxDeployments"] != float64(3) || l["graceDays"] != float64(10) || len(l["features"].([]any)) != 1 {
		t.Fatalf("keep: got %s, want plan three, 3 seats, core only, the overridden 10 grace days kept", r.Body)
	}
	if rows := e.auditRows("license.plan_change"); len(rows) != 1 {
		t.Errorf("got %d plan change audit rows, want 1", len(rows))
	}
	for _, d := range []string{"d1", "d2", "d3"} {
		wantCode(t, e.check(key, d, nil), "VALID", true)
	}
	for _, d := range []string{"d4", "d5"} {
		wantCode(t, e.check(key, d, nil), "TOO_MANY_DEPLOYMENTS", false)
	}
	r = e.do("PATCH", "/api/licenses/"+id, e.admin, map[string]any{"plan": "five", "overrides": "reset"})
	if l := r.JSON(t); r.Status != 200 || l["graceDays"] != float64(7) || l["maxDeployments"] != float64(5) {
		t.Fatalf("upgrade with reset: got %d %s, want the plan's 7 grace days and 5 seats", r.Status, r.Body)
	}
	wantCode(t, e.check(key, "d5", nil), "VALID", true)

	r = e.do("PATCH", "/api/licenses/"+id, e.admin, map[string]any{"policyOverrides": map[string]any{"fingerprintPolicy": "lock"}})
	if r.Status != 200 || r.JSON(t)["policyOverrides"].(map[string]any)["fingerprintPolicy"] != "lock" {
		t.Fatalf("policy override: got %d %s", r.Status, r.Body)
	}
	wantCode(t, e.check(key, "d9", nil), "FINGERPRINT_MISMATCH", false) // the override is in force
	wantError(t, e.do("PATCH", "/api/licenses/"+id, e.admin, map[string]any{"policyOverrides": map[string]any{"seatOverage": "9x"}}), 422, "invalid")
}

func TestTrueUpReport(t *testing.T) {
	e := newPolicyEnv(t)
	e.plan(map[string]any{"code": "over", "name": "Overage", "maxDeployments": 4, "seatOverage": "1.25x",
		"limits": map[string]any{"users": 10, "apiCalls": 100}, "limitEnforcement": map[string]any{"users": "soft"}})
	id, key := e.license(map[string]any{"plan": "over"})
	for _, d := range []string{"d1", "d2", "d3", "d4", "d5"} {
		e.check(key, d, nil)
	}
	r := e.do("POST", "/api/usage/report", "", usageReport(key, "d1",
		report(uuid.New(), e.clock.Now().Add(-time.Minute), map[string]any{"users": 13, "apiCalls": 40})))
	if r.Status != 200 {
		t.Fatalf("usage: got %d %s", r.Status, r.Body)
	}
	period := e.clock.Now().Format("2006-01")
	reader := e.apiKey("licenses:read")
	r = e.do("GET", "/api/licenses/"+id+"/true-up?period="+period, reader, nil)
	if r.Status != 200 {
		t.Fatalf("true-up: got %d %s", r.Status, r.Body)
	}
	lines := r.JSON(t)["lines"].([]any)
	want := []string{"deployments 4 5 1 soft", "apiCalls 100 40 0 hard", "users 10 13 3 soft"}
	if len(lines) != len(want) {
		t.Fatalf("got %v, want %v", lines, want)
	}
	for i, l := range lines {
		m := l.(map[string]any)
		got := fmt.Sprintf("%v %v %v %v %v", m["metric"], m["entitled"], m["used"], m["over"], m["enforcement"])
		if got != want[i] {
			t.Errorf("line %d: got %s, want %s", i, got, want[i])
		}
	}
	r = e.do("GET", "/api/licenses/"+id+"/true-up?period="+period+"&format=csv", reader, nil)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(string(r.Body), ",users,10,13,3,soft\n") || !strings.HasPrefix(string(r.Body), "license_id,period_start") {
		t.Fatalf("csv: got %d %s %s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	wantError(t, e.do("GET", "/api/licenses/"+id+"/true-up?period=March", reader, nil), 422, "invalid")
}

func TestLicenseCreatedWithPolicyOverrides(t *testing.T) {
	e := newPolicyEnv(t)
	e.plan(map[string]any{"code": "open", "name": "Open", "maxDeployments": 2})
	r := e.do("POST", "/api/licenses", e.admin, map[string]any{"customerId": e.customerID, "plan": "open",
		"policyOverrides": map[string]any{"fingerprintPolicy": "lock"}})
	if r.Status != 201 || r.JSON(t)["license"].(map[string]any)["policyOverrides"].(map[string]any)["fingerprintPolicy"] != "lock" {
		t.Fatalf("create: got %d %s", r.Status, r.Body)
	}
	key := r.JSON(t)["licenseKey"].(string)
	wantCode(t, e.check(key, "d1", map[string]any{"fingerprint": "m1"}), "VALID", true)
	wantCode(t, e.check(key, "d1", map[string]any{"fingerprint": "m2"}), "FINGERPRINT_MISMATCH", false)
	wantError(t, e.do("POST", "/api/licenses", e.admin, map[string]any{"customerId": e.customerID, "plan": "open",
		"policyOverrides": map[string]any{"expiryStrategy": "forever"}}), 422, "invalid")
}

// TestSeatOverageIsWrittenWhenThePeakRises: a license in overage is so at
// every heartbeat of every deployment; its period's peak is written when it
// rises and once in a new period, not at each validation.
func TestSeatOverageIsWrittenWhenThePeakRises(t *testing.T) {
	e := newPolicyEnv(t)
	e.plan(map[string]any{"code": "over", "name": "Over", "maxDeployments": 4, "seatOverage": "1.5x",
		"heartbeatWindowHours": 24 * 60})
	e.clock.Set(time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC))
	id, key := e.license(map[string]any{"plan": "over"})
	q := db.New(e.store.Pool)
	overages := func() []db.SeatOverage {
		t.Helper()
		rows, err := q.ListSeatOverages(context.Background(), db.ListSeatOveragesParams{LicenseID: uuid.MustParse(id), MaxRows: 10})
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	for _, d := range []string{"d1", "d2", "d3", "d4", "d5"} {
		e.check(key, d, nil)
	}
	t0 := e.clock.Now()
	e.clock.Add(time.Minute)
	for _, d := range []string{"d1", "d2", "d3", "d4", "d5"} {
		wantCode(t, e.check(key, d, nil), "SEAT_OVERAGE", true)
	}
	if rows := overages(); len(rows) != 1 || rows[0].PeakSeats != 5 || !rows[0].UpdatedAt.Equal(t0) {
		t.Fatalf("after heartbeats at the same peak: got %+v, want peak 5 written once at %v", rows, t0)
	}
	e.clock.Add(time.Minute)
	wantCode(t, e.check(key, "d6", nil), "SEAT_OVERAGE", true)
	if rows := overages(); len(rows) != 1 || rows[0].PeakSeats != 6 || !rows[0].UpdatedAt.Equal(e.clock.Now()) {
		t.Fatalf("after a sixth seat: got %+v, want peak 6", rows)
	}
	e.clock.Set(time.Date(2026, 6, 1, 0, 0, 1, 0, time.UTC)) // a new period: its own peak
	wantCode(t, e.check(key, "d1", nil), "SEAT_OVERAGE", true)
	if rows := overages(); len(rows) != 2 || rows[0].PeakSeats != 6 || !rows[0].PeriodStart.Equal(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("in June: got %+v, want a June row with peak 6", rows)
	}
}
