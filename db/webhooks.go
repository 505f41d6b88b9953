// Outbound webhooks in the store: endpoints (audited like every other
// change), the deliveries the outbox makes from each event in the event's own
// transaction, pings, resends and replays, and the outcome of each attempt.

package db

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/licensing"
)

// WebhookEndpointView is an endpoint as the API and the audit log show it:
// never its secret.
type WebhookEndpointView struct {
	ID                    uuid.UUID  `json:"id"`
	URL                   string     `json:"url"`
	Description           string     `json:"description"`
	Events                []string   `json:"events"`
	Enabled               bool       `json:"enabled"`
	DisabledReason        string     `json:"disabledReason"`
	FailingSince          *time.Time `json:"failingSince"`
	PreviousSecretExpires *time.Time `json:"previousSecretExpiresAt"`
	CreatedAt             time.Time  `json:"createdAt"`
	UpdatedAt             time.Time  `json:"updatedAt"`
}

// View is the endpoint without its secrets.
func (w WebhookEndpoint) View() WebhookEndpointView {
	v := WebhookEndpointView{ID: w.ID, URL: w.Url, Description: w.Description, Events: w.EventTypes,
		Enabled: w.Enabled, DisabledReason: w.DisabledReason, FailingSince: utcPtr(w.FailingSince),
		CreatedAt: w.CreatedAt.UTC(), UpdatedAt: w.UpdatedAt.UTC()}
	if w.PreviousSecretUntil != nil && w.PreviousSecretSealed != nil {
		v.PreviousSecretExpires = utcPtr(w.PreviousSecretUntil)
	}
	return v
}

// WebhookEndpointInput is what an admin sets on an endpoint.
type WebhookEndpointInput struct {
	URL         string
	Description string
	Events      []string
	Enabled     bool
}

// CreateWebhookEndpoint stores a new endpoint with its sealed secret (sealed
// by the caller, bound to id) and audits it.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, actor licensing.Actor, id uuid.UUID, in WebhookEndpointInput,
	secretSealed []byte, now time.Time) (WebhookEndpoint, error) {
	var w WebhookEndpoint
	err := s.inTx(ctx, func(q *Queries) error {
		var err error
		w, err = q.CreateWebhookEndpoint(ctx, CreateWebhookEndpointParams{ID: id, Url: in.URL, Description: in.Description,
			EventTypes: in.Events, Enabled: in.Enabled, SecretSealed: secretSealed, Now: now})
		if err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "webhook_endpoint.create", EntityType: "webhook_endpoint",
			EntityID: id.String(), After: w.View()}, now)
	})
	return w, err
}

// UpdateWebhookEndpoint applies change (which may refuse) to the locked
// endpoint, stores and audits it.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, actor licensing.Actor, id uuid.UUID,
	change func(*WebhookEndpointInput) error, now time.Time) (WebhookEndpoint, error) {
	var w WebhookEndpoint
	err := s.inTx(ctx, func(q *Queries) error {
		before, err := q.GetWebhookEndpointForUpdate(ctx, id)
		if err != nil {
			return notFound(err, "webhook endpoint")
		}
		in := WebhookEndpointInput{URL: before.Url, Description: before.Description, Events: before.EventTypes,
			Enabled: before.Enabled}
		if err := change(&in); err != nil {
			return err
		}
		reason := before.DisabledReason
		if in.Enabled {
			reason = ""
		} else if before.Enabled {
			reason = "disabled by " + actor.Label
		}
		w, err = q.UpdateWebhookEndpoint(ctx, UpdateWebhookEndpointParams{ID: id, Url: in.URL, Description: in.Description,
			EventTypes: in.Events, Enabled: in.Enabled, DisabledReason: reason, Now: now})
		if err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "webhook_endpoint.update", EntityType: "webhook_endpoint",
			EntityID: id.String(), Before: before.View(), After: w.View()}, now)
	})
	return w, err
}

// RotateWebhookEndpointSecret makes secretSealed the endpoint's secret; the
// one it replaces keeps signing until overlapUntil.
func (s *Store) RotateWebhookEndpointSecret(ctx context.Context, actor licensing.Actor, id uuid.UUID, secretSealed []byte,
	overlapUntil, now time.Time) (WebhookEndpoint, error) {
	var w WebhookEndpoint
	err := s.inTx(ctx, func(q *Queries) error {
		if _, err := q.GetWebhookEndpointForUpdate(ctx, id); err != nil {
			return notFound(err, "webhook endpoint")
		}
		var err error
		w, err = q.RotateWebhookEndpointSecret(ctx, RotateWebhookEndpointSecretParams{ID: id, SecretSealed: secretSealed,
			PreviousSecretUntil: &overlapUntil, Now: now})
		if err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "webhook_endpoint.rotate_secret", EntityType: "webhook_endpoint",
			EntityID: id.String(), After: w.View()}, now)
	})
	return w, err
}

// DeleteWebhookEndpoint removes an endpoint and its delivery log.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, actor licensing.Actor, id uuid.UUID, now time.Time) error {
	return s.inTx(ctx, func(q *Queries) error {
		before, err := q.GetWebhookEndpointForUpdate(ctx, id)
		if err != nil {
			return notFound(err, "webhook endpoint")
		}
		if _, err := q.DeleteWebhookEndpoint(ctx, id); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "webhook_endpoint.delete", EntityType: "webhook_endpoint",
			EntityID: id.String(), Before: before.View()}, now)
	})
}

// GetWebhookEndpoint reads one endpoint.
func (s *Store) GetWebhookEndpoint(ctx context.Context, id uuid.UUID) (WebhookEndpoint, error) {
	w, err := s.q.GetWebhookEndpoint(ctx, id)
	return w, notFound(err, "webhook endpoint")
}

func (s *Store) ListWebhookEndpoints(ctx context.Context, arg ListWebhookEndpointsParams) ([]WebhookEndpoint, error) {
	return s.q.ListWebhookEndpoints(ctx, arg)
}

// recordWebhookDeliveries makes the deliveries of one new event to every
// enabled endpoint that wants it and enqueues them, in the event's
// transaction: a delivery exists if and only if its event committed.
func (s *Store) recordWebhookDeliveries(ctx context.Context, q *Queries, eventID uuid.UUID, typ string, now time.Time) error {
	ids, err := q.InsertWebhookDeliveriesForEvent(ctx, InsertWebhookDeliveriesForEventParams{EventID: &eventID,
		EventType: typ, Now: now})
	if err != nil || len(ids) == 0 {
		return err
	}
	return s.enqueueWebhookDeliveries(ctx, q, ids)
}

func (s *Store) enqueueWebhookDeliveries(ctx context.Context, q *Queries, ids []uuid.UUID) error {
	if s.outbox.queue == nil {
		return nil
	}
	return enqueueIn(ctx, q, ids, s.outbox.queue.EnqueueWebhookDeliveries)
}

// PingWebhookEndpoint queues a ping to the endpoint, enabled or not (trying
// an endpoint before enabling it is the point).
func (s *Store) PingWebhookEndpoint(ctx context.Context, id uuid.UUID, now time.Time) (uuid.UUID, error) {
	var did uuid.UUID
	err := s.inTx(ctx, func(q *Queries) error {
		if _, err := q.GetWebhookEndpoint(ctx, id); err != nil {
			return notFound(err, "webhook endpoint")
		}
		var err error
		did, err = q.InsertWebhookDelivery(ctx, InsertWebhookDeliveryParams{EndpointID: id, EventType: "ping", Now: now})
		if err != nil {
			return err
		}
		return s.enqueueWebhookDeliveries(ctx, q, []uuid.UUID{did})
	})
	return did, err
}

// ResendWebhookDelivery delivers a delivery's event (or ping) to its
// endpoint again, as a new delivery with its own attempts.
func (s *Store) ResendWebhookDelivery(ctx context.Context, endpointID, deliveryID uuid.UUID, now time.Time) (uuid.UUID, error) {
	var did uuid.UUID
	err := s.inTx(ctx, func(q *Queries) error {
		d, err := q.GetWebhookDelivery(ctx, deliveryID)
		if err != nil || d.EndpointID != endpointID {
			return licensing.Errorf(licensing.ENOTFOUND, "webhook delivery not found")
		}
		did, err = q.InsertWebhookDelivery(ctx, InsertWebhookDeliveryParams{EndpointID: d.EndpointID, EventID: d.EventID,
			EventType: d.EventType, Now: now})
		if err != nil {
			return err
		}
		return s.enqueueWebhookDeliveries(ctx, q, []uuid.UUID{did})
	})
	return did, err
}

// MaxReplay is the most events one replay queues.
const MaxReplay = 10000

// ReplayWebhookEndpoint queues every event since a time that the endpoint
// wants and has not received, nor is about to; it answers how many.
func (s *Store) ReplayWebhookEndpoint(ctx context.Context, actor licensing.Actor, id uuid.UUID, since, now time.Time) (int, error) {
	n := 0
	err := s.inTx(ctx, func(q *Queries) error {
		if _, err := q.GetWebhookEndpoint(ctx, id); err != nil {
			return notFound(err, "webhook endpoint")
		}
		ids, err := q.ReplayWebhookDeliveries(ctx, ReplayWebhookDeliveriesParams{EndpointID: id, Since: since, Now: now,
			MaxRows: MaxReplay})
		if err != nil {
			return err
		}
		n = len(ids)
		if err := s.enqueueWebhookDeliveries(ctx, q, ids); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "webhook_endpoint.replay", EntityType: "webhook_endpoint",
			EntityID: id.String(), After: map[string]any{"since": since.UTC(), "queued": n}}, now)
	})
	return n, err
}

// GetWebhookDeliveryForSend loads a delivery with its endpoint and event.
func (s *Store) GetWebhookDeliveryForSend(ctx context.Context, id uuid.UUID) (GetWebhookDeliveryForSendRow, error) {
	d, err := s.q.GetWebhookDeliveryForSend(ctx, id)
	return d, notFound(err, "webhook delivery")
}

// WebhookAttemptOutcome is the outcome of one attempt, as the worker saw it.
type WebhookAttemptOutcome struct {
	DeliveryID  uuid.UUID
	EndpointID  uuid.UUID
	Attempt     int
	At          time.Time // when the attempt was made (the wall clock)
	Now         time.Time // the portal's clock, for the endpoint's run of failures
	Status      int       // 0: no answer
	Latency     time.Duration
	Excerpt     string
	Error       string
	Delivered   bool
	Final       bool       // no retry follows
	NextAttempt *time.Time // when the retry is due
}

// RecordWebhookAttempt stores an attempt, the delivery's new state and the
// endpoint's run of failures, in one transaction. It answers since when the
// endpoint has been failing (nil after a success).
func (s *Store) RecordWebhookAttempt(ctx context.Context, a WebhookAttemptOutcome) (*time.Time, error) {
	var failingSince *time.Time
	err := s.inTx(ctx, func(q *Queries) error {
		var status *int32
		if a.Status != 0 {
			v := int32(a.Status)
			status = &v
		}
		ms := int32(a.Latency.Milliseconds())
		if err := q.RecordWebhookAttempt(ctx, RecordWebhookAttemptParams{DeliveryID: a.DeliveryID, Attempt: int32(a.Attempt),
			AttemptedAt: a.At, ResponseStatus: status, LatencyMs: ms, ResponseExcerpt: a.Excerpt, Error: a.Error,
			NextAttemptAt: a.NextAttempt}); err != nil {
			return err
		}
		state := "retrying"
		switch {
		case a.Delivered:
			state = "delivered"
		case a.Final:
			state = "failed"
		}
		if err := q.SetWebhookDeliveryOutcome(ctx, SetWebhookDeliveryOutcomeParams{ID: a.DeliveryID, Status: state,
			Attempt: int32(a.Attempt), ResponseStatus: status, LatencyMs: &ms, ResponseExcerpt: a.Excerpt,
			LastError: a.Error, NextAttemptAt: a.NextAttempt, Now: a.Now}); err != nil {
			return err
		}
		if a.Delivered {
			return q.MarkWebhookEndpointSucceeded(ctx, a.EndpointID)
		}
		row, err := q.MarkWebhookEndpointFailed(ctx, MarkWebhookEndpointFailedParams{ID: a.EndpointID, Now: &a.Now})
		if err != nil {
			return err
		}
		failingSince = &row.FailingSince
		return nil
	})
	return failingSince, err
}

// FailWebhookDelivery ends a delivery without an attempt (its endpoint was
// disabled before its turn came).
func (s *Store) FailWebhookDelivery(ctx context.Context, id uuid.UUID, reason string, now time.Time) error {
	return s.q.SetWebhookDeliveryOutcome(ctx, SetWebhookDeliveryOutcomeParams{ID: id, Status: "failed",
		LastError: reason, Now: now})
}

// DisableWebhookEndpoint turns an endpoint off on the delivery engine's
// judgement (a 410, or failing for too long), records the
// webhook_endpoint.disabled event (which the staff are emailed about) and
// audits it. An endpoint already off is left as it is.
func (s *Store) DisableWebhookEndpoint(ctx context.Context, id uuid.UUID, reason string, now time.Time) (bool, error) {
	done := false
	err := s.inTx(ctx, func(q *Queries) error {
		before, err := q.GetWebhookEndpointForUpdate(ctx, id)
		if err != nil {
			return notFound(err, "webhook endpoint")
		}
		if !before.Enabled {
			return nil
		}
		w, err := q.DisableWebhookEndpoint(ctx, DisableWebhookEndpointParams{ID: id, Reason: reason, Now: now})
		if err != nil {
			return err
		}
		done = true
		if _, err := s.recordEvent(ctx, q, events.Event{Type: events.WebhookEndpointDisabled, OccurredAt: now,
			Data: events.WebhookEndpoint{EndpointID: id, URL: w.Url, Reason: w.DisabledReason,
				FailingSince: utcPtr(before.FailingSince)}}); err != nil {
			return err
		}
		return Audit(ctx, q, licensing.SystemActor("webhooks"), AuditEntry{Action: "webhook_endpoint.disable",
			EntityType: "webhook_endpoint", EntityID: id.String(), Before: before.View(), After: w.View()}, now)
	})
	return done, err
}

// WebhookDeliveryFilter narrows an endpoint's delivery log.
type WebhookDeliveryFilter struct {
	EndpointID    uuid.UUID
	Status        string // "" for all
	BeforeCreated *time.Time
	BeforeID      *uuid.UUID
	Limit         int32
}

// WebhookDeliveryRow is a delivery with its attempts, oldest first.
type WebhookDeliveryRow struct {
	WebhookDelivery
	AttemptLog []WebhookAttemptRow
}

// WebhookAttemptRow is one stored attempt.
type WebhookAttemptRow = WebhookAttempt

// ListWebhookDeliveries is one page of an endpoint's delivery log, newest
// first, with each delivery's attempts.
func (s *Store) ListWebhookDeliveries(ctx context.Context, f WebhookDeliveryFilter) ([]WebhookDeliveryRow, error) {
	var status *string
	if f.Status != "" {
		status = &f.Status
	}
	ds, err := s.q.ListWebhookDeliveries(ctx, ListWebhookDeliveriesParams{EndpointID: f.EndpointID, Status: status,
		BeforeCreated: f.BeforeCreated, BeforeID: f.BeforeID, MaxRows: f.Limit})
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	ids := make([]uuid.UUID, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	as, err := s.q.ListWebhookAttempts(ctx, ids)
	if err != nil {
		return nil, err
	}
	by := map[uuid.UUID][]WebhookAttemptRow{}
	for _, a := range as {
		by[a.DeliveryID] = append(by[a.DeliveryID], a)
	}
	out := make([]WebhookDeliveryRow, len(ds))
	for i, d := range ds {
		out[i] = WebhookDeliveryRow{WebhookDelivery: d, AttemptLog: by[d.ID]}
	}
	return out, nil
}

// WebhookStats is an endpoint's deliveries of the last days.
type WebhookStats struct {
	Delivered, Failed, Pending int64
}

// SuccessRate is the share of ended deliveries that were delivered, in
// percent; -1 when none ended.
func (w WebhookStats) SuccessRate() float64 {
	if w.Delivered+w.Failed == 0 {
		return -1
	}
	return 100 * float64(w.Delivered) / float64(w.Delivered+w.Failed)
}

// WebhookEndpointStats counts an endpoint's deliveries made since a time.
func (s *Store) WebhookEndpointStats(ctx context.Context, id uuid.UUID, since time.Time) (WebhookStats, error) {
	r, err := s.q.WebhookEndpointStats(ctx, WebhookEndpointStatsParams{EndpointID: id, Since: since})
	return WebhookStats{Delivered: r.Delivered, Failed: r.Failed, Pending: r.Pending}, err
}

// QueueStaffNotices emails an event to each staff address when rule gives
// it a category (an endpoint disabled), once per event and address, and
// enqueues the sending in the same transaction.
func (s *Store) QueueStaffNotices(ctx context.Context, eventID uuid.UUID, rule func(eventType string) string,
	staff []string, now time.Time) (int, error) {
	if len(staff) == 0 {
		return 0, nil
	}
	made := 0
	err := s.inTx(ctx, func(q *Queries) error {
		made = 0
		ev, err := q.GetEvent(ctx, eventID)
		if err != nil {
			return notFound(err, "event")
		}
		category := rule(ev.Type)
		if category == "" {
			return nil
		}
		var queued []uuid.UUID
		for _, addr := range staff {
			addr = strings.ToLower(strings.TrimSpace(addr))
			ids, err := q.InsertNotification(ctx, InsertNotificationParams{EventID: &ev.ID, EventType: ev.Type,
				Category: category, Recipient: addr, DedupeKey: "staff|" + ev.ID.String() + "|" + addr, Status: "queued",
				Now: now})
			if err != nil {
				return err
			}
			made += len(ids)
			queued = append(queued, ids...)
		}
		tx, _ := txOf(q)
		return s.enqueueNotifications(ctx, tx, queued)
	})
	return made, err
}
