// Tests of the licensing policies at every boundary: fingerprint matching,
// seat overage and its rounding, the transfer budget, lease length, the
// maintain expiry strategy, semantic version order, and how Decide applies
// them.
package licensing

import (
	"strings"
	"testing"
	"time"
)

func fp(id string, comps ...string) Fingerprint {
	f := Fingerprint{ID: id}
	if len(comps) > 0 {
		f.Components = map[string]string{}
		for i := 0; i+1 < len(comps); i += 2 {
			f.Components[comps[i]] = comps[i+1]
		}
	}
	return f
}

func TestMatchFingerprint(t *testing.T) {
	// A machine with four components besides its id: five in all.
	stored := fp("m1", "host", "h1", "mac", "a1", "cpu", "c1", "disk", "d1")
	tests := []struct {
		name      string
		policy    FingerprintPolicy
		rule      MatchRule
		stored    Fingerprint
		presented Fingerprint
		want      FingerprintOutcome
	}{
		{"none ignores another machine", FingerprintNone, MatchAll, stored, fp("m2"), FingerprintSame},
		{"none ignores a missing fingerprint", FingerprintNone, MatchAll, stored, Fingerprint{}, FingerprintSame},
		{"lock same id", FingerprintLock, "", stored, fp("m1"), FingerprintSame},
		{"lock another id (copied state folder)", FingerprintLock, "", stored, fp("m2", "host", "h1", "mac", "a1", "cpu", "c1", "disk", "d1"), FingerprintRefused},
		{"lock binds a new deployment", FingerprintLock, "", Fingerprint{}, fp("m2"), FingerprintBind},
		{"lock needs a fingerprint", FingerprintLock, "", stored, Fingerprint{}, FingerprintRefused},
		{"lock needs one from a new deployment", FingerprintLock, "", Fingerprint{}, Fingerprint{}, FingerprintRefused},
		{"components identical", FingerprintComponents, MatchMost, stored, stored, FingerprintSame},
		{"most: one of five changed", FingerprintComponents, MatchMost, stored, fp("m1", "host", "h1", "mac", "a1", "cpu", "c1", "disk", "d2"), FingerprintChanged},
		{"most: two of five changed", FingerprintComponents, MatchMost, stored, fp("m1", "host", "h1", "mac", "a2", "cpu", "c1", "disk", "d2"), FingerprintChanged},
		{"most: three of five changed", FingerprintComponents, MatchMost, stored, fp("m1", "host", "h2", "mac", "a2", "cpu", "c1", "disk", "d2"), FingerprintRefused},
		{"most: two of four is not more than half", FingerprintComponents, MatchMost, fp("", "host", "h1", "mac", "a1", "cpu", "c1", "disk", "d1"),
			fp("", "host", "h1", "mac", "a1", "cpu", "c2", "disk", "d2"), FingerprintRefused},
		{"most: three of four", FingerprintComponents, MatchMost, fp("", "host", "h1", "mac", "a1", "cpu", "c1", "disk", "d1"),
			fp("", "host", "h1", "mac", "a1", "cpu", "c1", "disk", "d2"), FingerprintChanged},
		{"most counts only components on both sides", FingerprintComponents, MatchMost, stored, fp("m1", "disk", "d9", "gpu", "g1"), FingerprintRefused},
		{"most: a new component alone is no match", FingerprintComponents, MatchMost, stored, fp("", "gpu", "g1"), FingerprintRefused},
		{"all: one changed", FingerprintComponents, MatchAll, stored, fp("m1", "host", "h1", "mac", "a1", "cpu", "c1", "disk", "d2"), FingerprintRefused},
		{"all: a component dropped", FingerprintComponents, MatchAll, stored, fp("m1", "host", "h1"), FingerprintChanged},
		{"any: four of five changed", FingerprintComponents, MatchAny, stored, fp("m2", "host", "h2", "mac", "a2", "cpu", "c2", "disk", "d1"), FingerprintChanged},
		{"any: all changed", FingerprintComponents, MatchAny, stored, fp("m2", "host", "h2", "mac", "a2", "cpu", "c2", "disk", "d2"), FingerprintRefused},
		{"components binds a new deployment", FingerprintComponents, MatchMost, Fingerprint{}, stored, FingerprintBind},
		{"components needs a fingerprint", FingerprintComponents, MatchMost, stored, Fingerprint{}, FingerprintRefused},
		{"empty rule reads as most", FingerprintComponents, "", stored, fp("m1", "host", "h2", "mac", "a2", "cpu", "c1", "disk", "d2"), FingerprintRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchFingerprint(tt.policy, tt.rule, tt.stored, tt.presented); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSeatAllowance(t *testing.T) {
	tests := []struct {
		max  int
		o    SeatOverage
		want int
	}{
		{4, OverageNone, 4}, {4, "", 4}, {4, Overage125, 5}, {3, Overage125, 3}, {8, Overage125, 10},
		{3, Overage150, 4}, {4, Overage150, 6}, {1, Overage150, 1}, {4, Overage200, 8}, {1, Overage200, 2},
		{4, OverageAlways, 0}, {0, Overage200, 0}, {4, "3x", -1},
	}
	for _, tt := range tests {
		if got := SeatAllowance(tt.max, tt.o); got != tt.want {
			t.Errorf("SeatAllowance(%d, %q): got %d, want %d", tt.max, tt.o, got, tt.want)
		}
	}
}

func TestTransfers(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := Policy{TransfersPerPeriod: 3, TransferPeriodDays: 30}
	day := 24 * time.Hour
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	tests := []struct {
		name    string
		past    []time.Time
		used    int
		allowed bool
		refill  time.Time
	}{
		{"none used", nil, 0, true, time.Time{}},
		{"budget-1 used: one more allowed", []time.Time{ago(2 * day), ago(1 * day)}, 2, true, time.Time{}},
		{"budget used: refused until the oldest leaves", []time.Time{ago(1 * day), ago(20 * day), ago(5 * day)}, 3, false, ago(20 * day).Add(30 * day)},
		{"budget+1 used (admin releases)", []time.Time{ago(1 * day), ago(2 * day), ago(3 * day), ago(4 * day)}, 4, false, ago(3 * day).Add(30 * day)},
		{"at the refill instant the oldest has left", []time.Time{ago(30 * day), ago(2 * day), ago(1 * day)}, 2, true, time.Time{}},
		{"1ns before the refill it still counts", []time.Time{ago(30*day - 1), ago(2 * day), ago(1 * day)}, 3, false, now.Add(1)},
		{"future instants are not counted", []time.Time{now.Add(time.Hour)}, 0, true, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := p.Transfers(tt.past, now)
			if b.Used != tt.used || b.Allowed != tt.allowed || !b.RefillsAt.Equal(tt.refill) || b.Limit != 3 || b.PeriodDays != 30 {
				t.Errorf("got %+v, want used %d allowed %v refill %v", b, tt.used, tt.allowed, tt.refill)
			}
		})
	}
	if b := (Policy{}).Transfers([]time.Time{now, now, now}, now); !b.Allowed || b.Used != 3 || b.PeriodDays != 30 {
		t.Errorf("unlimited: got %+v, want allowed with 3 used over 30 days", b)
	}
}

func TestLeaseWindow(t *testing.T) {
	tests := []struct {
		hours, offlineDays int32
		want               time.Duration
	}{
		{0, 30, 30 * 24 * time.Hour},
		{24, 30, 24 * time.Hour},
		{24 * 30, 30, 30 * 24 * time.Hour},
		{24*30 + 1, 30, 30 * 24 * time.Hour}, // never longer than the offline window
		{1, 0, time.Hour},
	}
	for _, tt := range tests {
		if got := (Policy{LeaseHours: tt.hours}).LeaseWindow(tt.offlineDays); got != tt.want {
			t.Errorf("LeaseWindow(%d h, %d d): got %v, want %v", tt.hours, tt.offlineDays, got, tt.want)
		}
	}
}

func TestCompareSemver(t *testing.T) {
	ordered := []string{"0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0", "10.0.0"}
	for i := range ordered {
		for j := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := CompareSemver(ordered[i], ordered[j]); got != want {
				t.Errorf("CompareSemver(%s, %s): got %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	if CompareSemver("v1.2.3", "1.2.3+build.5") != 0 {
		t.Errorf("a v prefix and build metadata must not change the order")
	}
	for _, bad := range []string{"", "1", "1.2", "1.2.3.4", "01.2.3", "1.2.x", "1.2.3-", "1.2.3-01", "1.2.3+", "1.2.3-a..b", " 1.2.3"} {
		if ValidSemver(bad) {
			t.Errorf("ValidSemver(%q): got true, want false", bad)
		}
	}
}

func TestNewestAllowedVersion(t *testing.T) {
	exp := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	rel := []AppRelease{{"1.9.0", exp.Add(-48 * time.Hour)}, {"2.0.0", exp.Add(-time.Nanosecond)},
		{"2.1.0", exp.Add(time.Nanosecond)}, {"1.10.0", exp.Add(-time.Hour)}, {"nightly", exp.AddDate(-1, 0, 0)}}
	if got := NewestAllowedVersion(rel, exp); got != "2.0.0" {
		t.Errorf("got %q, want 2.0.0", got)
	}
	if got := NewestAllowedVersion(append(rel, AppRelease{"2.0.1", exp}), exp); got != "2.0.1" {
		t.Errorf("released at the expiry instant: got %q, want 2.0.1", got)
	}
	if got := NewestAllowedVersion(rel[2:3], exp); got != "" {
		t.Errorf("only later releases: got %q, want none", got)
	}
	for v, want := range map[string]bool{"2.0.0": true, "1.9.0": true, "2.0.0-rc.1": true, "2.0.1": false, "2.1.0": false, "": false, "junk": false} {
		if got := VersionAllowed(v, "2.0.0"); got != want {
			t.Errorf("VersionAllowed(%q): got %v, want %v", v, got, want)
		}
	}
}

func TestDecidePolicies(t *testing.T) {
	exp := *baseInput().License.ExpiresAt
	graceEnd := exp.AddDate(0, 0, 7)
	releases := []AppRelease{{"1.4.0", exp.AddDate(0, -3, 0)}, {"1.5.0", exp.Add(-time.Nanosecond)}, {"1.6.0", exp.Add(time.Nanosecond)}}
	maintain := func(in *DecisionInput, now time.Time, version string) {
		in.Policy.ExpiryStrategy, in.Releases, in.Now, in.AppVersion = ExpiryMaintain, releases, now, version
	}
	locked := fp("m1")
	tests := []struct {
		name    string
		mod     func(in *DecisionInput)
		code    ValidationCode
		detail  string
		outcome FingerprintOutcome
	}{
		// Fingerprints.
		{"lock: same machine", func(in *DecisionInput) {
			in.Policy.FingerprintPolicy, in.Deployment.Fingerprint, in.Fingerprint = FingerprintLock, locked, fp("m1")
		}, CodeValid, "", FingerprintSame},
		{"lock: copied state folder on a second machine", func(in *DecisionInput) {
			in.Policy.FingerprintPolicy, in.Deployment.Fingerprint, in.Fingerprint = FingerprintLock, locked, fp("m2")
		}, CodeFingerprintMismatch, "bound to another machine", FingerprintRefused},
		{"lock: no fingerprint", func(in *DecisionInput) {
			in.Policy.FingerprintPolicy, in.Deployment.Fingerprint = FingerprintLock, locked
		}, CodeFingerprintMismatch, "carries no fingerprint", FingerprintRefused},
		{"lock: a new deployment binds", func(in *DecisionInput) {
			in.Policy.FingerprintPolicy, in.Deployment, in.Fingerprint = FingerprintLock, DeploymentFacts{ID: "d9"}, fp("m2")
		}, CodeValid, "", FingerprintBind},
		{"none: another fingerprint is valid", func(in *DecisionInput) {
			in.Deployment.Fingerprint, in.Fingerprint = locked, fp("m2")
		}, CodeValid, "", FingerprintSame},
		{"no deployment named: no fingerprint needed", func(in *DecisionInput) {
			in.Policy.FingerprintPolicy, in.Deployment = FingerprintLock, DeploymentFacts{}
		}, CodeValid, "", FingerprintSame},
		{"mismatch comes after deactivated", func(in *DecisionInput) {
			in.Policy.FingerprintPolicy, in.Deployment.Fingerprint, in.Fingerprint = FingerprintLock, locked, fp("m2")
			in.Deployment.Deactivated = true
		}, CodeDeploymentDeactivated, "", FingerprintRefused},
		{"mismatch comes before too many deployments", func(in *DecisionInput) {
			in.Policy.FingerprintPolicy, in.Deployment.Fingerprint, in.Fingerprint = FingerprintLock, locked, fp("m2")
			in.Deployment.HoldsSeat, in.SeatsInUse = false, 3
		}, CodeFingerprintMismatch, "", FingerprintRefused},
		{"mismatch comes after expired", func(in *DecisionInput) {
			in.Policy.FingerprintPolicy, in.Deployment.Fingerprint, in.Fingerprint = FingerprintLock, locked, fp("m2")
			in.Now = graceEnd.Add(time.Nanosecond)
		}, CodeExpired, "", FingerprintRefused},
		// Seats and overage: 4 seats, 1.25x admits 5.
		{"overage: 4th of 4 seats is valid", func(in *DecisionInput) {
			in.MaxDeployments, in.Policy.SeatOverage, in.Deployment, in.SeatsInUse = 4, Overage125, DeploymentFacts{ID: "d9"}, 3
		}, CodeValid, "", FingerprintSame},
		{"overage: 5th of 4 seats under 1.25x", func(in *DecisionInput) {
			in.MaxDeployments, in.Policy.SeatOverage, in.Deployment, in.SeatsInUse = 4, Overage125, DeploymentFacts{ID: "d9"}, 4
		}, CodeSeatOverage, "5 deployments in use, over the 4", FingerprintSame},
		{"overage: 6th of 4 seats under 1.25x", func(in *DecisionInput) {
			in.MaxDeployments, in.Policy.SeatOverage, in.Deployment, in.SeatsInUse = 4, Overage125, DeploymentFacts{ID: "d9"}, 5
		}, CodeTooManyDeployments, "overage allowance (5)", FingerprintSame},
		{"overage: holder of the 5th seat", func(in *DecisionInput) {
			in.MaxDeployments, in.Policy.SeatOverage, in.SeatsInUse, in.Deployment.SeatRank = 4, Overage125, 4, 4
		}, CodeSeatOverage, "", FingerprintSame},
		{"overage: 5th of 4 seats without allowance", func(in *DecisionInput) {
			in.MaxDeployments, in.Deployment, in.SeatsInUse = 4, DeploymentFacts{ID: "d9"}, 4
		}, CodeTooManyDeployments, "all 4 deployments", FingerprintSame},
		{"overage: always admits the 100th", func(in *DecisionInput) {
			in.MaxDeployments, in.Policy.SeatOverage, in.Deployment, in.SeatsInUse = 4, OverageAlways, DeploymentFacts{ID: "d9"}, 99
		}, CodeSeatOverage, "", FingerprintSame},
		{"grace wins over seat overage", func(in *DecisionInput) {
			in.MaxDeployments, in.Policy.SeatOverage, in.Deployment, in.SeatsInUse = 4, Overage125, DeploymentFacts{ID: "d9"}, 4
			in.Now = exp.Add(time.Hour)
		}, CodeGracePeriod, "", FingerprintSame},
		{"payment overdue wins over seat overage", func(in *DecisionInput) {
			in.MaxDeployments, in.Policy.SeatOverage, in.Deployment, in.SeatsInUse = 4, Overage125, DeploymentFacts{ID: "d9"}, 4
			in.License.PastDue, in.License.PastDueSince = true, ptr(exp.AddDate(0, 0, -2))
		}, CodePaymentOverdue, "", FingerprintSame},
		// Downgrade: 5 holders, the plan now allows 3; ranks 0..2 keep their seat.
		{"downgrade: third oldest keeps its seat", func(in *DecisionInput) {
			in.MaxDeployments, in.SeatsInUse, in.Deployment.SeatRank = 3, 4, 2
		}, CodeValid, "", FingerprintSame},
		{"downgrade: fourth oldest loses its seat", func(in *DecisionInput) {
			in.MaxDeployments, in.SeatsInUse, in.Deployment.SeatRank = 3, 4, 3
		}, CodeTooManyDeployments, "lost its seat", FingerprintSame},
		{"downgrade: newest loses its seat", func(in *DecisionInput) {
			in.MaxDeployments, in.SeatsInUse, in.Deployment.SeatRank = 3, 4, 4
		}, CodeTooManyDeployments, "", FingerprintSame},
		// Maintain: expiry instant, grace, after grace with versions either side.
		{"maintain: at the expiry instant every version is valid", func(in *DecisionInput) { maintain(in, exp, "1.6.0") }, CodeValid, "", FingerprintSame},
		{"maintain: in grace every version", func(in *DecisionInput) { maintain(in, graceEnd, "1.6.0") }, CodeGracePeriod, "", FingerprintSame},
		{"maintain: after grace, released 1ns before expiry", func(in *DecisionInput) { maintain(in, graceEnd.Add(time.Nanosecond), "1.5.0") },
			CodeVersionLocked, "versions up to 1.5.0", FingerprintSame},
		{"maintain: after grace, an older version", func(in *DecisionInput) { maintain(in, graceEnd.AddDate(5, 0, 0), "1.4.0") },
			CodeVersionLocked, "", FingerprintSame},
		{"maintain: after grace, released 1ns after expiry", func(in *DecisionInput) { maintain(in, graceEnd.Add(time.Nanosecond), "1.6.0") },
			CodeExpired, `versions up to 1.5.0 keep running, not "1.6.0"`, FingerprintSame},
		{"maintain: after grace, unlisted newer patch", func(in *DecisionInput) { maintain(in, graceEnd.Add(time.Nanosecond), "1.5.1") },
			CodeExpired, "", FingerprintSame},
		{"maintain: after grace, no appVersion", func(in *DecisionInput) { maintain(in, graceEnd.Add(time.Nanosecond), "") },
			CodeExpired, "without appVersion", FingerprintSame},
		{"maintain: no release before expiry", func(in *DecisionInput) {
			maintain(in, graceEnd.Add(time.Nanosecond), "1.6.0")
			in.Releases = releases[2:]
		}, CodeExpired, "no application version released before the expiry", FingerprintSame},
		{"restrict: after grace, an old version", func(in *DecisionInput) {
			maintain(in, graceEnd.Add(time.Nanosecond), "1.4.0")
			in.Policy.ExpiryStrategy = ExpiryRestrict
		}, CodeExpired, "", FingerprintSame},
		{"maintain: revoked still refused", func(in *DecisionInput) {
			maintain(in, graceEnd.Add(time.Nanosecond), "1.4.0")
			in.License.Status = StatusRevoked
		}, CodeRevoked, "", FingerprintSame},
		{"maintain: seat overage wins over version locked", func(in *DecisionInput) {
			maintain(in, graceEnd.Add(time.Nanosecond), "1.4.0")
			in.MaxDeployments, in.Policy.SeatOverage, in.Deployment, in.SeatsInUse = 4, Overage125, DeploymentFacts{ID: "d9"}, 4
		}, CodeSeatOverage, "", FingerprintSame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput()
			tt.mod(&in)
			d := Decide(in)
			if d.Code != tt.code || d.Valid != tt.code.Valid() || d.Fingerprint != tt.outcome {
				t.Fatalf("got %v (valid %v, fingerprint %v), want %v (valid %v, fingerprint %v)", d.Code, d.Valid,
					d.Fingerprint, tt.code, tt.code.Valid(), tt.outcome)
			}
			if !strings.Contains(d.Detail(), tt.detail) || d.Detail() == "" {
				t.Errorf("detail: got %q, want it to contain %q", d.Detail(), tt.detail)
			}
			in.Explain = true
			e := Decide(in)
			if e.Code != d.Code {
				t.Fatalf("explained: got %v, want %v", e.Code, d.Code)
			}
			if !d.Valid {
				for _, c := range e.Trace {
					if !c.Passed {
						if c.Name != failCheck[d.Code] {
							t.Errorf("trace first failure: got %v, want %v", c.Name, failCheck[d.Code])
						}
						break
					}
				}
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	p := Policy{}
	var pr Problems
	p.Validate(&pr)
	if len(pr) != 0 || p.FingerprintPolicy != FingerprintNone || p.FingerprintMatch != MatchMost || p.SeatOverage != OverageNone ||
		p.ExpiryStrategy != ExpiryRestrict || p.TransferPeriodDays != 30 {
		t.Errorf("zero policy: got %+v %v, want the defaults without problems", p, pr)
	}
	bad := Policy{FingerprintPolicy: "strict", FingerprintMatch: "some", LeaseHours: -1, TransfersPerPeriod: -1,
		TransferPeriodDays: 400, SeatOverage: "3x", ExpiryStrategy: "forever",
		LimitEnforcement: map[string]Enforcement{"users": "lax", "9bad": EnforceSoft}}
	pr = nil
	bad.Validate(&pr)
	fields := map[string]bool{}
	for _, d := range pr {
		fields[d.Field] = true
	}
	for _, f := range []string{"fingerprintPolicy", "fingerprintMatch", "leaseHours", "transfersPerPeriod", "transferPeriodDays",
		"seatOverage", "expiryStrategy", "limitEnforcement.users", "limitEnforcement.9bad"} {
		if !fields[f] {
			t.Errorf("got problems %v, want one for %s", pr, f)
		}
	}
	lock, soft := FingerprintLock, map[string]Enforcement{"users": EnforceSoft}
	got := DefaultPolicy().With(PolicyOverrides{FingerprintPolicy: &lock, LimitEnforcement: soft})
	if got.FingerprintPolicy != FingerprintLock || got.Enforcement("users") != EnforceSoft || got.Enforcement("apiCalls") != EnforceHard ||
		got.SeatOverage != OverageNone {
		t.Errorf("With: got %+v, want lock and soft users over the defaults", got)
	}
}

func TestDecidePoliciesDoNotAllocate(t *testing.T) {
	in := baseInput()
	in.Policy = Policy{FingerprintPolicy: FingerprintComponents, FingerprintMatch: MatchMost, SeatOverage: Overage125}
	in.Deployment.Fingerprint = fp("m1", "host", "h1", "disk", "d1")
	in.Fingerprint = fp("m1", "host", "h1", "disk", "d2")
	var sink Decision
	if got := testing.AllocsPerRun(100, func() { sink = Decide(in) }); got != 0 {
		t.Errorf("got %v allocs, want 0", got)
	}
	if sink.Code != CodeValid || sink.Fingerprint != FingerprintChanged {
		t.Errorf("got %v %v, want VALID with a changed fingerprint", sink.Code, sink.Fingerprint)
	}
}
