package db

// The customer portal's store operations. Each takes the signed-in
// customer's id and scopes every read and write to it: a license id from the
// URL that belongs to another customer is "not found", exactly like an id
// that does not exist, so the portal never confirms that it exists.

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/licensing"
)

// PortalLicenseLimit caps the licenses the portal's overview lists; a
// customer with more sees the newest and a note.
const PortalLicenseLimit = 200

// UsageLicense is what usage accounting needs of l.
func (l License) UsageLicense() UsageLicense {
	return UsageLicense{ID: l.ID, CustomerID: l.CustomerID, BillingPeriodStart: l.BillingPeriodStart,
		BillingPeriodEnd: l.BillingPeriodEnd}
}

// CustomerLicense is one of customerID's licenses, as its portal page shows
// it; another customer's license is not found.
func (s *Store) CustomerLicense(ctx context.Context, customerID, licenseID uuid.UUID, now time.Time) (GetPortalLicenseRow, error) {
	row, err := s.q.GetPortalLicense(ctx, GetPortalLicenseParams{ID: licenseID, CustomerID: customerID, Now: now})
	return row, notFound(err, "license")
}

// CurrentUsageOf is each license's usage in the period containing now,
// metric by metric, in one query (CurrentUsage for several licenses).
func (s *Store) CurrentUsageOf(ctx context.Context, lics []License, now time.Time) (map[uuid.UUID]map[string]int64, error) {
	out := make(map[uuid.UUID]map[string]int64, len(lics))
	if len(lics) == 0 {
		return out, nil
	}
	p := UsageForLicensePeriodsParams{LicenseIds: make([]uuid.UUID, len(lics)), PeriodStarts: make([]time.Time, len(lics))}
	for i, l := range lics {
		p.LicenseIds[i] = l.ID
		p.PeriodStarts[i], _ = l.UsageLicense().UsagePeriod(now)
	}
	rows, err := s.q.UsageForLicensePeriods(ctx, p)
	if err != nil {
		return nil, Translate(err)
	}
	for _, r := range rows {
		if out[r.LicenseID] == nil {
			out[r.LicenseID] = map[string]int64{}
		}
		out[r.LicenseID][r.Metric] = r.Value
	}
	return out, nil
}

// RevealCustomerKey opens the current key of one of customerID's licenses
// and audits the reveal (RevealKey, scoped to the customer). A license never
// changes customer, so checking first and revealing after is safe.
func (s *Store) RevealCustomerKey(ctx context.Context, actor licensing.Actor, sealer *licensing.Sealer, customerID,
	licenseID uuid.UUID, now time.Time) (string, error) {
	if _, err := s.CustomerLicense(ctx, customerID, licenseID, now); err != nil {
		return "", err
	}
	return s.RevealKey(ctx, actor, sealer, licenseID, now)
}

// ReleaseCustomerDeployment frees the seat of a deployment of one of
// customerID's licenses (ReleaseDeployment, scoped to the customer): it
// answers DEPLOYMENT_DEACTIVATED from then on.
func (s *Store) ReleaseCustomerDeployment(ctx context.Context, actor licensing.Actor, customerID, licenseID uuid.UUID,
	deploymentID string, now time.Time) (Deployment, error) {
	if _, err := s.CustomerLicense(ctx, customerID, licenseID, now); err != nil {
		return Deployment{}, err
	}
	return s.ReleaseDeployment(ctx, actor, licenseID, customerID, deploymentID, "customer", now)
}

// OfflineActivation asks for an offline license file: which license of
// which customer, for which deployment.
type OfflineActivation struct {
	CustomerID   uuid.UUID
	LicenseID    uuid.UUID
	DeploymentID string
	Hostname     string
}

// LeaseSigner signs the lease of an offline license file for the license
// (locked, valid) and its plan code, and tells when the lease expires.
type LeaseSigner func(l License, planCode string) (lease string, expiresAt time.Time, err error)

// OfflineActivationRecord is what the audit log keeps of an offline activation.
type OfflineActivationRecord struct {
	Deployment   DeploymentView `json:"deployment"`
	OfflineUntil time.Time      `json:"offlineUntil"`
}

// ActivateOffline issues an offline license file's lease for a deployment
// and makes the deployment hold its seat until the lease expires, as an
// activation would: the license must be valid and have a seat free (one
// the deployment already holds counts as free), and a released deployment
// stays released. The license row is locked throughout, so concurrent
// activations — online or offline, from any process — never exceed the
// seats. It returns the deployment, the lease and its expiry.
func (s *Store) ActivateOffline(ctx context.Context, actor licensing.Actor, in OfflineActivation, sign LeaseSigner,
	now time.Time) (Deployment, string, time.Time, error) {
	var (
		dep   Deployment
		lease string
		exp   time.Time
	)
	err := s.inTx(ctx, func(q *Queries) error {
		lic, err := q.GetPortalLicenseForUpdate(ctx, GetPortalLicenseForUpdateParams{ID: in.LicenseID, CustomerID: in.CustomerID})
		if err != nil {
			return notFound(err, "license")
		}
		if eff := lic.Effective(now); !eff.Valid {
			return licensing.Errorf(licensing.ECONFLICT, "this license is %s, so no offline license file can be issued for it",
				stateWords(eff.State))
		}
		before, err := q.GetDeploymentForUpdate(ctx, GetDeploymentForUpdateParams{LicenseID: lic.ID, DeploymentID: in.DeploymentID})
		existed := err == nil
		if err != nil && licensing.ErrorCode(Translate(err)) != licensing.ENOTFOUND {
			return err
		}
		if existed && before.Status == string(licensing.DeploymentDeactivated) {
			return licensing.Errorf(licensing.ECONFLICT, "deployment %s was released; use a new deployment id for this "+
				"installation, or ask your vendor to reactivate it", in.DeploymentID)
		}
		inUse, err := q.CountSeatsInUse(ctx, CountSeatsInUseParams{LicenseID: lic.ID, ExceptDeploymentID: in.DeploymentID,
			WindowHours: lic.HeartbeatWindowHours, Now: now})
		if err != nil {
			return err
		}
		if lic.MaxDeployments != nil && inUse >= *lic.MaxDeployments {
			return licensing.Errorf(licensing.ECONFLICT, "all %d seats of this license are in use: release a deployment "+
				"you no longer use, then try again", *lic.MaxDeployments)
		}
		plan, err := q.GetPlan(ctx, lic.PlanID)
		if err != nil {
			return err
		}
		if lease, exp, err = sign(lic, plan.Code); err != nil {
			return err
		}
		dep, err = q.UpsertOfflineDeployment(ctx, UpsertOfflineDeploymentParams{LicenseID: lic.ID,
			DeploymentID: in.DeploymentID, Hostname: in.Hostname, OfflineUntil: &exp, Now: now})
		if err != nil {
			return err
		}
		entry := AuditEntry{Action: "deployment.offline_activate", EntityType: "deployment",
			EntityID: lic.ID.String() + "/" + in.DeploymentID, CustomerID: &lic.CustomerID,
			After: OfflineActivationRecord{Deployment: dep.View(), OfflineUntil: exp.UTC()}}
		if existed {
			rec := OfflineActivationRecord{Deployment: before.View()}
			if before.OfflineUntil != nil {
				rec.OfflineUntil = before.OfflineUntil.UTC()
			}
			entry.Before = rec
		}
		return Audit(ctx, q, actor, entry, now)
	})
	return dep, lease, exp, err
}

// stateWords names an effective state in a sentence.
func stateWords(s licensing.State) string {
	if s == licensing.StateNotYetValid {
		return "not valid yet"
	}
	return string(s)
}

// The reads and small writes handlers call. Each returns the query's rows;
// errors arrive already translated by the connection (conn.go).

func (s *Store) ListPortalActivity(ctx context.Context, arg ListPortalActivityParams) ([]ListPortalActivityRow, error) {
	return s.q.ListPortalActivity(ctx, arg)
}

func (s *Store) ListPortalLicenses(ctx context.Context, arg ListPortalLicensesParams) ([]ListPortalLicensesRow, error) {
	return s.q.ListPortalLicenses(ctx, arg)
}
