package handlers

// Email notices on the web: the admin Notifications page with "send
// again", the one-click unsubscribe link of every email (no sign-in: the
// signed token is the credential, RFC 8058), the customer user's choice of
// notices on the account page, and the renewal request page that renewal
// reminders link to.

import (
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/jobs"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/notify"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
	"github.com/nectarcloud/nls/web/templates/pages/portal"
)

var noticeStates = []string{"queued", "sent", "retrying", "failed", "suppressed"}

func (s *Server) registerNotificationRoutes(app *fiber.App) {
	// The admin pages (/admin/notifications) are in adminRoutes.
	// Mail clients post the one-click unsubscribe without cookies or a CSRF token.
	app.Get("/unsubscribe/:token", s.unsubscribePage)
	app.Post("/unsubscribe/:token", s.unsubscribe)
	p := app.Group("/portal", s.requireRole("customer"), s.csrfProtect, s.portalCustomer)
	p.Post("/account/notices", s.portalSaveNotices)
	p.Get("/licenses/:id/renew", s.portalRenewalPage)
	p.Post("/licenses/:id/renew", s.portalRequestRenewal)
}

// adminNotifications handles GET /admin/notifications?status=&event=&recipient=&cursor=.
func (s *Server) adminNotifications(c *fiber.Ctx) error {
	ctx := c.UserContext()
	v := admin.NotificationsView{Status: strings.Clone(c.Query("status")), EventType: strings.Clone(c.Query("event")),
		Recipient: strings.TrimSpace(strings.Clone(c.Query("recipient"))), Statuses: noticeStates}
	for _, e := range events.Catalogue {
		if notify.CategoryOf(e.Type) != "" {
			v.Types = append(v.Types, e.Type)
		}
	}
	v.Types = append(v.Types, "staff.digest")
	if v.Status != "" && !slices.Contains(noticeStates, v.Status) {
		return licensing.Invalid("status must be one of "+strings.Join(noticeStates, ", "),
			licensing.ErrorDetail{Field: "status", Message: "unknown state"})
	}
	p, err := parsePage(c)
	if err != nil {
		return err
	}
	f := db.NotificationFilter{Status: v.Status, EventType: v.EventType, Recipient: v.Recipient, Limit: p.Limit + 1}
	if raw := c.Query("license"); raw != "" {
		id, err := parseUUID(raw, "license")
		if err != nil {
			return err
		}
		f.LicenseID = &id
	}
	if p.After != nil {
		f.Before = &db.Notification{CreatedAt: p.After.T, ID: p.After.ID}
	}
	rows, err := s.store.ListNotifications(ctx, f)
	if err != nil {
		return err
	}
	for i, n := range rows {
		if i == int(p.Limit) {
			q := url.Values{}
			for k, val := range map[string]string{"status": v.Status, "event": v.EventType, "recipient": v.Recipient} {
				if val != "" {
					q.Set(k, val)
				}
			}
			q.Set("cursor", *encodeCursor(cursor{T: rows[i-1].CreatedAt, ID: rows[i-1].ID}))
			v.NextURL = withQuery("/admin/notifications", q)
			break
		}
		r := admin.NotificationRow{ID: n.ID.String(), Created: fmtDateTime(n.CreatedAt), Recipient: n.Recipient,
			Event: n.EventType, Subject: n.Subject, Status: n.Status, Attempts: n.Attempts, LastError: n.LastError,
			CanResend: n.Status != "queued"}
		if n.LicenseID != nil {
			r.LicenseID = n.LicenseID.String()
		}
		v.Rows = append(v.Rows, r)
	}
	counts, err := s.store.CountNotificationsByStatus(ctx)
	if err != nil {
		return err
	}
	for _, cnt := range counts {
		v.Counts = append(v.Counts, admin.NotificationCount{Status: cnt.Status, N: cnt.N})
	}
	return s.render(c, admin.NotificationsPage(s.page(c, "Notifications"), v))
}

// adminResendNotification handles POST /admin/notifications/:id/resend: the
// notice is queued again (audited) and the admin returns to the list.
func (s *Server) adminResendNotification(c *fiber.Ctx) error {
	id, err := parseUUID(c.Params("id"), "notification")
	if err != nil {
		return err
	}
	n, err := s.store.ResendNotice(c.UserContext(), s.adminActor(c), id, s.now())
	if err != nil {
		return err
	}
	s.setFlash(c, components.ToastSuccess, "The notice to "+n.Recipient+" is queued to be sent again.")
	back := "/admin/notifications"
	if ref := c.Get(fiber.HeaderReferer); ref != "" {
		if u, err := url.Parse(ref); err == nil && u.Path == back {
			back = withQuery(back, u.Query())
		}
	}
	return c.Redirect(back, fiber.StatusSeeOther)
}

// categoryLabel names a notice category in words.
func categoryLabel(category string) string {
	switch category {
	case notify.CategoryRenewal:
		return "renewal and expiry"
	case notify.CategoryBilling:
		return "payment"
	case notify.CategoryUsage:
		return "usage limit"
	case notify.CategoryDeployments:
		return "installation"
	}
	return category
}

// unsubscribePage handles GET /unsubscribe/:token: a page asking to confirm,
// since link checkers and previews open links without meaning to unsubscribe.
func (s *Server) unsubscribePage(c *fiber.Ctx) error {
	id, err := notify.ParseUnsubscribeToken(s.cfg.NoticeSecret, c.Params("token"))
	if err != nil {
		return s.renderUnsubscribe(c, pages.UnsubscribeView{Status: fiber.StatusBadRequest})
	}
	n, err := s.store.GetNotification(c.UserContext(), id)
	if err != nil {
		return s.renderUnsubscribe(c, pages.UnsubscribeView{Status: fiber.StatusBadRequest})
	}
	if n.UnsubscribedAt != nil {
		return s.renderUnsubscribe(c, pages.UnsubscribeView{Status: fiber.StatusGone})
	}
	return s.renderUnsubscribe(c, pages.UnsubscribeView{Status: fiber.StatusOK, Confirm: true, Email: n.Recipient,
		Category: categoryLabel(n.Category), Action: "/unsubscribe/" + url.PathEscape(c.Params("token"))})
}

// unsubscribe handles POST /unsubscribe/:token (RFC 8058 one-click, or the
// confirm button): the link's address stops receiving its category. A link
// works once (410 after); a changed one is refused (400).
func (s *Server) unsubscribe(c *fiber.Ctx) error {
	id, err := notify.ParseUnsubscribeToken(s.cfg.NoticeSecret, c.Params("token"))
	if err != nil {
		return s.renderUnsubscribe(c, pages.UnsubscribeView{Status: fiber.StatusBadRequest})
	}
	addr, category, ok, err := s.store.UseUnsubscribeLink(c.UserContext(), id, s.now())
	if err != nil {
		return err
	}
	if !ok {
		return s.renderUnsubscribe(c, pages.UnsubscribeView{Status: fiber.StatusGone})
	}
	return s.renderUnsubscribe(c, pages.UnsubscribeView{Status: fiber.StatusOK, Done: true, Email: addr,
		Category: categoryLabel(category)})
}

func (s *Server) renderUnsubscribe(c *fiber.Ctx, v pages.UnsubscribeView) error {
	c.Status(v.Status)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return s.render(c, pages.UnsubscribePage(s.page(c, "Unsubscribe"), v))
}

// noticeChoices is the account page's notice form for an address.
func (s *Server) noticeChoices(c *fiber.Ctx, email string) ([]portal.NoticeChoice, error) {
	out, err := s.store.OptOuts(c.UserContext(), email)
	if err != nil {
		return nil, err
	}
	var choices []portal.NoticeChoice
	for _, cat := range notify.CustomerCategories {
		choices = append(choices, portal.NoticeChoice{Name: cat.Name, Label: cat.Label, On: !slices.Contains(out, cat.Name)})
	}
	return choices, nil
}

// portalSaveNotices handles POST /portal/account/notices {notice: [category…]}:
// the categories ticked are received, the others not.
func (s *Server) portalSaveNotices(c *fiber.Ctx) error {
	sess := s.loadSession(c)
	on := map[string]bool{}
	for _, v := range c.Context().PostArgs().PeekMulti("notice") {
		on[string(v)] = true
	}
	var all, off []string
	for _, cat := range notify.CustomerCategories {
		all = append(all, cat.Name)
		if !on[cat.Name] {
			off = append(off, cat.Name)
		}
	}
	if err := s.store.SetOptOuts(c.UserContext(), sess.Email, all, off, s.now()); err != nil {
		return err
	}
	s.setFlash(c, components.ToastSuccess, "Your email notices are saved.")
	return c.Redirect("/portal/account", fiber.StatusSeeOther)
}

// portalRenewalPage handles GET /portal/licenses/:id/renew.
func (s *Server) portalRenewalPage(c *fiber.Ctx) error {
	row, err := s.portalLicenseParam(c)
	if err != nil {
		return err
	}
	v := portal.RenewalView{LicenseID: row.License.ID.String(), Plan: row.PlanName, ExpiresAt: fmtDate(row.License.ExpiresAt)}
	if v.ExpiresAt == "" {
		v.ExpiresAt = "no date (perpetual)"
	}
	open, err := s.store.OpenRenewalRequest(c.UserContext(), row.License.ID)
	if err != nil {
		return err
	}
	if open != nil {
		v.Requested, v.Message = fmtDateTime(open.CreatedAt), open.Message
	}
	return s.render(c, portal.RenewalPage(s.portalPage(c, "Renew license"), v))
}

// portalRequestRenewal handles POST /portal/licenses/:id/renew {message}: the
// request shows on the admin's license page until the license is renewed.
func (s *Server) portalRequestRenewal(c *fiber.Ctx) error {
	row, err := s.portalLicenseParam(c)
	if err != nil {
		return err
	}
	sess := s.loadSession(c)
	msg := strings.TrimSpace(c.FormValue("message"))
	if _, err := s.store.RequestRenewal(c.UserContext(), s.portalActor(c), row.License.ID, row.License.CustomerID,
		sess.UserID, msg, s.now()); err != nil {
		return err
	}
	s.setFlash(c, components.ToastSuccess, "Renewal requested. The vendor's team will get back to you.")
	return c.Redirect("/portal/licenses/"+row.License.ID.String(), fiber.StatusSeeOther)
}

// licenseLifecycle is the license page's lifecycle card.
func (s *Server) licenseLifecycle(c *fiber.Ctx, l db.License) (admin.LicenseLifecycle, error) {
	ctx := c.UserContext()
	v := admin.LicenseLifecycle{NoticesURL: "/admin/notifications?license=" + l.ID.String()}
	days := s.cfg.ReminderDays
	if days == nil {
		days = jobs.DefaultReminderDays
	}
	cancel, err := s.store.StripeCancelsAtPeriodEnd(ctx, l.ID)
	if err != nil {
		return v, err
	}
	for _, u := range jobs.UpcomingMilestones(l.ExpiresAt, int(l.GraceDays), l.StripeSubscriptionID != nil, cancel,
		s.now(), days) {
		v.Upcoming = append(v.Upcoming, admin.UpcomingRow{What: u.What, When: fmtDate(&u.At)})
	}
	open, err := s.store.OpenRenewalRequest(ctx, l.ID)
	if err != nil {
		return v, err
	}
	if open != nil {
		v.RenewalAsked, v.RenewalMessage = fmtDateTime(open.CreatedAt), open.Message
	}
	return v, nil
}
