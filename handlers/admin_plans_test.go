package handlers_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/nectarcloud/nls/db"
)

func countPlans(t *testing.T, a *adminEnv) int {
	t.Helper()
	ps, err := a.store.ListPlans(t.Context(), db.ListPlansParams{IncludeArchived: true, MaxRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(ps)
}

func TestAdminPlansTable(t *testing.T) {
	a := newAdminEnv(t)
	p := a.b.get("/admin/plans")
	wantStatus(t, p, 200)
	checkCSP(t, p)
	row := one(t, p, `[data-testid=plan-row][data-code=pro]`)
	for sel, want := range map[string]string{"plan-name": "Pro", "plan-features": "sso, api", "plan-limits": "Active users 10",
		"plan-max-deployments": "2", "plan-duration": "365 days", "plan-prices": "Not sold through Stripe"} {
		if got := strings.TrimSpace(row.Find(`[data-testid=` + sel + `]`).Text()); got != want {
			t.Errorf("%s: got %q, want %q", sel, got, want)
		}
	}
	if got := row.Find(`[data-testid=edit-plan]`).AttrOr("href", ""); got != "/admin/plans/pro/edit" {
		t.Errorf("edit link: %q", got)
	}
}

func TestAdminCreatePlan(t *testing.T) {
	a := newAdminEnv(t)
	form := a.b.get("/admin/plans/new")
	wantStatus(t, form, 200)
	checkCSP(t, form)
	if got := one(t, form, `input#graceDays`).AttrOr("value", ""); got != "7" {
		t.Errorf("grace default: %q", got)
	}
	for _, f := range []string{"code", "name", "description", "features", "limit-name-0", "limit-value-0", "maxDeployments", "durationDays",
		"graceDays", "offlineDays", "heartbeatWindowHours", "dunningDays", "stripePriceIds", "quantitySets"} {
		one(t, form, `label[for=`+f+`]`)
	}
	before := countPlans(t, a)

	bad := url.Values{"code": {"Bad Code"}, "name": {""}, "maxDeployments": {"lots"}, "limitName": {"users"}, "limitValue": {"many"},
		"graceDays": {"999"}, "features": {"sso"}}
	p := a.b.post("/admin/plans", bad)
	wantStatus(t, p, http.StatusUnprocessableEntity)
	one(t, p, `[data-testid=form-errors]`)
	for _, f := range []string{"code", "name", "maxDeployments", "limits", "graceDays"} {
		one(t, p, `[data-testid=error-`+f+`]`)
		id := f
		if f == "limits" {
			id = "limit-name-0"
		}
		if got := one(t, p, `#`+id).AttrOr("aria-invalid", ""); got != "true" {
			t.Errorf("%s aria-invalid: %q", f, got)
		}
	}
	if got := one(t, p, `[data-testid=error-graceDays]`).Text(); !strings.Contains(got, "0 to 365") {
		t.Errorf("grace error: %q", got)
	}
	if got := one(t, p, `input#maxDeployments`).AttrOr("value", ""); got != "lots" {
		t.Errorf("typed value kept: %q", got)
	}
	if got := one(t, p, `textarea#features`).Text(); got != "sso" {
		t.Errorf("features kept: %q", got)
	}
	if countPlans(t, a) != before {
		t.Fatal("a refused form stored a plan")
	}
	wantStatus(t, a.b.send("POST", "/admin/plans", url.Values{"code": {"x"}, "name": {"X"}}, nil), http.StatusForbidden)

	p = a.b.post("/admin/plans", url.Values{"code": {"team"}, "name": {"Team"}, "description": {"For teams"},
		"features": {"sso\nreports, api"}, "limitName": {"users", "projects", ""}, "limitValue": {"5", "3", ""}, "maxDeployments": {""},
		"durationDays": {""}, "graceDays": {"3"}, "offlineDays": {"10"}, "heartbeatWindowHours": {"48"},
		"dunningDays": {"5"}, "stripePriceIds": {"price_a, price_b"}, "quantitySets": {"users"}})
	wantStatus(t, p, http.StatusSeeOther)
	if got := p.Header.Get("Location"); got != "/admin/plans" {
		t.Errorf("Location: %q", got)
	}
	wantAudit(t, a, "plan.create")
	pl, err := a.store.GetPlanByCode(t.Context(), "team")
	if err != nil {
		t.Fatal(err)
	}
	limits := db.DecodeLimits(pl.Limits)
	if !slices.Equal(pl.Features, []string{"sso", "reports", "api"}) || limits["users"] != 5 || limits["projects"] != 3 ||
		pl.MaxDeployments != nil || pl.DurationDays != nil || pl.GraceDays != 3 || pl.OfflineDays != 10 ||
		pl.HeartbeatWindowHours != 48 || pl.DunningDays != 5 || pl.QuantitySets == nil || *pl.QuantitySets != "users" {
		t.Errorf("stored plan: %+v", pl)
	}
	prices, _ := a.store.ListPlanPrices(t.Context(), pl.ID)
	if !slices.Equal(prices, []string{"price_a", "price_b"}) {
		t.Errorf("prices: %v", prices)
	}
	list := a.b.get("/admin/plans")
	one(t, list, `[data-testid=flash] [data-testid=toast][data-kind=success]`)
	row := one(t, list, `[data-testid=plan-row][data-code=team]`)
	if got := row.Find(`[data-testid=plan-max-deployments]`).Text(); got != "Unlimited" {
		t.Errorf("max deployments: %q", got)
	}
	if got := row.Find(`[data-testid=plan-duration]`).Text(); got != "Perpetual" {
		t.Errorf("duration: %q", got)
	}

	// The same code again, and a price another plan has: each on its field.
	p = a.b.post("/admin/plans", url.Values{"code": {"team"}, "name": {"Team 2"}})
	wantStatus(t, p, http.StatusUnprocessableEntity)
	if got := one(t, p, `[data-testid=error-code]`).Text(); !strings.Contains(got, "already exists") {
		t.Errorf("duplicate code: %q", got)
	}
	p = a.b.post("/admin/plans", url.Values{"code": {"other"}, "name": {"Other"}, "stripePriceIds": {"price_a"}})
	wantStatus(t, p, http.StatusUnprocessableEntity)
	one(t, p, `[data-testid=error-stripePriceIds]`)
	if _, err := a.store.GetPlanByCode(t.Context(), "other"); err == nil {
		t.Error("a refused plan was stored")
	}
}

func TestAdminEditPlan(t *testing.T) {
	a := newAdminEnv(t)
	form := a.b.get("/admin/plans/pro/edit")
	wantStatus(t, form, 200)
	checkCSP(t, form)
	if got := one(t, form, `input#code`); got.AttrOr("readonly", "x") == "x" || got.AttrOr("value", "") != "pro" {
		t.Errorf("code field: %v", got.Nodes[0].Attr)
	}
	if n, v := one(t, form, `input#limit-name-0`).AttrOr("value", ""), one(t, form, `input#limit-value-0`).AttrOr("value", ""); n != "users" || v != "10" {
		t.Errorf("limits prefilled: %q = %q, want users = 10", n, v)
	}
	if got := one(t, form, `input#maxDeployments`).AttrOr("value", ""); got != "2" {
		t.Errorf("max deployments prefilled: %q", got)
	}
	wantStatus(t, a.b.get("/admin/plans/nope/edit"), 404)

	edit := func(changes url.Values) url.Values {
		v := url.Values{"name": {"Pro"}, "features": {"sso, api"}, "limitName": {"users"}, "limitValue": {"10"}, "maxDeployments": {"2"},
			"durationDays": {"365"}, "graceDays": {"7"}, "offlineDays": {"30"}, "heartbeatWindowHours": {"24"},
			"dunningDays": {"14"}}
		for k, x := range changes {
			v[k] = x
		}
		return v
	}
	p := a.b.post("/admin/plans/pro/edit", edit(url.Values{"name": {"Pro Plus"}, "maxDeployments": {"many"}, "dunningDays": {"-1"}}))
	wantStatus(t, p, http.StatusUnprocessableEntity)
	one(t, p, `[data-testid=error-maxDeployments]`)
	one(t, p, `[data-testid=error-dunningDays]`)
	if pl, _ := a.store.GetPlanByCode(t.Context(), "pro"); pl.Name != "Pro" || pl.MaxDeployments == nil {
		t.Fatalf("a refused edit was stored: %q %v", pl.Name, pl.MaxDeployments)
	}
	wantStatus(t, a.b.send("POST", "/admin/plans/pro/edit", edit(nil), nil), http.StatusForbidden)

	p = a.b.post("/admin/plans/pro/edit", edit(url.Values{"name": {"Pro Plus"}, "maxDeployments": {""}, "archived": {"true"}}))
	wantStatus(t, p, http.StatusSeeOther)
	wantAudit(t, a, "plan.update")
	pl, _ := a.store.GetPlanByCode(t.Context(), "pro")
	if pl.Name != "Pro Plus" || pl.MaxDeployments != nil || pl.ArchivedAt == nil {
		t.Errorf("stored: %q %v %v", pl.Name, pl.MaxDeployments, pl.ArchivedAt)
	}
	one(t, a.b.get("/admin/plans"), `[data-testid=plan-row][data-code=pro] [data-testid=plan-archived]`)
}
