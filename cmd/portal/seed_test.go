package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
)

// TestSeedShowsTheProduct: the demo data has a license in every status,
// stale deployments, 90 days of usage and validations, and a Stripe event
// that needs attention.
func TestSeedShowsTheProduct(t *testing.T) {
	ctx := context.Background()
	url := dbtest.NewURL(t)
	env := envOf(map[string]string{"DATABASE_URL": url, "NLS_LOG_LEVEL": "warn", "NLS_DATA_DIR": t.TempDir(),
		"NLS_BCRYPT_COST": "4"})
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"seed"}, env, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("seed: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "reports feature") {
		t.Errorf("seed output does not offer the enterprise key: %s", stdout.String())
	}
	pool, err := db.Connect(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store := db.NewStore(pool)
	now := time.Now()
	rows, err := store.CountLicensesByEffectiveStatus(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range rows {
		got[r.State] = r.Count
	}
	for _, state := range []string{"active", "grace", "past_due", "suspended", "expired", "not_yet_valid"} {
		if got[state] == 0 {
			t.Errorf("no %s license in the demo data (got %v)", state, got)
		}
	}
	fresh, err := store.CountDeploymentsByFreshness(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Stale == 0 || fresh.Active == 0 {
		t.Errorf("deployments: got %+v, want active and stale ones", fresh)
	}
	var days, hours, attention int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(DISTINCT day) FROM usage_daily),
		(SELECT count(DISTINCT hour) FROM validation_stats),
		(SELECT count(*) FROM stripe_events WHERE status = 'needs_attention')`).Scan(&days, &hours, &attention); err != nil {
		t.Fatal(err)
	}
	if days < 90 || hours != 90*24 || attention != 1 {
		t.Errorf("history: %d days of usage (want at least 90), %d hours of validations (want 2160), %d Stripe events needing attention (want 1)",
			days, hours, attention)
	}
	// A disabled demo webhook endpoint with a delivery log to show.
	eps, err := store.ListWebhookEndpoints(ctx, db.ListWebhookEndpointsParams{MaxRows: 10})
	if err != nil || len(eps) != 1 || eps[0].Enabled || eps[0].DisabledReason == "" {
		t.Fatalf("webhook endpoints %+v (%v), want one disabled demo endpoint", eps, err)
	}
	ds, err := store.ListWebhookDeliveries(ctx, db.WebhookDeliveryFilter{EndpointID: eps[0].ID, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]int{}
	attempts := 0
	for _, d := range ds {
		states[d.Status]++
		attempts += len(d.AttemptLog)
	}
	if states["delivered"] < 5 || states["failed"] != 1 || attempts <= len(ds) {
		t.Errorf("demo deliveries %v with %d attempts, want delivered ones, one failed, and retries", states, attempts)
	}
}
