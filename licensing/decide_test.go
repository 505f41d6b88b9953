// Tests of the validation decision: every code, precedence, trace and
// allocation.
package licensing

import (
	"strings"
	"testing"
	"time"
)

func baseInput() DecisionInput {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	exp := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	return DecisionInput{KeyCode: CodeValid, Found: true,
		License:    LicenseFacts{Status: StatusActive, StartsAt: start.AddDate(-1, 0, 0), ExpiresAt: &exp, GraceDays: 7, DunningDays: 14},
		Deployment: DeploymentFacts{ID: "d1", Exists: true, HoldsSeat: true}, SeatsInUse: 2, MaxDeployments: 3,
		RequestedFeatures: []string{"sso"}, EntitledFeatures: []string{"audit", "sso"},
		Now: exp.Add(-time.Hour)}
}

func TestDecide(t *testing.T) {
	exp := *baseInput().License.ExpiresAt
	past := exp.AddDate(0, 0, -3)
	tests := []struct {
		name   string
		mod    func(in *DecisionInput)
		code   ValidationCode
		detail string
	}{
		{"valid", func(in *DecisionInput) {}, CodeValid, "valid until 2026-01-02"},
		{"valid at expiry instant", func(in *DecisionInput) { in.Now = exp }, CodeValid, ""},
		{"valid with empty key code", func(in *DecisionInput) { in.KeyCode = "" }, CodeValid, ""},
		{"perpetual", func(in *DecisionInput) { in.License.ExpiresAt = nil; in.Now = exp.AddDate(50, 0, 0) }, CodeValid, "perpetual"},
		{"invalid key", func(in *DecisionInput) { in.KeyCode = CodeInvalidKey; in.Found = false }, CodeInvalidKey, "malformed"},
		{"invalid signature", func(in *DecisionInput) { in.KeyCode = CodeInvalidSignature }, CodeInvalidSignature, "not signed"},
		{"not found", func(in *DecisionInput) { in.Found = false }, CodeNotFound, "no license"},
		{"revoked", func(in *DecisionInput) { in.License.Status = StatusRevoked }, CodeRevoked, "revoked"},
		{"suspended", func(in *DecisionInput) { in.License.Status = StatusSuspended }, CodeSuspended, "suspended"},
		{"suspended by dunning", func(in *DecisionInput) {
			in.License.PastDue, in.License.PastDueSince = true, ptr(past.AddDate(0, 0, -20))
		}, CodeSuspended, "dunning ended"},
		{"not yet valid", func(in *DecisionInput) { in.License.StartsAt = exp.Add(-time.Minute) }, CodeNotYetValid, "starts on"},
		{"expired 1ns after grace", func(in *DecisionInput) { in.Now = exp.AddDate(0, 0, 7).Add(time.Nanosecond) }, CodeExpired,
			"license expired on 2026-01-02; grace ended 2026-01-09"},
		{"grace at grace end", func(in *DecisionInput) { in.Now = exp.AddDate(0, 0, 7) }, CodeGracePeriod, "grace period ends 2026-01-09"},
		{"grace 1ns after expiry", func(in *DecisionInput) { in.Now = exp.Add(time.Nanosecond) }, CodeGracePeriod, ""},
		{"deployment deactivated", func(in *DecisionInput) { in.Deployment.Deactivated = true }, CodeDeploymentDeactivated, "d1 was deactivated"},
		{"too many deployments", func(in *DecisionInput) { in.Deployment = DeploymentFacts{ID: "d9"}; in.SeatsInUse = 3 }, CodeTooManyDeployments, "all 3 deployments"},
		{"new deployment with a free seat", func(in *DecisionInput) { in.Deployment = DeploymentFacts{ID: "d9"} }, CodeValid, ""},
		{"known deployment without seat, full", func(in *DecisionInput) { in.Deployment.HoldsSeat = false; in.SeatsInUse = 3 }, CodeTooManyDeployments, ""},
		{"seat holder passes when full", func(in *DecisionInput) { in.SeatsInUse = 3 }, CodeValid, ""},
		{"unlimited seats", func(in *DecisionInput) {
			in.Deployment = DeploymentFacts{ID: "d9"}
			in.SeatsInUse = 1000
			in.MaxDeployments = 0
		}, CodeValid, ""},
		{"no deployment named", func(in *DecisionInput) { in.Deployment = DeploymentFacts{}; in.SeatsInUse = 3 }, CodeValid, ""},
		{"feature not entitled", func(in *DecisionInput) { in.RequestedFeatures = []string{"sso", "saml"} }, CodeFeatureNotEntitled, "feature saml"},
		{"payment overdue", func(in *DecisionInput) { in.License.PastDue, in.License.PastDueSince = true, &past }, CodePaymentOverdue,
			"payment overdue since 2025-12-30; the license will be suspended after 2026-01-13"},
		// Precedence when several checks fail at once.
		{"revoked + expired", func(in *DecisionInput) { in.License.Status = StatusRevoked; in.Now = exp.AddDate(1, 0, 0) }, CodeRevoked, ""},
		{"suspended + not yet valid", func(in *DecisionInput) { in.License.Status = StatusSuspended; in.License.StartsAt = exp }, CodeSuspended, ""},
		{"expired + deactivated", func(in *DecisionInput) { in.Deployment.Deactivated = true; in.Now = exp.AddDate(1, 0, 0) }, CodeExpired, ""},
		{"grace + past due", func(in *DecisionInput) {
			in.License.PastDue, in.License.PastDueSince = true, &past
			in.Now = exp.Add(time.Hour)
		}, CodeGracePeriod, ""},
		{"deactivated + too many + feature", func(in *DecisionInput) {
			in.Deployment.Deactivated, in.Deployment.HoldsSeat, in.SeatsInUse = true, false, 3
			in.RequestedFeatures = []string{"x"}
		}, CodeDeploymentDeactivated, ""},
		{"too many + feature", func(in *DecisionInput) {
			in.Deployment.HoldsSeat, in.SeatsInUse, in.RequestedFeatures = false, 3, []string{"x"}
		}, CodeTooManyDeployments, ""},
		{"invalid signature + not found", func(in *DecisionInput) { in.KeyCode = CodeInvalidSignature; in.Found = false }, CodeInvalidSignature, ""},
		{"not found + revoked", func(in *DecisionInput) { in.Found = false; in.License.Status = StatusRevoked }, CodeNotFound, ""},
		{"grace + feature missing", func(in *DecisionInput) { in.Now = exp.Add(time.Hour); in.RequestedFeatures = []string{"x"} }, CodeFeatureNotEntitled, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput()
			tt.mod(&in)
			d := Decide(in)
			if d.Code != tt.code || d.Valid != tt.code.Valid() {
				t.Fatalf("got %v (valid %v), want %v (valid %v)", d.Code, d.Valid, tt.code, tt.code.Valid())
			}
			if !strings.Contains(d.Detail(), tt.detail) || d.Detail() == "" {
				t.Errorf("detail: got %q, want it to contain %q", d.Detail(), tt.detail)
			}
			in.Explain = true
			e := Decide(in)
			if e.Code != d.Code || len(e.Trace) == 0 {
				t.Fatalf("explained: got %v with %d checks, want %v with a trace", e.Code, len(e.Trace), d.Code)
			}
			firstFail := ""
			for _, c := range e.Trace {
				if !c.Passed {
					firstFail = c.Name
					break
				}
			}
			if d.Valid {
				if d.Code == CodeValid && firstFail != "" {
					t.Errorf("trace: got failed check %v, want none", firstFail)
				}
			} else if want := failCheck[d.Code]; firstFail != want {
				t.Errorf("trace first failure: got %v, want %v (%+v)", firstFail, want, e.Trace)
			}
		})
	}
}

var failCheck = map[ValidationCode]string{
	CodeInvalidKey: CheckKeyFormat, CodeInvalidSignature: CheckSignature, CodeNotFound: CheckFound,
	CodeRevoked: CheckNotRevoked, CodeSuspended: CheckNotSuspend, CodeNotYetValid: CheckStarted,
	CodeExpired: CheckNotExpired, CodeDeploymentDeactivated: CheckDeployment, CodeFingerprintMismatch: CheckFingerprint,
	CodeTooManyDeployments: CheckSeat,
	CodeFeatureNotEntitled: CheckFeatureEntitled,
}

func TestDecideTraceListsEveryCheck(t *testing.T) {
	in := baseInput()
	in.Explain = true
	in.License.Status = StatusRevoked
	in.RequestedFeatures = []string{"x"}
	d := Decide(in)
	var names []string
	for _, c := range d.Trace {
		names = append(names, c.Name)
	}
	want := []string{CheckKeyFormat, CheckSignature, CheckFound, CheckNotRevoked, CheckNotSuspend, CheckStarted,
		CheckNotExpired, CheckDeployment, CheckFingerprint, CheckSeat, CheckFeatureEntitled}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("got %v, want %v", names, want)
	}
	if d.Trace[3].Passed || !d.Trace[4].Passed || d.Trace[10].Passed {
		t.Errorf("got %+v, want revoked and features failed", d.Trace)
	}
}

func TestDecideEffective(t *testing.T) {
	in := baseInput()
	in.Now = in.License.ExpiresAt.Add(time.Hour)
	eff := Decide(in).Effective()
	if eff.State != StateGrace || eff.GraceEndsAt == nil || !eff.GraceEndsAt.Equal(in.License.ExpiresAt.AddDate(0, 0, 7)) {
		t.Errorf("got %+v, want grace with its end", eff)
	}
	if got := EffectiveStatus(in.License, in.Now); got.State != eff.State || !sameTime(got.GraceEndsAt, eff.GraceEndsAt) {
		t.Errorf("got %+v, want %+v", eff, got)
	}
}

func TestDecideDoesNotAllocate(t *testing.T) {
	exp := *baseInput().License.ExpiresAt
	for _, tt := range []struct {
		name string
		mod  func(in *DecisionInput)
	}{
		{"valid", func(in *DecisionInput) {}},
		{"grace", func(in *DecisionInput) { in.Now = exp.Add(time.Hour) }},
		{"expired", func(in *DecisionInput) { in.Now = exp.AddDate(1, 0, 0) }},
		{"feature", func(in *DecisionInput) { in.RequestedFeatures = []string{"x"} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput()
			tt.mod(&in)
			var sink Decision
			if got := testing.AllocsPerRun(100, func() { sink = Decide(in) }); got != 0 {
				t.Errorf("got %v allocs, want 0", got)
			}
			_ = sink
		})
	}
}
