package handlers

// The customer's activity: the audit log's entries about their own
// licenses, deployments and users, newest first, a keyset page at a time.
// Who acted is shown as the customer needs it: their own people by email,
// the vendor's admins and API keys only as "Vendor staff" (no names, IPs or
// key names), Stripe as "Billing", installations by deployment id. The
// before-and-after details stay in the admin portal.

import (
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/pages/portal"
	"github.com/nectarcloud/nls/web/templates/partials"
)

const portalActivityPageSize = 50

// portalActivity handles GET /portal/activity?before=: the whole page, or
// under htmx only the list.
func (s *Server) portalActivity(c *fiber.Ctx) error {
	cu := s.customerOf(c)
	p := db.ListPortalActivityParams{CustomerID: &cu.ID}
	if v := c.Query("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return licensing.Errorf(licensing.EMALFORMED, "before must be an entry number from this page's links")
		}
		p.BeforeID = &n
	}
	pg, err := fetchPage(portalActivityPageSize, func(n int32) ([]db.ListPortalActivityRow, error) {
		p.MaxRows = n
		return s.store.ListPortalActivity(c.UserContext(), p)
	}, func(last db.ListPortalActivityRow) int64 { return last.ID })
	if err != nil {
		return err
	}
	var res partials.PortalActivity
	for _, r := range pg.Rows {
		res.Rows = append(res.Rows, portalActivityRow(r))
	}
	if pg.Next != nil {
		res.NextURL = "/portal/activity?before=" + strconv.FormatInt(*pg.Next, 10)
	}
	return s.renderSwap(c, fiber.StatusOK, partials.PortalActivityList(res), func() (templ.Component, error) {
		return portal.ActivityPage(s.portalPage(c, "Activity"), portal.Activity{Results: res}), nil
	})
}

// portalActivityRow is one entry in the customer's words.
func portalActivityRow(a db.ListPortalActivityRow) partials.PortalActivityRow {
	r := partials.PortalActivityRow{ID: strconv.FormatInt(a.ID, 10), When: fmtDateTime(a.OccurredAt) + " UTC",
		Actor: portalActorLabel(a), Action: portalActionWords(a.Action)}
	switch a.EntityType {
	case "license":
		if len(a.EntityID) >= 8 {
			r.Entity, r.Href = "License "+a.EntityID[:8], "/portal/licenses/"+a.EntityID
		}
	case "deployment":
		// "<license id>/<deployment id>"
		if lic, dep, ok := strings.Cut(a.EntityID, "/"); ok && len(lic) >= 8 {
			r.Entity, r.Href = "Deployment "+dep+" of license "+lic[:8], "/portal/licenses/"+lic
		}
	case "user":
		r.Entity = "User"
	case "customer":
		r.Entity = "Your organisation"
	}
	return r
}

// portalActorLabel names who acted, without the vendor's internals.
func portalActorLabel(a db.ListPortalActivityRow) string {
	switch a.ActorType {
	case licensing.ActorCustomerUser:
		if a.ActorLabel != "" {
			return a.ActorLabel
		}
		return "A user of your organisation"
	case licensing.ActorAdmin, licensing.ActorAPIKey:
		return "Vendor staff"
	case licensing.ActorStripe:
		return "Billing"
	case licensing.ActorClient:
		return "Installation " + a.ActorID
	}
	return "The license server"
}

// portalActions names the actions a customer meets in words.
var portalActions = map[string]string{
	"license.create":              "License issued",
	"license.update":              "License changed",
	"license.suspend":             "License suspended",
	"license.reactivate":          "License reactivated",
	"license.renew":               "License renewed",
	"license.revoke":              "License revoked",
	"license.rekey":               "New license key issued",
	"license.reveal_key":          "License key revealed",
	"deployment.release":          "Deployment released",
	"deployment.reactivate":       "Deployment reactivated",
	"deployment.offline_activate": "Offline license file issued",
	"customer.create":             "Account created",
	"customer.update":             "Account details changed",
	"user.create":                 "User added",
	"user.invite":                 "User invited",
	"user.disable":                "User disabled",
	"user.enable":                 "User enabled",
	"user.password_set":           "Password set",
	"user.password_change":        "Password changed",
}

// portalActionWords is an action in words; one not named above is spelled
// out from its code ("license.payment_failed" → "License payment failed").
func portalActionWords(action string) string {
	if w, ok := portalActions[action]; ok {
		return w
	}
	s := strings.NewReplacer(".", " ", "_", " ").Replace(action)
	if s == "" {
		return action
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
