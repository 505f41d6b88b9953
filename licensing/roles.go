package licensing

// Admin roles and the permissions each grants: the one table the admin
// portal checks on every route, and the API-key scopes each role matches.

import "slices"

// AdminRole is what an admin may do in the portal.
type AdminRole string

const (
	RoleOwner   AdminRole = "owner"   // everything, including the team and signing keys
	RoleAdmin   AdminRole = "admin"   // licenses, customers, plans, Stripe, API keys
	RoleSupport AdminRole = "support" // read everything, reveal keys (audited), release deployments
	RoleViewer  AdminRole = "viewer"  // read only, no key reveal
)

// AdminRoles lists the roles from most to least powerful, as the portal
// offers them.
var AdminRoles = []AdminRole{RoleOwner, RoleAdmin, RoleSupport, RoleViewer}

// ParseAdminRole accepts a role's name; anything else is EINVALID.
func ParseAdminRole(s string) (AdminRole, error) {
	r := AdminRole(s)
	if !slices.Contains(AdminRoles, r) {
		return "", Invalid("unknown role "+s+"; known: owner, admin, support, viewer",
			ErrorDetail{Field: "role", Message: "choose owner, admin, support or viewer"})
	}
	return r, nil
}

// Permission is one kind of thing an admin route does.
type Permission string

const (
	PermRead           Permission = "read"        // see any admin page
	PermAccount        Permission = "account"     // one's own account: password, two-factor, sessions
	PermRevealKey      Permission = "keys:reveal" // show a license key again (audited)
	PermRelease        Permission = "deployments:release"
	PermLicensesWrite  Permission = "licenses:write"  // issue, change, suspend, renew, revoke, rekey
	PermCustomersWrite Permission = "customers:write" // customers and their portal users
	PermPlansWrite     Permission = "plans:write"
	PermStripeWrite    Permission = "stripe:write" // replay Stripe events
	PermAPIKeysWrite   Permission = "apikeys:write"
	PermReleasesWrite  Permission = "releases:write" // products, releases and their artifacts
	PermTeam           Permission = "team"           // see and change the admin team
	PermWebhooksWrite  Permission = "webhooks:write" // webhook endpoints: create, edit, rotate, test, resend, replay
	PermInsightsWrite  Permission = "insights:write" // acknowledge and dismiss findings
)

// rolePermissions is the role matrix; docs/architecture.md shows it.
var rolePermissions = map[AdminRole][]Permission{
	RoleOwner: {PermRead, PermAccount, PermRevealKey, PermRelease, PermLicensesWrite, PermCustomersWrite,
		PermPlansWrite, PermStripeWrite, PermAPIKeysWrite, PermReleasesWrite, PermWebhooksWrite, PermTeam,
		PermInsightsWrite},
	RoleAdmin: {PermRead, PermAccount, PermRevealKey, PermRelease, PermLicensesWrite, PermCustomersWrite,
		PermPlansWrite, PermStripeWrite, PermAPIKeysWrite, PermReleasesWrite, PermWebhooksWrite, PermInsightsWrite},
	RoleSupport: {PermRead, PermAccount, PermRevealKey, PermRelease, PermInsightsWrite},
	RoleViewer:  {PermRead, PermAccount},
}

// Allows reports whether role grants p. An unknown role grants nothing.
func (r AdminRole) Allows(p Permission) bool { return slices.Contains(rolePermissions[r], p) }

// Scopes is the API-key scopes matching the role: an admin may create API
// keys with these scopes at most. Owners and admins match the admin scope
// (the management API has no team routes); support and viewers match the
// read scopes (no scope grants reveal or release alone).
func (r AdminRole) Scopes() []string {
	switch r {
	case RoleOwner, RoleAdmin:
		return slices.Clone(Scopes)
	case RoleSupport, RoleViewer:
		return []string{ScopeLicensesRead, ScopeCustomersRead, ScopeUsageRead, ScopeAuditRead, ScopeWebhooksRead,
			ScopeInsightsRead}
	}
	return nil
}

// GrantsScopes reports whether every scope asked for is among the role's.
func (r AdminRole) GrantsScopes(asked []string) bool {
	own := r.Scopes()
	for _, s := range asked {
		if !slices.Contains(own, s) {
			return false
		}
	}
	return true
}
