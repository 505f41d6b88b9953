// The licensing policies in PostgreSQL: plan columns and a license's
// overrides read into licensing.Policy, deployment fingerprints, the seat
// transfers the budget counts, the seat overage kept per period, and the
// release dates the maintain strategy reads (from the distribution's releases).

package db

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/licensing"
)

// Policy is the plan's licensing policy.
func (p Plan) Policy() licensing.Policy {
	return PlanPolicy(p.FingerprintPolicy, p.FingerprintMatch, p.LeaseHours, p.TransfersPerPeriod, p.TransferPeriodDays,
		p.SeatOverage, p.LimitEnforcement, p.ExpiryStrategy)
}

// PlanPolicy builds a policy from plan columns (as read by any query).
func PlanPolicy(fp, match string, leaseHours, transfers, periodDays int32, overage string, enforcement []byte,
	expiry string) licensing.Policy {
	p := licensing.Policy{FingerprintPolicy: licensing.FingerprintPolicy(fp), FingerprintMatch: licensing.MatchRule(match),
		LeaseHours: leaseHours, TransfersPerPeriod: transfers, TransferPeriodDays: periodDays,
		SeatOverage: licensing.SeatOverage(overage), ExpiryStrategy: licensing.ExpiryStrategy(expiry)}
	if len(enforcement) > 2 { // "{}" is the common case: no map to allocate
		_ = json.Unmarshal(enforcement, &p.LimitEnforcement)
	}
	return p
}

// DecodePolicyOverrides reads licenses.policy_overrides; the CHECK
// constraint keeps it an object.
func DecodePolicyOverrides(b []byte) licensing.PolicyOverrides {
	var o licensing.PolicyOverrides
	if len(b) > 2 {
		_ = json.Unmarshal(b, &o)
	}
	return o
}

// EncodePolicyOverrides is the stored form of o ("{}" when none is set).
func EncodePolicyOverrides(o licensing.PolicyOverrides) []byte {
	b, _ := json.Marshal(o)
	return b
}

// DecodeComponents reads a deployment's fingerprint components.
func DecodeComponents(b []byte) map[string]string {
	if len(b) <= 2 {
		return nil
	}
	var m map[string]string
	_ = json.Unmarshal(b, &m)
	return m
}

// EncodeComponents is the stored form of fingerprint components.
func EncodeComponents(m map[string]string) []byte {
	if len(m) == 0 {
		return []byte("{}")
	}
	b, _ := json.Marshal(m)
	return b
}

func storePlanPolicy(ctx context.Context, q *Queries, id uuid.UUID, p licensing.Policy) (Plan, error) {
	enf, _ := json.Marshal(p.LimitEnforcement)
	if p.LimitEnforcement == nil {
		enf = []byte("{}")
	}
	return q.SetPlanPolicy(ctx, SetPlanPolicyParams{ID: id, FingerprintPolicy: string(p.FingerprintPolicy),
		FingerprintMatch: string(p.FingerprintMatch), LeaseHours: p.LeaseHours, TransfersPerPeriod: p.TransfersPerPeriod,
		TransferPeriodDays: p.TransferPeriodDays, SeatOverage: string(p.SeatOverage), LimitEnforcement: enf,
		ExpiryStrategy: string(p.ExpiryStrategy)})
}

// Releases lists the versions a license's products were published under,
// with their publication dates: the release dates the maintain strategy
// reads (the distribution's releases are the one source of them).
func (s *Store) Releases(ctx context.Context, licenseID uuid.UUID) ([]licensing.AppRelease, error) {
	rows, err := s.q.ListReleaseDatesForLicense(ctx, licenseID)
	if err != nil {
		return nil, Translate(err)
	}
	out := make([]licensing.AppRelease, len(rows))
	for i, r := range rows {
		out[i] = licensing.AppRelease{Version: r.Version, ReleasedAt: r.ReleasedAt}
	}
	return out, nil
}

// Policy is the license's policy: its plan's with its overrides.
func (r GetLicensePolicyRow) Policy() licensing.Policy {
	return PlanPolicy(r.FingerprintPolicy, r.FingerprintMatch, r.LeaseHours, r.TransfersPerPeriod, r.TransferPeriodDays,
		r.SeatOverage, r.LimitEnforcement, r.ExpiryStrategy).With(DecodePolicyOverrides(r.PolicyOverrides))
}

// LicensePolicy reads a license's policy.
func (s *Store) LicensePolicy(ctx context.Context, licenseID uuid.UUID) (licensing.Policy, error) {
	r, err := s.q.GetLicensePolicy(ctx, licenseID)
	if err != nil {
		return licensing.Policy{}, notFound(err, "license")
	}
	return r.Policy(), nil
}

// transferBudget evaluates the license's transfer budget at now, within q's
// transaction.
func transferBudget(ctx context.Context, q *Queries, licenseID uuid.UUID, now time.Time) (licensing.TransferBudget, error) {
	r, err := q.GetLicensePolicy(ctx, licenseID)
	if err != nil {
		return licensing.TransferBudget{}, notFound(err, "license")
	}
	pol := r.Policy()
	days := pol.TransferPeriodDays
	if days <= 0 {
		days = licensing.DefaultTransferPeriodDays
	}
	past, err := q.ListCountedTransfers(ctx, ListCountedTransfersParams{LicenseID: licenseID,
		Since: now.AddDate(0, 0, -int(days))})
	if err != nil {
		return licensing.TransferBudget{}, Translate(err)
	}
	return pol.Transfers(past, now), nil
}

// TransferBudget is the license's seat transfer budget now, for the portals.
func (s *Store) TransferBudget(ctx context.Context, licenseID uuid.UUID, now time.Time) (licensing.TransferBudget, error) {
	return transferBudget(ctx, s.q, licenseID, now)
}

// countsAsTransfer says whose releases use the transfer budget: the
// customer's and the installation's own. Admins release on the vendor's
// authority, beyond any budget.
func countsAsTransfer(by string) bool { return by == "customer" || by == "client" }

// TransferRefused is the error of a release beyond the transfer budget.
func TransferRefused(b licensing.TransferBudget) error {
	when := b.RefillsAt.UTC().Format(time.RFC3339)
	return &licensing.Error{Code: licensing.ECONFLICT,
		Message: "this license's seat transfers are used up (" + itoa(b.Limit) + " per " + itoa(b.PeriodDays) +
			" days); the next release is possible from " + when + ", or ask the vendor to release it",
		Details: []licensing.ErrorDetail{{Field: "transfersRefillAt", Message: when}}}
}

func itoa(n int) string { return strconv.Itoa(n) }

// RecordSeatOverage keeps the period's peak of seats held beyond the
// license's maxDeployments (the billing period, else the calendar month).
func (s *Store) RecordSeatOverage(ctx context.Context, licenseID uuid.UUID, periodStart, periodEnd time.Time,
	maxDeployments, held int, now time.Time) error {
	return Translate(s.q.RecordSeatOverage(ctx, RecordSeatOverageParams{LicenseID: licenseID, PeriodStart: periodStart,
		PeriodEnd: periodEnd, MaxDeployments: int32(maxDeployments), PeakSeats: int32(held), Now: now}))
}

// SeatRank counts the seat holders of the license activated before the
// deployment pk (first seen earlier): its place when seats are fewer than
// holders.
func (s *Store) SeatRank(ctx context.Context, licenseID, pk uuid.UUID, firstSeenAt time.Time, window time.Duration,
	now time.Time) (int, error) {
	n, err := s.q.CountOlderSeatHolders(ctx, CountOlderSeatHoldersParams{LicenseID: licenseID, ID: pk,
		HeartbeatWindowHours: windowHours(window), Now: now, FirstSeenAt: firstSeenAt})
	return int(n), Translate(err)
}

// SetDeploymentFingerprint stores a deployment's new fingerprint (bound or
// changed within policy) and audits a change.
func (s *Store) SetDeploymentFingerprint(ctx context.Context, actor licensing.Actor, licenseID, customerID, pk uuid.UUID,
	deploymentID string, before, after licensing.Fingerprint, audit bool, now time.Time) error {
	return s.inTx(ctx, func(q *Queries) error {
		if err := q.SetDeploymentFingerprint(ctx, SetDeploymentFingerprintParams{ID: pk, Fingerprint: after.ID,
			FingerprintComponents: EncodeComponents(after.Components)}); err != nil {
			return err
		}
		if !audit {
			return nil
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "deployment.fingerprint_changed", EntityType: "deployment",
			EntityID: licenseID.String() + "/" + deploymentID, CustomerID: &customerID,
			Before: before, After: after}, now)
	})
}

// AuditFingerprintRefused records a validation refused as
// FINGERPRINT_MISMATCH: who presented which fingerprint for which
// deployment.
func (s *Store) AuditFingerprintRefused(ctx context.Context, actor licensing.Actor, licenseID, customerID uuid.UUID,
	deploymentID string, stored, presented licensing.Fingerprint, now time.Time) error {
	return s.inTx(ctx, func(q *Queries) error {
		return Audit(ctx, q, actor, AuditEntry{Action: "deployment.fingerprint_refused", EntityType: "deployment",
			EntityID: licenseID.String() + "/" + deploymentID, CustomerID: &customerID,
			Before: stored, After: presented}, now)
	})
}

func policyOverridesOrEmpty(b []byte) []byte {
	if len(b) == 0 {
		return []byte("{}")
	}
	return b
}

// Terms are the license's terms as the plan change rule reads them.
func (l License) Terms() licensing.Terms {
	return licensing.Terms{Features: nonNil(l.Features), Limits: DecodeLimits(l.Limits), MaxDeployments: l.MaxDeployments,
		GraceDays: l.GraceDays, OfflineDays: l.OfflineDays, HeartbeatWindowHours: l.HeartbeatWindowHours,
		DunningDays: l.DunningDays, Overrides: DecodePolicyOverrides(l.PolicyOverrides)}
}

// SetTerms writes terms back onto the license row (not yet stored).
func (l *License) SetTerms(t licensing.Terms) {
	l.Features = nonNil(t.Features)
	l.Limits, _ = json.Marshal(t.Limits)
	if t.Limits == nil {
		l.Limits = []byte("{}")
	}
	l.MaxDeployments = t.MaxDeployments
	l.GraceDays, l.OfflineDays, l.HeartbeatWindowHours, l.DunningDays = t.GraceDays, t.OfflineDays, t.HeartbeatWindowHours, t.DunningDays
	l.PolicyOverrides = EncodePolicyOverrides(t.Overrides)
}

// ChangePlan moves the license to the plan named toCode under
// licensing.ChangePlan, in one transaction with its audit row
// (license.plan_change, before and after).
func (s *Store) ChangePlan(ctx context.Context, actor licensing.Actor, id uuid.UUID, toCode string,
	mode licensing.OverrideMode, now time.Time) (License, error) {
	return s.ChangeLicense(ctx, actor, id, "license.plan_change", func(l *License) error {
		to, terms, err := s.planChange(ctx, *l, toCode, mode)
		if err != nil {
			return err
		}
		l.PlanID = to.ID
		l.SetTerms(terms)
		return nil
	}, now)
}

// planChange reads the license's plan and the plan toCode and computes the
// license's terms under the new plan. Plans are read beside the license's
// transaction: a plan's terms are not part of the license row it locks.
func (s *Store) planChange(ctx context.Context, l License, toCode string, mode licensing.OverrideMode) (Plan, licensing.Terms, error) {
	from, err := s.q.GetPlan(ctx, l.PlanID)
	if err != nil {
		return Plan{}, licensing.Terms{}, notFound(err, "plan")
	}
	to, err := s.q.GetPlanByCode(ctx, toCode)
	if err != nil {
		if licensing.ErrorCode(notFound(err, "plan")) == licensing.ENOTFOUND {
			return Plan{}, licensing.Terms{}, licensing.Invalid("no plan has this code", licensing.ErrorDetail{Field: "plan", Message: "unknown plan"})
		}
		return Plan{}, licensing.Terms{}, err
	}
	if to.ArchivedAt != nil {
		return Plan{}, licensing.Terms{}, licensing.Invalid("the plan is archived", licensing.ErrorDetail{Field: "plan", Message: "archived"})
	}
	terms, err := licensing.ChangePlan(l.Terms(), from.Spec(nil), to.Spec(nil), mode)
	return to, terms, err
}

// PlanChangePreview is what a plan change would do to a license, computed
// without changing anything.
type PlanChangePreview struct {
	License License
	To      Plan
	Terms   licensing.Terms  // the license's terms under the new plan
	Policy  licensing.Policy // the new plan's policy with the overrides kept
	// Allowance is the seats admitted under the new terms (seat overage
	// included), 0 for unlimited.
	Allowance int
	Holders   int          // deployments holding a seat now
	Losing    []Deployment // those that lose their seat, newest first
}

// PreviewPlanChange computes what ChangePlan would do now: the new terms
// and which seat holders would lose their seat at their next check.
func (s *Store) PreviewPlanChange(ctx context.Context, id uuid.UUID, toCode string, mode licensing.OverrideMode,
	now time.Time) (PlanChangePreview, error) {
	l, err := s.q.GetLicense(ctx, id)
	if err != nil {
		return PlanChangePreview{}, notFound(err, "license")
	}
	to, terms, err := s.planChange(ctx, l, toCode, mode)
	if err != nil {
		return PlanChangePreview{}, err
	}
	rows, err := s.q.ListDeployments(ctx, id)
	if err != nil {
		return PlanChangePreview{}, err
	}
	p := PlanChangePreview{License: l, To: to, Terms: terms, Policy: to.Policy().With(terms.Overrides)}
	max := 0
	if terms.MaxDeployments != nil {
		max = int(*terms.MaxDeployments)
	}
	p.Allowance = licensing.SeatAllowance(max, p.Policy.SeatOverage)
	window := time.Duration(terms.HeartbeatWindowHours) * time.Hour
	p.Holders, p.Losing = LosingSeats(rows, window, p.Allowance, now)
	return p, nil
}

// LosingSeats counts the deployments among rows that hold a seat now and
// lists those beyond allowance (0: unlimited), newest first: they lose
// their seat at their next check (licensing.LosingSeats).
func LosingSeats(rows []Deployment, window time.Duration, allowance int, now time.Time) (int, []Deployment) {
	var holders []Deployment
	for _, d := range rows {
		if d.HoldsSeat(window, now) {
			holders = append(holders, d)
		}
	}
	ranked := make([]licensing.SeatHolder, len(holders))
	for i, d := range holders {
		ranked[i] = licensing.SeatHolder{Key: d.ID.String(), FirstSeenAt: d.FirstSeenAt}
	}
	var losing []Deployment
	for _, i := range licensing.LosingSeats(ranked, allowance) {
		losing = append(losing, holders[i])
	}
	return len(holders), losing
}

// TrueUp lists, for one license and the period [from, to), the seats and
// each limited metric against entitlement (licensing.TrueUp). Seats used is
// the peak held beyond entitlement as recorded when activations landed in
// the overage allowance (0 when the license never went over); metrics are
// the period's usage (counters summed, gauges at their peak).
func (s *Store) TrueUp(ctx context.Context, l License, from, to time.Time) ([]licensing.TrueUpLine, error) {
	pol, err := s.LicensePolicy(ctx, l.ID)
	if err != nil {
		return nil, err
	}
	peak, err := s.q.PeakSeatOverage(ctx, PeakSeatOverageParams{LicenseID: l.ID, FromAt: from, ToAt: to})
	if err != nil {
		return nil, Translate(err)
	}
	rows, err := s.q.ListUsagePeriodsBetween(ctx, ListUsagePeriodsBetweenParams{LicenseID: l.ID, FromAt: from, ToAt: to})
	if err != nil {
		return nil, Translate(err)
	}
	used := map[string]int64{}
	for _, r := range rows {
		if err := licensing.MergeMetric(used, r.Metric, r.Value); err != nil {
			return nil, err
		}
	}
	max := 0
	if l.MaxDeployments != nil {
		max = int(*l.MaxDeployments)
	}
	return licensing.TrueUp(max, int64(peak), DecodeLimits(l.Limits), used, pol), nil
}

// PeakSeatOverage is the most seats held at once in overage periods
// overlapping [from, to), 0 when the license was never over.
func (s *Store) PeakSeatOverage(ctx context.Context, licenseID uuid.UUID, from, to time.Time) (int, error) {
	n, err := s.q.PeakSeatOverage(ctx, PeakSeatOverageParams{LicenseID: licenseID, FromAt: from, ToAt: to})
	return int(n), Translate(err)
}
