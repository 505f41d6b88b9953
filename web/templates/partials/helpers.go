package partials

import "net/url"

// releaseURL is where a deployment's release form posts; the client chose
// the deployment id, so it is escaped.
func releaseURL(licenseID, deploymentID string) string {
	return "/admin/licenses/" + licenseID + "/deployments/" + url.PathEscape(deploymentID) + "/release"
}

// deploymentLabel names a deployment state in words.
func deploymentLabel(status string) string {
	switch status {
	case "active":
		return "Active"
	case "offline":
		return "Offline (license file)"
	case "stale":
		return "Stale (no recent heartbeat)"
	case "deactivated":
		return "Released"
	}
	return status
}

// deploymentClass colours a deployment state; the label carries the meaning.
func deploymentClass(status string) string {
	switch status {
	case "active":
		return "badge badge-active"
	case "offline":
		return "badge badge-not_yet_valid"
	case "stale":
		return "badge badge-grace"
	}
	return "badge badge-expired"
}
