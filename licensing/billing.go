// Billing policy: what a Stripe fact (a subscription's state, a paid
// invoice, a dispute) does to a license. Pure: db decodes Stripe's JSON into
// the plain values below, looks up plans and the payment signals received,
// calls these functions and stores the result.
//
// Events arrive late, twice and out of order, so every rule reads Stripe's
// creation time of the event, never the time it arrived:
//
//   - a subscription event carries the whole subscription; the license keeps
//     the creation time of the newest one applied (StateAt) and an older one
//     changes nothing. An ended subscription stays ended: Stripe never
//     reactivates one.
//   - payment standing follows the payment signals received for the
//     subscription: overdue since the first "overdue" after the last "paid".
//   - expiry only moves forward while the subscription lives, and is set to
//     the period end when it ends.

package licensing

import (
	"fmt"
	"maps"
	"time"
)

// Payment signals a Stripe event gives about its subscription, as
// stripe_events.payment_signal stores them.
const (
	SignalPaid    = "paid"
	SignalOverdue = "overdue"
)

// maxQuantity caps a Stripe quantity so that it fits the seat column.
const maxQuantity = 1_000_000

// SubscriptionEnded reports whether a Stripe subscription status is final.
func SubscriptionEnded(status string) bool {
	return status == "canceled" || status == "incomplete_expired"
}

// PaymentSignalOf reads a subscription status as a payment signal: active or
// trialing says paid up; past_due, unpaid and incomplete say overdue.
func PaymentSignalOf(status string) string {
	switch status {
	case "active", "trialing":
		return SignalPaid
	case "past_due", "unpaid", "incomplete":
		return SignalOverdue
	}
	return ""
}

// BillingPlan is what billing needs of a plan.
type BillingPlan struct {
	Code         string
	QuantitySets string // "", QuantitySetsDeployments or QuantitySetsUsers
}

// SubscriptionItem is one priced line of a subscription, with the plan its
// price maps to (nil: none).
type SubscriptionItem struct {
	PriceID  string
	Quantity *int64 // nil: 1
	Plan     *BillingPlan
}

// Subscription is a subscription event's facts.
type Subscription struct {
	ID          string
	Status      string // Stripe's
	Deleted     bool   // a customer.subscription.deleted event
	Creation    bool   // a customer.subscription.created event
	StartDate   *time.Time
	PeriodStart *time.Time
	PeriodEnd   *time.Time
	EndedAt     *time.Time
	// CancelAtPeriodEnd: the subscription ends with its current period
	// instead of renewing, so its license gets renewal reminders.
	CancelAtPeriodEnd bool
	// CancelAt: the subscription is scheduled to end at this instant (Stripe's
	// cancel_at, set by "cancel on a date" and, in newer API versions, along
	// with cancel_at_period_end).
	CancelAt *time.Time
	Items    []SubscriptionItem
}

// SetToCancel reports whether the subscription will end instead of renewing
// itself: at its period's end or at a scheduled date, either way its license
// needs renewal reminders.
func (s Subscription) SetToCancel() bool { return s.CancelAtPeriodEnd || s.CancelAt != nil }

// Normalize reads a deletion as the end it is, whatever status it carries.
func (s Subscription) Normalize() Subscription {
	if s.Deleted && !SubscriptionEnded(s.Status) {
		s.Status = "canceled"
	}
	return s
}

// Ended reports whether the subscription has ended.
func (s Subscription) Ended() bool { return SubscriptionEnded(s.Normalize().Status) }

// Priced is the first item whose price maps to a plan. Without one it
// names the unmapped prices for the admin (none: no priced item at all).
func (s Subscription) Priced() (SubscriptionItem, []string, bool) {
	var unmapped []string
	for _, it := range s.Items {
		if it.PriceID == "" {
			continue
		}
		if it.Plan != nil {
			return it, nil, true
		}
		unmapped = append(unmapped, it.PriceID)
	}
	return SubscriptionItem{}, unmapped, false
}

// Expiry is when the subscription's license ends: the period end, or when
// an incomplete subscription expired.
func (s Subscription) Expiry() *time.Time {
	if s.Status == "incomplete_expired" && s.EndedAt != nil {
		return s.EndedAt
	}
	return s.PeriodEnd
}

// Start is when a license created for the subscription starts.
func (s Subscription) Start(eventAt time.Time) time.Time {
	switch {
	case s.StartDate != nil:
		return *s.StartDate
	case s.PeriodStart != nil:
		return *s.PeriodStart
	}
	return eventAt
}

// NewExpiry is the expiry of a license created for the subscription:
// invoices paid before the license existed (paidThrough) still count
// while it lives.
func (s Subscription) NewExpiry(paidThrough *time.Time) *time.Time {
	exp := s.Expiry()
	if !s.Ended() && paidThrough != nil && exp != nil && paidThrough.After(*exp) {
		return paidThrough
	}
	return exp
}

// Count is the item's quantity: 1 when Stripe gives none, capped to fit
// the seat column.
func (it SubscriptionItem) Count() int32 {
	if it.Quantity == nil {
		return 1
	}
	return int32(min(*it.Quantity, maxQuantity))
}

// Billed is a license as billing reads and changes it.
type Billed struct {
	License
	ID             string // the license's id, for the notes an admin reads
	MaxDeployments *int32 // nil: unlimited
	Limits         map[string]int64
	StripeStatus   string // "" before any subscription event
	StateAt        *time.Time
	PriceID        *string
	Quantity       *int32
	PeriodStart    *time.Time
	PeriodEnd      *time.Time
}

// Ignores says why a subscription event created at must not apply over the
// license, or "" when it may.
func (b Billed) Ignores(sub Subscription, at time.Time) string {
	if b.StateAt != nil && at.Before(*b.StateAt) {
		return fmt.Sprintf("older than the state already applied (event created %s, state of %s)",
			at.UTC().Format(time.RFC3339), b.StateAt.UTC().Format(time.RFC3339))
	}
	// Stripe times are whole seconds: on a tie, a creation event is the
	// older, since a subscription is created before anything happens to it.
	if b.StateAt != nil && at.Equal(*b.StateAt) && sub.Creation {
		return "older than the state already applied (the subscription's creation, in the same second as a later change)"
	}
	if SubscriptionEnded(b.StripeStatus) && !sub.Ended() {
		return fmt.Sprintf("older than the state already applied: the subscription has ended (%s), and Stripe never "+
			"reactivates an ended subscription", b.StripeStatus)
	}
	return b.RevokedNote()
}

// RevokedNote says why no Stripe event applies to a revoked license ("":
// not revoked).
func (b Billed) RevokedNote() string {
	if b.Status != StatusRevoked {
		return ""
	}
	return "license " + b.ID + " was revoked; Stripe changes no longer apply to it"
}

// SetQuantity sets what the plan lets the subscription's quantity count:
// the seats or the users limit.
func (b *Billed) SetQuantity(plan BillingPlan, qty int32) error {
	switch plan.QuantitySets {
	case QuantitySetsDeployments:
		if qty < 1 {
			return Errorf(EINVALID, "quantity %d cannot set the seats of plan %s (at least 1)", qty, plan.Code)
		}
		b.MaxDeployments = &qty
	case QuantitySetsUsers:
		if v, ok := b.Limits["users"]; !ok || v != int64(qty) {
			b.Limits = maps.Clone(b.Limits)
			if b.Limits == nil {
				b.Limits = map[string]int64{}
			}
			b.Limits["users"] = int64(qty)
		}
	}
	return nil
}

// ApplySubscription lays a subscription event's state over the license.
// item is the subscription's priced item (Subscription.Priced); without a
// plan (an ended subscription whose price maps to none) the license keeps
// its price, quantity and plan. The caller has checked Ignores, and sets
// the payment standing after.
func (b *Billed) ApplySubscription(sub Subscription, item SubscriptionItem, at time.Time) error {
	sub = sub.Normalize()
	if item.Plan != nil {
		qty := item.Count()
		price := item.PriceID
		b.PriceID, b.Quantity = &price, &qty
		if err := b.SetQuantity(*item.Plan, qty); err != nil {
			return err
		}
	}
	b.StripeStatus, b.StateAt = sub.Status, &at
	b.PeriodStart, b.PeriodEnd = sub.PeriodStart, sub.PeriodEnd
	switch exp := sub.Expiry(); {
	case sub.Ended():
		// Ended: the license runs to the end of the period, then its grace.
		b.ExpiresAt = exp
	case b.ExpiresAt != nil && exp != nil && exp.After(*b.ExpiresAt):
		b.ExpiresAt = exp
	}
	b.ApplyStatus(sub.Status)
	return nil
}

// ApplyStatus maps a subscription status onto the stored status. Only a
// paused subscription suspends (as a payment matter, lifted when it is
// active again); past_due, unpaid and incomplete are payment signals that
// SetPayment reads; canceled ends the license at the period end. A
// suspension by an admin or for a dispute is never touched.
func (b *Billed) ApplyStatus(status string) {
	switch status {
	case "paused":
		if b.Status == StatusActive {
			_ = b.Suspend("subscription paused in Stripe", SuspendedByPayment)
		}
	case "active", "trialing":
		if b.SuspendedBy(SuspendedByPayment) {
			_ = b.Reactivate()
		}
	}
}

// SetPayment sets the payment standing from the first overdue signal after
// the last paid one (nil: none, paid up).
func (l *License) SetPayment(overdueSince *time.Time) {
	if overdueSince == nil {
		l.PaymentState, l.PastDueSince = PaymentOK, nil
		return
	}
	t := overdueSince.UTC()
	l.PaymentState, l.PastDueSince = PaymentPastDue, &t
}

// ApplyPaidInvoice extends the license to the end of the paid period
// (paidEnd; nil: the billing period's end), unless the subscription has
// ended, and lifts a suspension that non-payment caused, unless a newer
// subscription state (say, paused again since) set it.
func (b *Billed) ApplyPaidInvoice(paidEnd *time.Time, at time.Time) {
	end := paidEnd
	if end == nil {
		end = b.PeriodEnd
	}
	if !SubscriptionEnded(b.StripeStatus) && end != nil && b.ExpiresAt != nil && end.After(*b.ExpiresAt) {
		b.ExpiresAt = end
	}
	newer := b.StateAt == nil || !at.Before(*b.StateAt)
	if b.SuspendedBy(SuspendedByPayment) && newer {
		_ = b.Reactivate()
	}
}

// DisputeIgnored says why a dispute leaves the license as it is ("" when it
// suspends it): a revoked license stays revoked, and an admin's suspension
// keeps the admin's reason.
func (l License) DisputeIgnored() string {
	switch {
	case l.Status == StatusRevoked:
		return "revoked already"
	case l.SuspendedBy(SuspendedByAdmin):
		return "suspended by an admin already; the admin's reason is kept"
	}
	return ""
}

// ApplyDispute suspends the license while dispute disputeID (reason as
// Stripe names it, may be empty) is open. A second dispute changes nothing.
func (l *License) ApplyDispute(disputeID, reason string) error {
	if l.DisputeIgnored() != "" || l.SuspendedBy(SuspendedByDispute) {
		return nil
	}
	text := "payment disputed in Stripe (" + disputeID
	if reason != "" {
		text += ", reason " + reason
	}
	return l.Suspend(text+")", SuspendedByDispute)
}
