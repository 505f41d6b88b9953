package admin

import "github.com/nectarcloud/nls/web/templates/partials"

// StripeEvents is the Stripe event list with its state filter.
type StripeEvents struct {
	Filter   partials.StripeEventFilter
	Statuses []Option
	Results  partials.StripeEventResults
}

// StripeEventDetail is one received Stripe event: what it is about, what
// became of it and its payload.
type StripeEventDetail struct {
	ID               string
	Type             string
	APIVersion       string
	Mode             string // "Live" or "Test"
	StripeCreated    string
	Received         string
	ObjectID         string
	SubscriptionID   string
	StripeCustomerID string
	CustomerID       string // "" when NLS knows no customer for it
	CustomerName     string
	LicenseID        string // "" when NLS knows no license for it
	Outcome          partials.StripeEventOutcome
	Payload          string // indented JSON
}

// StripeAttention is the dashboard's list of Stripe events an admin should
// look at.
type StripeAttention struct {
	NeedsAttention int64
	Failed         int64
	Latest         []partials.StripeEventRow
}

// Total is how many there are.
func (a StripeAttention) Total() int64 { return a.NeedsAttention + a.Failed }
