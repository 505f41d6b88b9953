// Invitation links: the URL a new user's invitation token is sent as.
package app

import "strings"

// InviteLink is the URL an invitation token is sent as: the portal's base
// URL, /invite/, the token.
func InviteLink(baseURL, token string) string {
	return strings.TrimRight(baseURL, "/") + "/invite/" + token
}
