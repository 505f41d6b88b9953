// Package admin holds the admin portal's full pages (and the sign-in page
// every portal shares). Each page takes layouts.Page and one typed view
// model the handlers fill with display-ready strings.
package admin

import (
	"time"

	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/partials"
)

// LoginForm is the sign-in form as last submitted.
type LoginForm struct {
	Email string
	Next  string
	Error string
}

// StatusCount is one effective state and how many licenses are in it.
type StatusCount struct {
	State string
	Count int64
}

// AuditRow is one audit log entry.
type AuditRow struct {
	When   string    // UTC, for text exports and pages without a time
	At     time.Time // the same instant, shown in the viewer's time zone
	Actor  string
	Action string
	Entity string
	Href   string // the entity's page, when it has one
}

// Dashboard is the admin home.
type Dashboard struct {
	Statuses          []StatusCount
	Total             int64
	ExpiringSoon      int64
	ExpiringDays      int
	ActiveDeployments int64
	StaleDeployments  int64
	Validations       components.StackedBars
	ValidationsTotal  int64
	Stripe            StripeAttention
	Audit             []AuditRow
	FailedDeliveries  int64         // notices that failed for good in the last 7 days (license_lifecycle.templ)
	FindingCounts     []Number      // active findings per severity (insights.templ)
	Findings          []FindingCard // the latest active findings
}

// Option is one choice of a <select>.
type Option struct {
	Value, Label string
}

// LicensesPage is the license list with its filters.
type LicensesPage struct {
	Filter    partials.LicenseFilter
	Statuses  []Option
	Plans     []Option
	Customers []Option
	Expiring  []Option
	Results   partials.LicenseResults
}

// LicenseForm is the issue-a-license form as submitted, with its errors by field.
type LicenseForm struct {
	CustomerID     string
	Plan           string
	Features       string
	Limits         string
	MaxDeployments string
	ExpiresAt      string
	Notes          string
	Errors         map[string]string
	Customers      []Option
	Plans          []Option
}

// Err is the error of a field, "" when none.
func (f LicenseForm) Err(field string) string { return f.Errors[field] }

// LicenseIssued is shown once, right after issuing, with the new key.
type LicenseIssued struct {
	ID           string
	Key          string
	CustomerName string
	Plan         string
}

// UsageLine is one limited metric in the current period.
type UsageLine struct {
	Metric   string
	Label    string // what the plan calls the metric, or its display name
	Used     int64
	Limit    int64
	Exceeded bool
}

// ValidationRow is one day's validations of one code.
type ValidationRow struct {
	Day   string
	Code  string
	Count int64
}

// LicenseDetail is everything the license page shows.
type LicenseDetail struct {
	Header         partials.LicenseHeader
	Findings       FindingsSection
	Features       []string
	Limits         []UsageLine
	MaxDeployments string
	Downloads      string // release files downloaded with this license
	// SeatOverage is the peak of seats held beyond maxDeployments this
	// month, e.g. "5 of 4 (1 over)"; "" when the license was never over.
	SeatOverage string
	UsagePeriod string
	Deployments partials.Deployments
	Validations []ValidationRow
	Audit       []AuditRow
	RevealedKey string
	Lifecycle   LicenseLifecycle // license_lifecycle.templ
	PlanChange  partials.PlanChange
	Policy      partials.PolicyForm
	UsageCharts []UsageChart // each limited metric this period, as the customer sees it
}

// UsageChart is one limited metric's usage this period against its limit.
type UsageChart struct {
	Metric string
	Label  string // what the plan calls the metric, or its display name
	Note   string // "running total this period" or "highest each day"
	Chart  components.StackedBars
}
