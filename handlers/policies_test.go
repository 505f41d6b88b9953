// Tests of the licensing policies through the management API: plan policy
// fields created, changed and refused with the error envelope.
package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestPlanPolicyFields(t *testing.T) {
	e := newEnv(t)
	key := e.apiKey("admin")
	r := e.do("POST", "/api/plans", key, map[string]any{"code": "locked", "name": "Locked", "maxDeployments": 4,
		"fingerprintPolicy": "components", "fingerprintMatch": "most", "leaseHours": 24, "transfersPerPeriod": 3,
		"seatOverage": "1.25x", "limitEnforcement": map[string]any{"users": "soft"}, "expiryStrategy": "maintain"})
	if r.Status != 201 {
		t.Fatalf("create: got %d %s", r.Status, r.Body)
	}
	p := r.JSON(t)
	if p["fingerprintPolicy"] != "components" || p["leaseHours"] != float64(24) || p["transfersPerPeriod"] != float64(3) ||
		p["transferPeriodDays"] != float64(30) || p["seatOverage"] != "1.25x" || p["expiryStrategy"] != "maintain" ||
		p["limitEnforcement"].(map[string]any)["users"] != "soft" {
		t.Fatalf("create: got %s, want the policy fields back with transferPeriodDays defaulted to 30", r.Body)
	}
	r = e.do("PATCH", "/api/plans/locked", key, map[string]any{"fingerprintPolicy": "lock", "seatOverage": "none"})
	if p := r.JSON(t); r.Status != 200 || p["fingerprintPolicy"] != "lock" || p["seatOverage"] != "none" || p["leaseHours"] != float64(24) {
		t.Fatalf("patch: got %d %s, want lock, no overage, lease hours kept", r.Status, r.Body)
	}
	plain := e.do("POST", "/api/plans", key, map[string]any{"code": "plain", "name": "Plain"}).JSON(t)
	if plain["fingerprintPolicy"] != "none" || plain["fingerprintMatch"] != "most" || plain["seatOverage"] != "none" ||
		plain["expiryStrategy"] != "restrict" || plain["leaseHours"] != float64(0) || plain["transfersPerPeriod"] != float64(0) {
		t.Fatalf("defaults: got %v", plain)
	}
	r = e.do("POST", "/api/plans", key, map[string]any{"code": "bad", "name": "Bad", "fingerprintPolicy": "strict",
		"seatOverage": "3x", "limitEnforcement": map[string]any{"users": "lax"}, "expiryStrategy": "forever", "leaseHours": -1})
	wantError(t, r, 422, "invalid")
	for _, f := range []string{"fingerprintPolicy", "seatOverage", "limitEnforcement.users", "expiryStrategy", "leaseHours"} {
		if !strings.Contains(string(r.Body), `"field":"`+f+`"`) {
			t.Errorf("got %s, want a detail for %s", r.Body, f)
		}
	}
	if r := e.do("GET", "/api/plans/bad", key, nil); r.Status != 404 {
		t.Errorf("the refused plan: got %d, want 404 (nothing stored)", r.Status)
	}
}

func TestAdminPlanPolicyForm(t *testing.T) {
	a := newAdminEnv(t)
	form := a.b.get("/admin/plans/new")
	wantStatus(t, form, 200)
	for _, f := range []string{"fingerprintPolicy", "fingerprintMatch", "leaseHours", "transfersPerPeriod", "transferPeriodDays",
		"seatOverage", "softLimits", "expiryStrategy"} {
		one(t, form, `label[for=`+f+`]`)
	}
	bad := url.Values{"code": {"pol"}, "name": {"Pol"}, "seatOverage": {"9x"}, "leaseHours": {"-2"}}
	p := a.b.post("/admin/plans", bad)
	wantStatus(t, p, http.StatusUnprocessableEntity)
	one(t, p, `[data-testid=error-seatOverage]`)
	one(t, p, `[data-testid=error-leaseHours]`)

	p = a.b.post("/admin/plans", url.Values{"code": {"pol"}, "name": {"Pol"}, "limits": {"users=5"},
		"fingerprintPolicy": {"components"}, "fingerprintMatch": {"all"}, "leaseHours": {"12"},
		"transfersPerPeriod": {"3"}, "transferPeriodDays": {"30"}, "seatOverage": {"1.5x"}, "softLimits": {"users"},
		"expiryStrategy": {"maintain"}})
	wantStatus(t, p, http.StatusSeeOther)
	pl, err := a.store.GetPlanByCode(t.Context(), "pol")
	if err != nil {
		t.Fatal(err)
	}
	got := pl.Policy()
	if got.FingerprintPolicy != "components" || got.FingerprintMatch != "all" || got.LeaseHours != 12 || got.TransfersPerPeriod != 3 ||
		got.SeatOverage != "1.5x" || got.Enforcement("users") != "soft" || got.ExpiryStrategy != "maintain" {
		t.Errorf("stored policy: %+v", got)
	}
	edit := a.b.get("/admin/plans/pol/edit")
	wantStatus(t, edit, 200)
	if v := one(t, edit, `select#seatOverage option[selected]`).AttrOr("value", ""); v != "1.5x" {
		t.Errorf("edit form overage: got %q, want 1.5x", v)
	}
	if v := one(t, edit, `input#softLimits`).AttrOr("value", ""); v != "users" {
		t.Errorf("edit form soft limits: got %q, want users", v)
	}
}

// The customer sees the transfer budget and, for a released deployment,
// when its last lease ends; beyond the budget a release is refused with the
// refill date.
func TestPortalTransferBudgetAndLastLease(t *testing.T) {
	pe := newPortalEnv(t)
	pe.exec(`UPDATE plans SET transfers_per_period = 1, transfer_period_days = 30, lease_hours = 24`)
	for _, d := range []string{"dep-1", "dep-2"} {
		if code := pe.validate(pe.keyA, d); code != "VALID" {
			t.Fatalf("%s: got %s", d, code)
		}
	}
	page := pe.a.get("/portal/licenses/" + pe.licA)
	if got := one(t, page, `[data-testid=transfer-budget]`).Text(); got != "0 of 1 used in the last 30 days" {
		t.Errorf("budget before: got %q", got)
	}
	p := pe.a.hxPost("/portal/licenses/"+pe.licA+"/deployments/dep-1/release", url.Values{})
	wantStatus(t, p, http.StatusOK)
	if got := one(t, p, `[data-testid=transfer-budget]`).Text(); !strings.HasPrefix(got, "1 of 1 used in the last 30 days; the next is possible from ") {
		t.Errorf("budget after: got %q", got)
	}
	if got := one(t, p, `[data-testid=deployment-row][data-id=dep-1] [data-testid=deployment-note]`).Text(); !strings.Contains(got, "Its last lease ends by ") {
		t.Errorf("released deployment note: got %q", got)
	}
	r := pe.a.hxPost("/portal/licenses/"+pe.licA+"/deployments/dep-2/release", url.Values{})
	if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "next release is possible from") {
		t.Errorf("release beyond the budget: got %d %s", r.Status, r.Body)
	}
	if code := pe.validate(pe.keyA, "dep-2"); code != "VALID" {
		t.Errorf("dep-2 after the refused release: got %s, want VALID", code)
	}
}

// Admins see a license's seat overage on its page.
func TestAdminLicensePageShowsSeatOverage(t *testing.T) {
	a := newAdminEnv(t)
	a.exec(`UPDATE plans SET seat_overage = '2x' WHERE code = 'pro'`)
	page := a.b.get("/admin/licenses/" + a.licenseID)
	wantStatus(t, page, 200)
	if n := page.Doc.Find(`[data-testid=seat-overage]`).Length(); n != 0 {
		t.Fatalf("before any overage: got %d overage lines, want none", n)
	}
	for i, d := range []string{"ov-1", "ov-2", "ov-3"} {
		want := "VALID"
		if i == 2 {
			want = "SEAT_OVERAGE"
		}
		if got := validate(t, a.testEnv, a.key, d, nil)["code"]; got != want {
			t.Fatalf("%s: got %v, want %s", d, got, want)
		}
	}
	page = a.b.get("/admin/licenses/" + a.licenseID)
	if got := one(t, page, `[data-testid=seat-overage]`).Text(); got != "3 of 2 (1 over)" {
		t.Errorf("overage line: got %q, want 3 of 2 (1 over)", got)
	}
}
