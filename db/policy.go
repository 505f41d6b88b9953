// The licensing policies in PostgreSQL: plan columns and a license's
// overrides read into licensing.Policy, deployment fingerprints, the seat
// transfers the budget counts, the seat overage kept per period, and the
// application release dates the maintain strategy reads.

package db

import (
	"context"
	"encoding/json"
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

// Releases lists the application versions with their release dates.
func (s *Store) Releases(ctx context.Context) ([]licensing.Release, error) {
	rows, err := s.Q.ListAppReleases(ctx)
	if err != nil {
		return nil, Translate(err)
	}
	out := make([]licensing.Release, len(rows))
	for i, r := range rows {
		out[i] = licensing.Release{Version: r.Version, ReleasedAt: r.ReleasedAt}
	}
	return out, nil
}

// PutRelease records (or corrects) when version was released.
func (s *Store) PutRelease(ctx context.Context, version string, releasedAt time.Time) error {
	if !licensing.ValidSemver(version) {
		return licensing.Invalid("version must be a semantic version such as 1.4.2",
			licensing.ErrorDetail{Field: "version", Message: "not a semantic version"})
	}
	return Translate(s.Q.PutAppRelease(ctx, PutAppReleaseParams{Version: version, ReleasedAt: releasedAt}))
}
