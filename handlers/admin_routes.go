package handlers

// The admin portal's routes and what its handlers share: the acting admin
// for the audit log, and display formatting for the view models.

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
)

func (s *Server) registerAdminRoutes(app *fiber.App) {
	g := app.Group("/admin", s.requireRole("admin"), s.csrfProtect)
	g.Get("/", s.adminDashboard)
	g.Get("/licenses.csv", s.adminLicensesCSV)
	g.Get("/licenses", s.adminLicenses)
	g.Get("/licenses/new", s.adminNewLicense)
	g.Post("/licenses", s.adminCreateLicense)
	g.Get("/licenses/:id", s.adminLicense)
	g.Get("/licenses/:id/edit", s.adminEditLicense)
	g.Post("/licenses/:id/edit", s.adminUpdateLicense)
	g.Get("/licenses/:id/sections/:section", s.adminLicenseSection)
	g.Post("/licenses/:id/reveal", s.adminRevealKey)
	g.Post("/licenses/:id/suspend", s.adminSuspendLicense)
	g.Post("/licenses/:id/reactivate", s.adminReactivateLicense)
	g.Post("/licenses/:id/renew", s.adminRenewLicense)
	g.Post("/licenses/:id/revoke", s.adminRevokeLicense)
	g.Post("/licenses/:id/rekey", s.adminRekeyLicense)
	g.Post("/licenses/:id/deployments/:dep/release", s.adminReleaseDeployment)
	g.Post("/licenses/:id/offline", s.adminOfflineActivation)
	g.Get("/customers", s.adminCustomers)
	g.Get("/customers/new", s.adminNewCustomer)
	g.Post("/customers", s.adminCreateCustomer)
	g.Get("/customers/:id", s.adminCustomer)
	g.Get("/customers/:id/edit", s.adminEditCustomer)
	g.Post("/customers/:id/edit", s.adminUpdateCustomer)
	g.Post("/customers/:id/archive", s.adminArchiveCustomer)
	g.Post("/customers/:id/unarchive", s.adminUnarchiveCustomer)
	g.Get("/plans", s.adminPlans)
	g.Get("/plans/new", s.adminNewPlan)
	g.Post("/plans", s.adminCreatePlan)
	g.Get("/plans/:code/edit", s.adminEditPlan)
	g.Post("/plans/:code/edit", s.adminUpdatePlan)
	g.Get("/audit.csv", s.adminAuditCSV)
	g.Get("/audit", s.adminAudit)
	g.Get("/audit/verify", s.adminAuditVerify)
	g.Get("/api-keys", s.adminAPIKeys)
	g.Post("/api-keys", s.adminCreateAPIKey)
	g.Post("/api-keys/:id/revoke", s.adminRevokeAPIKey)
	g.Get("/usage.csv", s.adminUsageCSV)
	g.Get("/usage", s.adminUsage)
	g.Get("/stripe-events", s.adminStripeEvents)
	g.Get("/stripe-events/:id", s.adminStripeEvent)
	g.Post("/stripe-events/:id/replay", s.adminReplayStripeEvent)
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
