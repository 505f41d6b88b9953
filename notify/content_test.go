package notify_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/notify"
)

// Every event type that is emailed composes a notice with its subject and
// links; the text body is plain text (no HTML escapes) and the HTML body
// escapes what customers typed.
func TestEveryCustomerNoticeComposes(t *testing.T) {
	exp := time.Date(2030, 3, 8, 12, 0, 0, 0, time.UTC)
	grace := exp.AddDate(0, 0, 7)
	days := 7
	lic := uuid.New()
	milestone, _ := json.Marshal(events.Milestone{LicenseID: lic, Plan: "pro", ExpiresAt: &exp, GraceEndsAt: &grace,
		DaysBefore: &days, DunningEndsAt: &grace})
	usage, _ := json.Marshal(events.UsageLimit{LicenseID: lic, Metric: "apiCalls", Used: 85, Limit: 100, PeriodEnd: exp})
	dep, _ := json.Marshal(events.Deployment{LicenseID: lic, ClientID: "node-1", Hostname: "build <1>", LastSeenAt: exp})
	cases := map[string]struct {
		data    []byte
		subject string
		link    string
	}{
		events.LicenseExpiringSoon:     {milestone, "Your pro license expires in 7 days", "/portal/licenses/" + lic.String() + "/renew"},
		events.LicenseGraceStarted:     {milestone, "Your pro license has expired: grace period until 15 March 2030", "/portal/licenses/" + lic.String() + "/renew"},
		events.LicenseGraceEnding:      {milestone, "The grace period of your pro license ends on 15 March 2030", "/portal/licenses/" + lic.String() + "/renew"},
		events.LicenseExpired:          {milestone, "Your pro license has expired", "/portal/licenses/" + lic.String() + "/renew"},
		events.LicensePaymentOverdue:   {milestone, "Payment overdue for your pro license", "/portal/billing"},
		events.LicenseDunningSuspended: {milestone, "Your pro license is suspended for non-payment", "/portal/billing"},
		events.UsageLimitNear:          {usage, "apiCalls at 85% of its limit", "/portal/licenses/" + lic.String()},
		events.UsageLimitReached:       {usage, "apiCalls limit reached", "/portal/licenses/" + lic.String()},
		events.DeploymentStale:         {dep, "Installation build <1> (node-1) stopped checking in", "/portal/licenses/" + lic.String()},
	}
	for _, spec := range events.Catalogue {
		c, emailed := cases[spec.Type]
		if (notify.CategoryOf(spec.Type) != "") != emailed {
			t.Errorf("%s: emailed %v, want %v", spec.Type, notify.CategoryOf(spec.Type) != "", emailed)
			continue
		}
		if !emailed {
			continue
		}
		t.Run(spec.Type, func(t *testing.T) {
			subject, n, err := notify.Compose(notify.NoticeInput{EventType: spec.Type, Data: c.data,
				CustomerName: "O'Brien & Sons", BaseURL: "https://nls.example/", UnsubscribeURL: "https://nls.example/unsubscribe/x"})
			if err != nil {
				t.Fatal(err)
			}
			if subject != c.subject {
				t.Fatalf("subject %q, want %q", subject, c.subject)
			}
			text, html, err := notify.Render(context.Background(), n)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text, "https://nls.example"+c.link) || !strings.Contains(html, `href="https://nls.example`+c.link) {
				t.Errorf("no link to %s:\n%s", c.link, text)
			}
			if !strings.Contains(text, "O'Brien & Sons") || strings.Contains(text, "&amp;") || strings.Contains(text, "&#39;") {
				t.Errorf("text body escapes or loses the customer's name:\n%s", text)
			}
			if !strings.Contains(html, "O&#39;Brien &amp; Sons") {
				t.Errorf("HTML body does not escape the customer's name")
			}
			if !strings.Contains(text, "Unsubscribe: https://nls.example/unsubscribe/x") {
				t.Errorf("text body lacks the unsubscribe link:\n%s", text)
			}
		})
	}
}
