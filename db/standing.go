package db

// Mapping between license and deployment rows and the licensing core's
// License and Deployment: the rules (transitions, grace end, seat, state)
// live in licensing; rows are only read into and written back from them.

import (
	"time"

	"github.com/nectarcloud/nls/licensing"
)

// Standing is the row's standing as the licensing core reads it.
func (l License) Standing() licensing.License {
	return licensing.License{
		Status:           licensing.StoredStatus(l.Status),
		SuspendedReason:  l.SuspendedReason,
		SuspensionSource: (*licensing.SuspensionSource)(l.SuspensionSource),
		RevokedAt:        l.RevokedAt,
		StartsAt:         l.StartsAt,
		ExpiresAt:        l.ExpiresAt,
		GraceDays:        int(l.GraceDays),
		PaymentState:     licensing.PaymentState(l.PaymentState),
		PastDueSince:     l.PastDueSince,
		DunningDays:      int(l.DunningDays),
	}
}

// SetStanding writes what a transition changed back into the row: status,
// suspension, revocation, expiry and payment standing. Starts, grace and
// dunning days are not transitions' to change.
func (l *License) SetStanding(s licensing.License) {
	l.Status, l.SuspendedReason, l.SuspensionSource = string(s.Status), s.SuspendedReason, (*string)(s.SuspensionSource)
	l.RevokedAt, l.ExpiresAt = s.RevokedAt, s.ExpiresAt
	l.PaymentState, l.PastDueSince = string(s.PaymentState), s.PastDueSince
}

// Transition applies one of licensing.License's transitions to the row.
func (l *License) Transition(change func(*licensing.License) error) error {
	s := l.Standing()
	if err := change(&s); err != nil {
		return err
	}
	l.SetStanding(s)
	return nil
}

// FactsForStatus are the stored facts licensing's effective-status rule reads.
func (l License) FactsForStatus() licensing.LicenseFacts { return l.Standing().Facts() }

// Effective is the license's effective status at now.
func (l License) Effective(now time.Time) licensing.Effective { return l.Standing().Effective(now) }

// GraceEnd is when the license stops validating (nil: perpetual).
func (l License) GraceEnd() *time.Time { return l.Standing().GraceEnd() }

// HeartbeatWindow is how long a deployment of l holds its seat without
// checking in.
func (l License) HeartbeatWindow() time.Duration {
	return time.Duration(l.HeartbeatWindowHours) * time.Hour
}

// Facts is the deployment as the seat rule and the state read it.
func (d Deployment) Facts() licensing.Deployment {
	return licensing.Deployment{Status: licensing.DeploymentStatus(d.Status), LastSeenAt: d.LastSeenAt,
		Offline: d.Offline, OfflineUntil: d.OfflineUntil}
}

// HoldsSeat is licensing's seat rule applied to d.
func (d Deployment) HoldsSeat(window time.Duration, now time.Time) bool {
	return d.Facts().HoldsSeat(window, now)
}

// State is licensing's deployment state applied to d.
func (d Deployment) State(window time.Duration, now time.Time) licensing.DeploymentState {
	return d.Facts().State(window, now)
}

// HoldsSeat is licensing's seat rule for the columns of a joined row.
func HoldsSeat(status string, lastSeenAt time.Time, offlineUntil *time.Time, window time.Duration, now time.Time) bool {
	return licensing.Deployment{Status: licensing.DeploymentStatus(status), LastSeenAt: lastSeenAt,
		OfflineUntil: offlineUntil}.HoldsSeat(window, now)
}
