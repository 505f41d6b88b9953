package handlers

// The admin pages for Stripe events: the list filtered by state, one
// event with its payload and outcome, and its replay. A replay is the
// API's (db.Store.ReplayStripeEvent, with the same audit trail), posted by
// a form: under htmx it swaps the outcome block and adds a toast; without
// JavaScript it redirects back to the event with a flash message.

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
	"github.com/nectarcloud/nls/web/templates/partials"
)

const stripeEventsPageSize = 50

// stripeProblemChars is how much of an event's problem a list shows.
const stripeProblemChars = 140

// adminStripeEvents handles GET /admin/stripe-events?status=&cursor=: the
// whole page, or under HTMX only the results. No status (or "all") lists
// every state.
func (s *Server) adminStripeEvents(c *fiber.Ctx) error {
	f := partials.StripeEventFilter{Status: strings.Clone(c.Query("status"))}
	if f.Status == "all" {
		f.Status = ""
	}
	res := partials.StripeEventResults{Filtered: f.Status != ""}
	status := fiber.StatusOK
	if err := s.loadStripeEventResults(c, f, &res); err != nil {
		if licensing.ErrorCode(err) != licensing.EINVALID {
			return err
		}
		res.Error, status = problemText(err), fiber.StatusUnprocessableEntity
	}
	return s.renderSwap(c, status, partials.StripeEventList(res), func() (templ.Component, error) {
		v := admin.StripeEvents{Filter: f, Results: res}
		for _, st := range []string{db.StripeNeedsAttention, db.StripeFailed, db.StripeProcessed, db.StripeIgnored} {
			v.Statuses = append(v.Statuses, admin.Option{Value: st, Label: partials.StripeStatusLabel(st)})
		}
		return admin.StripeEventsPage(s.page(c, "Stripe events"), v), nil
	})
}

func (s *Server) loadStripeEventResults(c *fiber.Ctx, f partials.StripeEventFilter, res *partials.StripeEventResults) error {
	params := db.ListStripeEventsForAdminParams{}
	if f.Status != "" {
		if !slices.Contains(stripeEventStates, f.Status) {
			return licensing.Invalid("status must be one of processed, ignored, needs_attention, failed",
				licensing.ErrorDetail{Field: "status", Message: "unknown state"})
		}
		params.Status = &f.Status
	}
	p, err := parseListPage(c, stripeEventsPageSize)
	if err != nil {
		return err
	}
	if p.After != nil {
		params.BeforeReceived, params.BeforeID = &p.After.T, &p.After.S
	}
	pg, err := fetchPage(p.Limit, func(n int32) ([]db.ListStripeEventsForAdminRow, error) {
		params.MaxRows = n
		return s.store.ListStripeEventsForAdmin(c.UserContext(), params)
	}, func(last db.ListStripeEventsForAdminRow) cursor { return cursor{T: last.ReceivedAt, S: last.ID} })
	if err != nil {
		return err
	}
	if pg.Next != nil {
		q := url.Values{}
		if f.Status != "" {
			q.Set("status", f.Status)
		}
		q.Set("cursor", *encodeCursor(*pg.Next))
		res.NextURL = withQuery("/admin/stripe-events", q)
	}
	for _, r := range pg.Rows {
		res.Rows = append(res.Rows, stripeEventRow(r.ID, r.Type, r.Status, r.Error, r.ReceivedAt.UTC().Format(dateTimeFormat),
			r.CustomerID, r.CustomerName, r.LicenseID))
	}
	return nil
}

// stripeEventRow formats an event for a list: what stopped it shortened
// (an ignored event's reason is left to its page).
func stripeEventRow(id, typ, status, problem, received string, customerID *uuid.UUID, customerName *string, licenseID *uuid.UUID) partials.StripeEventRow {
	r := partials.StripeEventRow{ID: id, Type: typ, Status: status, Received: received}
	if status == db.StripeNeedsAttention || status == db.StripeFailed {
		r.Problem = shorten(problem, stripeProblemChars)
	}
	if customerID != nil && customerName != nil {
		r.CustomerID, r.CustomerName = customerID.String(), *customerName
	}
	if licenseID != nil {
		r.LicenseID = licenseID.String()
	}
	return r
}

// shorten cuts s to at most n runes, marking the cut.
func shorten(s string, n int) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) <= n {
		return string(r)
	}
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// adminStripeEvent handles GET /admin/stripe-events/:id: the event, what
// became of it, and its payload.
func (s *Server) adminStripeEvent(c *fiber.Ctx) error {
	ev, err := s.store.GetStripeEventForAdmin(c.UserContext(), string([]byte(c.Params("id"))))
	if err != nil {
		return notFoundAs(err, "Stripe event")
	}
	d := admin.StripeEventDetail{ID: ev.ID, Type: ev.Type, APIVersion: ev.ApiVersion, Mode: "Test",
		StripeCreated: fmtDateTime(ev.StripeCreatedAt), Received: fmtDateTime(ev.ReceivedAt), ObjectID: ev.ObjectID,
		Outcome: stripeOutcome(ev), Payload: prettyJSON(ev.Payload)}
	if ev.Livemode {
		d.Mode = "Live"
	}
	if ev.StripeSubscriptionID != nil {
		d.SubscriptionID = *ev.StripeSubscriptionID
	}
	if ev.StripeCustomerID != nil {
		d.StripeCustomerID = *ev.StripeCustomerID
	}
	if ev.CustomerID != nil && ev.CustomerName != nil {
		d.CustomerID, d.CustomerName = ev.CustomerID.String(), *ev.CustomerName
	}
	if ev.LicenseID != nil {
		d.LicenseID = ev.LicenseID.String()
	}
	return s.render(c, admin.StripeEventPage(s.page(c, "Stripe event "+ev.ID), d))
}

// stripeOutcome is what became of an event; it may be replayed when it
// waits for a fix or failed on our side (never when processed: a replay
// is refused; nor when ignored: there is nothing to apply).
func stripeOutcome(ev db.GetStripeEventForAdminRow) partials.StripeEventOutcome {
	o := partials.StripeEventOutcome{ID: ev.ID, Status: ev.Status, Error: ev.Error,
		Attempts:  strconv.Itoa(int(ev.Attempts)),
		CanReplay: ev.Status == db.StripeNeedsAttention || ev.Status == db.StripeFailed}
	if ev.ProcessedAt != nil {
		o.ProcessedAt = fmtDateTime(*ev.ProcessedAt)
	}
	return o
}

// adminReplayStripeEvent handles POST /admin/stripe-events/:id/replay:
// applies the event again, as POST /api/stripe/events/:id/replay does. A
// refusal the admin can act on (already processed, say) is shown in place
// with status 200 so that htmx swaps it; an unknown event is the 404 page.
func (s *Server) adminReplayStripeEvent(c *fiber.Ctx) error {
	id := string([]byte(c.Params("id")))
	ev, replayErr := s.store.ReplayStripeEvent(c.UserContext(), s.adminActor(c), s.issuer, s.sealer, id, s.now())
	var msg, kind string
	if replayErr != nil {
		switch classify(replayErr).Code {
		case licensing.EINVALID, licensing.ECONFLICT, licensing.EMALFORMED:
			msg, kind = "Not replayed: "+problemText(replayErr), components.ToastError
		default:
			return replayErr
		}
	} else {
		msg, kind = replayMessage(ev)
	}
	if !isHTMX(c) {
		s.setFlash(c, kind, msg)
		return c.Redirect(partials.StripeEventURL(id), fiber.StatusSeeOther)
	}
	cur, err := s.store.GetStripeEventForAdmin(c.UserContext(), id)
	if err != nil {
		return notFoundAs(err, "Stripe event")
	}
	return s.render(c, templ.Join(partials.StripeOutcome(stripeOutcome(cur), s.loadSession(c).CSRF),
		components.ToastOOB(kind, msg)))
}

// replayMessage tells what a replay came to.
func replayMessage(ev db.StripeEvent) (string, string) {
	switch ev.Status {
	case db.StripeProcessed:
		return "Event replayed and processed.", components.ToastSuccess
	case db.StripeIgnored:
		return "Event replayed; it was ignored: " + ev.Error, components.ToastInfo
	}
	return "Event replayed, but it still needs attention: " + ev.Error, components.ToastError
}
