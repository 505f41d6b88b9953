// The staff's notice about an outbound webhook endpoint that was disabled.

package notify

import (
	"encoding/json"
	"strings"

	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/web/templates/email"
)

// CategoryWebhooks is the staff's notices about webhook endpoints.
const CategoryWebhooks = "webhooks"

// StaffCategoryOf is the category of the staff notice an event type makes,
// or "" when the staff are not emailed about it one by one.
func StaffCategoryOf(eventType string) string {
	if eventType == events.WebhookEndpointDisabled {
		return CategoryWebhooks
	}
	return ""
}

// ComposeWebhookDisabled writes the staff's notice of a disabled endpoint.
func ComposeWebhookDisabled(data json.RawMessage, baseURL string) (string, email.Notice, error) {
	var d events.WebhookEndpoint
	if err := json.Unmarshal(data, &d); err != nil {
		return "", email.Notice{}, err
	}
	base := strings.TrimRight(baseURL, "/")
	n := email.Notice{Greeting: "Hello,",
		Reason:      "You receive this notice as a member of the licensing staff (NLS_STAFF_EMAILS).",
		Title:       "Webhook endpoint disabled: " + d.URL,
		ActionLabel: "Open the endpoint", ActionURL: base + "/admin/webhooks/" + d.EndpointID.String()}
	n.Lines = []string{"NLS stopped delivering events to this endpoint: " + d.Reason + ".",
		"Events keep being recorded. Once the receiver works again, enable the endpoint and replay the events since it failed."}
	n.Facts = []email.Fact{{Label: "Endpoint", Value: d.URL}, {Label: "Reason", Value: d.Reason}}
	if d.FailingSince != nil {
		n.Facts = append(n.Facts, email.Fact{Label: "Failing since", Value: d.FailingSince.UTC().Format("2 January 2006 15:04 UTC")})
	}
	return n.Title, n, nil
}
