// The license page's plan change (preview, then confirm) and policy
// override sections: bad input is shown in place and changes nothing; a
// confirmed change goes through the same use case as the API and the next
// validations follow it.
package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
)

// storedLicense reads the license row as stored.
func storedLicense(t *testing.T, a *adminEnv) db.License {
	t.Helper()
	l, err := a.store.GetLicense(t.Context(), uuid.MustParse(a.licenseID))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAdminPlanChangePreviewThenConfirm(t *testing.T) {
	a := newAdminEnv(t) // plan pro: 2 seats, features sso and api
	if r := a.do("POST", "/api/plans", a.admin, map[string]any{"code": "solo", "name": "Solo", "features": []string{"sso"},
		"maxDeployments": 1, "heartbeatWindowHours": 24}); r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	for _, d := range []string{"dep-old", "dep-new"} { // activated in this order
		if res := validate(t, a.testEnv, a.key, d, nil); res["code"] != "VALID" {
			t.Fatalf("%s: got %v", d, res["code"])
		}
	}
	path := "/admin/licenses/" + a.licenseID
	page := a.b.get(path)
	one(t, page, `[data-testid=plan-change] label[for=change-plan]`)
	if got := one(t, page, `[data-testid=plan-change]`).AttrOr("hx-trigger", ""); got != "licenseChanged from:body" {
		t.Errorf("plan section hx-trigger: got %q", got)
	}
	before := storedLicense(t, a)

	t.Run("bad input is shown in place and changes nothing", func(t *testing.T) {
		p := a.b.htmx("POST", path+"/plan/preview", url.Values{"plan": {""}, "overrides": {"maybe"}})
		wantStatus(t, p, http.StatusOK) // htmx swaps only 2xx
		one(t, p, `[data-testid=error-plan]`)
		one(t, p, `[data-testid=error-overrides]`)
		if p.Doc.Find(`[data-testid=plan-preview]`).Length() != 0 {
			t.Error("a refused preview shows a preview")
		}
		p = a.b.post(path+"/plan/preview", url.Values{"plan": {"nope"}, "overrides": {"keep"}})
		wantStatus(t, p, http.StatusUnprocessableEntity)
		if got := one(t, p, `[data-testid=error-plan]`).Text(); !strings.Contains(got, "Unknown plan") {
			t.Errorf("unknown plan: got %q", got)
		}
		one(t, p, `[data-testid=license-header]`) // the whole page, the form in it
		p = a.b.htmx("POST", path+"/plan", url.Values{"plan": {"solo"}, "overrides": {"maybe"}})
		wantStatus(t, p, http.StatusOK)
		one(t, p, `[data-testid=action-error]`)
		if p.Header.Get("HX-Trigger") != "" {
			t.Errorf("a refused change triggers %q", p.Header.Get("HX-Trigger"))
		}
		p = a.b.post(path+"/plan", url.Values{"plan": {"nope"}, "overrides": {"reset"}})
		wantStatus(t, p, http.StatusSeeOther)
		if after := storedLicense(t, a); after.PlanID != before.PlanID || *after.MaxDeployments != 2 || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Fatalf("refused input changed the license: %+v", after)
		}
	})

	preview := a.b.htmx("POST", path+"/plan/preview", url.Values{"plan": {"solo"}, "overrides": {"reset"}})
	wantStatus(t, preview, http.StatusOK)
	if got := one(t, preview, `[data-testid=preview-seats]`).Text(); got != "1" {
		t.Errorf("preview seats: got %q, want 1", got)
	}
	rows := preview.Doc.Find(`[data-testid=preview-losing-row]`)
	if rows.Length() != 1 || rows.AttrOr("data-id", "") != "dep-new" {
		t.Fatalf("preview: got %d losing (%q), want dep-new alone", rows.Length(), rows.Text())
	}
	if after := storedLicense(t, a); after.PlanID != before.PlanID || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatal("the preview changed the license")
	}
	confirm := one(t, preview, `[data-testid=plan-confirm]`)
	if confirm.AttrOr("hx-post", "") != path+"/plan" || confirm.Find(`input[name=plan]`).AttrOr("value", "") != "solo" {
		t.Fatalf("confirm form: %v", confirm.Nodes)
	}

	done := a.b.htmx("POST", path+"/plan", url.Values{"plan": {"solo"}, "overrides": {"reset"}})
	wantStatus(t, done, http.StatusOK)
	if got := done.Header.Get("HX-Trigger"); got != "licenseChanged" {
		t.Errorf("HX-Trigger: got %q, want licenseChanged", got)
	}
	if got := one(t, done, `[data-testid=license-plan]`).Text(); got != "Solo" {
		t.Errorf("header plan: got %q, want Solo", got)
	}
	if !strings.Contains(string(done.Body), "1 deployment loses its seat at the next check: dep-new") {
		t.Errorf("the answer does not name the lost seat: %.600s", done.Body)
	}
	wantAudit(t, a, "license.plan_change")
	deps := a.b.htmx("GET", path+"/sections/deployments", nil)
	if got := deps.Doc.Find(`[data-id=dep-new] [data-testid=deployment-seat-lost]`).Length(); got != 1 {
		t.Errorf("dep-new not marked as having lost its seat")
	}
	if got := deps.Doc.Find(`[data-id=dep-old] [data-testid=deployment-seat-lost]`).Length(); got != 0 {
		t.Errorf("dep-old marked as having lost its seat")
	}
	if res := validate(t, a.testEnv, a.key, "dep-new", nil); res["code"] != "TOO_MANY_DEPLOYMENTS" {
		t.Errorf("dep-new after the downgrade: got %v", res["code"])
	}
	if res := validate(t, a.testEnv, a.key, "dep-old", []string{"sso"}); res["code"] != "VALID" || res["license"].(map[string]any)["plan"] != "solo" {
		t.Errorf("dep-old after the downgrade: got %v", res)
	}
	// The section shows the change's outcome once it fetches itself again.
	sec := a.b.htmx("GET", path+"/sections/plan", nil)
	if got := one(t, sec, `[data-testid=plan-change]`).Text(); !strings.Contains(got, "Solo (solo)") {
		t.Errorf("plan section after the change: %q", got)
	}
}

func TestAdminPolicyOverrides(t *testing.T) {
	a := newAdminEnv(t)
	path := "/admin/licenses/" + a.licenseID
	page := a.b.get(path)
	for _, f := range []string{"fingerprintPolicy", "fingerprintMatch", "leaseHours", "transfersPerPeriod", "transferPeriodDays",
		"seatOverage", "limitEnforcement", "expiryStrategy"} {
		one(t, page, `[data-testid=license-policy] label[for=policy-`+f+`]`)
	}
	if got := one(t, page, `#policy-fingerprintPolicy option[selected]`).Text(); got != "Follow the plan (none)" {
		t.Errorf("fingerprint policy default: got %q", got)
	}
	before := storedLicense(t, a)

	bad := []struct {
		name   string
		form   url.Values
		fields []string
	}{
		{"not numbers, a malformed list", url.Values{"leaseHours": {"six"}, "transfersPerPeriod": {"1.5"}, "limitEnforcement": {"users"}},
			[]string{"leaseHours", "transfersPerPeriod", "limitEnforcement"}},
		{"values out of range", url.Values{"fingerprintPolicy": {"glue"}, "leaseHours": {"9000"}, "transferPeriodDays": {"0"},
			"seatOverage": {"3x"}, "limitEnforcement": {"users=lenient"}, "expiryStrategy": {"allow"}},
			[]string{"fingerprintPolicy", "leaseHours", "transferPeriodDays", "seatOverage", "limitEnforcement", "expiryStrategy"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			p := a.b.htmx("POST", path+"/policy", tc.form)
			wantStatus(t, p, http.StatusOK)
			for _, f := range tc.fields {
				one(t, p, `[data-testid=error-`+f+`]`)
			}
			if got := one(t, p, `#policy-leaseHours`).AttrOr("value", ""); got != tc.form.Get("leaseHours") {
				t.Errorf("typed lease hours not kept: %q", got)
			}
			if p.Header.Get("HX-Trigger") != "" {
				t.Errorf("a refused save triggers %q", p.Header.Get("HX-Trigger"))
			}
			full := a.b.post(path+"/policy", tc.form)
			wantStatus(t, full, http.StatusUnprocessableEntity)
			one(t, full, `[data-testid=license-header]`)
			if after := storedLicense(t, a); string(after.PolicyOverrides) != "{}" || !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Fatalf("refused input changed the license: %s", after.PolicyOverrides)
			}
		})
	}

	ok := a.b.htmx("POST", path+"/policy", url.Values{"fingerprintPolicy": {"lock"}, "leaseHours": {"6"},
		"limitEnforcement": {"users=soft"}, "expiryStrategy": {""}})
	wantStatus(t, ok, http.StatusOK)
	if got := ok.Header.Get("HX-Trigger"); got != "licenseChanged" {
		t.Errorf("HX-Trigger: got %q, want licenseChanged", got)
	}
	if got := one(t, ok, `#policy-fingerprintPolicy option[selected]`).AttrOr("value", ""); got != "lock" {
		t.Errorf("saved fingerprint policy shown: got %q", got)
	}
	if got := one(t, ok, `#policy-limitEnforcement`).AttrOr("value", ""); got != "users=soft" {
		t.Errorf("saved enforcement shown: got %q", got)
	}
	wantAudit(t, a, "license.update")
	o := db.DecodePolicyOverrides(storedLicense(t, a).PolicyOverrides)
	if o.FingerprintPolicy == nil || *o.FingerprintPolicy != "lock" || o.LeaseHours == nil || *o.LeaseHours != 6 ||
		o.LimitEnforcement["users"] != "soft" || o.ExpiryStrategy != nil || o.SeatOverage != nil {
		t.Errorf("stored overrides: got %+v, want lock, 6 lease hours, users soft, the rest following the plan", o)
	}
	// The next validations follow the overrides: no fingerprint is refused
	// under lock; one binds, and the lease runs the 6 hours.
	if r := a.do("POST", "/api/validation/validate", "", map[string]any{"licenseKey": a.key, "deploymentId": "d1"}); r.JSON(t)["code"] != "FINGERPRINT_MISMATCH" {
		t.Errorf("without a fingerprint under lock: got %s", r.Body)
	}
	r := a.do("POST", "/api/validation/validate", "", map[string]any{"licenseKey": a.key, "deploymentId": "d1", "fingerprint": "fp-1"})
	ans := r.JSON(t)
	exp, _ := time.Parse(time.RFC3339, ans["leaseExpiresAt"].(string))
	if ans["code"] != "VALID" || exp.After(time.Now().Add(6*time.Hour+time.Minute)) {
		t.Errorf("with a fingerprint: got %v, lease to %v, want VALID for 6 hours", ans["code"], exp)
	}

	// All blank: the license follows its plan again.
	wantStatus(t, a.b.post(path+"/policy", url.Values{}), http.StatusSeeOther)
	if o := db.DecodePolicyOverrides(storedLicense(t, a).PolicyOverrides); !o.IsZero() {
		t.Errorf("cleared overrides: got %+v", o)
	}
}
