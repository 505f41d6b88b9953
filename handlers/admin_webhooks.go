package handlers

// Admin pages for outbound webhooks: the endpoint list and the form to add
// one (its secret shown once), an endpoint's page (figures, settings,
// actions, delivery log), editing, enabling and disabling, rotating the
// secret, a test event, resending one delivery and replaying since a time.

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
	"github.com/nectarcloud/nls/web/templates/partials"
)

// statsWindow is how far back the success rate looks.
const statsWindow = 7 * 24 * time.Hour

func webhookEventTypes() []admin.WebhookEventType {
	out := make([]admin.WebhookEventType, 0, len(events.Catalogue))
	for _, s := range events.Catalogue {
		out = append(out, admin.WebhookEventType{Type: s.Type, Description: s.Description})
	}
	return out
}

func (s *Server) canWriteWebhooks(c *fiber.Ctx) bool {
	return s.account(c).adminRole.Allows(licensing.PermWebhooksWrite)
}

func successRate(st db.WebhookStats) string {
	r := st.SuccessRate()
	if r < 0 {
		return "—"
	}
	return strconv.FormatFloat(r, 'f', 1, 64) + " %"
}

func (s *Server) webhookRow(c *fiber.Ctx, w db.WebhookEndpoint) (admin.WebhookRow, db.WebhookStats, error) {
	st, err := s.store.WebhookEndpointStats(c.UserContext(), w.ID, s.now().Add(-statsWindow))
	if err != nil {
		return admin.WebhookRow{}, st, err
	}
	return admin.WebhookRow{ID: w.ID.String(), URL: w.Url, Description: w.Description,
		Events: strings.Join(w.EventTypes, ", "), Enabled: w.Enabled, DisabledReason: w.DisabledReason,
		SuccessRate: successRate(st), Created: fmtDateTime(w.CreatedAt)}, st, nil
}

func (s *Server) renderWebhooks(c *fiber.Ctx, v admin.WebhooksPage) error {
	ws, err := s.store.ListWebhookEndpoints(c.UserContext(), db.ListWebhookEndpointsParams{MaxRows: 200})
	if err != nil {
		return err
	}
	for _, w := range ws {
		row, _, err := s.webhookRow(c, w)
		if err != nil {
			return err
		}
		v.Rows = append(v.Rows, row)
	}
	v.EventTypes, v.CanWrite, v.Private = webhookEventTypes(), s.canWriteWebhooks(c), s.cfg.Webhooks.Guard.AllowPrivate
	return s.render(c, admin.WebhooksListPage(s.page(c, "Webhooks"), v))
}

// adminWebhooks handles GET /admin/webhooks.
func (s *Server) adminWebhooks(c *fiber.Ctx) error {
	return s.renderWebhooks(c, admin.WebhooksPage{Form: admin.WebhookForm{Events: []string{app.AllEvents}}})
}

// webhookForm reads the endpoint form.
func webhookForm(c *fiber.Ctx) admin.WebhookForm {
	f := admin.WebhookForm{URL: strings.Clone(c.FormValue("url")), Description: strings.Clone(c.FormValue("description")),
		Errors: formTextErrors(c)}
	for _, v := range c.Request().PostArgs().PeekMulti("events") {
		f.Events = append(f.Events, string(v))
	}
	if f.All() {
		f.Events = []string{app.AllEvents}
	}
	return f
}

func (f webhookFormChange) change() app.WebhookEndpointChange {
	events := f.Events
	if events == nil {
		events = []string{}
	}
	return app.WebhookEndpointChange{URL: &f.URL, Description: &f.Description, Events: &events}
}

type webhookFormChange struct{ admin.WebhookForm }

// adminCreateWebhook handles POST /admin/webhooks {url, description,
// events...}: stores the endpoint and shows its page with the secret, once
// (201); or the form with its errors (422), storing nothing.
func (s *Server) adminCreateWebhook(c *fiber.Ctx) error {
	f := webhookForm(c)
	if len(f.Errors) == 0 {
		w, secret, err := s.webhooks.Create(c.UserContext(), s.adminActor(c), webhookFormChange{f}.change())
		if err == nil {
			c.Status(fiber.StatusCreated)
			return s.renderWebhook(c, w, admin.WebhookPage{NewSecret: secret,
				SecretNote: "Receivers verify deliveries with it."}, "")
		}
		if err := formErrors(err, f.Errors, "url", "description", "events"); err != nil {
			return err
		}
	}
	c.Status(fiber.StatusUnprocessableEntity)
	return s.renderWebhooks(c, admin.WebhooksPage{Form: f})
}

func (s *Server) webhookParam(c *fiber.Ctx) (db.WebhookEndpoint, error) {
	id, err := parseUUID(c.Params("id"), "webhook endpoint")
	if err != nil {
		return db.WebhookEndpoint{}, err
	}
	return s.store.GetWebhookEndpoint(c.UserContext(), id)
}

// deliveryLog is the delivery log view of one page.
func (s *Server) deliveryLog(c *fiber.Ctx, w db.WebhookEndpoint, status string) (partials.WebhookLog, error) {
	p, err := parseListPage(c, 25)
	if err != nil {
		return partials.WebhookLog{}, err
	}
	if status != "" && !containsString(deliveryStatuses, status) {
		status = ""
	}
	pg, err := s.deliveriesPage(c, w.ID, status, p)
	if err != nil {
		return partials.WebhookLog{}, err
	}
	v := partials.WebhookLog{EndpointID: w.ID.String(), Status: status, Statuses: deliveryStatuses,
		CSRF: s.loadSession(c).CSRF, CanWrite: s.canWriteWebhooks(c), Refresh: p.After == nil}
	for _, d := range pg.Rows {
		r := partials.WebhookDeliveryRow{ID: d.ID.String(), Event: d.EventType, Status: d.Status,
			Created: fmtDateTime(d.CreatedAt), Attempts: int(d.Attempts), ResponseStatus: httpStatus(d.ResponseStatus)}
		if d.EventID != nil {
			r.EventID = d.EventID.String()
		}
		if d.LatencyMs != nil {
			r.Latency = fmt.Sprintf("%d ms", *d.LatencyMs)
		}
		if d.NextAttemptAt != nil && d.Status == "retrying" {
			r.NextRetry = fmtDateTime(*d.NextAttemptAt)
		}
		for _, a := range d.AttemptLog {
			ar := partials.WebhookAttemptRow{N: int(a.Attempt), At: fmtDateTime(a.AttemptedAt), Status: httpStatus(a.ResponseStatus),
				Latency: fmt.Sprintf("%d ms", a.LatencyMs), Excerpt: a.ResponseExcerpt, Error: a.Error}
			if a.NextAttemptAt != nil {
				ar.NextRetry = fmtDateTime(*a.NextAttemptAt)
			}
			r.AttemptRows = append(r.AttemptRows, ar)
		}
		v.Rows = append(v.Rows, r)
	}
	if pg.Next != nil {
		v.NextURL = "/admin/webhooks/" + w.ID.String() + "?status=" + status + "&cursor=" + *encodeCursor(*pg.Next)
	}
	return v, nil
}

func httpStatus(s *int32) string {
	if s == nil {
		return "—"
	}
	return strconv.Itoa(int(*s))
}

func (s *Server) renderWebhook(c *fiber.Ctx, w db.WebhookEndpoint, v admin.WebhookPage, status string) error {
	row, st, err := s.webhookRow(c, w)
	if err != nil {
		return err
	}
	v.Endpoint, v.Delivered, v.Failed, v.Pending = row, st.Delivered, st.Failed, st.Pending
	v.CanWrite = s.canWriteWebhooks(c)
	if w.FailingSince != nil {
		v.FailingSince = fmtDateTime(*w.FailingSince)
	}
	if w.PreviousSecretUntil != nil && w.PreviousSecretSealed != nil && s.now().Before(*w.PreviousSecretUntil) {
		v.PreviousUntil = fmtDateTime(*w.PreviousSecretUntil)
	}
	if v.ReplaySince == "" {
		since := s.now().Add(-24 * time.Hour)
		if w.FailingSince != nil {
			since = *w.FailingSince
		}
		v.ReplaySince = since.UTC().Format("2006-01-02T15:04:05")
	}
	if v.Log, err = s.deliveryLog(c, w, status); err != nil {
		return err
	}
	return s.render(c, admin.WebhookDetailPage(s.page(c, "Webhook "+w.Url), v))
}

// adminWebhook handles GET /admin/webhooks/:id?status=&cursor=.
func (s *Server) adminWebhook(c *fiber.Ctx) error {
	w, err := s.webhookParam(c)
	if err != nil {
		return err
	}
	return s.renderWebhook(c, w, admin.WebhookPage{}, c.Query("status"))
}

// adminWebhookDeliveries handles GET /admin/webhooks/:id/deliveries?status=:
// the delivery log alone, which the filter and the refresh swap.
func (s *Server) adminWebhookDeliveries(c *fiber.Ctx) error {
	w, err := s.webhookParam(c)
	if err != nil {
		return err
	}
	if !wantsPartial(c) {
		// A full load (no JavaScript, a bookmark) gets the endpoint's page.
		return s.renderWebhook(c, w, admin.WebhookPage{}, c.Query("status"))
	}
	log, err := s.deliveryLog(c, w, c.Query("status"))
	if err != nil {
		return err
	}
	return s.render(c, partials.WebhookDeliveryLog(log))
}

// adminEditWebhook handles GET /admin/webhooks/:id/edit.
func (s *Server) adminEditWebhook(c *fiber.Ctx) error {
	w, err := s.webhookParam(c)
	if err != nil {
		return err
	}
	return s.render(c, admin.WebhookEditForm(s.page(c, "Edit webhook"), admin.WebhookEditPage{ID: w.ID.String(),
		Form:       admin.WebhookForm{URL: w.Url, Description: w.Description, Events: w.EventTypes},
		EventTypes: webhookEventTypes(), Private: s.cfg.Webhooks.Guard.AllowPrivate}))
}

// adminUpdateWebhook handles POST /admin/webhooks/:id/edit.
func (s *Server) adminUpdateWebhook(c *fiber.Ctx) error {
	w, err := s.webhookParam(c)
	if err != nil {
		return err
	}
	f := webhookForm(c)
	if len(f.Errors) == 0 {
		_, err := s.webhooks.Update(c.UserContext(), s.adminActor(c), w.ID, webhookFormChange{f}.change())
		if err == nil {
			s.setFlash(c, components.ToastSuccess, "Endpoint saved.")
			return redirect(c, "/admin/webhooks/"+w.ID.String())
		}
		if err := formErrors(err, f.Errors, "url", "description", "events"); err != nil {
			return err
		}
	}
	c.Status(fiber.StatusUnprocessableEntity)
	return s.render(c, admin.WebhookEditForm(s.page(c, "Edit webhook"), admin.WebhookEditPage{ID: w.ID.String(), Form: f,
		EventTypes: webhookEventTypes(), Private: s.cfg.Webhooks.Guard.AllowPrivate}))
}

func (s *Server) setWebhookEnabled(c *fiber.Ctx, on bool) error {
	w, err := s.webhookParam(c)
	if err != nil {
		return err
	}
	if _, err := s.webhooks.Update(c.UserContext(), s.adminActor(c), w.ID, app.WebhookEndpointChange{Enabled: &on}); err != nil {
		return err
	}
	msg := "Endpoint disabled: events are recorded but not sent to it."
	if on {
		msg = "Endpoint enabled. Replay the events it missed if it needs them."
	}
	s.setFlash(c, components.ToastSuccess, msg)
	return redirect(c, "/admin/webhooks/"+w.ID.String())
}

// adminEnableWebhook handles POST /admin/webhooks/:id/enable.
func (s *Server) adminEnableWebhook(c *fiber.Ctx) error { return s.setWebhookEnabled(c, true) }

// adminDisableWebhook handles POST /admin/webhooks/:id/disable.
func (s *Server) adminDisableWebhook(c *fiber.Ctx) error { return s.setWebhookEnabled(c, false) }

// adminRotateWebhook handles POST /admin/webhooks/:id/rotate: the page with
// the new secret, once.
func (s *Server) adminRotateWebhook(c *fiber.Ctx) error {
	w, err := s.webhookParam(c)
	if err != nil {
		return err
	}
	w, secret, err := s.webhooks.RotateSecret(c.UserContext(), s.adminActor(c), w.ID)
	if err != nil {
		return err
	}
	return s.renderWebhook(c, w, admin.WebhookPage{NewSecret: secret,
		SecretNote: "The previous secret keeps signing beside it for " + s.webhooks.Overlap().String() + "."}, "")
}

// adminPingWebhook handles POST /admin/webhooks/:id/ping: queues a test event.
func (s *Server) adminPingWebhook(c *fiber.Ctx) error {
	w, err := s.webhookParam(c)
	if err != nil {
		return err
	}
	if _, err := s.store.PingWebhookEndpoint(c.UserContext(), w.ID, s.now()); err != nil {
		return err
	}
	s.setFlash(c, components.ToastSuccess, "Test event queued: watch the delivery log.")
	return redirect(c, "/admin/webhooks/"+w.ID.String())
}

// adminReplayWebhook handles POST /admin/webhooks/:id/replay {since}.
func (s *Server) adminReplayWebhook(c *fiber.Ctx) error {
	w, err := s.webhookParam(c)
	if err != nil {
		return err
	}
	raw := strings.TrimSpace(c.FormValue("since"))
	since, perr := time.Parse("2006-01-02T15:04:05", raw)
	if perr != nil {
		since, perr = time.Parse("2006-01-02T15:04", raw)
	}
	msg := ""
	switch {
	case perr != nil:
		msg = "Give a date and time, such as 2030-01-31T09:00."
	case since.After(s.now()):
		msg = "Choose a time in the past."
	}
	if msg != "" {
		c.Status(fiber.StatusUnprocessableEntity)
		return s.renderWebhook(c, w, admin.WebhookPage{ReplaySince: strings.Clone(raw), ReplayError: msg}, "")
	}
	n, err := s.store.ReplayWebhookEndpoint(c.UserContext(), s.adminActor(c), w.ID, since.UTC(), s.now())
	if err != nil {
		return err
	}
	s.setFlash(c, components.ToastSuccess, fmt.Sprintf("%d events queued for delivery.", n))
	return redirect(c, "/admin/webhooks/"+w.ID.String())
}

// adminResendWebhookDelivery handles POST /admin/webhooks/:id/deliveries/:delivery/resend.
func (s *Server) adminResendWebhookDelivery(c *fiber.Ctx) error {
	w, err := s.webhookParam(c)
	if err != nil {
		return err
	}
	did, err := parseUUID(c.Params("delivery"), "webhook delivery")
	if err != nil {
		return err
	}
	if _, err := s.store.ResendWebhookDelivery(c.UserContext(), w.ID, did, s.now()); err != nil {
		return err
	}
	s.setFlash(c, components.ToastSuccess, "Delivery queued again.")
	return redirect(c, "/admin/webhooks/"+w.ID.String())
}

// adminDeleteWebhook handles POST /admin/webhooks/:id/delete.
func (s *Server) adminDeleteWebhook(c *fiber.Ctx) error {
	w, err := s.webhookParam(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteWebhookEndpoint(c.UserContext(), s.adminActor(c), w.ID, s.now()); err != nil {
		return err
	}
	s.setFlash(c, components.ToastSuccess, "Endpoint "+w.Url+" deleted.")
	return redirect(c, "/admin/webhooks")
}
