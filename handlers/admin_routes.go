package handlers

// The admin portal's routes and what its handlers share: the acting admin
// for the audit log, and display formatting for the view models.

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
)

// adminRoute is one admin portal route and the permission it needs.
type adminRoute struct {
	method, path string // path below /admin
	perm         licensing.Permission
	handle       func(*Server, *fiber.Ctx) error
}

// adminRoutes is every admin portal route, pages and HTMX actions alike,
// with the permission each needs: the one place a route's permission is
// declared. A route registered under /admin any other way is caught by
// TestAdminRoleMatrix.
var adminRoutes = []adminRoute{
	{"GET", "/", licensing.PermRead, (*Server).adminDashboard},
	{"GET", "/licenses.csv", licensing.PermRead, (*Server).adminLicensesCSV},
	{"GET", "/licenses", licensing.PermRead, (*Server).adminLicenses},
	{"GET", "/licenses/new", licensing.PermLicensesWrite, (*Server).adminNewLicense},
	{"POST", "/licenses", licensing.PermLicensesWrite, (*Server).adminCreateLicense},
	{"GET", "/licenses/:id", licensing.PermRead, (*Server).adminLicense},
	{"GET", "/licenses/:id/edit", licensing.PermLicensesWrite, (*Server).adminEditLicense},
	{"POST", "/licenses/:id/edit", licensing.PermLicensesWrite, (*Server).adminUpdateLicense},
	{"GET", "/licenses/:id/sections/:section", licensing.PermRead, (*Server).adminLicenseSection},
	{"POST", "/licenses/:id/offline", licensing.PermLicensesWrite, (*Server).adminOfflineActivation},
	{"POST", "/licenses/:id/reveal", licensing.PermRevealKey, (*Server).adminRevealKey},
	{"POST", "/licenses/:id/suspend", licensing.PermLicensesWrite, (*Server).adminSuspendLicense},
	{"POST", "/licenses/:id/reactivate", licensing.PermLicensesWrite, (*Server).adminReactivateLicense},
	{"POST", "/licenses/:id/renew", licensing.PermLicensesWrite, (*Server).adminRenewLicense},
	{"POST", "/licenses/:id/revoke", licensing.PermLicensesWrite, (*Server).adminRevokeLicense},
	{"POST", "/licenses/:id/rekey", licensing.PermLicensesWrite, (*Server).adminRekeyLicense},
	{"POST", "/licenses/:id/deployments/:dep/release", licensing.PermRelease, (*Server).adminReleaseDeployment},
	{"POST", "/licenses/:id/plan/preview", licensing.PermLicensesWrite, (*Server).adminPreviewPlanChange},
	{"POST", "/licenses/:id/plan", licensing.PermLicensesWrite, (*Server).adminChangePlan},
	{"POST", "/licenses/:id/policy", licensing.PermLicensesWrite, (*Server).adminUpdatePolicy},
	{"GET", "/customers", licensing.PermRead, (*Server).adminCustomers},
	{"GET", "/customers/new", licensing.PermCustomersWrite, (*Server).adminNewCustomer},
	{"POST", "/customers", licensing.PermCustomersWrite, (*Server).adminCreateCustomer},
	{"GET", "/customers/:id", licensing.PermRead, (*Server).adminCustomer},
	{"GET", "/customers/:id/edit", licensing.PermCustomersWrite, (*Server).adminEditCustomer},
	{"POST", "/customers/:id/edit", licensing.PermCustomersWrite, (*Server).adminUpdateCustomer},
	{"POST", "/customers/:id/archive", licensing.PermCustomersWrite, (*Server).adminArchiveCustomer},
	{"POST", "/customers/:id/unarchive", licensing.PermCustomersWrite, (*Server).adminUnarchiveCustomer},
	{"POST", "/customers/:id/users", licensing.PermCustomersWrite, (*Server).adminInviteUser},
	{"POST", "/customers/:id/users/:user/link", licensing.PermCustomersWrite, (*Server).adminNewUserLink},
	{"POST", "/customers/:id/users/:user/disable", licensing.PermCustomersWrite, (*Server).adminDisableUser},
	{"POST", "/customers/:id/users/:user/enable", licensing.PermCustomersWrite, (*Server).adminEnableUser},
	{"GET", "/plans", licensing.PermRead, (*Server).adminPlans},
	{"GET", "/plans/new", licensing.PermPlansWrite, (*Server).adminNewPlan},
	{"POST", "/plans", licensing.PermPlansWrite, (*Server).adminCreatePlan},
	{"GET", "/plans/:code/edit", licensing.PermPlansWrite, (*Server).adminEditPlan},
	{"POST", "/plans/:code/edit", licensing.PermPlansWrite, (*Server).adminUpdatePlan},
	{"GET", "/audit.csv", licensing.PermRead, (*Server).adminAuditCSV},
	{"GET", "/audit", licensing.PermRead, (*Server).adminAudit},
	{"GET", "/audit/verify", licensing.PermRead, (*Server).adminAuditVerify},
	{"GET", "/api-keys", licensing.PermRead, (*Server).adminAPIKeys},
	{"POST", "/api-keys", licensing.PermAPIKeysWrite, (*Server).adminCreateAPIKey},
	{"POST", "/api-keys/:id/revoke", licensing.PermAPIKeysWrite, (*Server).adminRevokeAPIKey},
	{"GET", "/usage.csv", licensing.PermRead, (*Server).adminUsageCSV},
	{"GET", "/usage", licensing.PermRead, (*Server).adminUsage},
	{"GET", "/stripe-events", licensing.PermRead, (*Server).adminStripeEvents},
	{"GET", "/stripe-events/:id", licensing.PermRead, (*Server).adminStripeEvent},
	{"POST", "/stripe-events/:id/replay", licensing.PermStripeWrite, (*Server).adminReplayStripeEvent},
	{"GET", "/notifications", licensing.PermRead, (*Server).adminNotifications},
	{"POST", "/notifications/:id/resend", licensing.PermLicensesWrite, (*Server).adminResendNotification},
	{"GET", "/webhooks", licensing.PermRead, (*Server).adminWebhooks},
	{"POST", "/webhooks", licensing.PermWebhooksWrite, (*Server).adminCreateWebhook},
	{"GET", "/webhooks/:id", licensing.PermRead, (*Server).adminWebhook},
	{"GET", "/webhooks/:id/deliveries", licensing.PermRead, (*Server).adminWebhookDeliveries},
	{"GET", "/webhooks/:id/edit", licensing.PermWebhooksWrite, (*Server).adminEditWebhook},
	{"POST", "/webhooks/:id/edit", licensing.PermWebhooksWrite, (*Server).adminUpdateWebhook},
	{"POST", "/webhooks/:id/enable", licensing.PermWebhooksWrite, (*Server).adminEnableWebhook},
	{"POST", "/webhooks/:id/disable", licensing.PermWebhooksWrite, (*Server).adminDisableWebhook},
	{"POST", "/webhooks/:id/rotate", licensing.PermWebhooksWrite, (*Server).adminRotateWebhook},
	{"POST", "/webhooks/:id/ping", licensing.PermWebhooksWrite, (*Server).adminPingWebhook},
	{"POST", "/webhooks/:id/replay", licensing.PermWebhooksWrite, (*Server).adminReplayWebhook},
	{"POST", "/webhooks/:id/delete", licensing.PermWebhooksWrite, (*Server).adminDeleteWebhook},
	{"POST", "/webhooks/:id/deliveries/:delivery/resend", licensing.PermWebhooksWrite, (*Server).adminResendWebhookDelivery},
	{"GET", "/insights", licensing.PermRead, (*Server).adminInsights},
	{"POST", "/findings/:id/acknowledge", licensing.PermInsightsWrite, (*Server).adminAcknowledgeFinding},
	{"POST", "/findings/:id/dismiss", licensing.PermInsightsWrite, (*Server).adminDismissFinding},
	{"GET", "/releases", licensing.PermRead, (*Server).adminReleases},
	{"POST", "/releases", licensing.PermReleasesWrite, (*Server).adminCreateRelease},
	{"POST", "/products", licensing.PermReleasesWrite, (*Server).adminCreateProduct},
	{"GET", "/releases/:id", licensing.PermRead, (*Server).adminRelease},
	{"POST", "/releases/:id/publish", licensing.PermReleasesWrite, (*Server).adminPublishRelease},
	{"POST", "/releases/:id/yank", licensing.PermReleasesWrite, (*Server).adminYankRelease},
	{"PUT", "/releases/:id/artifacts/:filename", licensing.PermReleasesWrite, (*Server).adminUploadArtifact},
	{"GET", "/account", licensing.PermAccount, (*Server).adminAccount},
	{"POST", "/account/2fa/setup", licensing.PermAccount, (*Server).adminTOTPSetup},
	{"POST", "/account/2fa/confirm", licensing.PermAccount, (*Server).adminTOTPConfirm},
	{"POST", "/account/2fa/disable", licensing.PermAccount, (*Server).adminTOTPDisable},
	{"POST", "/account/sessions/:session/revoke", licensing.PermAccount, (*Server).adminRevokeSession},
	{"POST", "/account/alerts", licensing.PermAccount, (*Server).adminSaveAlerts},
	{"GET", "/team", licensing.PermTeam, (*Server).adminTeam},
	{"POST", "/team", licensing.PermTeam, (*Server).adminInviteAdmin},
	{"POST", "/team/:user/role", licensing.PermTeam, (*Server).adminSetAdminRole},
	{"POST", "/team/:user/link", licensing.PermTeam, (*Server).adminNewAdminLink},
	{"POST", "/team/:user/disable", licensing.PermTeam, (*Server).adminDisableAdmin},
	{"POST", "/team/:user/enable", licensing.PermTeam, (*Server).adminEnableAdmin},
}

// RoutePermission is one admin route as the role matrix test sees it.
type RoutePermission struct {
	Method, Path string // Path is the full path, /admin included
	Permission   licensing.Permission
}

// AdminRoutePermissions lists every admin route with its permission.
func AdminRoutePermissions() []RoutePermission {
	out := make([]RoutePermission, 0, len(adminRoutes))
	for _, r := range adminRoutes {
		out = append(out, RoutePermission{Method: r.method, Path: strings.TrimSuffix("/admin"+r.path, "/"), Permission: r.perm})
	}
	return out
}

func (s *Server) registerAdminRoutes(app *fiber.App) {
	// Kept on the server rather than read from adminRoutes by the render
	// helper: the handlers in adminRoutes render, so Go would see a cycle.
	s.adminRouteTable = AdminRoutePermissions()
	g := app.Group("/admin", s.requireRole("admin"), s.csrfProtect)
	for _, r := range adminRoutes {
		h := r.handle
		g.Add(r.method, r.path, s.requirePermission(r.perm), func(c *fiber.Ctx) error { return h(s, c) })
	}
}

// adminActor names the signed-in admin behind the request, for the audit log.
func (s *Server) adminActor(c *fiber.Ctx) licensing.Actor {
	sess := s.loadSession(c)
	a := licensing.Actor{Type: licensing.ActorAdmin, Label: sess.Email, IP: c.IP(),
		UserAgent: string([]byte(c.Get(fiber.HeaderUserAgent))), RequestID: requestIDOf(c)}
	if sess.UserID != nil {
		a.ID = sess.UserID.String()
	}
	return a
}

const (
	dateFormat     = "2006-01-02"
	dateTimeFormat = "2006-01-02 15:04"
)

func fmtDate(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(dateFormat)
}

func fmtDateTime(t time.Time) string { return t.UTC().Format(dateTimeFormat) }

// auditRows turns audit log rows into the table the pages show.
func auditRows(rows []db.AuditLog) []admin.AuditRow {
	out := make([]admin.AuditRow, 0, len(rows))
	for _, a := range rows {
		who := a.ActorLabel
		if who == "" {
			who = a.ActorID
		}
		r := admin.AuditRow{When: fmtDateTime(a.OccurredAt), At: a.OccurredAt, Actor: a.ActorType + ": " + who, Action: a.Action,
			Entity: a.EntityType + " " + a.EntityID}
		if a.EntityType == "license" {
			r.Href = "/admin/licenses/" + a.EntityID
		}
		out = append(out, r)
	}
	return out
}

// routePermission is the permission the admin route of table serving
// method and path (its query ignored) declares; ok is false when no route
// serves it.
func routePermission(table []RoutePermission, method, path string) (perm licensing.Permission, ok bool) {
	path, _, _ = strings.Cut(path, "?")
	got := strings.Split(strings.Trim(path, "/"), "/")
	for _, r := range table {
		if r.Method != method {
			continue
		}
		want := strings.Split(strings.Trim(r.Path, "/"), "/")
		if len(want) != len(got) {
			continue
		}
		match := true
		for i, w := range want {
			if !strings.HasPrefix(w, ":") && w != got[i] {
				match = false
				break
			}
		}
		if match {
			return r.Permission, true
		}
	}
	return "", false
}

// adminAllower is what an admin of role may do, as pages ask it before they
// show an action: paths outside /admin are not the role's to refuse, and an
// admin path no route of table serves is not offered at all.
func adminAllower(table []RoutePermission, role licensing.AdminRole) components.Allower {
	return func(method, path string) bool {
		if path != "/admin" && !strings.HasPrefix(path, "/admin/") && !strings.HasPrefix(path, "/admin?") {
			return true
		}
		perm, ok := routePermission(table, method, path)
		return ok && role.Allows(perm)
	}
}

// AdminRoleAllows reports whether an admin of role may send method to path
// as the admin route table declares it, for tests that check what pages offer.
func AdminRoleAllows(role licensing.AdminRole, method, path string) bool {
	return adminAllower(AdminRoutePermissions(), role)(method, path)
}
