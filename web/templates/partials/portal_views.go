package partials

import "net/url"

// View models of the customer portal's swap targets (portal.templ).

// PortalKey is a license's key block: masked until revealed.
type PortalKey struct {
	LicenseID string
	Masked    string // the key's visible ends, e.g. "NLS-eyJhbGci…3f2a9c1b"
	Key       string // the whole key, once revealed; "" before
}

// PortalDeployment is one installation of a license, as its customer sees it.
type PortalDeployment struct {
	ID         string // the client's deployment id
	Hostname   string
	AppVersion string
	FirstSeen  string
	LastSeen   string
	Status     string // active | offline | stale | deactivated
	Note       string // e.g. when an offline file keeps holding the seat
}

// PortalDeployments is the license page's deployments table and the seats
// line it updates out of band after a release.
type PortalDeployments struct {
	LicenseID string
	Rows      []PortalDeployment
	Seats     string // "1 of 2 in use"
	Transfers string // the seat transfer budget, e.g. "1 of 3 used in the last 30 days"
}

// PortalActivityRow is one audit entry as the customer sees it.
type PortalActivityRow struct {
	ID     string
	When   string
	Actor  string // a person of the customer, "Vendor staff", "Billing", an installation
	Action string // in words
	Entity string
	Href   string // the license's page, when it has one
}

// PortalActivity is the activity list's swap target.
type PortalActivity struct {
	Rows    []PortalActivityRow
	NextURL string // "" on the last page
}

// portalReleaseURL is where a deployment's release form posts; the client
// chose the deployment id, so it is escaped.
func portalReleaseURL(licenseID, deploymentID string) string {
	return "/portal/licenses/" + licenseID + "/deployments/" + url.PathEscape(deploymentID) + "/release"
}

// portalReleaseConfirm is the question asked before a release.
func portalReleaseConfirm(d PortalDeployment) string {
	if d.Status == "offline" {
		return "Release deployment " + d.ID + "? It can no longer check in, but its offline license file keeps " +
			"working, and holding its seat, until the file expires."
	}
	return "Release deployment " + d.ID + "? It stops working at once and its seat becomes free for another installation."
}
