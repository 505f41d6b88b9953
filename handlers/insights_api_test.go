package handlers_test

import (
	"context"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/insights"
)

// plantFindings stores two findings as the detectors would: an upgrade
// opportunity on the license and an attack from a source address.
func plantFindings(t *testing.T, f *fixture, licenseID string) {
	t.Helper()
	lic := mustUUID(t, licenseID)
	cust := mustUUID(t, f.customerID)
	rev := int64(25_000)
	ctx := context.Background()
	now := time.Now()
	if _, err := f.store.ApplyFindings(ctx, insights.KindUpgrade, []insights.Finding{{Kind: insights.KindUpgrade,
		Subject: lic.String(), LicenseID: &lic, CustomerID: &cust, Severity: insights.SeverityWarning, Title: "Upgrade opportunity",
		RevenueCents: &rev, Evidence: insights.Evidence{Summary: "At 80 % or more of users", SuggestedPlan: "enterprise",
			Series: []insights.Point{{At: now.UTC().AddDate(0, 0, -2), V: 7}, {At: now.UTC().AddDate(0, 0, -1), V: 8},
				{At: now.UTC(), V: 9}}, Numbers: map[string]float64{"usersLimit": 10}}}}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.ApplyFindings(ctx, insights.KindKeyAttack, []insights.Finding{{Kind: insights.KindKeyAttack,
		Subject: "source:key:203.0.113.7", Severity: insights.SeverityCritical, Title: "Key forging from 203.0.113.7",
		Evidence: insights.Evidence{Summary: "500 failed key checks", IPs: []string{"203.0.113.7"}}}}, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
}

func TestFindingsAPI(t *testing.T) {
	f := newFixture(t)
	licID, _ := f.issue(map[string]any{"plan": "pro"})
	plantFindings(t, f, licID)
	doc, _ := loadOpenAPI(t, f.testEnv, true)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	c := &conformance{t: t, e: f.testEnv, router: router,
		opts: &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	reader := f.apiKey("insights:read")

	all := c.check("GET", "/api/findings", reader, nil, 200)
	data := all["data"].([]any)
	if len(data) != 2 || data[0].(map[string]any)["kind"] != "key_attack" {
		t.Fatalf("newest first: got %v", all)
	}
	byLicense := c.check("GET", "/api/findings?licenseId="+licID+"&status=active&kind=upgrade_opportunity", reader, nil, 200)
	if d := byLicense["data"].([]any); len(d) != 1 || d[0].(map[string]any)["customerName"] == "" ||
		d[0].(map[string]any)["evidence"].(map[string]any)["suggestedPlan"] != "enterprise" {
		t.Fatalf("by license: %v", byLicense)
	}
	byRevenue := c.check("GET", "/api/findings?sort=revenue&limit=1", reader, nil, 200)
	first := byRevenue["data"].([]any)[0].(map[string]any)
	if first["kind"] != "upgrade_opportunity" || first["revenueAtStakeCents"] != float64(25_000) || byRevenue["nextCursor"] == nil {
		t.Fatalf("by revenue: %v", byRevenue)
	}
	next := c.check("GET", "/api/findings?sort=revenue&limit=1&cursor="+byRevenue["nextCursor"].(string), reader, nil, 200)
	if d := next["data"].([]any); len(d) != 1 || d[0].(map[string]any)["kind"] != "key_attack" || next["nextCursor"] != nil {
		t.Fatalf("second page: %v", next)
	}
	if got := c.check("GET", "/api/findings?severity=info", reader, nil, 200)["data"].([]any); len(got) != 0 {
		t.Errorf("severity filter: %v", got)
	}
	body := c.check("GET", "/api/findings?kind=bogus&licenseId=nope", reader, nil, 422)
	if d := body["error"].(map[string]any)["details"].([]any); len(d) != 2 {
		t.Errorf("details: %v", d)
	}
	c.check("GET", "/api/findings", f.apiKey("licenses:read"), nil, 403)
	c.check("GET", "/api/findings", "", nil, 401)
	_ = uuid.Nil
}
