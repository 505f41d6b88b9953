// The management API of outbound webhook endpoints: create (the signing
// secret is answered once), list, read, edit, delete, rotate the secret,
// the delivery log, and the ping, resend and replay actions the admin
// portal also offers.

package handlers

import (
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/webhooks"
)

// WebhooksConfig is what the endpoint routes need from the configuration.
type WebhooksConfig struct {
	Guard         webhooks.Guard // which URLs may be saved (NLS_WEBHOOK_ALLOW_PRIVATE)
	SecretOverlap time.Duration  // how long a rotated secret keeps signing; 0: 24 hours
}

func (s *Server) registerWebhookRoutes(api fiber.Router) {
	read, write := s.requireScope(licensing.ScopeWebhooksRead), s.requireScope(licensing.ScopeWebhooksWrite)
	api.Get("/webhook-endpoints", read, s.listWebhookEndpoints)
	api.Post("/webhook-endpoints", write, s.createWebhookEndpoint)
	api.Get("/webhook-endpoints/:id", read, s.getWebhookEndpoint)
	api.Patch("/webhook-endpoints/:id", write, s.updateWebhookEndpoint)
	api.Delete("/webhook-endpoints/:id", write, s.deleteWebhookEndpoint)
	api.Post("/webhook-endpoints/:id/rotate-secret", write, s.rotateWebhookSecret)
	api.Post("/webhook-endpoints/:id/ping", write, s.pingWebhookEndpoint)
	api.Post("/webhook-endpoints/:id/replay", write, s.replayWebhookEndpoint)
	api.Get("/webhook-endpoints/:id/deliveries", read, s.listWebhookDeliveries)
	api.Post("/webhook-endpoints/:id/deliveries/:deliveryId/resend", write, s.resendWebhookDelivery)
}

// webhookEndpointBody is a create or an edit; absent fields are left alone.
type webhookEndpointBody struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	Events      *[]string `json:"events"`
	Enabled     *bool     `json:"enabled"`
}

func (b webhookEndpointBody) change() app.WebhookEndpointChange {
	return app.WebhookEndpointChange{URL: b.URL, Description: b.Description, Events: b.Events, Enabled: b.Enabled}
}

// webhookSecretAnswer is the one answer that carries a signing secret.
type webhookSecretAnswer struct {
	Endpoint db.WebhookEndpointView `json:"endpoint"`
	Secret   string                 `json:"secret"`
}

// listWebhookEndpoints handles GET /api/webhook-endpoints?limit=&cursor=.
func (s *Server) listWebhookEndpoints(c *fiber.Ctx) error {
	p, err := parsePage(c)
	if err != nil {
		return err
	}
	params := db.ListWebhookEndpointsParams{}
	if p.After != nil {
		params.BeforeCreated, params.BeforeID = &p.After.T, &p.After.ID
	}
	pg, err := fetchPage(p.Limit, func(n int32) ([]db.WebhookEndpoint, error) {
		params.MaxRows = n
		return s.store.ListWebhookEndpoints(c.UserContext(), params)
	}, func(last db.WebhookEndpoint) cursor { return cursor{T: last.CreatedAt, ID: last.ID} })
	if err != nil {
		return err
	}
	return c.JSON(listOf(pg, db.WebhookEndpoint.View))
}

// createWebhookEndpoint handles POST /api/webhook-endpoints.
func (s *Server) createWebhookEndpoint(c *fiber.Ctx) error {
	var b webhookEndpointBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	w, secret, err := s.webhooks.Create(c.UserContext(), s.apiActor(c), b.change())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(webhookSecretAnswer{Endpoint: w.View(), Secret: secret})
}

func (s *Server) webhookEndpointParam(c *fiber.Ctx) (uuid.UUID, error) {
	return parseUUID(c.Params("id"), "webhook endpoint")
}

// getWebhookEndpoint handles GET /api/webhook-endpoints/:id.
func (s *Server) getWebhookEndpoint(c *fiber.Ctx) error {
	id, err := s.webhookEndpointParam(c)
	if err != nil {
		return err
	}
	w, err := s.store.GetWebhookEndpoint(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(w.View())
}

// updateWebhookEndpoint handles PATCH /api/webhook-endpoints/:id.
func (s *Server) updateWebhookEndpoint(c *fiber.Ctx) error {
	id, err := s.webhookEndpointParam(c)
	if err != nil {
		return err
	}
	var b webhookEndpointBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	w, err := s.webhooks.Update(c.UserContext(), s.apiActor(c), id, b.change())
	if err != nil {
		return err
	}
	return c.JSON(w.View())
}

// deleteWebhookEndpoint handles DELETE /api/webhook-endpoints/:id.
func (s *Server) deleteWebhookEndpoint(c *fiber.Ctx) error {
	id, err := s.webhookEndpointParam(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteWebhookEndpoint(c.UserContext(), s.apiActor(c), id, s.now()); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// rotateWebhookSecret handles POST /api/webhook-endpoints/:id/rotate-secret.
func (s *Server) rotateWebhookSecret(c *fiber.Ctx) error {
	id, err := s.webhookEndpointParam(c)
	if err != nil {
		return err
	}
	w, secret, err := s.webhooks.RotateSecret(c.UserContext(), s.apiActor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(webhookSecretAnswer{Endpoint: w.View(), Secret: secret})
}

// queuedAnswer says what an action queued.
type queuedAnswer struct {
	DeliveryID *uuid.UUID `json:"deliveryId,omitempty"`
	Queued     int        `json:"queued"`
}

// pingWebhookEndpoint handles POST /api/webhook-endpoints/:id/ping.
func (s *Server) pingWebhookEndpoint(c *fiber.Ctx) error {
	id, err := s.webhookEndpointParam(c)
	if err != nil {
		return err
	}
	did, err := s.store.PingWebhookEndpoint(c.UserContext(), id, s.now())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(queuedAnswer{DeliveryID: &did, Queued: 1})
}

// replayBody is "replay since".
type replayBody struct {
	Since *time.Time `json:"since"`
}

// replayWebhookEndpoint handles POST /api/webhook-endpoints/:id/replay.
func (s *Server) replayWebhookEndpoint(c *fiber.Ctx) error {
	id, err := s.webhookEndpointParam(c)
	if err != nil {
		return err
	}
	var b replayBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	if b.Since == nil {
		return licensing.Invalid("since is required", licensing.ErrorDetail{Field: "since", Message: "an RFC 3339 time"})
	}
	if b.Since.After(s.now()) {
		return licensing.Invalid("since is in the future", licensing.ErrorDetail{Field: "since", Message: "must be in the past"})
	}
	n, err := s.store.ReplayWebhookEndpoint(c.UserContext(), s.apiActor(c), id, *b.Since, s.now())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(queuedAnswer{Queued: n})
}

// resendWebhookDelivery handles POST /api/webhook-endpoints/:id/deliveries/:deliveryId/resend.
func (s *Server) resendWebhookDelivery(c *fiber.Ctx) error {
	id, err := s.webhookEndpointParam(c)
	if err != nil {
		return err
	}
	did, err := parseUUID(c.Params("deliveryId"), "webhook delivery")
	if err != nil {
		return err
	}
	nid, err := s.store.ResendWebhookDelivery(c.UserContext(), id, did, s.now())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(queuedAnswer{DeliveryID: &nid, Queued: 1})
}

// webhookDeliveryView is one delivery of the log with its attempts.
type webhookDeliveryView struct {
	ID              uuid.UUID            `json:"id"`
	EventID         *uuid.UUID           `json:"eventId"`
	EventType       string               `json:"eventType"`
	Status          string               `json:"status"`
	Attempts        int32                `json:"attempts"`
	ResponseStatus  *int32               `json:"responseStatus"`
	LatencyMs       *int32               `json:"latencyMs"`
	ResponseExcerpt string               `json:"responseExcerpt"`
	LastError       string               `json:"lastError"`
	NextAttemptAt   *time.Time           `json:"nextAttemptAt"`
	CreatedAt       time.Time            `json:"createdAt"`
	DeliveredAt     *time.Time           `json:"deliveredAt"`
	AttemptLog      []webhookAttemptView `json:"attemptLog"`
}

type webhookAttemptView struct {
	Attempt         int32      `json:"attempt"`
	AttemptedAt     time.Time  `json:"attemptedAt"`
	ResponseStatus  *int32     `json:"responseStatus"`
	LatencyMs       int32      `json:"latencyMs"`
	ResponseExcerpt string     `json:"responseExcerpt"`
	Error           string     `json:"error"`
	NextAttemptAt   *time.Time `json:"nextAttemptAt"`
}

func deliveryView(d db.WebhookDeliveryRow) webhookDeliveryView {
	v := webhookDeliveryView{ID: d.ID, EventID: d.EventID, EventType: d.EventType, Status: d.Status, Attempts: d.Attempts,
		ResponseStatus: d.ResponseStatus, LatencyMs: d.LatencyMs, ResponseExcerpt: d.ResponseExcerpt, LastError: d.LastError,
		NextAttemptAt: utcPtr(d.NextAttemptAt), CreatedAt: d.CreatedAt.UTC(), DeliveredAt: utcPtr(d.DeliveredAt),
		AttemptLog: []webhookAttemptView{}}
	for _, a := range d.AttemptLog {
		v.AttemptLog = append(v.AttemptLog, webhookAttemptView{Attempt: a.Attempt, AttemptedAt: a.AttemptedAt.UTC(),
			ResponseStatus: a.ResponseStatus, LatencyMs: a.LatencyMs, ResponseExcerpt: a.ResponseExcerpt, Error: a.Error,
			NextAttemptAt: utcPtr(a.NextAttemptAt)})
	}
	return v
}

var deliveryStatuses = []string{"pending", "retrying", "delivered", "failed"}

// deliveriesPage is one page of an endpoint's delivery log, for the API and
// the admin page alike.
func (s *Server) deliveriesPage(c *fiber.Ctx, id uuid.UUID, status string, p page) (Page[db.WebhookDeliveryRow, cursor], error) {
	if status != "" && !slices.Contains(deliveryStatuses, status) {
		return Page[db.WebhookDeliveryRow, cursor]{}, licensing.Invalid("unknown status "+status,
			licensing.ErrorDetail{Field: "status", Message: "pending, retrying, delivered or failed"})
	}
	if _, err := s.store.GetWebhookEndpoint(c.UserContext(), id); err != nil {
		return Page[db.WebhookDeliveryRow, cursor]{}, err
	}
	f := db.WebhookDeliveryFilter{EndpointID: id, Status: status}
	if p.After != nil {
		f.BeforeCreated, f.BeforeID = &p.After.T, &p.After.ID
	}
	return fetchPage(p.Limit, func(n int32) ([]db.WebhookDeliveryRow, error) {
		f.Limit = n
		return s.store.ListWebhookDeliveries(c.UserContext(), f)
	}, func(last db.WebhookDeliveryRow) cursor { return cursor{T: last.CreatedAt, ID: last.ID} })
}

// listWebhookDeliveries handles GET /api/webhook-endpoints/:id/deliveries?status=&limit=&cursor=.
func (s *Server) listWebhookDeliveries(c *fiber.Ctx) error {
	id, err := s.webhookEndpointParam(c)
	if err != nil {
		return err
	}
	p, err := parsePage(c)
	if err != nil {
		return err
	}
	pg, err := s.deliveriesPage(c, id, c.Query("status"), p)
	if err != nil {
		return err
	}
	return c.JSON(listOf(pg, deliveryView))
}
