package handlers

// The Stripe webhook, and the routes operators use to see the events
// received and replay those that needed attention. What an event does to
// customers and licenses is the store's business (db/stripe.go); this file
// verifies, parses and answers.

import (
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

func (s *Server) registerStripeRoutes(api fiber.Router) {
	api.Post("/webhooks/stripe", s.stripeWebhook)
	admin := s.requireScope(licensing.ScopeAdmin)
	api.Get("/stripe/events", admin, s.listStripeEvents)
	api.Post("/stripe/events/:id/replay", admin, s.replayStripeEvent)
}

// stripeWebhook handles POST /api/webhooks/stripe: the signature is checked
// before anything is parsed or stored; the event is then recorded and
// applied once. Every verified event is answered 200, even one that needs an
// admin (Stripe would retry a 4xx or 5xx for days to no avail); only a
// failure of ours is a 500, which Stripe's retry may cure.
func (s *Server) stripeWebhook(c *fiber.Ctx) error {
	if len(s.cfg.StripeSecrets) == 0 {
		return licensing.Errorf(licensing.EUNAVAILABLE, "Stripe billing is not configured: set STRIPE_WEBHOOK_SECRET")
	}
	// Fiber reuses the body's buffer once the handler returns.
	payload := append([]byte(nil), c.Body()...)
	in, err := s.verifyStripeEvent(payload, c.Get("Stripe-Signature"))
	if err != nil {
		return err
	}
	rec, err := s.store.ReceiveStripeEvent(c.UserContext(), s.issuer, s.sealer, in, s.now())
	if err != nil {
		return err
	}
	ans := fiber.Map{"received": true, "status": rec.Event.Status}
	if rec.Duplicate {
		ans["duplicate"] = true
	}
	return c.JSON(ans)
}

// verifyStripeEvent checks the Stripe-Signature header against each
// configured secret (several during a rotation), with Stripe's tolerance on
// its timestamp.
//
// Events of an API version other than the one stripe-go v76 pins are
// accepted: NLS reads no field through stripe-go's types, only a few fields
// through structs of its own that know where each API version puts them
// (db/stripe.go), and records every event's api_version. Refusing them would
// stop billing the day the Stripe account's API version is upgraded, with
// every event retried and then lost.
func (s *Server) verifyStripeEvent(payload []byte, header string) (db.StripeEventInput, error) {
	if header == "" {
		return db.StripeEventInput{}, licensing.Errorf(licensing.EMALFORMED, "missing Stripe-Signature header")
	}
	var lastErr error
	for _, secret := range s.cfg.StripeSecrets {
		ev, err := webhook.ConstructEventWithOptions(payload, header, secret,
			webhook.ConstructEventOptions{Tolerance: webhook.DefaultTolerance, IgnoreAPIVersionMismatch: true})
		if err != nil {
			lastErr = err
			continue
		}
		if ev.Data == nil {
			return db.StripeEventInput{}, licensing.Errorf(licensing.EMALFORMED, "the event has no data")
		}
		return db.StripeEventInput{ID: ev.ID, Type: string(ev.Type), APIVersion: ev.APIVersion, Livemode: ev.Livemode,
			Created: time.Unix(ev.Created, 0).UTC(), Object: ev.Data.Raw, Payload: payload}, nil
	}
	switch {
	case errors.Is(lastErr, webhook.ErrTooOld):
		return db.StripeEventInput{}, licensing.Errorf(licensing.EMALFORMED,
			"the Stripe-Signature timestamp is outside the %s tolerance", webhook.DefaultTolerance)
	case errors.Is(lastErr, webhook.ErrNotSigned), errors.Is(lastErr, webhook.ErrInvalidHeader):
		return db.StripeEventInput{}, licensing.Errorf(licensing.EMALFORMED, "the Stripe-Signature header is malformed")
	case errors.Is(lastErr, webhook.ErrNoValidSignature):
		return db.StripeEventInput{}, licensing.Errorf(licensing.EMALFORMED,
			"the Stripe-Signature does not match the webhook secret")
	}
	// Signed correctly, but not an event we can read.
	return db.StripeEventInput{}, licensing.Errorf(licensing.EMALFORMED, "the signed body is not a Stripe event")
}

// StripeEventView is a received Stripe event as the API shows it.
type StripeEventView struct {
	ID              string     `json:"id"`
	Type            string     `json:"type"`
	APIVersion      string     `json:"apiVersion"`
	Livemode        bool       `json:"livemode"`
	StripeCreatedAt time.Time  `json:"stripeCreatedAt"`
	ObjectID        string     `json:"objectId"`
	Status          string     `json:"status"`
	Error           *string    `json:"error"`
	Attempts        int32      `json:"attempts"`
	ReceivedAt      time.Time  `json:"receivedAt"`
	ProcessedAt     *time.Time `json:"processedAt"`
}

func viewStripeEvent(e db.StripeEvent) StripeEventView {
	v := StripeEventView{ID: e.ID, Type: e.Type, APIVersion: e.ApiVersion, Livemode: e.Livemode,
		StripeCreatedAt: utc(e.StripeCreatedAt), ObjectID: e.ObjectID, Status: e.Status, Attempts: e.Attempts,
		ReceivedAt: utc(e.ReceivedAt), ProcessedAt: utcPtr(e.ProcessedAt)}
	if e.Error != "" {
		v.Error = &e.Error
	}
	return v
}

var stripeEventStates = []string{db.StripeProcessed, db.StripeIgnored, db.StripeNeedsAttention, db.StripeFailed}

// listStripeEvents handles GET /api/stripe/events?status=&limit=&cursor=, newest first.
func (s *Server) listStripeEvents(c *fiber.Ctx) error {
	p, err := parsePage(c)
	if err != nil {
		return err
	}
	params := db.ListStripeEventsParams{}
	if v := c.Query("status"); v != "" {
		for _, st := range stripeEventStates {
			if v == st {
				params.Status = &st
			}
		}
		if params.Status == nil {
			return licensing.Invalid("status must be one of processed, ignored, needs_attention, failed",
				licensing.ErrorDetail{Field: "status", Message: "unknown state"})
		}
	}
	if p.After != nil {
		params.BeforeReceived, params.BeforeID = &p.After.T, &p.After.S
	}
	pg, err := fetchPage(p.Limit, func(n int32) ([]db.StripeEvent, error) {
		params.MaxRows = n
		return s.store.ListStripeEvents(c.UserContext(), params)
	}, func(last db.StripeEvent) cursor { return cursor{T: last.ReceivedAt, S: last.ID} })
	if err != nil {
		return err
	}
	return c.JSON(listOf(pg, viewStripeEvent))
}

// replayStripeEvent handles POST /api/stripe/events/:id/replay: applies a
// received event again (after its price was mapped, say). A processed event
// is a 409: it is never applied twice.
func (s *Server) replayStripeEvent(c *fiber.Ctx) error {
	ev, err := s.store.ReplayStripeEvent(c.UserContext(), s.apiActor(c), s.issuer, s.sealer, string([]byte(c.Params("id"))), s.now())
	if err != nil {
		return err
	}
	return c.JSON(viewStripeEvent(ev))
}
