package partials

import "net/url"

// releaseURL is where a deployment's release form posts; the client chose
// the deployment id, so it is escaped.
func releaseURL(licenseID, deploymentID string) string {
	return "/admin/licenses/" + licenseID + "/deployments/" + url.PathEscape(deploymentID) + "/release"
}
