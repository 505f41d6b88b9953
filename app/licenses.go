// The license actions: create, update, suspend, reactivate, renew, revoke,
// rekey, key reveals, deployment release and reactivation, and offline
// activation. The management API, the admin portal, the customer portal and
// the CLI call these; each is one store transaction applying one rule of
// licensing/.
package app

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

// LicenseStore is what the license actions need of persistence: each method
// is one transaction that locks, changes and audits.
type LicenseStore interface {
	CreateLicense(ctx context.Context, actor licensing.Actor, issuer db.KeyIssuer, sealer *licensing.Sealer,
		in db.LicenseInput, now time.Time) (db.License, string, error)
	ChangeLicense(ctx context.Context, actor licensing.Actor, id uuid.UUID, action string,
		change func(l *db.License) error, now time.Time) (db.License, error)
	Rekey(ctx context.Context, actor licensing.Actor, issuer db.KeyIssuer, sealer *licensing.Sealer,
		id uuid.UUID, now time.Time) (db.License, string, error)
	RevealKey(ctx context.Context, actor licensing.Actor, sealer *licensing.Sealer, id uuid.UUID, now time.Time) (string, error)
	RevealCustomerKey(ctx context.Context, actor licensing.Actor, sealer *licensing.Sealer, customerID,
		licenseID uuid.UUID, now time.Time) (string, error)
	ReleaseDeployment(ctx context.Context, actor licensing.Actor, licenseID, customerID uuid.UUID,
		deploymentID, by string, now time.Time) (db.Deployment, error)
	ChangePlan(ctx context.Context, actor licensing.Actor, id uuid.UUID, toCode string, mode licensing.OverrideMode,
		now time.Time) (db.License, error)
	PreviewPlanChange(ctx context.Context, id uuid.UUID, toCode string, mode licensing.OverrideMode,
		now time.Time) (db.PlanChangePreview, error)
	ReleaseCustomerDeployment(ctx context.Context, actor licensing.Actor, customerID, licenseID uuid.UUID,
		deploymentID string, now time.Time) (db.Deployment, error)
	ReactivateDeployment(ctx context.Context, actor licensing.Actor, licenseID, customerID uuid.UUID,
		maxDeployments *int32, window time.Duration, deploymentID string, now time.Time) (db.Deployment, error)
	ActivateOffline(ctx context.Context, actor licensing.Actor, in db.OfflineActivation, sign db.LeaseSigner,
		now time.Time) (db.Deployment, string, time.Time, error)
}

// LeaseIssuer signs leases (for offline license files).
type LeaseIssuer interface {
	IssueLease(c licensing.LeaseClaims, window time.Duration, now time.Time) (string, time.Time, error)
}

// Licenses runs the license actions.
type Licenses struct {
	store  LicenseStore
	issuer db.KeyIssuer
	leases LeaseIssuer
	sealer *licensing.Sealer
	now    func() time.Time
}

// NewLicenses builds the license actions: keys issues license keys and signs
// leases, sealer keeps the copy of each key that reveals open.
func NewLicenses(store LicenseStore, keys *KeyService, sealer *licensing.Sealer, now func() time.Time) *Licenses {
	return &Licenses{store: store, issuer: keys, leases: keys, sealer: sealer, now: now}
}

// Issue creates a license and its first key; the key is returned once.
func (ls *Licenses) Issue(ctx context.Context, actor licensing.Actor, in db.LicenseInput) (db.License, string, error) {
	return ls.store.CreateLicense(ctx, actor, ls.issuer, ls.sealer, in, ls.now())
}

// Update applies edit (the caller's checked field changes) to the license.
func (ls *Licenses) Update(ctx context.Context, actor licensing.Actor, id uuid.UUID, edit func(l *db.License) error) (db.License, error) {
	return ls.store.ChangeLicense(ctx, actor, id, "license.update", func(l *db.License) error { return edit(l) }, ls.now())
}

// ChangePlan upgrades or downgrades the license to the plan toCode, keeping
// or resetting its overrides as mode says (licensing.ChangePlan). Seats
// beyond the new count are not released: the newest deployments lose theirs
// at their next check, and no running lease is cut short.
func (ls *Licenses) ChangePlan(ctx context.Context, actor licensing.Actor, id uuid.UUID, toCode string,
	mode licensing.OverrideMode) (db.License, error) {
	return ls.store.ChangePlan(ctx, actor, id, toCode, mode, ls.now())
}

// PreviewPlanChange is what ChangePlan would do now, changing nothing: the
// new terms and the deployments that would lose their seat (newest first),
// for a page to show before the change is confirmed.
func (ls *Licenses) PreviewPlanChange(ctx context.Context, id uuid.UUID, toCode string,
	mode licensing.OverrideMode) (db.PlanChangePreview, error) {
	return ls.store.PreviewPlanChange(ctx, id, toCode, mode, ls.now())
}

// SetPolicyOverrides replaces the license's own policy settings (nil
// fields follow its plan), checked by licensing.PolicyOverrides.Validate.
// It is Update with one field, the edit PATCH /api/licenses/:id makes with
// policyOverrides.
func (ls *Licenses) SetPolicyOverrides(ctx context.Context, actor licensing.Actor, id uuid.UUID,
	o licensing.PolicyOverrides) (db.License, error) {
	return ls.Update(ctx, actor, id, func(l *db.License) error { return ApplyPolicyOverrides(l, o) })
}

// ApplyPolicyOverrides checks o and writes it onto the license row.
func ApplyPolicyOverrides(l *db.License, o licensing.PolicyOverrides) error {
	var pr licensing.Problems
	o.Validate(&pr)
	if err := pr.Err(); err != nil {
		return err
	}
	l.PolicyOverrides = db.EncodePolicyOverrides(o)
	return nil
}

// Suspend suspends the license by an admin, for reason.
func (ls *Licenses) Suspend(ctx context.Context, actor licensing.Actor, id uuid.UUID, reason string) (db.License, error) {
	return ls.transition(ctx, actor, id, "license.suspend", func(x *licensing.License) error {
		return x.Suspend(reason, licensing.SuspendedByAdmin)
	})
}

// Reactivate lifts a suspension.
func (ls *Licenses) Reactivate(ctx context.Context, actor licensing.Actor, id uuid.UUID) (db.License, error) {
	return ls.transition(ctx, actor, id, "license.reactivate", (*licensing.License).Reactivate)
}

// Renew sets the expiry to until, or extends it by days from the current
// expiry (from now when already expired).
func (ls *Licenses) Renew(ctx context.Context, actor licensing.Actor, id uuid.UUID, until *time.Time, days int) (db.License, error) {
	now := ls.now()
	return ls.transition(ctx, actor, id, "license.renew", func(x *licensing.License) error { return x.Renew(until, days, now) })
}

// Revoke revokes the license for good.
func (ls *Licenses) Revoke(ctx context.Context, actor licensing.Actor, id uuid.UUID) (db.License, error) {
	now := ls.now()
	return ls.transition(ctx, actor, id, "license.revoke", func(x *licensing.License) error { return x.Revoke(now) })
}

func (ls *Licenses) transition(ctx context.Context, actor licensing.Actor, id uuid.UUID, action string,
	rule func(*licensing.License) error) (db.License, error) {
	return ls.store.ChangeLicense(ctx, actor, id, action, func(l *db.License) error {
		return l.Transition(rule)
	}, ls.now())
}

// Rekey issues a new key; the old one stops working. The key is returned once.
func (ls *Licenses) Rekey(ctx context.Context, actor licensing.Actor, id uuid.UUID) (db.License, string, error) {
	return ls.store.Rekey(ctx, actor, ls.issuer, ls.sealer, id, ls.now())
}

// RevealKey opens the license's current key from its sealed copy; the reveal
// is audited.
func (ls *Licenses) RevealKey(ctx context.Context, actor licensing.Actor, id uuid.UUID) (string, error) {
	return ls.store.RevealKey(ctx, actor, ls.sealer, id, ls.now())
}

// RevealCustomerKey is RevealKey for a customer's own license: another
// customer's license is not found.
func (ls *Licenses) RevealCustomerKey(ctx context.Context, actor licensing.Actor, customerID, id uuid.UUID) (string, error) {
	return ls.store.RevealCustomerKey(ctx, actor, ls.sealer, customerID, id, ls.now())
}

// ReleaseDeployment frees a deployment's seat; by says who released it (admin,
// customer, client). It answers DEPLOYMENT_DEACTIVATED until reactivated.
func (ls *Licenses) ReleaseDeployment(ctx context.Context, actor licensing.Actor, l db.License, deploymentID, by string) (db.Deployment, error) {
	return ls.store.ReleaseDeployment(ctx, actor, l.ID, l.CustomerID, deploymentID, by, ls.now())
}

// ReleaseCustomerDeployment is ReleaseDeployment by a customer on one of
// their own licenses.
func (ls *Licenses) ReleaseCustomerDeployment(ctx context.Context, actor licensing.Actor, customerID, licenseID uuid.UUID,
	deploymentID string) (db.Deployment, error) {
	return ls.store.ReleaseCustomerDeployment(ctx, actor, customerID, licenseID, deploymentID, ls.now())
}

// ReactivateDeployment gives a released deployment its seat back, if one is free.
func (ls *Licenses) ReactivateDeployment(ctx context.Context, actor licensing.Actor, l db.License, deploymentID string) (db.Deployment, error) {
	return ls.store.ReactivateDeployment(ctx, actor, l.ID, l.CustomerID, l.MaxDeployments,
		l.HeartbeatWindow(), deploymentID, ls.now())
}

// OfflineFile is what an offline activation hands the customer: a lease for
// the deployment, to be written into a license file.
type OfflineFile struct {
	Lease     string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// ActivateOffline takes a seat for an installation that cannot reach the
// server and signs its lease, valid for the license's offline window (capped
// at the grace and dunning ends). The lease's code is the one a live
// validation of the license would answer.
func (ls *Licenses) ActivateOffline(ctx context.Context, actor licensing.Actor, in db.OfflineActivation) (OfflineFile, error) {
	now := ls.now()
	sign := func(l db.License, planCode string) (string, time.Time, error) {
		eff := l.Effective(now)
		code := licensing.CodeValid
		switch eff.State {
		case licensing.StateGrace:
			code = licensing.CodeGracePeriod
		case licensing.StatePastDue:
			code = licensing.CodePaymentOverdue
		}
		return ls.leases.IssueLease(licensing.LeaseClaims{ID: uuid.NewString(), LicenseID: l.ID.String(),
			CustomerID: l.CustomerID.String(), DeploymentID: in.DeploymentID, Status: eff.State, Code: code,
			Plan: planCode, Features: nonNil(l.Features), Limits: db.DecodeLimits(l.Limits),
			MaxDeployments: int(ptrOr(l.MaxDeployments, 0)), StartsAt: &l.StartsAt, LicenseExpiresAt: l.ExpiresAt,
			GraceEndsAt: l.GraceEnd(), DunningEndsAt: eff.DunningEndsAt}, time.Duration(l.OfflineDays)*24*time.Hour, now)
	}
	_, lease, exp, err := ls.store.ActivateOffline(ctx, actor, in, sign, now)
	if err != nil {
		return OfflineFile{}, err
	}
	return OfflineFile{Lease: lease, IssuedAt: now, ExpiresAt: exp}, nil
}
