// What staff alerts about findings say: the immediate email of one
// finding.opened, for the admins whose preferences ask for it.

package notify

import (
	"encoding/json"
	"strings"

	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/web/templates/email"
)

// CategoryInsights is the category of staff alerts about findings; staff
// change it in their account's alert preferences, not by unsubscribing.
const CategoryInsights = "insights"

// ComposeFindingAlert writes the staff alert of a finding.opened event.
func ComposeFindingAlert(data json.RawMessage, customerName, baseURL string) (string, email.Notice, error) {
	var d events.Finding
	if err := json.Unmarshal(data, &d); err != nil {
		return "", email.Notice{}, err
	}
	base := strings.TrimRight(baseURL, "/")
	n := email.Notice{Greeting: "Hello,",
		Reason: "You receive this alert because your NLS account's insight alerts ask for " + d.Severity +
			" findings of this kind at once. Change that on your account page: " + base + "/admin/account#alerts"}
	n.Title = "[" + d.Severity + "] " + d.Title
	if customerName != "" {
		n.Title += " (" + customerName + ")"
	}
	n.Lines = []string{"The insights detectors opened a finding of kind " + d.Kind + "."}
	n.Facts = []email.Fact{{Label: "Kind", Value: d.Kind}, {Label: "Severity", Value: d.Severity},
		{Label: "First seen", Value: d.FirstSeenAt.UTC().Format(day + " 15:04 UTC")}}
	if customerName != "" {
		n.Facts = append(n.Facts, email.Fact{Label: "Customer", Value: customerName})
	}
	n.ActionLabel, n.ActionURL = "Open the finding", base+"/admin/insights?kind="+d.Kind
	if d.LicenseID != nil {
		n.ActionURL = base + "/admin/licenses/" + d.LicenseID.String() + "#insights"
	}
	return n.Title, n, nil
}
