// What each notice says: subject, text and links, per event type, and the
// category a recipient can opt out of.

package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"strconv"
	"strings"
	"time"

	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/web/templates/email"
)

// Categories a recipient can opt out of, one per kind of notice.
const (
	CategoryRenewal     = "renewal"     // reminders, expiry, grace
	CategoryBilling     = "billing"     // payment overdue, suspension for non-payment
	CategoryUsage       = "usage"       // limits near or reached
	CategoryDeployments = "deployments" // installations gone silent
	CategoryDigest      = "digest"      // the staff's daily digest
)

// CustomerCategories are the categories a customer's people choose from,
// with what the account page calls them.
var CustomerCategories = []struct{ Name, Label string }{
	{CategoryRenewal, "Renewal reminders, expiry and grace period"},
	{CategoryBilling, "Overdue payments and suspension for non-payment"},
	{CategoryUsage, "Usage near or at a limit"},
	{CategoryDeployments, "Installations that stopped checking in"},
}

// CategoryOf is the category of notices an event type makes, or "" when the
// event is not emailed to customers.
func CategoryOf(eventType string) string {
	switch eventType {
	case events.LicenseExpiringSoon, events.LicenseExpired, events.LicenseGraceStarted, events.LicenseGraceEnding:
		return CategoryRenewal
	case events.LicensePaymentOverdue, events.LicenseDunningSuspended:
		return CategoryBilling
	case events.UsageLimitNear, events.UsageLimitReached:
		return CategoryUsage
	case events.DeploymentStale:
		return CategoryDeployments
	}
	return ""
}

// ContactGets says whether a customer contact of role (customer, billing,
// technical, user) is told about category: the billing contact hears about
// renewals and payments, the technical contact about usage and installations,
// the customer's own address and its users about everything.
func ContactGets(role, category string) bool {
	switch role {
	case "billing":
		return category == CategoryRenewal || category == CategoryBilling
	case "technical":
		return category == CategoryUsage || category == CategoryDeployments
	}
	return true
}

// NoticeInput is what composing a customer notice needs.
type NoticeInput struct {
	EventType      string
	Data           json.RawMessage
	CustomerName   string
	BaseURL        string // the portal's public URL
	UnsubscribeURL string
}

const day = "2 January 2006"

func date(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(day)
}

// Compose writes the notice for one event to one of the customer's people.
func Compose(in NoticeInput) (string, email.Notice, error) {
	base := strings.TrimRight(in.BaseURL, "/")
	n := email.Notice{Greeting: "Hello,", UnsubscribeURL: in.UnsubscribeURL,
		Reason: "You receive this email as a contact of " + in.CustomerName + " for its licenses."}
	switch CategoryOf(in.EventType) {
	case CategoryRenewal, CategoryBilling:
		var d events.Milestone
		if err := json.Unmarshal(in.Data, &d); err != nil {
			return "", n, err
		}
		lic := base + "/portal/licenses/" + d.LicenseID.String()
		n.Facts = []email.Fact{{Label: "License", Value: d.Plan + " (" + d.LicenseID.String()[:8] + ")"},
			{Label: "Expires", Value: date(d.ExpiresAt)}}
		renew := func() {
			if d.Stripe {
				n.ActionLabel, n.ActionURL = "Manage billing", base+"/portal/billing"
			} else {
				n.ActionLabel, n.ActionURL = "Request renewal", lic+"/renew"
			}
		}
		switch in.EventType {
		case events.LicenseExpiringSoon:
			days := 0
			if d.DaysBefore != nil {
				days = *d.DaysBefore
			}
			n.Title = fmt.Sprintf("Your %s license expires in %s", d.Plan, plural(days, "day"))
			n.Lines = []string{fmt.Sprintf("Your %s license expires on %s. Renew it before then so that your installations keep working.", d.Plan, date(d.ExpiresAt))}
			renew()
		case events.LicenseGraceStarted:
			n.Title = fmt.Sprintf("Your %s license has expired: grace period until %s", d.Plan, date(d.GraceEndsAt))
			n.Lines = []string{"Your installations keep working during the grace period. After it ends they stop validating unless the license is renewed."}
			n.Facts = append(n.Facts, email.Fact{Label: "Grace period ends", Value: date(d.GraceEndsAt)})
			renew()
		case events.LicenseGraceEnding:
			n.Title = fmt.Sprintf("The grace period of your %s license ends on %s", d.Plan, date(d.GraceEndsAt))
			n.Lines = []string{"After this date your installations stop validating unless the license is renewed."}
			n.Facts = append(n.Facts, email.Fact{Label: "Grace period ends", Value: date(d.GraceEndsAt)})
			renew()
		case events.LicenseExpired:
			n.Title = fmt.Sprintf("Your %s license has expired", d.Plan)
			n.Lines = []string{"Its installations no longer validate. Renew the license to use them again."}
			renew()
		case events.LicensePaymentOverdue:
			n.Title = fmt.Sprintf("Payment overdue for your %s license", d.Plan)
			n.Lines = []string{fmt.Sprintf("A payment for your %s license failed. The license keeps working until %s; after that it is suspended until the payment succeeds.", d.Plan, date(d.DunningEndsAt))}
			n.Facts = append(n.Facts, email.Fact{Label: "Suspended after", Value: date(d.DunningEndsAt)})
			n.ActionLabel, n.ActionURL = "Update payment details", base+"/portal/billing"
		case events.LicenseDunningSuspended:
			n.Title = fmt.Sprintf("Your %s license is suspended for non-payment", d.Plan)
			n.Lines = []string{"The payment is still overdue, so the license's installations no longer validate. Settle the payment to reactivate it."}
			n.ActionLabel, n.ActionURL = "Update payment details", base+"/portal/billing"
		}
	case CategoryUsage:
		var d events.UsageLimit
		if err := json.Unmarshal(in.Data, &d); err != nil {
			return "", n, err
		}
		if in.EventType == events.UsageLimitReached {
			n.Title = fmt.Sprintf("%s limit reached", d.Metric)
		} else {
			n.Title = fmt.Sprintf("%s at %d%% of its limit", d.Metric, percent(d.Used, d.Limit))
		}
		n.Lines = []string{fmt.Sprintf("You have used %d of your %d %s in the period ending %s.", d.Used, d.Limit, d.Metric, date(&d.PeriodEnd))}
		n.ActionLabel, n.ActionURL = "See usage", base+"/portal/licenses/"+d.LicenseID.String()
	case CategoryDeployments:
		var d events.Deployment
		if err := json.Unmarshal(in.Data, &d); err != nil {
			return "", n, err
		}
		name := d.ClientID
		if d.Hostname != "" {
			name = d.Hostname + " (" + d.ClientID + ")"
		}
		n.Title = "Installation " + name + " stopped checking in"
		n.Lines = []string{"It was last seen on " + d.LastSeenAt.UTC().Format(day+" at 15:04 UTC") +
			". If it was shut down for good, release its seat; otherwise check that it can reach the license server."}
		n.ActionLabel, n.ActionURL = "See installations", base+"/portal/licenses/"+d.LicenseID.String()
	default:
		return "", n, fmt.Errorf("no customer notice for %s", in.EventType)
	}
	return n.Title, n, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

func percent(used, limit int64) int64 {
	if limit <= 0 {
		return 100
	}
	return used * 100 / limit
}

// Render turns a notice into its text and HTML bodies.
func Render(ctx context.Context, n email.Notice) (text, htmlBody string, err error) {
	var h, t bytes.Buffer
	if err := email.HTML(n).Render(ctx, &h); err != nil {
		return "", "", err
	}
	if err := email.Text(n).Render(ctx, &t); err != nil {
		return "", "", err
	}
	// templ escapes for HTML and keeps the template's indentation.
	lines := strings.Split(html.UnescapeString(t.String()), "\n")
	for i, l := range lines {
		// Only the indentation: "-- " opens the signature and keeps its space.
		lines[i] = strings.TrimLeft(l, " \t")
	}
	if lines[len(lines)-1] != "" {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n"), h.String(), nil
}
