package handlers_test

// The role matrix: every admin route, as the app serves it, is declared in
// the permission table, and each role is refused (403) exactly the routes
// its permissions do not cover, pages and HTMX actions alike.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/auth"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/licensing"
)

// createAdminAs adds an admin of role (after the first admin, who is an owner).
func createAdminAs(t *testing.T, e *testEnv, email, pw string, role licensing.AdminRole) string {
	t.Helper()
	hash, err := auth.HashPassword(pw, 4)
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.store.CreateAdminAs(t.Context(), licensing.SystemActor("test"), email, "Role "+string(role), hash,
		role, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := deref(u.AdminRole); got != string(role) {
		t.Fatalf("created %s: got role %q, want %q", email, got, role)
	}
	return u.ID.String()
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// matrixPath fills a route's parameters with values that name nothing, so
// an allowed request is answered (404, 422, 200...) but changes nothing
// that another row of the matrix depends on.
func matrixPath(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			parts[i] = uuid.NewString()
			if p == ":code" {
				parts[i] = "no-such-plan"
			}
		}
	}
	return strings.Join(parts, "/")
}

func TestAdminRoleMatrix(t *testing.T) {
	a := newAdminEnv(t) // the first admin: an owner

	declared := map[string]licensing.Permission{}
	for _, r := range handlers.AdminRoutePermissions() {
		declared[r.Method+" "+r.Path] = r.Permission
	}
	served := 0
	for _, r := range a.app.GetRoutes(true) {
		path := strings.TrimSuffix(r.Path, "/")
		if r.Method == http.MethodHead || (path != "/admin" && !strings.HasPrefix(path, "/admin/")) {
			continue // Fiber serves HEAD for every GET
		}
		served++
		if _, ok := declared[r.Method+" "+path]; !ok {
			t.Errorf("%s %s is served but has no permission in adminRoutes", r.Method, path)
		}
	}
	if served != len(declared) {
		t.Errorf("got %d admin routes served, want the %d declared", served, len(declared))
	}

	const pw = "a long password for the matrix"
	browsers := map[licensing.AdminRole]*browser{licensing.RoleOwner: a.b}
	for _, role := range []licensing.AdminRole{licensing.RoleAdmin, licensing.RoleSupport, licensing.RoleViewer} {
		email := string(role) + "@nls.example"
		createAdminAs(t, a.testEnv, email, pw, role)
		browsers[role] = signIn(t, a.testEnv, email, pw)
	}
	for _, role := range licensing.AdminRoles {
		b := browsers[role]
		b.get("/admin") // a page of the portal, for the CSRF token
		for _, r := range handlers.AdminRoutePermissions() {
			path := matrixPath(r.Path)
			var p page
			if r.Method == http.MethodGet {
				p = b.get(path)
			} else {
				p = b.htmx(r.Method, path, nil)
			}
			allowed := role.Allows(r.Permission)
			if got := p.Status == http.StatusForbidden; got == allowed {
				t.Errorf("%s: %s %s (%s): got status %d, want allowed=%v\n%.300s", role, r.Method, r.Path,
					r.Permission, p.Status, allowed, p.Body)
			}
			if p.Status == http.StatusUnauthorized || p.Status == http.StatusSeeOther && strings.HasPrefix(p.Header.Get("Location"), "/login") {
				t.Fatalf("%s: %s %s: the session ended (status %d)", role, r.Method, r.Path, p.Status)
			}
		}
	}
}
