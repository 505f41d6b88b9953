package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nectarcloud/nls/insights"
	"github.com/nectarcloud/nls/licensing"
)

// The customer portal shows only the findings meant for customers, worded
// for them: a limit forecast and the upgrade suggestion, not an attack or a
// suspicion of sharing; not another customer's; not one staff dismissed.
func TestPortalShowsCustomerFacingFindings(t *testing.T) {
	pe := newPortalEnv(t)
	ctx := context.Background()
	now := time.Now()
	lic, cust := mustUUID(t, pe.licA), mustUUID(t, pe.customerID)
	licB, custB := mustUUID(t, pe.licB), mustUUID(t, pe.custB)
	limit := 10.0
	at := now.AddDate(0, 0, 40).UTC()
	apply := func(k insights.Kind, fs ...insights.Finding) {
		t.Helper()
		if _, err := pe.store.ApplyFindings(ctx, k, fs, now); err != nil {
			t.Fatal(err)
		}
	}
	apply(insights.KindForecast, insights.Finding{Kind: insights.KindForecast, Subject: lic.String(), LicenseID: &lic, CustomerID: &cust,
		Severity: insights.SeverityInfo, Title: "users limit reached", Evidence: insights.Evidence{Metric: "users", Limit: &limit,
			ForecastDate: &at, Summary: "internal wording", Series: []insights.Point{{At: now.AddDate(0, 0, -1), V: 6}, {At: now, V: 7}}}})
	apply(insights.KindSharing, insights.Finding{Kind: insights.KindSharing, Subject: lic.String(), LicenseID: &lic, CustomerID: &cust,
		Severity: insights.SeverityCritical, Title: "Sharing suspected", Evidence: insights.Evidence{Summary: "five machines"}})
	apply(insights.KindUpgrade,
		insights.Finding{Kind: insights.KindUpgrade, Subject: lic.String(), LicenseID: &lic, CustomerID: &cust,
			Severity: insights.SeverityInfo, Title: "Upgrade opportunity", Evidence: insights.Evidence{SuggestedPlan: "enterprise"}},
		insights.Finding{Kind: insights.KindUpgrade, Subject: licB.String(), LicenseID: &licB, CustomerID: &custB,
			Severity: insights.SeverityInfo, Title: "Upgrade opportunity", Evidence: insights.Evidence{SuggestedPlan: "team"}})

	p := pe.a.get("/portal")
	wantStatus(t, p, 200)
	checkCSP(t, p)
	items := p.Doc.Find(`[data-testid=advice-item]`)
	if items.Length() != 2 {
		t.Fatalf("advice on the overview: %d items\n%s", items.Length(), p.Doc.Find(`[data-testid=advice]`).Text())
	}
	text := p.Doc.Find(`[data-testid=advice]`).Text()
	for _, want := range []string{"reach your pro plan's limit of 10", at.Format("2 January 2006"), "The enterprise plan would give you room"} {
		if !strings.Contains(text, want) {
			t.Errorf("advice lacks %q:\n%s", want, text)
		}
	}
	for _, not := range []string{"Sharing", "five machines", "internal wording", "team"} {
		if strings.Contains(text, not) {
			t.Errorf("advice shows %q", not)
		}
	}
	p = pe.a.get("/portal/licenses/" + pe.licA)
	if n := p.Doc.Find(`[data-testid=advice-item]`).Length(); n != 2 {
		t.Errorf("license page advice: %d", n)
	}
	if p.Doc.Find(`[data-testid=advice-item][data-kind=forecast] [data-testid=sparkline-limit]`).Length() != 1 {
		t.Error("the forecast has no chart with its limit")
	}

	// Staff dismissed the upgrade suggestion: the customer no longer sees it.
	rows, err := pe.store.Pool.Query(ctx, `SELECT id FROM findings WHERE kind = 'upgrade_opportunity' AND license_id = $1`, lic)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	if _, err := pe.store.SetFindingStatus(ctx, licensing.SystemActor("test"), mustUUID(t, ids[0]), "dismissed", "sold already", now); err != nil {
		t.Fatal(err)
	}
	p = pe.a.get("/portal")
	if n := p.Doc.Find(`[data-testid=advice-item]`).Length(); n != 1 {
		t.Errorf("after dismissal: %d advice items, want 1", n)
	}
}
