// A deployment's seat and the state every surface shows for it. The SQL
// function deployment_holds_seat is HoldsSeat for queries that count seats;
// db's agreement test keeps the two equal.

package licensing

import "time"

// DeploymentStatus is what a deployment row stores.
type DeploymentStatus string

// Stored deployment statuses.
const (
	DeploymentStoredActive DeploymentStatus = "active"
	DeploymentDeactivated  DeploymentStatus = "deactivated" // released by an admin, its customer or the client
)

// DeploymentState is a deployment's state as the API, the pages and the CLI
// show it.
type DeploymentState string

// Deployment states. Released deployments keep the stored word
// "deactivated", which the API documents.
const (
	DeploymentActive   DeploymentState = "active"      // holding its seat by checking in
	DeploymentOffline  DeploymentState = "offline"     // running from an offline license file still valid
	DeploymentStale    DeploymentState = "stale"       // not seen within the heartbeat window: no seat
	DeploymentReleased DeploymentState = "deactivated" // released; validates as DEPLOYMENT_DEACTIVATED
)

// Deployment is what the seat rule and the state read of one deployment.
type Deployment struct {
	Status       DeploymentStatus
	LastSeenAt   time.Time
	Offline      bool       // activated by an offline license file
	OfflineUntil *time.Time // end of the newest offline file's window
}

// HoldsSeat is the seat rule: a deployment holds a seat while it is active
// and was seen within its license's heartbeat window (strictly), or while
// an offline license file issued for it is still valid (until
// OfflineUntil, exclusive), released or not, since that file keeps working
// where it is installed.
func (d Deployment) HoldsSeat(window time.Duration, now time.Time) bool {
	return (d.Status == DeploymentStoredActive && d.LastSeenAt.After(now.Add(-window))) ||
		(d.OfflineUntil != nil && d.OfflineUntil.After(now))
}

// OfflineFileValid reports whether an offline file issued for d still runs.
func (d Deployment) OfflineFileValid(now time.Time) bool {
	return d.OfflineUntil != nil && d.OfflineUntil.After(now)
}

// State is the one deployment state: released whatever its file; offline
// while an offline activation's file is valid; active while it holds its
// seat; stale otherwise.
func (d Deployment) State(window time.Duration, now time.Time) DeploymentState {
	switch {
	case d.Status == DeploymentDeactivated:
		return DeploymentReleased
	case d.Offline && d.OfflineFileValid(now):
		return DeploymentOffline
	case d.HoldsSeat(window, now):
		return DeploymentActive
	}
	return DeploymentStale
}

// APIState is the state in the JSON APIs, whose documented enum is active,
// stale, deactivated: an offline deployment is active there (holding its
// seat), and its offline flag says how.
func (s DeploymentState) APIState() DeploymentState {
	if s == DeploymentOffline {
		return DeploymentActive
	}
	return s
}
