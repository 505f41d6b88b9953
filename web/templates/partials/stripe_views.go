package partials

import (
	"net/url"

	"github.com/nectarcloud/nls/web/templates/components"
)

// StripeEventFilter is the Stripe event list's query, echoed into the form
// and links.
type StripeEventFilter struct {
	Status string // "" for every state
}

// StripeEventRow is one received Stripe event in a list.
type StripeEventRow struct {
	ID           string
	Type         string
	Status       string // processed | ignored | needs_attention | failed
	Received     string
	Problem      string // what stopped it, shortened; "" when nothing did
	CustomerID   string // "" when NLS knows no customer for it
	CustomerName string
	LicenseID    string // "" when NLS knows no license for it
}

// StripeEventResults is the Stripe event list's swap target.
type StripeEventResults struct {
	Rows     []StripeEventRow
	NextURL  string
	Filtered bool
	Error    string
}

// StripeEventOutcome is what became of an event, with the replay button
// when one may help; a replay answers it anew.
type StripeEventOutcome struct {
	ID          string
	Status      string
	Error       string // the problem in full, or why it was ignored
	Attempts    string
	ProcessedAt string // "" when never
	CanReplay   bool
}

// StripeEventURL is an event's admin page.
func StripeEventURL(id string) string { return "/admin/stripe-events/" + url.PathEscape(id) }

func stripeReplayURL(id string) string { return StripeEventURL(id) + "/replay" }

// StripeStatusLabel names an event state in words.
func StripeStatusLabel(status string) string {
	switch status {
	case "processed":
		return "Processed"
	case "ignored":
		return "Ignored"
	case "needs_attention":
		return "Needs attention"
	case "failed":
		return "Failed"
	}
	return components.BadgeLabel(status)
}

// stripeStatusClass colours an event state; the label carries the meaning.
func stripeStatusClass(status string) string {
	switch status {
	case "processed":
		return "badge badge-active"
	case "needs_attention":
		return "badge badge-grace"
	case "failed":
		return "badge badge-suspended"
	}
	return "badge badge-neutral"
}
