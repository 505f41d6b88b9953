package db

// Decoding Stripe's payloads into the plain values licensing's billing
// policy reads. The payloads are read through small structs of our own,
// holding only fields that exist (under one name or another) in every
// Stripe API version.

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/nectarcloud/nls/licensing"
)

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
			signal = licensing.PaymentSignalOf(sub.Status)
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
					signal = licensing.SignalPaid
				case "invoice.payment_failed":
					signal = licensing.SignalOverdue
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

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// textOf is nonEmpty's inverse.
func textOf(s *string) string {
	if s == nil {
		return ""
	}
	return *s
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
	CancelAtPeriodEnd  bool      `json:"cancel_at_period_end"`
	CancelAt           int64     `json:"cancel_at"`
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

// facts are the subscription as licensing's billing policy reads it, its
// prices not yet mapped to plans.
func (sub stripeSubscription) facts(eventType string) licensing.Subscription {
	start, end := sub.period()
	out := licensing.Subscription{ID: sub.ID, Status: sub.Status, Deleted: eventType == "customer.subscription.deleted",
		Creation: eventType == "customer.subscription.created", StartDate: unixPtr(sub.StartDate),
		PeriodStart: unixPtr(start), PeriodEnd: unixPtr(end), EndedAt: unixPtr(sub.EndedAt),
		CancelAtPeriodEnd: sub.CancelAtPeriodEnd, CancelAt: unixPtr(sub.CancelAt)}
	for _, it := range sub.Items.Data {
		out.Items = append(out.Items, licensing.SubscriptionItem{PriceID: it.Price.ID, Quantity: it.Quantity})
	}
	return out
}

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
