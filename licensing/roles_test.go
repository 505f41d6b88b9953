package licensing

import (
	"slices"
	"testing"
)

func TestRoleMatrix(t *testing.T) {
	all := []Permission{PermRead, PermAccount, PermRevealKey, PermRelease, PermLicensesWrite, PermCustomersWrite,
		PermPlansWrite, PermStripeWrite, PermAPIKeysWrite, PermTeam}
	want := map[AdminRole][]Permission{
		RoleOwner:   all,
		RoleAdmin:   all[:9],
		RoleSupport: {PermRead, PermAccount, PermRevealKey, PermRelease},
		RoleViewer:  {PermRead, PermAccount},
		"":          nil,
		"root":      nil,
	}
	for role, perms := range want {
		for _, p := range all {
			if got := role.Allows(p); got != slices.Contains(perms, p) {
				t.Errorf("%q allows %s: got %v, want %v", role, p, got, !got)
			}
		}
	}
}

func TestRoleScopes(t *testing.T) {
	if !RoleAdmin.GrantsScopes([]string{ScopeAdmin}) || !RoleOwner.GrantsScopes(Scopes) {
		t.Error("owners and admins must match every scope")
	}
	for _, r := range []AdminRole{RoleSupport, RoleViewer} {
		for _, s := range []string{ScopeAdmin, ScopeLicensesWrite, ScopeCustomersWrite} {
			if r.GrantsScopes([]string{s}) {
				t.Errorf("%s grants %s", r, s)
			}
		}
		if !r.GrantsScopes([]string{ScopeLicensesRead, ScopeAuditRead}) {
			t.Errorf("%s must match the read scopes", r)
		}
	}
	if AdminRole("").GrantsScopes([]string{ScopeLicensesRead}) {
		t.Error("no role grants a scope")
	}
}

func TestParseAdminRole(t *testing.T) {
	for _, r := range AdminRoles {
		if got, err := ParseAdminRole(string(r)); err != nil || got != r {
			t.Errorf("%s: got %q, %v", r, got, err)
		}
	}
	for _, bad := range []string{"", "Owner", "root"} {
		if _, err := ParseAdminRole(bad); ErrorCode(err) != EINVALID {
			t.Errorf("%q: got %v, want EINVALID", bad, err)
		}
	}
}
