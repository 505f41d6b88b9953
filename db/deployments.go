package db

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/licensing"
)

// SeatOutcome is what asking for a seat ended in.
type SeatOutcome int

const (
	SeatHeld        SeatOutcome = iota // the deployment holds a seat now
	SeatDeactivated                    // released or deactivated: it answers DEPLOYMENT_DEACTIVATED
	SeatsFull                          // no free seat: TOO_MANY_DEPLOYMENTS
)

// DeploymentInfo is what an installation says about itself.
type DeploymentInfo struct {
	DeploymentID string
	Fingerprint  string
	Hostname     string
	IP           string
	AppVersion   string
	Offline      bool // activated by an offline license file, not a live call
}

// windowHours is a heartbeat window in whole hours, as licenses store it.
func windowHours(window time.Duration) int32 { return int32(window / time.Hour) }

// AcquireSeat activates or revives a deployment if its license has a free
// seat. The license row is locked for the check and the write, so concurrent
// activations — from this process or any other — never exceed the seats.
// It returns the deployment (when held), the outcome, and the seats in use
// afterwards, always counted (AcquireSeats counts only when it matters).
//
// It goes through the seat combiner (AcquireSeats, seats.go): one
// acquire_seats statement (migration 00024) for the requests asking at
// once, which also records deployment.activated for new rows; only when
// events fan out through a job queue does it run in a transaction, to
// enqueue the fan-out with it. The facts caches are notified after the
// commit.
func (s *Store) AcquireSeat(ctx context.Context, licenseID uuid.UUID, maxDeployments *int32, window time.Duration,
	info DeploymentInfo, now time.Time) (Deployment, SeatOutcome, int, error) {
	var always int32
	a, err := s.AcquireSeats(ctx, SeatRequest{LicenseID: licenseID, Limit: maxDeployments, CountFrom: &always,
		Window: window, Info: info, Now: now})
	if err != nil {
		return Deployment{}, 0, 0, err
	}
	return a.Deployment, a.Outcome, a.InUse, nil
}

// RefreshSeat records that a deployment which held its seat when the caller
// read it was seen again. It answers false, touching nothing, when the
// deployment no longer holds the seat by the time the row is locked (a
// release or a lapse won the race); the caller then asks for a seat as a
// new deployment would, under the license lock.
func (s *Store) RefreshSeat(ctx context.Context, id uuid.UUID, window time.Duration, info DeploymentInfo,
	now time.Time) (Deployment, bool, error) {
	d, err := s.q.RefreshHeldSeat(ctx, RefreshHeldSeatParams{ID: id, LastSeenAt: now, Fingerprint: info.Fingerprint,
		Hostname: info.Hostname, Ip: info.IP, AppVersion: info.AppVersion, WindowHours: windowHours(window), Now: now})
	if err != nil {
		if licensing.ErrorCode(Translate(err)) == licensing.ENOTFOUND {
			return Deployment{}, false, nil
		}
		return Deployment{}, false, Translate(err)
	}
	return d, true, nil
}

// ReleaseDeployment frees a deployment's seat: it answers
// DEPLOYMENT_DEACTIVATED until an admin reactivates it. by is who released
// it: admin, customer or client (the installation itself).
func (s *Store) ReleaseDeployment(ctx context.Context, actor licensing.Actor, licenseID uuid.UUID, customerID uuid.UUID,
	deploymentID, by string, now time.Time) (Deployment, error) {
	var dep Deployment
	err := s.inTx(ctx, func(q *Queries) error {
		if countsAsTransfer(by) {
			// The license row's lock (taken first, as seat acquisition
			// does) orders concurrent releases, so two cannot both take
			// the last transfer of the budget.
			if _, err := q.LockLicenseSeats(ctx, licenseID); err != nil {
				return notFound(err, "license")
			}
		}
		before, err := q.GetDeploymentForUpdate(ctx, GetDeploymentForUpdateParams{LicenseID: licenseID, DeploymentID: deploymentID})
		if err != nil {
			return notFound(err, "deployment")
		}
		if before.Status == string(licensing.DeploymentDeactivated) {
			dep = before
			return nil
		}
		if countsAsTransfer(by) {
			b, err := transferBudget(ctx, q, licenseID, now)
			if err != nil {
				return err
			}
			if !b.Allowed {
				return TransferRefused(b)
			}
		}
		if err := q.RecordSeatTransfer(ctx, RecordSeatTransferParams{LicenseID: licenseID, DeploymentPk: &before.ID,
			ReleasedBy: by, Counted: countsAsTransfer(by), ReleasedAt: now}); err != nil {
			return err
		}
		dep, err = q.DeactivateDeployment(ctx, DeactivateDeploymentParams{LicenseID: licenseID, DeploymentID: deploymentID,
			DeactivatedAt: &now, DeactivatedBy: &by})
		if err != nil {
			return err
		}
		if err := s.recordDeployment(ctx, q, events.DeploymentReleased, customerID, dep, now); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "deployment.release", EntityType: "deployment",
			EntityID: licenseID.String() + "/" + deploymentID, CustomerID: &customerID,
			Before: before.View(), After: dep.View()}, now)
	})
	return dep, err
}

// ReactivateDeployment lets a released deployment validate again, if a seat is free.
func (s *Store) ReactivateDeployment(ctx context.Context, actor licensing.Actor, licenseID, customerID uuid.UUID,
	maxDeployments *int32, window time.Duration, deploymentID string, now time.Time) (Deployment, error) {
	var dep Deployment
	err := s.inTx(ctx, func(q *Queries) error {
		if _, err := q.LockLicenseSeats(ctx, licenseID); err != nil {
			return notFound(err, "license")
		}
		before, err := q.GetDeploymentForUpdate(ctx, GetDeploymentForUpdateParams{LicenseID: licenseID, DeploymentID: deploymentID})
		if err != nil {
			return notFound(err, "deployment")
		}
		if before.Status == string(licensing.DeploymentStoredActive) {
			dep = before
			return nil
		}
		inUse, err := q.CountSeatsInUse(ctx, CountSeatsInUseParams{LicenseID: licenseID, ExceptDeploymentID: deploymentID,
			WindowHours: windowHours(window), Now: now})
		if err != nil {
			return err
		}
		if maxDeployments != nil && inUse >= *maxDeployments {
			return licensing.Errorf(licensing.ECONFLICT, "all %d seats are in use: release another deployment first", *maxDeployments)
		}
		if dep, err = q.ReactivateDeployment(ctx, ReactivateDeploymentParams{LicenseID: licenseID, DeploymentID: deploymentID,
			SeenAt: now}); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "deployment.reactivate", EntityType: "deployment",
			EntityID: licenseID.String() + "/" + deploymentID, CustomerID: &customerID,
			Before: before.View(), After: dep.View()}, now)
	})
	return dep, err
}

// DeploymentView is a deployment as the API shows it.
type DeploymentView struct {
	ID            string     `json:"id"`
	Status        string     `json:"status"`
	Fingerprint   string     `json:"fingerprint"`
	Hostname      string     `json:"hostname"`
	IP            string     `json:"ip"`
	AppVersion    string     `json:"appVersion"`
	Offline       bool       `json:"offline"`
	FirstSeenAt   time.Time  `json:"firstSeenAt"`
	LastSeenAt    time.Time  `json:"lastSeenAt"`
	DeactivatedAt *time.Time `json:"deactivatedAt"`
	DeactivatedBy *string    `json:"deactivatedBy"`
}

// View renders the deployment; id is the installation's own deployment id.
func (d Deployment) View() DeploymentView {
	return DeploymentView{ID: d.DeploymentID, Status: d.Status, Fingerprint: d.Fingerprint, Hostname: d.Hostname,
		IP: d.Ip, AppVersion: d.AppVersion, Offline: d.Offline, FirstSeenAt: d.FirstSeenAt.UTC(),
		LastSeenAt: d.LastSeenAt.UTC(), DeactivatedAt: utcPtr(d.DeactivatedAt), DeactivatedBy: d.DeactivatedBy}
}

// The reads and small writes handlers call. Each returns the query's rows;
// errors arrive already translated by the connection (conn.go).

func (s *Store) CountDeploymentsByFreshness(ctx context.Context, now time.Time) (CountDeploymentsByFreshnessRow, error) {
	return s.q.CountDeploymentsByFreshness(ctx, now)
}

func (s *Store) ListDeployments(ctx context.Context, licenseID uuid.UUID) ([]Deployment, error) {
	return s.q.ListDeployments(ctx, licenseID)
}

// SeatsInUse counts the license's deployments that hold a seat now (the
// seat rule's SQL twin, deployment_holds_seat).
func (s *Store) SeatsInUse(ctx context.Context, l License, now time.Time) (int, error) {
	n, err := s.q.CountSeatsInUse(ctx, CountSeatsInUseParams{LicenseID: l.ID, WindowHours: l.HeartbeatWindowHours, Now: now})
	return int(n), err
}
