package handlers_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// scrape reads /metrics and returns the value of each series line.
func scrape(t *testing.T, e *testEnv) map[string]float64 {
	t.Helper()
	r := e.do("GET", "/metrics", "", nil)
	if r.Status != 200 {
		t.Fatalf("metrics: got %d, want 200", r.Status)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(r.Body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("unparsable metrics line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestBusinessMetricsAfterTraffic drives validations, heartbeats and usage
// reports, then reads the business series a dashboard and the alerts use.
func TestBusinessMetricsAfterTraffic(t *testing.T) {
	f := newFixture(t)
	_, key := f.issue(map[string]any{"plan": "pro"})
	// River's table, as River's migrations create it, with a backlog.
	f.exec(`CREATE TYPE river_job_state AS ENUM ('available', 'cancelled', 'completed', 'discarded', 'pending', 'retryable', 'running', 'scheduled')`)
	f.exec(`CREATE TABLE river_job (id bigserial PRIMARY KEY, queue text NOT NULL DEFAULT 'default', state river_job_state NOT NULL DEFAULT 'available')`)
	f.exec(`INSERT INTO river_job (queue, state) VALUES ('default', 'available'), ('default', 'available'), ('mail', 'retryable'), ('default', 'completed')`)

	validate(t, f.testEnv, key, "dep-1", nil)
	validate(t, f.testEnv, key, "dep-2", nil)
	if r := f.do("POST", "/api/validation/heartbeat", "", map[string]any{"licenseKey": key, "deploymentId": "dep-1"}); r.Status != 200 {
		t.Fatalf("heartbeat: got %d %s", r.Status, r.Body)
	}
	validate(t, f.testEnv, key, "dep-3", nil) // the plan has two seats
	validate(t, f.testEnv, "NLS-nonsense-00000000", "dep-1", nil)
	report := map[string]any{"id": uuid.NewString(), "periodStart": "2026-01-01T00:00:00Z", "periodEnd": "2026-01-01T01:00:00Z",
		"metrics": map[string]any{"apiCalls": 5, "users": 3}}
	for i := 0; i < 2; i++ { // the second is a duplicate: not ingested again
		r := f.do("POST", "/api/usage/report", "", map[string]any{"licenseKey": key, "deploymentId": "dep-1", "reports": []any{report}})
		if r.Status != 200 {
			t.Fatalf("usage: got %d %s", r.Status, r.Body)
		}
	}

	m := scrape(t, f.testEnv)
	for series, want := range map[string]float64{
		`nls_validations_total{code="VALID"}`:                                           3,
		`nls_validations_total{code="TOO_MANY_DEPLOYMENTS"}`:                            1,
		`nls_validations_total{code="INVALID_KEY"}`:                                     1,
		`nls_leases_issued_total`:                                                       3,
		`nls_usage_points_total`:                                                        2,
		`nls_seats_in_use`:                                                              2,
		`nls_job_queue_depth{queue="default",state="available"}`:                        2,
		`nls_job_queue_depth{queue="mail",state="retryable"}`:                           1,
		`nls_deliveries_total{kind="webhook",outcome="failed"}`:                         0,
		`nls_deliveries_total{kind="email",outcome="delivered"}`:                        0,
		`nls_business_metrics_up`:                                                       1,
		`nls_http_requests_total{method="POST",route="/api/usage/report",status="200"}`: 2,
	} {
		got, ok := m[series]
		if !ok {
			t.Errorf("no series %s", series)
		} else if got != want {
			t.Errorf("%s: got %v, want %v", series, got, want)
		}
	}
	if age, ok := m["nls_signing_key_age_seconds"]; !ok || age <= 0 {
		t.Errorf("nls_signing_key_age_seconds: got %v (present %v), want a positive age", age, ok)
	}
	if _, ok := m[`nls_job_queue_depth{queue="default",state="completed"}`]; ok {
		t.Errorf("finished jobs counted in the queue depth")
	}
	lat := regexp.MustCompile(`^nls_http_request_duration_seconds_count\{method="POST",route="/api/validation/validate"\}$`)
	found := false
	for k, v := range m {
		if lat.MatchString(k) && v == 4 {
			found = true
		}
	}
	if !found {
		t.Errorf("no latency histogram with 4 validations")
	}
}

// TestJobQueueDepthWithoutRiver: before the job engine's table exists the
// queue reads as empty, not as a failed scrape.
func TestJobQueueDepthWithoutRiver(t *testing.T) {
	e := newEnv(t)
	m := scrape(t, e)
	if v, ok := m[`nls_job_queue_depth{queue="default",state="available"}`]; !ok || v != 0 {
		t.Fatalf("got %v (present %v), want 0", v, ok)
	}
	if m[`nls_business_metrics_up`] != 1 || m[`nls_seats_in_use`] != 0 {
		t.Fatalf("got up %v seats %v, want 1 and 0", m[`nls_business_metrics_up`], m[`nls_seats_in_use`])
	}
}
