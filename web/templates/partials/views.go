// Package partials holds exactly what one HTMX request swaps: a list's
// results, a license's header, a revealed key. Full pages (pages/admin)
// include the same components, so a partial and its page never drift.
//
// The types here are view models the handlers fill: plain strings already
// formatted for display, never database rows.
package partials

import (
	"strconv"
	"time"
)

// LicenseFilter is the license list's query, echoed into the form and links.
type LicenseFilter struct {
	Q        string
	Status   string
	Plan     string
	Customer string // customer id
	Expiring string // days
}

// LicenseRow is one license in the list.
type LicenseRow struct {
	ID           string
	ShortID      string
	CustomerName string
	Plan         string
	Status       string
	Seats        string
	ExpiresAt    string
	CreatedAt    string
}

// LicenseResults is the list's swap target: rows, the next page, or why
// there are none.
type LicenseResults struct {
	Rows     []LicenseRow
	NextURL  string // "" on the last page
	Filtered bool   // any filter or search applied
	Error    string // a filter that could not be read
}

// LicenseHeader is the license page's status block and its actions; every
// action answers it anew.
type LicenseHeader struct {
	ID              string
	CustomerName    string
	CustomerID      string
	Plan            string // the plan's code
	PlanName        string // what people call it; the code when unknown
	Status          string // effective state
	StoredStatus    string // active | suspended | revoked
	SuspendedReason string
	StartsAt        string
	ExpiresAt       string // "" for perpetual
	GraceEndsAt     string
	Seats           string // "1 of 2"
	NewKey          string // set once, right after a re-key
	Error           string // an action refused, shown in place
}

// Deployment is one installation of a license.
type Deployment struct {
	ID         string // the client's deployment id
	Hostname   string
	IP         string
	AppVersion string
	FirstSeen  string
	LastSeen   string
	LastSeenAt time.Time // shown relative, in the viewer's time zone
	Status     string    // active | stale | deactivated
	LeaseEnds  string    // when not active: when its last lease ends at the latest; "" otherwise
	// SeatLost: it holds a seat beyond the license's seats (after a
	// downgrade) and is refused at its next check.
	SeatLost bool
}

// Deployments is the license page's deployments table.
type Deployments struct {
	LicenseID string
	Rows      []Deployment
	Transfers string // the seat transfer budget, e.g. "1 of 3 used in the last 30 days"
}

// Events an action on a license answers with (HX-Trigger), so that every
// section of the license page it affects fetches itself again.
const (
	EventLicenseChanged     = "licenseChanged"     // status, dates or entitlements
	EventDeploymentsChanged = "deploymentsChanged" // a deployment released or reactivated
	EventKeyRevealed        = "keyRevealed"        // an audited reveal
)

// SectionURL is where a section of the admin license page fetches itself.
func SectionURL(licenseID, section string) string {
	return "/admin/licenses/" + licenseID + "/sections/" + section
}

// keyRows is how many rows a key's box needs to show the whole key at about
// 60 characters a row, so no part of it hides behind a scroll bar.
func keyRows(key string) string {
	return strconv.Itoa(max(2, (len(key)+59)/60+1))
}
