package handlers_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/handlers"
)

// validate posts one validation and returns the answer, which must be 200.
func validate(t *testing.T, e *testEnv, key, deployment string, features []string) map[string]any {
	t.Helper()
	body := map[string]any{"licenseKey": key, "deploymentId": deployment, "hostname": "host-" + deployment, "appVersion": "1.2.3"}
	if features != nil {
		body["features"] = features
	}
	r := e.do("POST", "/api/validation/validate", "", body)
	if r.Status != 200 {
		t.Fatalf("validate: got %d %s, want 200", r.Status, r.Body)
	}
	return r.JSON(t)
}

func TestValidateAnswersShapeAndLease(t *testing.T) {
	f := newFixture(t)
	_, key := f.issue(map[string]any{"plan": "pro"})
	v := validate(t, f.testEnv, key, "dep-1", []string{"sso"})
	if v["valid"] != true || v["code"] != "VALID" {
		t.Fatalf("got %v %v: %v", v["valid"], v["code"], v["detail"])
	}
	for _, field := range []string{"valid", "code", "detail", "license", "deployment", "lease", "leaseExpiresAt", "serverTime"} {
		if _, ok := v[field]; !ok {
			t.Errorf("answer lacks %q", field)
		}
	}
	lic := v["license"].(map[string]any)
	for _, field := range []string{"id", "status", "plan", "features", "limits", "maxDeployments", "activeDeployments", "expiresAt", "graceEndsAt"} {
		if _, ok := lic[field]; !ok {
			t.Errorf("license lacks %q", field)
		}
	}
	if lic["activeDeployments"] != float64(1) {
		t.Fatalf("got activeDeployments %v, want 1", lic["activeDeployments"])
	}
	dep := v["deployment"].(map[string]any)
	if dep["id"] != "dep-1" || dep["status"] != "active" {
		t.Fatalf("got deployment %v", dep)
	}
	lease, _ := v["lease"].(string)
	if strings.Count(lease, ".") != 2 {
		t.Fatalf("got lease %q, want a compact JWS", lease)
	}
	// The deployment was recorded with what the installation said.
	var host, version string
	if err := f.store.Pool.QueryRow(context.Background(), "SELECT hostname, app_version FROM deployments WHERE deployment_id = 'dep-1'").Scan(&host, &version); err != nil {
		t.Fatal(err)
	}
	if host != "host-dep-1" || version != "1.2.3" {
		t.Fatalf("got %s %s, want the reported hostname and version", host, version)
	}
}

func TestValidationCodes(t *testing.T) {
	f := newFixture(t)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := f.store.Pool.Exec(context.Background(), sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	_, good := f.issue(map[string]any{"plan": "pro"})
	tampered := []byte(good)
	tampered[len(tampered)-1] ^= 1
	if tampered[len(tampered)-1] == good[len(good)-1] {
		t.Fatal("tamper failed")
	}

	revokedID, revoked := f.issue(map[string]any{"plan": "pro"})
	f.do("POST", "/api/licenses/"+revokedID+"/revoke", f.admin, nil)
	suspendedID, suspended := f.issue(map[string]any{"plan": "pro"})
	f.do("POST", "/api/licenses/"+suspendedID+"/suspend", f.admin, map[string]any{"reason": "fraud"})
	_, future := f.issue(map[string]any{"plan": "pro", "startsAt": time.Now().Add(48 * time.Hour).Format(time.RFC3339)})
	_, expired := f.issue(map[string]any{"plan": "pro", "startsAt": time.Now().AddDate(0, 0, -40).Format(time.RFC3339),
		"expiresAt": time.Now().AddDate(0, 0, -30).Format(time.RFC3339)})
	_, grace := f.issue(map[string]any{"plan": "pro", "startsAt": time.Now().AddDate(0, 0, -40).Format(time.RFC3339),
		"expiresAt": time.Now().AddDate(0, 0, -2).Format(time.RFC3339)})
	pastDueID, pastDue := f.issue(map[string]any{"plan": "pro"})
	exec("UPDATE licenses SET payment_state = 'past_due', past_due_since = now() - interval '3 days' WHERE id = $1", pastDueID)
	dunnedID, dunned := f.issue(map[string]any{"plan": "pro"})
	exec("UPDATE licenses SET payment_state = 'past_due', past_due_since = now() - interval '20 days' WHERE id = $1", dunnedID)
	releasedID, released := f.issue(map[string]any{"plan": "pro"})
	validate(t, f.testEnv, released, "gone", nil)
	f.do("DELETE", "/api/licenses/"+releasedID+"/deployments/gone", f.admin, nil)
	_, full := f.issue(map[string]any{"plan": "pro"})
	validate(t, f.testEnv, full, "a", nil)
	validate(t, f.testEnv, full, "b", nil)
	orphanID, orphan := f.issue(map[string]any{"plan": "pro"})
	exec("DELETE FROM licenses WHERE id = $1", orphanID)

	cases := []struct {
		name, key, deployment string
		features              []string
		code                  string
		valid                 bool
	}{
		{"valid", good, "d1", nil, "VALID", true},
		{"garbage", "hello", "d1", nil, "INVALID_KEY", false},
		{"bad checksum", string(tampered), "d1", nil, "INVALID_KEY", false},
		{"not found", orphan, "d1", nil, "NOT_FOUND", false},
		{"revoked", revoked, "d1", nil, "REVOKED", false},
		{"suspended", suspended, "d1", nil, "SUSPENDED", false},
		{"dunning over", dunned, "d1", nil, "SUSPENDED", false},
		{"not yet valid", future, "d1", nil, "NOT_YET_VALID", false},
		{"expired", expired, "d1", nil, "EXPIRED", false},
		{"released deployment", released, "gone", nil, "DEPLOYMENT_DEACTIVATED", false},
		{"seats full", full, "c", nil, "TOO_MANY_DEPLOYMENTS", false},
		{"seat holder still fine", full, "a", nil, "VALID", true},
		{"feature missing", good, "d1", []string{"sso", "quantum"}, "FEATURE_NOT_ENTITLED", false},
		{"grace", grace, "d1", nil, "GRACE_PERIOD", true},
		{"payment overdue", pastDue, "d1", nil, "PAYMENT_OVERDUE", true},
		{"whitespace around key", "  " + good[:20] + "\n" + good[20:] + "\r\n", "d1", nil, "VALID", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := validate(t, f.testEnv, tc.key, tc.deployment, tc.features)
			if v["code"] != tc.code || v["valid"] != tc.valid {
				t.Fatalf("got %v %v (%v), want %s %v", v["code"], v["valid"], v["detail"], tc.code, tc.valid)
			}
			if tc.valid != (v["lease"] != nil) {
				t.Fatalf("got lease %v, want a lease exactly when valid", v["lease"])
			}
			if d, _ := v["detail"].(string); d == "" {
				t.Fatal("no detail")
			}
		})
	}
	// Validations were counted by code for the dashboard.
	r := f.do("GET", "/api/admin/dashboard", f.admin, nil)
	if r.Status != 200 {
		t.Fatal(string(r.Body))
	}
	byCode := r.JSON(t)["validationsLast24h"].(map[string]any)
	if byCode["INVALID_KEY"] != float64(2) || byCode["EXPIRED"] != float64(1) {
		t.Fatalf("got validation counts %v, want INVALID_KEY 2 and EXPIRED 1", byCode)
	}
}

func TestValidateBadRequests(t *testing.T) {
	f := newFixture(t)
	_, key := f.issue(map[string]any{"plan": "pro"})
	cases := []struct {
		name   string
		body   any
		status int
	}{
		{"malformed", `{"licenseKey":`, 400},
		{"no key", map[string]any{"deploymentId": "d"}, 422},
		{"no deployment", map[string]any{"licenseKey": key}, 422},
		{"deployment too long", map[string]any{"licenseKey": key, "deploymentId": strings.Repeat("x", 200)}, 422},
		{"deployment with spaces", map[string]any{"licenseKey": key, "deploymentId": "a b"}, 422},
		{"key not a string", map[string]any{"licenseKey": 12, "deploymentId": "d"}, 422},
		{"features not a list", `{"licenseKey":"` + key + `","deploymentId":"d","features":"sso"}`, 422},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code := map[int]string{400: "malformed", 422: "invalid"}[tc.status]
			wantError(t, f.do("POST", "/api/validation/validate", "", tc.body), tc.status, code)
			if n := countRows(t, f.testEnv, "deployments"); n != 0 {
				t.Fatalf("a refused request created %d deployments", n)
			}
		})
	}
}

func TestSeatsHoldUnderConcurrency(t *testing.T) {
	f := newFixture(t)
	_, key := f.issue(map[string]any{"plan": "five"})
	// A second app instance over the same database, as another process would be.
	other := newEnvOn(t, f.store)
	var wg sync.WaitGroup
	codes := make(chan string, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			env := f.testEnv
			if i%2 == 1 {
				env = other
			}
			codes <- validate(t, env, key, fmt.Sprintf("dep-%02d", i), nil)["code"].(string)
		}(i)
	}
	wg.Wait()
	close(codes)
	count := map[string]int{}
	for c := range codes {
		count[c]++
	}
	if count["VALID"] != 5 || count["TOO_MANY_DEPLOYMENTS"] != 45 {
		t.Fatalf("got %v, want exactly 5 VALID and 45 TOO_MANY_DEPLOYMENTS", count)
	}
	var active int
	if err := f.store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM deployments WHERE status = 'active'").Scan(&active); err != nil {
		t.Fatal(err)
	}
	if active != 5 {
		t.Fatalf("got %d active deployments stored, want 5", active)
	}
}

func TestDeactivateFreesSeatAndStaleDeploymentsStopHoldingOne(t *testing.T) {
	f := newFixture(t)
	id, key := f.issue(map[string]any{"plan": "pro"}) // 2 seats, 24 h heartbeat window
	validate(t, f.testEnv, key, "a", nil)
	validate(t, f.testEnv, key, "b", nil)
	if v := validate(t, f.testEnv, key, "c", nil); v["code"] != "TOO_MANY_DEPLOYMENTS" {
		t.Fatalf("third deployment: got %v", v["code"])
	}
	r := f.do("POST", "/api/validation/deactivate", "", map[string]any{"licenseKey": key, "deploymentId": "a"})
	if r.Status != 200 {
		t.Fatalf("deactivate: %d %s", r.Status, r.Body)
	}
	if v := validate(t, f.testEnv, key, "c", nil); v["code"] != "VALID" {
		t.Fatalf("after a release: got %v, want VALID", v["code"])
	}
	if v := validate(t, f.testEnv, key, "a", nil); v["code"] != "DEPLOYMENT_DEACTIVATED" {
		t.Fatalf("released deployment: got %v, want DEPLOYMENT_DEACTIVATED", v["code"])
	}
	// An admin may bring it back only when a seat is free.
	wantError(t, f.do("POST", "/api/licenses/"+id+"/deployments/a/reactivate", f.admin, nil), 409, "conflict")
	// b goes quiet for longer than the heartbeat window: its seat is free again.
	if _, err := f.store.Pool.Exec(context.Background(), "UPDATE deployments SET last_seen_at = now() - interval '25 hours', first_seen_at = now() - interval '30 hours' WHERE deployment_id = 'b'"); err != nil {
		t.Fatal(err)
	}
	if r := f.do("POST", "/api/licenses/"+id+"/deployments/a/reactivate", f.admin, nil); r.Status != 200 {
		t.Fatalf("reactivate with a free seat: %d %s", r.Status, r.Body)
	}
	if v := validate(t, f.testEnv, key, "a", nil); v["code"] != "VALID" {
		t.Fatalf("reactivated deployment: got %v", v["code"])
	}
	// b comes back but both seats are taken; it is refused, not revived.
	if v := validate(t, f.testEnv, key, "b", nil); v["code"] != "TOO_MANY_DEPLOYMENTS" {
		t.Fatalf("stale deployment without a free seat: got %v", v["code"])
	}
	m := f.do("GET", "/api/licenses/"+id+"/deployments", f.admin, nil).JSON(t)
	states := map[string]string{}
	for _, d := range m["data"].([]any) {
		dm := d.(map[string]any)
		states[dm["id"].(string)] = dm["status"].(string)
	}
	if states["a"] != "active" || states["b"] != "stale" || states["c"] != "active" {
		t.Fatalf("got deployment states %v", states)
	}
	// Bad credentials on the machine routes are 401.
	wantError(t, f.do("POST", "/api/validation/deactivate", "", map[string]any{"licenseKey": "NLS-nope-00000000", "deploymentId": "a"}), 401, "unauthorized")
}

func usageReport(key, deployment string, reports ...map[string]any) map[string]any {
	return map[string]any{"licenseKey": key, "deploymentId": deployment, "reports": reports}
}

func report(id uuid.UUID, start time.Time, metrics map[string]any) map[string]any {
	return map[string]any{"id": id.String(), "periodStart": start.Format(time.RFC3339),
		"periodEnd": start.Add(time.Hour).Format(time.RFC3339), "metrics": metrics}
}

func TestUsageIsCountedOnce(t *testing.T) {
	f := newFixture(t)
	id, key := f.issue(map[string]any{"plan": "pro"}) // limits: users 10, apiCalls 1000
	validate(t, f.testEnv, key, "d1", nil)
	now := time.Now().UTC()
	r1, r2 := uuid.New(), uuid.New()
	r := f.do("POST", "/api/usage/report", "", usageReport(key, "d1",
		report(r1, now, map[string]any{"apiCalls": 300, "users": 4}),
		report(r2, now, map[string]any{"apiCalls": 200, "users": 7, "workflowExecutions": 5})))
	if r.Status != 200 {
		t.Fatalf("report: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	usage := m["usage"].(map[string]any)
	calls := usage["apiCalls"].(map[string]any)
	users := usage["users"].(map[string]any)
	if calls["used"] != float64(500) || calls["limit"] != float64(1000) || calls["remaining"] != float64(500) || calls["exceeded"] != false {
		t.Fatalf("got apiCalls %v, want 500 of 1000 used", calls)
	}
	if users["used"] != float64(7) {
		t.Fatalf("got users %v, want the peak 7 (a gauge)", users)
	}
	if _, ok := usage["workflowExecutions"]; ok {
		t.Fatal("usage lists a metric without a limit")
	}
	// The same ids again, in sequence: duplicates, not counted.
	r = f.do("POST", "/api/usage/report", "", usageReport(key, "d1",
		report(r1, now, map[string]any{"apiCalls": 300}), report(uuid.New(), now, map[string]any{"apiCalls": 1}),
		report(r1, now, map[string]any{"apiCalls": 300})))
	m = r.JSON(t)
	statuses := []string{}
	for _, x := range m["results"].([]any) {
		statuses = append(statuses, x.(map[string]any)["status"].(string))
	}
	if strings.Join(statuses, ",") != "duplicate,accepted,duplicate" {
		t.Fatalf("got %v, want duplicate,accepted,duplicate", statuses)
	}
	// And in parallel: exactly one accepted.
	same := uuid.New()
	var wg sync.WaitGroup
	accepted := make(chan bool, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := f.do("POST", "/api/usage/report", "", usageReport(key, "d1", report(same, now, map[string]any{"apiCalls": 10})))
			if r.Status != 200 {
				t.Errorf("parallel report: %d %s", r.Status, r.Body)
				return
			}
			accepted <- r.JSON(t)["results"].([]any)[0].(map[string]any)["status"] == "accepted"
		}()
	}
	wg.Wait()
	close(accepted)
	n := 0
	for a := range accepted {
		if a {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d parallel reports with one id were accepted, want 1", n)
	}
	var total int64
	if err := f.store.Pool.QueryRow(context.Background(),
		"SELECT value FROM usage_periods WHERE license_id = $1 AND metric = 'apiCalls'", id).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != 511 {
		t.Fatalf("got apiCalls %d, want 300+200+1+10 = 511", total)
	}
}

func TestUsagePeriodsAndAnalytics(t *testing.T) {
	f := newFixture(t)
	id, key := f.issue(map[string]any{"plan": "pro"})
	validate(t, f.testEnv, key, "d1", nil)
	day := func(s string) time.Time { tm, _ := time.Parse("2006-01-02T15:04", s); return tm }
	r := f.do("POST", "/api/usage/report", "", usageReport(key, "d1",
		report(uuid.New(), day("2026-09-30T10:00"), map[string]any{"apiCalls": 5, "users": 3}),
		report(uuid.New(), day("2026-10-01T10:00"), map[string]any{"apiCalls": 7, "users": 2}),
		report(uuid.New(), day("2026-10-01T12:00"), map[string]any{"apiCalls": 1, "users": 9}),
		report(uuid.New(), day("2026-10-03T08:00"), map[string]any{"apiCalls": 2, "users": 4})))
	if r.Status != 200 {
		t.Fatal(string(r.Body))
	}
	periods := map[string]int64{}
	rows, err := f.store.Pool.Query(context.Background(),
		"SELECT metric || '@' || to_char(period_start, 'YYYY-MM'), value FROM usage_periods WHERE license_id = $1", id)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		var v int64
		_ = rows.Scan(&k, &v)
		periods[k] = v
	}
	want := map[string]int64{"apiCalls@2026-09": 5, "users@2026-09": 3, "apiCalls@2026-10": 10, "users@2026-10": 9}
	if fmt.Sprint(periods) != fmt.Sprint(want) {
		t.Fatalf("got periods %v, want %v (counters summed per calendar month, gauges the peak)", periods, want)
	}
	m := f.do("GET", "/api/usage/analytics?licenseId="+id+"&from=2026-09-30&to=2026-10-03", f.admin, nil).JSON(t)
	got := map[string][]float64{}
	for _, s := range m["series"].([]any) {
		sm := s.(map[string]any)
		for _, p := range sm["points"].([]any) {
			got[sm["metric"].(string)] = append(got[sm["metric"].(string)], p.(map[string]any)["value"].(float64))
		}
	}
	if fmt.Sprint(got["apiCalls"]) != "[5 8 0 2]" || fmt.Sprint(got["users"]) != "[3 9 0 4]" {
		t.Fatalf("got series %v, want apiCalls [5 8 0 2] and users [3 9 0 4]", got)
	}
	m = f.do("GET", "/api/usage/analytics?customerId="+f.customerID+"&metric=apiCalls&from=2026-10-01&to=2026-10-01", f.admin, nil).JSON(t)
	if s := m["series"].([]any); len(s) != 1 || s[0].(map[string]any)["points"].([]any)[0].(map[string]any)["value"] != float64(8) {
		t.Fatalf("customer series: got %v", m)
	}
}

func TestUsageBadReports(t *testing.T) {
	f := newFixture(t)
	_, key := f.issue(map[string]any{"plan": "pro"})
	now := time.Now()
	many := make([]map[string]any, 1001)
	for i := range many {
		many[i] = report(uuid.New(), now, map[string]any{"apiCalls": 1})
	}
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"no reports", usageReport(key, "d1"), "reports"},
		{"too many", usageReport(key, "d1", many...), "reports"},
		{"negative", usageReport(key, "d1", report(uuid.New(), now, map[string]any{"apiCalls": -1})), "reports[0].metrics.apiCalls"},
		{"fraction", usageReport(key, "d1", report(uuid.New(), now, map[string]any{"users": 1.5})), "reports[0].metrics.users"},
		{"string value", usageReport(key, "d1", report(uuid.New(), now, map[string]any{"users": "3"})), "reports[0].metrics.users"},
		{"overflow", `{"licenseKey":"` + key + `","deploymentId":"d1","reports":[{"id":"` + uuid.NewString() +
			`","periodStart":"2026-10-01T00:00:00Z","periodEnd":"2026-10-01T01:00:00Z","metrics":{"apiCalls":9223372036854775808}}]}`, "reports[0].metrics.apiCalls"},
		{"bad name", usageReport(key, "d1", report(uuid.New(), now, map[string]any{"9lives": 1})), "reports[0].metrics.9lives"},
		{"bad id", usageReport(key, "d1", map[string]any{"id": "r1", "periodStart": now.Format(time.RFC3339), "periodEnd": now.Format(time.RFC3339), "metrics": map[string]any{"a": 1}}), "reports[0].id"},
		{"end before start", usageReport(key, "d1", map[string]any{"id": uuid.NewString(), "periodStart": now.Format(time.RFC3339),
			"periodEnd": now.Add(-time.Hour).Format(time.RFC3339), "metrics": map[string]any{"a": 1}}), "reports[0].periodEnd"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := wantError(t, f.do("POST", "/api/usage/report", "", tc.body), 422, "invalid")
			details := m["error"].(map[string]any)["details"].([]any)
			if len(details) == 0 || details[0].(map[string]any)["field"] != tc.field {
				t.Fatalf("got details %v, want field %s named", details, tc.field)
			}
			if n := countRows(t, f.testEnv, "usage_reports"); n != 0 {
				t.Fatalf("%d reports stored from a refused request", n)
			}
		})
	}
	wantError(t, f.do("POST", "/api/usage/report", "", usageReport("NLS-bad-00000000", "d1", report(uuid.New(), now, map[string]any{"a": 1}))), 401, "unauthorized")
}

func TestMachineRateLimits(t *testing.T) {
	e := newEnv(t, func(c *handlers.Config) {
		c.MachineRateKey = handlers.Rate{Limit: 3, Window: time.Minute}
		c.MachineRateIP = handlers.Rate{Limit: 5, Window: time.Minute}
	})
	f := &fixture{testEnv: e, admin: e.apiKey("admin")}
	r := e.do("POST", "/api/customers", f.admin, map[string]any{"name": "A", "email": "a@b.example"})
	f.customerID = r.JSON(t)["id"].(string)
	e.do("POST", "/api/plans", f.admin, map[string]any{"code": "p", "name": "P"})
	_, key1 := f.issue(map[string]any{"plan": "p"})
	_, key2 := f.issue(map[string]any{"plan": "p"})
	for i := 0; i < 3; i++ {
		validate(t, e, key1, "d", nil)
	}
	// The fourth request with the same key is refused, whatever the deployment.
	r = e.do("POST", "/api/validation/validate", "", map[string]any{"licenseKey": key1, "deploymentId": "other"})
	wantError(t, r, 429, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Another key from the same address still passes, until the address's own limit.
	validate(t, e, key2, "d", nil)
	wantError(t, e.do("POST", "/api/validation/validate", "", map[string]any{"licenseKey": key2, "deploymentId": "d"}), 429, "rate_limited")
}

func TestJWKSServesPublicKeys(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/.well-known/jwks.json", "", nil)
	if r.Status != 200 || !strings.Contains(r.Header.Get("Cache-Control"), "max-age") {
		t.Fatalf("got %d %v", r.Status, r.Header)
	}
	keys := r.JSON(t)["keys"].([]any)
	if len(keys) == 0 {
		t.Fatal("no keys")
	}
	for _, k := range keys {
		km := k.(map[string]any)
		if km["kid"] == nil || km["alg"] == nil {
			t.Fatalf("key without kid/alg: %v", km)
		}
		if _, private := km["d"]; private {
			t.Fatalf("private part served: %v", km)
		}
	}
}
