package db

// Stripe billing: each verified event is recorded once and applied in the
// same transaction as its effects. Events arrive late, twice and out of
// order, so every rule here reads Stripe's creation time of the event, never
// the time it arrived:
//
//   - subscription events carry the whole subscription; the license keeps the
//     creation time of the newest one applied (stripe_state_at) and an older
//     one changes nothing. A canceled subscription stays canceled: Stripe
//     never reactivates one.
//   - payment standing is a pure function of the events received for the
//     subscription (stripe_events.payment_signal): overdue since the first
//     "overdue" signal after the last "paid" one.
//   - expiry only moves forward while the subscription lives, and is set to
//     the period end when it ends.
//
// The payloads are read through small structs of our own, holding only
// fields that exist (under one name or another) in every Stripe API version.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
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
		q := s.Q.WithTx(tx)
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
			if rerr := s.Q.RecordFailedStripeEvent(ctx, RecordFailedStripeEventParams{ID: in.ID, Type: in.Type,
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
		q := s.Q.WithTx(tx)
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
		r := &stripeRun{s: s, ctx: ctx, q: s.Q.WithTx(sp), issuer: issuer, sealer: sealer, ev: in, now: now,
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
	return s.Q.WithTx(tx).FinishStripeEvent(ctx, FinishStripeEventParams{ID: in.ID, Status: res.status,
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

// stripeLinks are what an event is about, kept in indexed columns.
type stripeLinks struct {
	object       string
	subscription *string
	customer     *string
	signal       *string // "paid" or "overdue"
}

func (in StripeEventInput) links() stripeLinks {
	var l stripeLinks
	var obj struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(in.Object, &obj)
	l.object = obj.ID
	signal := ""
	switch {
	case strings.HasPrefix(in.Type, "customer.subscription."):
		var sub stripeSubscription
		if json.Unmarshal(in.Object, &sub) == nil {
			l.subscription, l.customer = nonEmpty(sub.ID), nonEmpty(sub.Customer.ID)
			signal = paymentSignalOf(sub.Status)
			if in.Type == "customer.subscription.deleted" {
				signal = ""
			}
		}
	case strings.HasPrefix(in.Type, "invoice."):
		var inv stripeInvoice
		if json.Unmarshal(in.Object, &inv) == nil {
			l.subscription, l.customer = nonEmpty(inv.subscriptionID()), nonEmpty(inv.Customer.ID)
			if l.subscription != nil {
				switch in.Type {
				case "invoice.paid":
					signal = "paid"
				case "invoice.payment_failed":
					signal = "overdue"
				}
			}
		}
	case strings.HasPrefix(in.Type, "customer."):
		l.customer = nonEmpty(obj.ID)
	case in.Type == "checkout.session.completed":
		var cs stripeCheckoutSession
		if json.Unmarshal(in.Object, &cs) == nil {
			l.subscription, l.customer = nonEmpty(cs.Subscription.ID), nonEmpty(cs.Customer.ID)
		}
	case strings.HasPrefix(in.Type, "charge.") && !strings.HasPrefix(in.Type, "charge.dispute."):
		var ch stripeCharge
		if json.Unmarshal(in.Object, &ch) == nil {
			l.customer = nonEmpty(ch.Customer.ID)
		}
	}
	l.signal = nonEmpty(signal)
	return l
}

// paymentSignalOf reads a subscription status as a payment signal: active or
// trialing says paid up; past_due, unpaid and incomplete say overdue.
func paymentSignalOf(status string) string {
	switch status {
	case "active", "trialing":
		return "paid"
	case "past_due", "unpaid", "incomplete":
		return "overdue"
	}
	return ""
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// stripeRun is one event being applied inside its transaction.
type stripeRun struct {
	s      *Store
	ctx    context.Context
	q      *Queries
	issuer KeyIssuer
	sealer *licensing.Sealer
	ev     StripeEventInput
	actor  licensing.Actor
	now    time.Time
}

func (r *stripeRun) apply() (stripeResult, error) {
	switch r.ev.Type {
	case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted":
		return r.subscription()
	case "invoice.paid", "invoice.payment_failed":
		return r.invoice()
	case "customer.created", "customer.updated":
		return r.customer()
	case "checkout.session.completed":
		return r.checkout()
	case "charge.dispute.created":
		return r.dispute()
	}
	return ignored("NLS does not act on %s events", r.ev.Type), nil
}

func (r *stripeRun) object(v any) error {
	if err := json.Unmarshal(r.ev.Object, v); err != nil {
		return attention("the %s object could not be read: %v", r.ev.Type, err)
	}
	return nil
}

// lock serialises the events of one Stripe customer, so that two of them
// never both create its NLS customer or a subscription's license.
func (r *stripeRun) lock(key string) error {
	return r.q.LockStripeCustomer(r.ctx, key)
}

func unixPtr(sec int64) *time.Time {
	if sec <= 0 {
		return nil
	}
	t := time.Unix(sec, 0).UTC()
	return &t
}

// ---- subscriptions ----

// stripeRef is an id, or the object itself when Stripe expanded it.
type stripeRef struct {
	ID  string
	Raw json.RawMessage
}

func (r *stripeRef) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &r.ID)
	}
	var obj struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	r.ID, r.Raw = obj.ID, append(json.RawMessage(nil), b...)
	return nil
}

type stripeSubscription struct {
	ID                 string    `json:"id"`
	Customer           stripeRef `json:"customer"`
	Status             string    `json:"status"`
	StartDate          int64     `json:"start_date"`
	CurrentPeriodStart int64     `json:"current_period_start"`
	CurrentPeriodEnd   int64     `json:"current_period_end"`
	EndedAt            int64     `json:"ended_at"`
	Items              struct {
		Data []stripeItem `json:"data"`
	} `json:"items"`
}

type stripeItem struct {
	Price struct {
		ID string `json:"id"`
	} `json:"price"`
	Quantity *int64 `json:"quantity"`
	// Since API version 2025-03-31 the period lives on the items.
	CurrentPeriodStart int64 `json:"current_period_start"`
	CurrentPeriodEnd   int64 `json:"current_period_end"`
}

// period is the subscription's current billing period, wherever the API
// version puts it.
func (sub stripeSubscription) period() (start, end int64) {
	if sub.CurrentPeriodEnd > 0 {
		return sub.CurrentPeriodStart, sub.CurrentPeriodEnd
	}
	for _, it := range sub.Items.Data {
		if it.CurrentPeriodEnd > 0 {
			return it.CurrentPeriodStart, it.CurrentPeriodEnd
		}
	}
	return 0, 0
}

func subscriptionEnded(status string) bool {
	return status == "canceled" || status == "incomplete_expired"
}

func (r *stripeRun) subscription() (stripeResult, error) {
	var sub stripeSubscription
	if err := r.object(&sub); err != nil {
		return stripeResult{}, err
	}
	if sub.ID == "" || sub.Customer.ID == "" {
		return stripeResult{}, attention("the subscription has no id or no customer")
	}
	if r.ev.Type == "customer.subscription.deleted" && !subscriptionEnded(sub.Status) {
		sub.Status = "canceled"
	}
	ended := subscriptionEnded(sub.Status)
	if err := r.lock(sub.Customer.ID); err != nil {
		return stripeResult{}, err
	}
	lic, err := r.q.GetLicenseBySubscriptionForUpdate(r.ctx, &sub.ID)
	found := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return stripeResult{}, err
	}
	if found {
		if note := r.staleSubscription(lic, ended); note != "" {
			return ignored("%s", note), nil
		}
		if lic.Status == "revoked" {
			return ignored("license %s was revoked; Stripe changes no longer apply to it", lic.ID), nil
		}
	}
	periodStart, periodEnd := sub.period()
	if periodEnd <= 0 {
		return stripeResult{}, attention("subscription %s has no current period end", sub.ID)
	}
	item, plan, err := r.planOf(sub)
	var ae *attentionError
	if err != nil && (!found || !ended || !errors.As(err, &ae)) {
		return stripeResult{}, err
	}
	// A subscription that ended keeps its license's plan when its price is
	// not (or no longer) mapped: ending it matters more than naming it.
	st := subscriptionState{status: sub.Status, ended: ended, item: item, plan: plan,
		periodStart: unixPtr(periodStart), periodEnd: unixPtr(periodEnd), endedAt: unixPtr(sub.EndedAt)}
	if !found {
		return r.createSubscriptionLicense(sub, st)
	}
	return r.changeLicense(lic.ID, "license.stripe_subscription", func(l *License) error {
		return r.applySubscription(l, st)
	})
}

// staleSubscription says why an event must not apply over the license's
// state, or "" when it may.
func (r *stripeRun) staleSubscription(lic License, ended bool) string {
	at := lic.StripeStateAt
	if at != nil && r.ev.Created.Before(*at) {
		return fmt.Sprintf("older than the state already applied (event created %s, state of %s)",
			r.ev.Created.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	// Stripe times are whole seconds: on a tie, a creation event is the
	// older, since a subscription is created before anything happens to it.
	if at != nil && r.ev.Created.Equal(*at) && r.ev.Type == "customer.subscription.created" {
		return "older than the state already applied (the subscription's creation, in the same second as a later change)"
	}
	if lic.StripeStatus != nil && subscriptionEnded(*lic.StripeStatus) && !ended {
		return fmt.Sprintf("older than the state already applied: the subscription has ended (%s), and Stripe never "+
			"reactivates an ended subscription", *lic.StripeStatus)
	}
	return ""
}

// subscriptionState is what a subscription event says about its license.
type subscriptionState struct {
	status      string
	ended       bool
	item        stripeItem
	plan        *Plan // nil: keep the license's plan
	periodStart *time.Time
	periodEnd   *time.Time
	endedAt     *time.Time
}

// planOf finds the plan of the subscription's first item whose price is mapped.
func (r *stripeRun) planOf(sub stripeSubscription) (stripeItem, *Plan, error) {
	var unmapped []string
	for _, it := range sub.Items.Data {
		if it.Price.ID == "" {
			continue
		}
		p, err := r.q.GetPlanByStripePrice(r.ctx, it.Price.ID)
		if err == nil {
			return it, &p, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return stripeItem{}, nil, err
		}
		unmapped = append(unmapped, it.Price.ID)
	}
	if len(unmapped) == 0 {
		return stripeItem{}, nil, attention("subscription %s has no priced item", sub.ID)
	}
	return stripeItem{}, nil, attention("Stripe price %s maps to no plan: add it to a plan's stripePriceIds, "+
		"then replay event %s", strings.Join(unmapped, ", "), r.ev.ID)
}

func quantityOf(it stripeItem) int64 {
	if it.Quantity == nil {
		return 1
	}
	return *it.Quantity
}

// expiryOf is when the license ends: the period end, or when an
// incomplete subscription expired.
func (st subscriptionState) expiry() *time.Time {
	if st.status == "incomplete_expired" && st.endedAt != nil {
		return st.endedAt
	}
	return st.periodEnd
}

func (r *stripeRun) createSubscriptionLicense(sub stripeSubscription, st subscriptionState) (stripeResult, error) {
	cust, err := r.ensureCustomer(sub.Customer)
	if err != nil {
		return stripeResult{}, err
	}
	start := unixPtr(sub.StartDate)
	if start == nil {
		start = st.periodStart
	}
	if start == nil {
		start = &r.ev.Created
	}
	exp := st.expiry()
	if !st.ended {
		// Invoices paid before the license existed still count.
		paid, err := r.paidThrough(sub.ID)
		if err != nil {
			return stripeResult{}, err
		}
		if paid != nil && paid.After(*exp) {
			exp = paid
		}
	}
	qty := int32(min(quantityOf(st.item), 1_000_000))
	in := LicenseInput{CustomerID: cust.ID, Plan: st.plan.Code, StartsAt: start, ExpiresAt: &exp,
		StripeSubscriptionID: &sub.ID, StripePriceID: &st.item.Price.ID, StripeQuantity: &qty,
		StripeStatus: &st.status, StripeStateAt: &r.ev.Created, BillingPeriodStart: st.periodStart,
		BillingPeriodEnd: st.periodEnd}
	switch {
	case st.plan.QuantitySets == nil:
	case *st.plan.QuantitySets == "deployments":
		if qty < 1 {
			return stripeResult{}, attention("quantity %d cannot set the seats of plan %s (at least 1)", qty, st.plan.Code)
		}
		md := &qty
		in.MaxDeployments = &md
	case *st.plan.QuantitySets == "users":
		in.Limits = map[string]int64{"users": int64(qty)}
	}
	lic, _, err := r.s.createLicense(r.ctx, r.q, r.actor, r.issuer, r.sealer, in, r.now)
	if err != nil {
		return stripeResult{}, err
	}
	// Status and payment standing, as for any later event.
	return r.changeLicense(lic.ID, "license.stripe_subscription", func(l *License) error {
		r.applyStatus(l, st)
		return r.syncPayment(l)
	})
}

// applySubscription lays the subscription's state over the license.
func (r *stripeRun) applySubscription(l *License, st subscriptionState) error {
	plan := st.plan
	if plan == nil {
		p, err := r.q.GetPlan(r.ctx, l.PlanID)
		if err != nil {
			return err
		}
		plan = &p
	} else if plan.ID != l.PlanID {
		// A new plan brings its own entitlements; overrides of the old one go.
		l.PlanID, l.Features, l.Limits, l.MaxDeployments = plan.ID, nonNil(plan.Features), plan.Limits, plan.MaxDeployments
		l.GraceDays, l.OfflineDays, l.HeartbeatWindowHours = plan.GraceDays, plan.OfflineDays, plan.HeartbeatWindowHours
		l.DunningDays = plan.DunningDays
	}
	if st.plan != nil {
		qty := int32(min(quantityOf(st.item), 1_000_000))
		l.StripePriceID, l.StripeQuantity = &st.item.Price.ID, &qty
		if err := applyQuantity(l, plan, qty); err != nil {
			return err
		}
	}
	l.StripeStatus, l.StripeStateAt = &st.status, &r.ev.Created
	l.BillingPeriodStart, l.BillingPeriodEnd = st.periodStart, st.periodEnd
	switch exp := st.expiry(); {
	case st.ended:
		// Ended: the license runs to the end of the period, then its grace.
		l.ExpiresAt = exp
	case l.ExpiresAt != nil && exp.After(*l.ExpiresAt):
		l.ExpiresAt = exp
	}
	r.applyStatus(l, st)
	return r.syncPayment(l)
}

// applyQuantity sets what the plan says the subscription's quantity counts.
func applyQuantity(l *License, plan *Plan, qty int32) error {
	if plan.QuantitySets == nil {
		return nil
	}
	switch *plan.QuantitySets {
	case "deployments":
		if qty < 1 {
			return attention("quantity %d cannot set the seats of plan %s (at least 1)", qty, plan.Code)
		}
		l.MaxDeployments = &qty
	case "users":
		limits := maps.Clone(DecodeLimits(l.Limits))
		if limits == nil {
			limits = map[string]int64{}
		}
		if v, ok := limits["users"]; !ok || v != int64(qty) {
			limits["users"] = int64(qty)
			l.Limits, _ = json.Marshal(limits)
		}
	}
	return nil
}

// applyStatus maps the subscription status onto the stored status. Only a
// paused subscription suspends (as a payment matter, lifted when it is
// active again); past_due, unpaid and incomplete are payment signals that
// syncPayment reads; canceled ends the license at the period end. A
// suspension by an admin or for a dispute is never touched.
func (r *stripeRun) applyStatus(l *License, st subscriptionState) {
	if l.Status == string(licensing.StatusRevoked) {
		return
	}
	switch st.status {
	case "paused":
		if l.Status == string(licensing.StatusActive) {
			_ = l.Transition(func(x *licensing.License) error {
				return x.Suspend("subscription paused in Stripe", licensing.SuspendedByPayment)
			})
		}
	case "active", "trialing":
		if l.Standing().SuspendedBy(licensing.SuspendedByPayment) {
			_ = l.Transition((*licensing.License).Reactivate)
		}
	}
}

// syncPayment sets the payment standing from every payment signal received
// for the subscription, so that the order of arrival cannot matter.
func (r *stripeRun) syncPayment(l *License) error {
	if l.StripeSubscriptionID == nil {
		return nil
	}
	since, err := r.q.GetStripeOverdueSince(r.ctx, *l.StripeSubscriptionID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		l.PaymentState, l.PastDueSince = "ok", nil
	case err != nil:
		return err
	default:
		since = since.UTC()
		l.PaymentState, l.PastDueSince = "past_due", &since
	}
	return nil
}

// paidThrough is the latest period end of the subscription's paid invoices received.
func (r *stripeRun) paidThrough(subID string) (*time.Time, error) {
	payloads, err := r.q.ListStripeInvoicePaidPayloads(r.ctx, subID)
	if err != nil {
		return nil, err
	}
	var last *time.Time
	for _, p := range payloads {
		in, err := StripeEventFromPayload(p)
		if err != nil {
			continue
		}
		var inv stripeInvoice
		if json.Unmarshal(in.Object, &inv) != nil {
			continue
		}
		if end := unixPtr(inv.paidPeriodEnd()); end != nil && (last == nil || end.After(*last)) {
			last = end
		}
	}
	return last, nil
}

// changeLicense applies change to the license and audits it, unless it
// changes nothing: a replayed or repeated fact writes no audit row.
func (r *stripeRun) changeLicense(id uuid.UUID, action string, change func(l *License) error) (stripeResult, error) {
	before, err := r.q.GetLicenseForUpdate(r.ctx, id)
	if err != nil {
		return stripeResult{}, err
	}
	after := before
	if err := change(&after); err != nil {
		return stripeResult{}, err
	}
	if sameLicense(before, after) {
		return processedResult, nil
	}
	_, err = r.s.changeLicense(r.ctx, r.q, r.actor, id, action, func(_ *Queries, l *License) error {
		*l = after
		return nil
	}, r.now)
	if err != nil {
		return stripeResult{}, err
	}
	return processedResult, nil
}

// sameLicense says whether a change would store nothing new. Times compare
// as instants and limits as values, whatever their representation.
func sameLicense(a, b License) bool {
	eqTime := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	return a.PlanID == b.PlanID && a.Status == b.Status && reflect.DeepEqual(a.SuspendedReason, b.SuspendedReason) &&
		reflect.DeepEqual(a.SuspensionSource, b.SuspensionSource) && slices.Equal(a.Features, b.Features) &&
		maps.Equal(DecodeLimits(a.Limits), DecodeLimits(b.Limits)) && reflect.DeepEqual(a.MaxDeployments, b.MaxDeployments) &&
		a.StartsAt.Equal(b.StartsAt) && eqTime(a.ExpiresAt, b.ExpiresAt) && a.GraceDays == b.GraceDays &&
		a.OfflineDays == b.OfflineDays && a.HeartbeatWindowHours == b.HeartbeatWindowHours &&
		a.DunningDays == b.DunningDays && a.PaymentState == b.PaymentState && eqTime(a.PastDueSince, b.PastDueSince) &&
		eqTime(a.BillingPeriodStart, b.BillingPeriodStart) && eqTime(a.BillingPeriodEnd, b.BillingPeriodEnd) &&
		reflect.DeepEqual(a.StripePriceID, b.StripePriceID) && reflect.DeepEqual(a.StripeQuantity, b.StripeQuantity) &&
		reflect.DeepEqual(a.StripeStatus, b.StripeStatus) && eqTime(a.StripeStateAt, b.StripeStateAt)
}

// ---- invoices ----

type stripeInvoice struct {
	ID           string    `json:"id"`
	Customer     stripeRef `json:"customer"`
	Subscription stripeRef `json:"subscription"`
	// Since API version 2025-03-31 the subscription is under parent.
	Parent *struct {
		SubscriptionDetails *struct {
			Subscription stripeRef `json:"subscription"`
		} `json:"subscription_details"`
	} `json:"parent"`
	Lines struct {
		Data []struct {
			Subscription stripeRef `json:"subscription"`
			Period       struct {
				Start int64 `json:"start"`
				End   int64 `json:"end"`
			} `json:"period"`
		} `json:"data"`
	} `json:"lines"`
}

func (inv stripeInvoice) subscriptionID() string {
	if inv.Subscription.ID != "" {
		return inv.Subscription.ID
	}
	if inv.Parent != nil && inv.Parent.SubscriptionDetails != nil && inv.Parent.SubscriptionDetails.Subscription.ID != "" {
		return inv.Parent.SubscriptionDetails.Subscription.ID
	}
	for _, l := range inv.Lines.Data {
		if l.Subscription.ID != "" {
			return l.Subscription.ID
		}
	}
	return ""
}

// paidPeriodEnd is the end of the period the invoice pays for: its lines'
// latest period end (an invoice's own period_end is the previous period's).
func (inv stripeInvoice) paidPeriodEnd() int64 {
	var end int64
	for _, l := range inv.Lines.Data {
		end = max(end, l.Period.End)
	}
	return end
}

func (r *stripeRun) invoice() (stripeResult, error) {
	var inv stripeInvoice
	if err := r.object(&inv); err != nil {
		return stripeResult{}, err
	}
	subID := inv.subscriptionID()
	if subID == "" {
		return ignored("invoice %s is not for a subscription", inv.ID), nil
	}
	key := inv.Customer.ID
	if key == "" {
		key = subID
	}
	if err := r.lock(key); err != nil {
		return stripeResult{}, err
	}
	lic, err := r.q.GetLicenseBySubscriptionForUpdate(r.ctx, &subID)
	if errors.Is(err, pgx.ErrNoRows) {
		return ignored("no license for subscription %s yet; the subscription's own event creates it and counts "+
			"this invoice then", subID), nil
	}
	if err != nil {
		return stripeResult{}, err
	}
	if lic.Status == "revoked" {
		return ignored("license %s was revoked; Stripe changes no longer apply to it", lic.ID), nil
	}
	return r.changeLicense(lic.ID, "license.stripe_payment", func(l *License) error {
		if r.ev.Type == "invoice.paid" {
			r.applyPaid(l, inv)
		}
		return r.syncPayment(l)
	})
}

// applyPaid extends the license to the end of the paid period, and lifts a
// suspension that non-payment caused, unless a newer subscription state
// (say, paused again since) set it.
func (r *stripeRun) applyPaid(l *License, inv stripeInvoice) {
	ended := l.StripeStatus != nil && subscriptionEnded(*l.StripeStatus)
	end := unixPtr(inv.paidPeriodEnd())
	if end == nil {
		end = l.BillingPeriodEnd
	}
	if !ended && end != nil && l.ExpiresAt != nil && end.After(*l.ExpiresAt) {
		l.ExpiresAt = end
	}
	newer := l.StripeStateAt == nil || !r.ev.Created.Before(*l.StripeStateAt)
	if l.Standing().SuspendedBy(licensing.SuspendedByPayment) && newer {
		_ = l.Transition((*licensing.License).Reactivate)
	}
}

// ---- customers ----

type stripeCustomer struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type stripeCheckoutSession struct {
	ID              string    `json:"id"`
	Customer        stripeRef `json:"customer"`
	Subscription    stripeRef `json:"subscription"`
	CustomerDetails struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"customer_details"`
}

func (r *stripeRun) customer() (stripeResult, error) {
	var c stripeCustomer
	if err := r.object(&c); err != nil {
		return stripeResult{}, err
	}
	if c.ID == "" {
		return stripeResult{}, attention("the customer has no id")
	}
	return r.customerDetails(c)
}

func (r *stripeRun) checkout() (stripeResult, error) {
	var cs stripeCheckoutSession
	if err := r.object(&cs); err != nil {
		return stripeResult{}, err
	}
	if cs.Customer.ID == "" {
		return ignored("checkout session %s has no Stripe customer (a guest checkout): nothing to link", cs.ID), nil
	}
	return r.customerDetails(stripeCustomer{ID: cs.Customer.ID, Name: cs.CustomerDetails.Name, Email: cs.CustomerDetails.Email})
}

// customerDetails creates or updates the NLS customer linked to c, unless
// newer details were already applied.
func (r *stripeRun) customerDetails(c stripeCustomer) (stripeResult, error) {
	if err := r.lock(c.ID); err != nil {
		return stripeResult{}, err
	}
	newer, err := r.q.HasNewerStripeCustomerEvent(r.ctx, HasNewerStripeCustomerEventParams{CustomerID: c.ID,
		ID: r.ev.ID, CreatedAt: r.ev.Created})
	if err != nil {
		return stripeResult{}, err
	}
	if newer {
		return ignored("older than the customer details already applied"), nil
	}
	cust, err := r.q.GetCustomerByStripeID(r.ctx, &c.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = r.createCustomer(c)
		return processedResult, err
	}
	if err != nil {
		return stripeResult{}, err
	}
	in := customerInputOf(cust)
	if name := strings.TrimSpace(c.Name); name != "" {
		in.Name = name
	} else if cust.Name == placeholderName(c.ID) && c.Email != "" {
		in.Name = c.Email
	}
	if email := strings.TrimSpace(c.Email); email != "" {
		in.Email = email
	}
	if in.Name == cust.Name && in.Email == cust.Email {
		return processedResult, nil
	}
	return processedResult, r.updateCustomer(cust, in)
}

// ensureCustomer finds the NLS customer of a Stripe customer, or creates it.
// A subscription may arrive before its customer.created: rather than wait,
// the customer is created from what the subscription carries (the expanded
// customer, or a placeholder name and an address under the reserved .invalid
// domain) and filled in by the customer event whenever it comes.
func (r *stripeRun) ensureCustomer(ref stripeRef) (Customer, error) {
	cust, err := r.q.GetCustomerByStripeID(r.ctx, &ref.ID)
	if err == nil || !errors.Is(err, pgx.ErrNoRows) {
		return cust, err
	}
	c := stripeCustomer{ID: ref.ID}
	if ref.Raw != nil {
		_ = json.Unmarshal(ref.Raw, &c)
	}
	return r.createCustomer(c)
}

func placeholderName(stripeID string) string { return "Stripe customer " + stripeID }

func (r *stripeRun) createCustomer(c stripeCustomer) (Customer, error) {
	in := CustomerInput{Name: strings.TrimSpace(c.Name), Email: strings.TrimSpace(c.Email), StripeCustomerID: &c.ID}
	if in.Name == "" {
		in.Name = in.Email
	}
	if in.Name == "" {
		in.Name = placeholderName(c.ID)
	}
	if in.Email == "" {
		in.Email = strings.ToLower(c.ID) + "@stripe.invalid"
	}
	md, err := in.normalise()
	if err != nil {
		return Customer{}, err
	}
	cust, err := r.q.CreateCustomer(r.ctx, CreateCustomerParams{Name: in.Name, Email: in.Email, Company: in.Company,
		Metadata: md, StripeCustomerID: in.StripeCustomerID})
	if err != nil {
		return Customer{}, conflictAs(err, "stripeCustomerId", "another customer has this Stripe customer id")
	}
	return cust, Audit(r.ctx, r.q, r.actor, AuditEntry{Action: "customer.create", EntityType: "customer",
		EntityID: cust.ID.String(), CustomerID: &cust.ID, After: cust.View()}, r.now)
}

func customerInputOf(c Customer) CustomerInput {
	in := CustomerInput{Name: c.Name, Email: c.Email, Company: c.Company, StripeCustomerID: c.StripeCustomerID}
	_ = json.Unmarshal(c.Metadata, &in.Metadata)
	return in
}

func (r *stripeRun) updateCustomer(before Customer, in CustomerInput) error {
	md, err := in.normalise()
	if err != nil {
		return err
	}
	after, err := r.q.UpdateCustomer(r.ctx, UpdateCustomerParams{ID: before.ID, Name: in.Name, Email: in.Email,
		Company: in.Company, Metadata: md, StripeCustomerID: in.StripeCustomerID, UpdatedAt: r.now})
	if err != nil {
		return conflictAs(err, "stripeCustomerId", "another customer has this Stripe customer id")
	}
	return Audit(r.ctx, r.q, r.actor, AuditEntry{Action: "customer.update", EntityType: "customer",
		EntityID: before.ID.String(), CustomerID: &before.ID, Before: before.View(), After: after.View()}, r.now)
}

// ---- disputes ----

type stripeCharge struct {
	ID            string    `json:"id"`
	Customer      stripeRef `json:"customer"`
	Invoice       stripeRef `json:"invoice"`
	PaymentIntent stripeRef `json:"payment_intent"`
}

type stripeDispute struct {
	ID            string    `json:"id"`
	Charge        stripeRef `json:"charge"`
	PaymentIntent stripeRef `json:"payment_intent"`
	Reason        string    `json:"reason"`
}

func (r *stripeRun) dispute() (stripeResult, error) {
	var d stripeDispute
	if err := r.object(&d); err != nil {
		return stripeResult{}, err
	}
	lic, err := r.disputedLicense(d)
	if err != nil {
		return stripeResult{}, err
	}
	switch {
	case lic.Status == "revoked":
		return ignored("license %s is revoked already", lic.ID), nil
	case lic.Standing().SuspendedBy(licensing.SuspendedByAdmin):
		return ignored("license %s is suspended by an admin already; the admin's reason is kept", lic.ID), nil
	}
	reason := "payment disputed in Stripe (" + d.ID
	if d.Reason != "" {
		reason += ", reason " + d.Reason
	}
	reason += ")"
	return r.changeLicense(lic.ID, "license.suspend", func(l *License) error {
		if l.Standing().SuspendedBy(licensing.SuspendedByDispute) {
			return nil
		}
		return l.Transition(func(x *licensing.License) error { return x.Suspend(reason, licensing.SuspendedByDispute) })
	})
}

// disputedLicense finds the license a disputed charge paid for: through
// the charge's invoice to its subscription, else the customer's single live
// subscription license. Nothing is fetched from Stripe: what is known comes
// from the dispute (its charge, when expanded) and the events received.
func (r *stripeRun) disputedLicense(d stripeDispute) (License, error) {
	var ch stripeCharge
	if d.Charge.Raw != nil {
		_ = json.Unmarshal(d.Charge.Raw, &ch)
	}
	pi := d.PaymentIntent.ID
	if pi == "" {
		pi = ch.PaymentIntent.ID
	}
	if ch.Invoice.Raw != nil {
		var inv stripeInvoice
		if json.Unmarshal(ch.Invoice.Raw, &inv) == nil {
			if sub := inv.subscriptionID(); sub != "" {
				if lic, err := r.q.GetLicenseBySubscription(r.ctx, &sub); err == nil {
					return lic, nil
				}
			}
		}
	}
	sub, err := r.q.FindStripeSubscriptionForCharge(r.ctx, FindStripeSubscriptionForChargeParams{
		InvoiceID: ch.Invoice.ID, ChargeID: d.Charge.ID, PaymentIntentID: pi})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return License{}, err
	}
	if sub != "" {
		lic, err := r.q.GetLicenseBySubscription(r.ctx, &sub)
		if err == nil {
			return lic, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return License{}, err
		}
	}
	cus := ch.Customer.ID
	if cus == "" {
		if cus, err = r.q.FindStripeCustomerForCharge(r.ctx, d.Charge.ID); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return License{}, err
		}
	}
	if cus != "" {
		cust, err := r.q.GetCustomerByStripeID(r.ctx, &cus)
		if err == nil {
			lics, err := r.q.ListLiveStripeLicensesByCustomer(r.ctx, cust.ID)
			if err != nil {
				return License{}, err
			}
			if len(lics) == 1 {
				return lics[0], nil
			}
			return License{}, attention("dispute %s on charge %s: customer %s has %d live subscription licenses, so the "+
				"disputed one cannot be told; suspend it by hand", d.ID, d.Charge.ID, cus, len(lics))
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return License{}, err
		}
	}
	return License{}, attention("dispute %s on charge %s: no license found for it (no invoice or customer event "+
		"names this charge); suspend the license by hand, or replay this event once its invoice event is received",
		d.ID, d.Charge.ID)
}
