package db

// Stripe events, received and replayed: each verified event is recorded once
// and applied in the same transaction as its effects (db/stripe_licenses.go,
// db/stripe_customers.go), by the billing policy in licensing/billing.go.
// A problem an admin must fix leaves the event needs_attention.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nectarcloud/nls/licensing"
)

// Stripe event states, as stripe_events.status stores them.
const (
	StripeProcessed      = "processed"
	StripeIgnored        = "ignored"
	StripeNeedsAttention = "needs_attention"
	StripeFailed         = "failed"
)

// StripeEventInput is one verified Stripe event.
type StripeEventInput struct {
	ID         string
	Type       string
	APIVersion string
	Livemode   bool
	Created    time.Time       // Stripe's creation time of the event
	Object     json.RawMessage // data.object
	Payload    []byte          // the whole event, exactly as Stripe sent it
}

// StripeEventFromPayload reads a stored (already verified) event again.
func StripeEventFromPayload(payload []byte) (StripeEventInput, error) {
	var env struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		APIVersion string `json:"api_version"`
		Livemode   bool   `json:"livemode"`
		Created    int64  `json:"created"`
		Data       struct {
			Object json.RawMessage `json:"object"`
		} `json:"data"`
	}
	if err := json.Unmarshal(payload, &env); err != nil {
		return StripeEventInput{}, licensing.Errorf(licensing.EMALFORMED, "the event is not a JSON object: %v", err)
	}
	in := StripeEventInput{ID: env.ID, Type: env.Type, APIVersion: env.APIVersion, Livemode: env.Livemode,
		Created: time.Unix(env.Created, 0).UTC(), Object: env.Data.Object, Payload: payload}
	return in, in.check()
}

func (in StripeEventInput) check() error {
	switch {
	case !strings.HasPrefix(in.ID, "evt_"):
		return licensing.Errorf(licensing.EMALFORMED, "the event has no evt_ id")
	case in.Type == "":
		return licensing.Errorf(licensing.EMALFORMED, "the event has no type")
	case in.Created.Unix() <= 0:
		return licensing.Errorf(licensing.EMALFORMED, "the event has no creation time")
	case len(in.Object) == 0 || string(in.Object) == "null":
		return licensing.Errorf(licensing.EMALFORMED, "the event has no data.object")
	}
	return nil
}

// StripeReceipt is what became of one delivery.
type StripeReceipt struct {
	Event     StripeEvent
	Duplicate bool // seen before: nothing was done
}

// ReceiveStripeEvent records a verified event and applies it, both in one
// transaction, exactly once: a second delivery, even a concurrent one, finds
// the row and changes nothing. Problems an admin must fix (a price mapped to
// no plan, a license that cannot be found) leave the event needs_attention
// and are no error: Stripe must not retry what cannot succeed. Any other
// error rolls the effects back, keeps the event as failed, and is returned,
// so that Stripe's retry processes it again.
func (s *Store) ReceiveStripeEvent(ctx context.Context, issuer KeyIssuer, sealer *licensing.Sealer,
	in StripeEventInput, now time.Time) (StripeReceipt, error) {
	if err := in.check(); err != nil {
		return StripeReceipt{}, err
	}
	links := in.links()
	var out StripeReceipt
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := txQueries(tx)
		_, err := q.InsertStripeEvent(ctx, InsertStripeEventParams{ID: in.ID, Type: in.Type, ApiVersion: in.APIVersion,
			Livemode: in.Livemode, StripeCreatedAt: in.Created, ObjectID: links.object, Payload: in.Payload,
			Status: StripeProcessed, StripeSubscriptionID: links.subscription, StripeCustomerID: links.customer,
			PaymentSignal: links.signal, ReceivedAt: now})
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			// Seen before. Only a failed attempt (ours, not Stripe's) is tried again.
			prev, err := q.GetStripeEventForUpdate(ctx, in.ID)
			if err != nil {
				return err
			}
			if prev.Status != StripeFailed {
				out = StripeReceipt{Event: prev, Duplicate: true}
				return nil
			}
			if err := q.RetryStripeEvent(ctx, in.ID); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		out.Event, err = s.processStripeEvent(ctx, tx, issuer, sealer, in, false, now)
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			if rerr := s.q.RecordFailedStripeEvent(ctx, RecordFailedStripeEventParams{ID: in.ID, Type: in.Type,
				ApiVersion: in.APIVersion, Livemode: in.Livemode, StripeCreatedAt: in.Created, ObjectID: links.object,
				Payload: in.Payload, Error: truncate(err.Error(), 2000), StripeSubscriptionID: links.subscription,
				StripeCustomerID: links.customer, PaymentSignal: links.signal, ReceivedAt: now}); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		return StripeReceipt{}, Translate(err)
	}
	return out, nil
}

// ReplayStripeEvent applies a stored event again: once an admin has mapped
// its price, or for one that failed. The same rules apply as on arrival, so
// an event older than the state applied since still changes nothing. A
// processed event is never applied twice. The replay itself is audited as
// actor's (the changes it makes, as Stripe's).
func (s *Store) ReplayStripeEvent(ctx context.Context, actor licensing.Actor, issuer KeyIssuer, sealer *licensing.Sealer,
	id string, now time.Time) (StripeEvent, error) {
	var out StripeEvent
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := txQueries(tx)
		ev, err := q.GetStripeEventForUpdate(ctx, id)
		if err != nil {
			return notFound(err, "Stripe event")
		}
		if ev.Status == StripeProcessed {
			return licensing.Errorf(licensing.ECONFLICT, "Stripe event %s was already processed; it is never applied twice", id)
		}
		in, err := StripeEventFromPayload(ev.Payload)
		if err != nil {
			return err
		}
		if err := q.RetryStripeEvent(ctx, id); err != nil {
			return err
		}
		out, err = s.processStripeEvent(ctx, tx, issuer, sealer, in, true, now)
		if err != nil {
			return err
		}
		after := map[string]any{"status": out.Status}
		if out.Error != "" {
			after["note"] = out.Error
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "stripe_event.replay", EntityType: "stripe_event", EntityID: id,
			Before: map[string]any{"status": ev.Status}, After: after}, now)
	})
	return out, Translate(err)
}

// processStripeEvent applies the recorded event in a savepoint, so that a
// problem for an admin rolls back the effects but keeps the record.
func (s *Store) processStripeEvent(ctx context.Context, tx pgx.Tx, issuer KeyIssuer, sealer *licensing.Sealer,
	in StripeEventInput, replay bool, now time.Time) (StripeEvent, error) {
	label := "Stripe " + in.Type
	if replay {
		label += " (replayed)"
	}
	var res stripeResult
	err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		r := &stripeRun{s: s, ctx: ctx, q: txQueries(sp), issuer: issuer, sealer: sealer, ev: in, now: now,
			actor: licensing.Actor{Type: licensing.ActorStripe, ID: in.ID, Label: label}}
		var err error
		res, err = r.apply()
		return err
	})
	if err != nil {
		msg, ok := attentionOf(err)
		if !ok {
			return StripeEvent{}, err
		}
		res = stripeResult{status: StripeNeedsAttention, note: msg}
	}
	return txQueries(tx).FinishStripeEvent(ctx, FinishStripeEventParams{ID: in.ID, Status: res.status,
		Error: truncate(res.note, 2000), ProcessedAt: &now})
}

// stripeResult is what applying an event came to.
type stripeResult struct{ status, note string }

var processedResult = stripeResult{status: StripeProcessed}

func ignored(format string, args ...any) stripeResult {
	return stripeResult{status: StripeIgnored, note: fmt.Sprintf(format, args...)}
}

// attentionError is a problem an admin must fix before the event can apply.
type attentionError struct{ msg string }

func (e *attentionError) Error() string { return e.msg }

func attention(format string, args ...any) error {
	return &attentionError{msg: fmt.Sprintf(format, args...)}
}

// attentionOf tells a problem for an admin (the data refused, a thing not
// found) from a failure of ours (the database unreachable), which Stripe's
// retry may cure.
func attentionOf(err error) (string, bool) {
	var ae *attentionError
	if errors.As(err, &ae) {
		return ae.msg, true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01") {
		return "", false
	}
	err = Translate(err)
	switch licensing.ErrorCode(err) {
	case licensing.EINVALID, licensing.ENOTFOUND, licensing.ECONFLICT, licensing.EMALFORMED:
		var le *licensing.Error
		errors.As(err, &le)
		msg := le.Message
		for _, d := range le.Details {
			msg += "; " + d.Field + ": " + d.Message
		}
		return msg, true
	}
	return "", false
}
