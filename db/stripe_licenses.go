package db

// Applying Stripe subscription and invoice events to their licenses: rows
// are read into licensing.Billed, licensing/billing.go decides, and the
// change is stored and audited here.

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/nectarcloud/nls/licensing"
)

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
	plans  map[string]Plan // by Stripe price, as mapPrices found them
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

// subscription applies a customer.subscription.* event.
func (r *stripeRun) subscription() (stripeResult, error) {
	var raw stripeSubscription
	if err := r.object(&raw); err != nil {
		return stripeResult{}, err
	}
	if raw.ID == "" || raw.Customer.ID == "" {
		return stripeResult{}, attention("the subscription has no id or no customer")
	}
	if err := r.lock(raw.Customer.ID); err != nil {
		return stripeResult{}, err
	}
	sub := raw.facts(r.ev.Type).Normalize()
	if err := r.mapPrices(&sub); err != nil {
		return stripeResult{}, err
	}
	lic, err := r.q.GetLicenseBySubscriptionForUpdate(r.ctx, &sub.ID)
	found := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return stripeResult{}, err
	}
	if found {
		if note := billedOf(lic).Ignores(sub, r.ev.Created); note != "" {
			return ignored("%s", note), nil
		}
	}
	if sub.PeriodEnd == nil {
		return stripeResult{}, attention("subscription %s has no current period end", sub.ID)
	}
	item, unmapped, priced := sub.Priced()
	// A subscription that ended keeps its license's plan when its price is
	// not (or no longer) mapped: ending it matters more than naming it.
	if !priced && (!found || !sub.Ended()) {
		if len(unmapped) == 0 {
			return stripeResult{}, attention("subscription %s has no priced item", sub.ID)
		}
		return stripeResult{}, attention("Stripe price %s maps to no plan: add it to a plan's stripePriceIds, "+
			"then replay event %s", strings.Join(unmapped, ", "), r.ev.ID)
	}
	var res stripeResult
	if !found {
		if lic, res, err = r.createSubscriptionLicense(raw.Customer, sub, item); err != nil {
			return stripeResult{}, err
		}
	} else if res, err = r.changeLicense(lic.ID, "license.stripe_subscription", func(l *License) error {
		return r.applySubscription(l, sub, item)
	}); err != nil {
		return stripeResult{}, err
	}
	return res, r.recordCancelAtPeriodEnd(lic.ID, sub.SetToCancel())
}

// recordCancelAtPeriodEnd keeps whether the subscription is set to end with
// its period (the milestone job reminds only those of renewing themselves
// not), auditing a change; an unchanged flag writes nothing.
func (r *stripeRun) recordCancelAtPeriodEnd(licenseID uuid.UUID, cancel bool) error {
	before, err := r.q.GetStripeCancelAtPeriodEnd(r.ctx, licenseID)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if before == cancel {
		return nil
	}
	if err := r.q.SetStripeCancelAtPeriodEnd(r.ctx, SetStripeCancelAtPeriodEndParams{LicenseID: licenseID,
		CancelAtPeriodEnd: cancel, UpdatedAt: r.now}); err != nil {
		return err
	}
	return Audit(r.ctx, r.q, r.actor, AuditEntry{Action: "license.stripe_cancel_at_period_end", EntityType: "license",
		EntityID: licenseID.String(), Before: map[string]any{"cancelAtPeriodEnd": before},
		After: map[string]any{"cancelAtPeriodEnd": cancel}}, r.now)
}

// mapPrices finds the plan each of the subscription's prices maps to.
func (r *stripeRun) mapPrices(sub *licensing.Subscription) error {
	for i, it := range sub.Items {
		if it.PriceID == "" {
			continue
		}
		p, err := r.q.GetPlanByStripePrice(r.ctx, it.PriceID)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		if r.plans == nil {
			r.plans = map[string]Plan{}
		}
		r.plans[it.PriceID] = p
		sub.Items[i].Plan = &licensing.BillingPlan{Code: p.Code, QuantitySets: textOf(p.QuantitySets)}
	}
	return nil
}

func (r *stripeRun) createSubscriptionLicense(customer stripeRef, sub licensing.Subscription,
	item licensing.SubscriptionItem) (License, stripeResult, error) {
	cust, err := r.ensureCustomer(customer)
	if err != nil {
		return License{}, stripeResult{}, err
	}
	var paid *time.Time
	if !sub.Ended() {
		if paid, err = r.paidThrough(sub.ID); err != nil {
			return License{}, stripeResult{}, err
		}
	}
	start, exp := sub.Start(r.ev.Created), sub.NewExpiry(paid)
	// The quantity, as it would set a license that had no seats or limits.
	var set licensing.Billed
	if err := set.SetQuantity(*item.Plan, item.Count()); err != nil {
		return License{}, stripeResult{}, err
	}
	qty := item.Count()
	in := LicenseInput{CustomerID: cust.ID, Plan: item.Plan.Code, StartsAt: &start, ExpiresAt: &exp,
		StripeSubscriptionID: &sub.ID, StripePriceID: &item.PriceID, StripeQuantity: &qty,
		StripeStatus: &sub.Status, StripeStateAt: &r.ev.Created, BillingPeriodStart: sub.PeriodStart,
		BillingPeriodEnd: sub.PeriodEnd, Limits: set.Limits}
	if set.MaxDeployments != nil {
		in.MaxDeployments = &set.MaxDeployments
	}
	lic, _, err := r.s.createLicense(r.ctx, r.q, r.actor, r.issuer, r.sealer, in, r.now)
	if err != nil {
		return License{}, stripeResult{}, err
	}
	// Status and payment standing, as for any later event.
	res, err := r.changeLicense(lic.ID, "license.stripe_subscription", func(l *License) error {
		b := billedOf(*l)
		b.ApplyStatus(sub.Status)
		if err := r.syncPayment(l, &b); err != nil {
			return err
		}
		setBilled(l, b)
		return nil
	})
	return lic, res, err
}

// applySubscription lays the subscription's state over the license. A new
// plan brings its own entitlements; overrides of the old one go.
func (r *stripeRun) applySubscription(l *License, sub licensing.Subscription, item licensing.SubscriptionItem) error {
	if item.Plan != nil {
		if p := r.plans[item.PriceID]; p.ID != l.PlanID {
			l.PlanID, l.Features, l.Limits, l.MaxDeployments = p.ID, nonNil(p.Features), p.Limits, p.MaxDeployments
			l.GraceDays, l.OfflineDays, l.HeartbeatWindowHours = p.GraceDays, p.OfflineDays, p.HeartbeatWindowHours
			l.DunningDays = p.DunningDays
		}
	}
	b := billedOf(*l)
	if err := b.ApplySubscription(sub, item, r.ev.Created); err != nil {
		return err
	}
	if err := r.syncPayment(l, &b); err != nil {
		return err
	}
	setBilled(l, b)
	return nil
}

// billedOf reads a license row as the billing policy sees it.
func billedOf(l License) licensing.Billed {
	return licensing.Billed{License: l.Standing(), ID: l.ID.String(), MaxDeployments: l.MaxDeployments,
		Limits: DecodeLimits(l.Limits), StripeStatus: textOf(l.StripeStatus), StateAt: l.StripeStateAt,
		PriceID: l.StripePriceID, Quantity: l.StripeQuantity, PeriodStart: l.BillingPeriodStart,
		PeriodEnd: l.BillingPeriodEnd}
}

// setBilled writes the policy's answer back into the row; limits are
// rewritten only when their values changed.
func setBilled(l *License, b licensing.Billed) {
	l.SetStanding(b.License)
	l.MaxDeployments = b.MaxDeployments
	if !maps.Equal(DecodeLimits(l.Limits), b.Limits) {
		l.Limits, _ = json.Marshal(b.Limits)
	}
	l.StripeStatus, l.StripeStateAt = nonEmpty(b.StripeStatus), b.StateAt
	l.StripePriceID, l.StripeQuantity = b.PriceID, b.Quantity
	l.BillingPeriodStart, l.BillingPeriodEnd = b.PeriodStart, b.PeriodEnd
}

// syncPayment sets the payment standing from every payment signal received
// for the subscription (stripe_events.payment_signal), so that the order of
// arrival cannot matter.
func (r *stripeRun) syncPayment(l *License, b *licensing.Billed) error {
	if l.StripeSubscriptionID == nil {
		return nil
	}
	since, err := r.q.GetStripeOverdueSince(r.ctx, *l.StripeSubscriptionID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		b.SetPayment(nil)
	case err != nil:
		return err
	default:
		b.SetPayment(&since)
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
	_, err = r.s.changeLicense(r.ctx, r.q, r.actor, id, action, func(l *License) error {
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
// invoice applies invoice.paid and invoice.payment_failed.
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
	if note := billedOf(lic).RevokedNote(); note != "" {
		return ignored("%s", note), nil
	}
	return r.changeLicense(lic.ID, "license.stripe_payment", func(l *License) error {
		b := billedOf(*l)
		if r.ev.Type == "invoice.paid" {
			b.ApplyPaidInvoice(unixPtr(inv.paidPeriodEnd()), r.ev.Created)
		}
		if err := r.syncPayment(l, &b); err != nil {
			return err
		}
		setBilled(l, b)
		return nil
	})
}
