// Package portal holds the customer portal's full pages: the overview of a
// customer's licenses, a license with its key, deployments, usage and
// offline activation, the customer's activity and billing. Each page takes
// layouts.Page (with Customer set) and one typed view model the handlers
// fill with display-ready strings.
package portal

import (
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/partials"
)

// Notice kinds: how loud a license notice is.
const (
	NoticeInfo    = "info"
	NoticeWarning = "warning"
	NoticeDanger  = "danger"
)

// Notice is a sentence about a license that needs attention: a grace
// period or an overdue payment and when it ends, a suspension, an expiry.
type Notice struct {
	Kind string
	Text string
}

// UsageLine is one limited metric in the current period.
type UsageLine struct {
	Metric   string
	Label    string // what the plan calls the metric, or its display name
	Used     int64
	Limit    int64
	Percent  int64 // of the limit, not capped (the bar is)
	Exceeded bool
}

// LicenseSummary is a license as the overview lists it and its page heads it.
type LicenseSummary struct {
	ID          string
	ShortID     string
	Plan        string // the plan's name
	PlanCode    string
	Status      string // effective state
	ExpiresAt   string // "Never" for perpetual licenses
	Seats       string // "1 of 2 in use"
	Notices     []Notice
	UsagePeriod string // "2026-11-01 to 2026-12-01"
	Usage       []UsageLine
}

// Overview is the portal's home: every license of the customer.
type Overview struct {
	Advice       []Advice
	CustomerName string
	Licenses     []LicenseSummary
	Truncated    bool // more licenses than the page lists
}

// Limit is one limit of a license.
type Limit = components.Limit

// UsageChart is one limited metric's usage over the current period.
type UsageChart struct {
	Metric string
	Label  string // what the plan calls the metric, or its display name
	Kind   string // "counter" (cumulative) or "gauge" (daily peak)
	Chart  components.StackedBars
}

// OfflineForm is the offline activation form, as last submitted.
type OfflineForm struct {
	DeploymentID string
	Hostname     string
	Error        string
	Field        string // the field the error is about, "" for the whole form
	Days         int    // the plan's offline window
	Unavailable  string // why no file can be issued now; "" when one can
}

// LicenseDetail is everything the license page shows.
type LicenseDetail struct {
	Advice         []Advice
	Summary        LicenseSummary
	StartsAt       string
	GraceDays      int
	Features       []string
	Limits         []Limit
	MaxDeployments string
	Downloads      string // release files downloaded with this license
	Key            partials.PortalKey
	Deployments    partials.PortalDeployments
	Charts         []UsageChart
	Offline        OfflineForm
	Activity       []partials.PortalActivityRow // the latest entries about this license
}

// Sections of the license page that fetch themselves again after an action
// (HX-Trigger), as the admin license page's do.
const (
	LicenseHeaderID   = "portal-license-header"
	LicenseActivityID = "portal-license-activity"
)

// LicenseActivityTrigger is every event the activity section follows.
const LicenseActivityTrigger = partials.EventLicenseChanged + " from:body, " + partials.EventDeploymentsChanged +
	" from:body, " + partials.EventKeyRevealed + " from:body"

// SectionURL is where a section of the customer's license page fetches itself.
func SectionURL(licenseID, section string) string {
	return "/portal/licenses/" + licenseID + "/sections/" + section
}

// Activity is the customer's activity page.
type Activity struct {
	Results partials.PortalActivity
}

// Billing is the billing page: a button to Stripe's billing portal, or why
// there is none.
type Billing struct {
	Configured  bool   // the vendor set up Stripe
	HasCustomer bool   // this customer is known to Stripe
	Error       string // opening the billing portal failed
}

// Advice is a finding meant for the customer (a limit forecast, an upgrade
// suggestion), worded for them.
type Advice struct {
	Kind, Title, Text string
	LicenseID         string
	LinkURL           string
	LinkLabel         string
	Chart             components.Spark
}
