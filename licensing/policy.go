// Licensing policies a plan sets (and a license may override): machine
// fingerprints, lease length, the seat transfer budget, seat overage, usage
// limit enforcement and the expiry strategy, with the pure rules each one
// needs. Decide applies the ones that change a validation's code.

package licensing

import "time"

// FingerprintPolicy says whether a deployment is bound to the machine it
// activated on.
type FingerprintPolicy string

// Fingerprint policies.
const (
	// FingerprintNone records the fingerprint for information only.
	FingerprintNone FingerprintPolicy = "none"
	// FingerprintLock binds a deployment to the fingerprint it activated
	// with: any other is FINGERPRINT_MISMATCH.
	FingerprintLock FingerprintPolicy = "lock"
	// FingerprintComponents compares the fingerprint's components (and the
	// machine id itself) under a MatchRule, so that one replaced disk does
	// not lock a customer out.
	FingerprintComponents FingerprintPolicy = "components"
)

// MatchRule says how many fingerprint components must match.
type MatchRule string

// Match rules, over the components present on both sides (the machine id
// counts as the component "machine").
const (
	MatchAny  MatchRule = "any"  // at least one
	MatchMost MatchRule = "most" // strictly more than half
	MatchAll  MatchRule = "all"  // every one
)

// SeatOverage is how far beyond maxDeployments activations are still
// admitted, answered SEAT_OVERAGE (valid) and recorded for true-up.
type SeatOverage string

// Seat overage allowances.
const (
	OverageNone   SeatOverage = "none"
	Overage125    SeatOverage = "1.25x"
	Overage150    SeatOverage = "1.5x"
	Overage200    SeatOverage = "2x"
	OverageAlways SeatOverage = "always"
)

// Enforcement is how a usage limit is enforced.
type Enforcement string

// Limit enforcements: hard refuses use over the limit (the default); soft
// allows it and records it for true-up.
const (
	EnforceHard Enforcement = "hard"
	EnforceSoft Enforcement = "soft"
)

// The expiry strategy (restrict, maintain, allow) is ExpiryStrategy in
// release.go: validation and downloads read the same setting. Under maintain,
// application versions released at or before the license's expiry keep
// validating (VERSION_LOCKED) and newer ones are EXPIRED.

// DefaultTransferPeriodDays is the rolling window transfers are counted in
// when a plan sets a budget without a period.
const DefaultTransferPeriodDays = 30

// Policy is the set of policies in force for a license: its plan's, with
// the license's overrides applied. The zero value is today's behaviour
// (no fingerprint binding, leases as long as the offline window, unlimited
// transfers, no overage, hard limits, restrict).
type Policy struct {
	FingerprintPolicy FingerprintPolicy `json:"fingerprintPolicy"`
	FingerprintMatch  MatchRule         `json:"fingerprintMatch"`
	// LeaseHours bounds an online lease; 0 means the offline window.
	LeaseHours int32 `json:"leaseHours"`
	// TransfersPerPeriod is how many seat releases by the customer or the
	// installation are allowed per TransferPeriodDays; 0 is unlimited.
	TransfersPerPeriod int32                  `json:"transfersPerPeriod"`
	TransferPeriodDays int32                  `json:"transferPeriodDays"`
	SeatOverage        SeatOverage            `json:"seatOverage"`
	LimitEnforcement   map[string]Enforcement `json:"limitEnforcement"`
	ExpiryStrategy     ExpiryStrategy         `json:"expiryStrategy"`
}

// DefaultPolicy is the policy of a plan that sets none.
func DefaultPolicy() Policy {
	return Policy{FingerprintPolicy: FingerprintNone, FingerprintMatch: MatchMost,
		TransferPeriodDays: DefaultTransferPeriodDays, SeatOverage: OverageNone,
		LimitEnforcement: map[string]Enforcement{}, ExpiryStrategy: ExpiryRestrict}
}

// PolicyOverrides are a license's own settings; nil follows the plan.
type PolicyOverrides struct {
	FingerprintPolicy  *FingerprintPolicy     `json:"fingerprintPolicy,omitempty"`
	FingerprintMatch   *MatchRule             `json:"fingerprintMatch,omitempty"`
	LeaseHours         *int32                 `json:"leaseHours,omitempty"`
	TransfersPerPeriod *int32                 `json:"transfersPerPeriod,omitempty"`
	TransferPeriodDays *int32                 `json:"transferPeriodDays,omitempty"`
	SeatOverage        *SeatOverage           `json:"seatOverage,omitempty"`
	LimitEnforcement   map[string]Enforcement `json:"limitEnforcement,omitempty"` // nil follows the plan
	ExpiryStrategy     *ExpiryStrategy        `json:"expiryStrategy,omitempty"`
}

// IsZero reports whether no override is set.
func (o PolicyOverrides) IsZero() bool {
	return o.FingerprintPolicy == nil && o.FingerprintMatch == nil && o.LeaseHours == nil &&
		o.TransfersPerPeriod == nil && o.TransferPeriodDays == nil && o.SeatOverage == nil &&
		o.LimitEnforcement == nil && o.ExpiryStrategy == nil
}

// With is p with the overrides o applied, field by field.
func (p Policy) With(o PolicyOverrides) Policy {
	if o.FingerprintPolicy != nil {
		p.FingerprintPolicy = *o.FingerprintPolicy
	}
	if o.FingerprintMatch != nil {
		p.FingerprintMatch = *o.FingerprintMatch
	}
	if o.LeaseHours != nil {
		p.LeaseHours = *o.LeaseHours
	}
	if o.TransfersPerPeriod != nil {
		p.TransfersPerPeriod = *o.TransfersPerPeriod
	}
	if o.TransferPeriodDays != nil {
		p.TransferPeriodDays = *o.TransferPeriodDays
	}
	if o.SeatOverage != nil {
		p.SeatOverage = *o.SeatOverage
	}
	if o.LimitEnforcement != nil {
		p.LimitEnforcement = o.LimitEnforcement
	}
	if o.ExpiryStrategy != nil {
		p.ExpiryStrategy = *o.ExpiryStrategy
	}
	return p
}

// Validate fills empty fields with their defaults and checks every field.
func (p *Policy) Validate(pr *Problems) {
	p.normalize()
	checkPolicyFields(pr, &p.FingerprintPolicy, &p.FingerprintMatch, &p.LeaseHours, &p.TransfersPerPeriod,
		&p.TransferPeriodDays, &p.SeatOverage, p.LimitEnforcement, &p.ExpiryStrategy)
}

// Validate checks the overrides that are set.
func (o *PolicyOverrides) Validate(pr *Problems) {
	checkPolicyFields(pr, o.FingerprintPolicy, o.FingerprintMatch, o.LeaseHours, o.TransfersPerPeriod,
		o.TransferPeriodDays, o.SeatOverage, o.LimitEnforcement, o.ExpiryStrategy)
}

// normalize fills empty fields with their defaults, so that a plan stored
// before the policies existed reads as DefaultPolicy.
func (p *Policy) normalize() {
	d := DefaultPolicy()
	if p.FingerprintPolicy == "" {
		p.FingerprintPolicy = d.FingerprintPolicy
	}
	if p.FingerprintMatch == "" {
		p.FingerprintMatch = d.FingerprintMatch
	}
	if p.TransferPeriodDays == 0 {
		p.TransferPeriodDays = d.TransferPeriodDays
	}
	if p.SeatOverage == "" {
		p.SeatOverage = d.SeatOverage
	}
	if p.LimitEnforcement == nil {
		p.LimitEnforcement = d.LimitEnforcement
	}
	if p.ExpiryStrategy == "" {
		p.ExpiryStrategy = d.ExpiryStrategy
	}
}

func checkPolicyFields(pr *Problems, fp *FingerprintPolicy, match *MatchRule, leaseHours, transfers, periodDays *int32,
	overage *SeatOverage, enf map[string]Enforcement, expiry *ExpiryStrategy) {
	if fp != nil {
		switch *fp {
		case FingerprintNone, FingerprintLock, FingerprintComponents:
		default:
			pr.Add("fingerprintPolicy", "must be none, lock or components")
		}
	}
	if match != nil {
		switch *match {
		case MatchAny, MatchMost, MatchAll:
		default:
			pr.Add("fingerprintMatch", "must be any, most or all")
		}
	}
	if leaseHours != nil && (*leaseHours < 0 || *leaseHours > 365*24) {
		pr.Add("leaseHours", "must be from 1 to 8760, or 0 for the offline window")
	}
	if transfers != nil && (*transfers < 0 || *transfers > 10_000) {
		pr.Add("transfersPerPeriod", "must be from 1 to 10000, or 0 for unlimited")
	}
	if periodDays != nil && (*periodDays < 1 || *periodDays > 365) {
		pr.Add("transferPeriodDays", "must be from 1 to 365")
	}
	if overage != nil && SeatAllowance(4, *overage) < 0 {
		pr.Add("seatOverage", "must be none, 1.25x, 1.5x, 2x or always")
	}
	if len(enf) > 100 {
		pr.Add("limitEnforcement", "at most 100 metrics")
	}
	for name, e := range enf {
		if !ValidMetricName(name) {
			pr.Add("limitEnforcement."+truncateText(name, 70), "metric names match [a-zA-Z][a-zA-Z0-9_.]{0,63}")
		}
		if e != EnforceSoft && e != EnforceHard {
			pr.Add("limitEnforcement."+truncateText(name, 70), "must be soft or hard")
		}
	}
	if expiry != nil && *expiry != ExpiryRestrict && *expiry != ExpiryMaintain {
		pr.Add("expiryStrategy", "must be restrict or maintain")
	}
}

// LeaseWindow is how long a lease issued now may run: LeaseHours when the
// policy sets it and it is shorter than the offline window, else the
// offline window. IssueLease further caps it at the grace and dunning ends.
func (p Policy) LeaseWindow(offlineDays int32) time.Duration {
	offline := time.Duration(offlineDays) * 24 * time.Hour
	if offline <= 0 {
		offline = DefaultOfflineWindow
	}
	if p.LeaseHours > 0 {
		return min(offline, time.Duration(p.LeaseHours)*time.Hour)
	}
	return offline
}

// Enforcement is how the limit on metric is enforced: hard unless the
// policy says soft.
func (p Policy) Enforcement(metric string) Enforcement {
	if p.LimitEnforcement[metric] == EnforceSoft {
		return EnforceSoft
	}
	return EnforceHard
}

// SeatAllowance is how many seats a license with maxDeployments seats
// admits under overage: floor(maxDeployments × factor), never less than
// maxDeployments (so 1.25x of 4 is 5, 1.25x of 3 is 3, 1.5x of 3 is 4).
// 0 means unlimited (maxDeployments 0, or always); -1 an unknown overage.
func SeatAllowance(maxDeployments int, o SeatOverage) int {
	if maxDeployments <= 0 {
		return 0
	}
	switch o {
	case OverageNone, "":
		return maxDeployments
	case Overage125:
		return maxDeployments * 5 / 4
	case Overage150:
		return maxDeployments * 3 / 2
	case Overage200:
		return maxDeployments * 2
	case OverageAlways:
		return 0
	}
	return -1
}

// Fingerprint identifies the machine a deployment runs on: ID is an HMAC of
// the machine's identity, Components optional HMACs of its parts (by name:
// host, mac, cpu, disk). Values are opaque strings compared for equality.
type Fingerprint struct {
	ID         string            `json:"id"`
	Components map[string]string `json:"components,omitempty"`
}

// IsZero reports whether nothing is known of the machine.
func (f Fingerprint) IsZero() bool { return f.ID == "" && len(f.Components) == 0 }

// Equal reports whether two fingerprints are the same, id and components.
func (f Fingerprint) Equal(g Fingerprint) bool {
	if f.ID != g.ID || len(f.Components) != len(g.Components) {
		return false
	}
	for k, v := range f.Components {
		if w, ok := g.Components[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// MachineComponent is the name under which the fingerprint's id counts as
// a component under the components policy.
const MachineComponent = "machine"

// FingerprintOutcome is what a presented fingerprint means for a
// deployment's stored one.
type FingerprintOutcome uint8

// Fingerprint outcomes.
const (
	// FingerprintSame: nothing to do (equal, or the policy is none).
	FingerprintSame FingerprintOutcome = iota
	// FingerprintBind: the deployment had no fingerprint; store this one.
	FingerprintBind
	// FingerprintChanged: different but within policy; store and audit.
	FingerprintChanged
	// FingerprintRefused: outside policy (or missing where one is
	// required): FINGERPRINT_MISMATCH, audited.
	FingerprintRefused
)

// MatchFingerprint compares a presented fingerprint with a deployment's
// stored one under a policy.
//
//   - none: always FingerprintSame (the server stores what it is sent, as
//     information).
//   - lock: the ids must be equal. A deployment without a stored
//     fingerprint binds to the first it presents.
//   - components: the machine id (as component "machine") and the named
//     components present on both sides are compared; any needs one equal,
//     most strictly more than half, all every one. No component in common
//     is a mismatch.
//
// Under lock and components a request without a fingerprint is refused:
// otherwise a client that sends none (an old one, or a copied state folder
// driven by hand) would never be bound.
func MatchFingerprint(policy FingerprintPolicy, rule MatchRule, stored, presented Fingerprint) FingerprintOutcome {
	switch policy {
	case FingerprintLock:
		switch {
		case presented.ID == "":
			return FingerprintRefused
		case stored.ID == "":
			return FingerprintBind
		case stored.ID == presented.ID:
			return FingerprintSame
		}
		return FingerprintRefused
	case FingerprintComponents:
		if presented.IsZero() {
			return FingerprintRefused
		}
		if stored.IsZero() {
			return FingerprintBind
		}
		common, equal := 0, 0
		if stored.ID != "" && presented.ID != "" {
			common++
			if stored.ID == presented.ID {
				equal++
			}
		}
		for name, v := range stored.Components {
			if w, ok := presented.Components[name]; ok && name != MachineComponent {
				common++
				if v == w {
					equal++
				}
			}
		}
		if !componentsMatch(rule, equal, common) {
			return FingerprintRefused
		}
		if stored.Equal(presented) {
			return FingerprintSame
		}
		return FingerprintChanged
	}
	return FingerprintSame
}

// componentsMatch is the match rule over equal of common components.
func componentsMatch(rule MatchRule, equal, common int) bool {
	if common == 0 {
		return false
	}
	switch rule {
	case MatchAny:
		return equal >= 1
	case MatchAll:
		return equal == common
	}
	return 2*equal > common // most (also the default)
}

// AppRelease is one application version and when the vendor released it
// (a published release of one of the license's products).
type AppRelease struct {
	Version    string    `json:"version"`
	ReleasedAt time.Time `json:"releasedAt"`
}

// NewestAllowedVersion is, under the maintain strategy, the newest version
// (by semantic version order) among releases made at or before expiresAt;
// "" when there is none. Versions that are not semantic versions are
// skipped.
func NewestAllowedVersion(releases []AppRelease, expiresAt time.Time) string {
	best := ""
	for i := range releases {
		r := &releases[i]
		if r.ReleasedAt.After(expiresAt) || !ValidSemver(r.Version) {
			continue
		}
		if best == "" || CompareSemver(r.Version, best) > 0 {
			best = r.Version
		}
	}
	return best
}

// VersionAllowed reports whether appVersion may run under a maintain
// fallback whose newest allowed version is newest: a semantic version at
// most newest. An unknown or missing version is refused, since the server
// cannot tell when it was released.
func VersionAllowed(appVersion, newest string) bool {
	return newest != "" && ValidSemver(appVersion) && CompareSemver(appVersion, newest) <= 0
}

// TransferBudget is a license's seat transfer budget at an instant.
type TransferBudget struct {
	Limit int `json:"limit"` // 0: unlimited
	Used  int `json:"used"`  // transfers within the rolling window
	// Allowed says whether one more transfer is allowed now.
	Allowed bool `json:"allowed"`
	// RefillsAt is when the next transfer becomes allowed (zero when
	// Allowed): the instant enough counted transfers leave the window.
	RefillsAt  time.Time `json:"refillsAt"`
	PeriodDays int       `json:"periodDays"`
}

// Transfers evaluates the transfer budget: a transfer at t counts while
// t+period > now (strictly), so at exactly t+period it has left the window.
// past lists the instants of earlier transfers, in any order.
func (p Policy) Transfers(past []time.Time, now time.Time) TransferBudget {
	days := p.TransferPeriodDays
	if days <= 0 {
		days = DefaultTransferPeriodDays
	}
	b := TransferBudget{Limit: int(p.TransfersPerPeriod), PeriodDays: int(days), Allowed: true}
	period := time.Duration(days) * 24 * time.Hour
	var inWindow []time.Time
	for _, t := range past {
		if t.Add(period).After(now) && !t.After(now) {
			inWindow = append(inWindow, t)
		}
	}
	b.Used = len(inWindow)
	if b.Limit <= 0 || b.Used < b.Limit {
		return b
	}
	b.Allowed = false
	// One more is allowed once Used-Limit+1 of the counted transfers have
	// left: the (Used-Limit+1)-th oldest transfer's window end.
	sortTimes(inWindow)
	b.RefillsAt = inWindow[b.Used-b.Limit].Add(period).UTC()
	return b
}

func sortTimes(ts []time.Time) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].Before(ts[j-1]); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

// LastLeaseEnd is when the newest lease a deployment holds ends at the
// latest, for pages that tell an operator how long a released or stale
// deployment may still run offline. Its last lease was issued before
// lastSeen + 1 minute (the server skips rewriting lastSeen within a minute),
// for window, and never past the grace end.
func LastLeaseEnd(lastSeen time.Time, window time.Duration, graceEnd *time.Time) time.Time {
	end := lastSeen.Add(time.Minute + window)
	if graceEnd != nil && graceEnd.Before(end) {
		end = *graceEnd
	}
	return end.UTC()
}

// Describe is a sentence for pages: "1 of 3 used in the last 30 days".
func (b TransferBudget) Describe() string {
	if b.Limit <= 0 {
		return "unlimited"
	}
	s := itoa(int64(b.Used)) + " of " + itoa(int64(b.Limit)) + " used in the last " + itoa(int64(b.PeriodDays)) + " days"
	if !b.Allowed {
		s += "; the next is possible from " + b.RefillsAt.UTC().Format("2006-01-02 15:04") + " UTC"
	}
	return s
}
