package admin

import "github.com/nectarcloud/nls/web/templates/components"

// FindingCard is one finding as the admin pages show it.
type FindingCard struct {
	ID, Kind, KindLabel, Severity, Status string
	Title, Summary, Method                string
	Customer, CustomerID, LicenseID, Plan string
	Revenue                               string // monthly revenue at stake, "" when unknown
	FirstSeen, LastSeen, DismissReason    string
	SuggestedPlan, ForecastDate           string
	Numbers                               []Number
	Deployments, IPs                      []string
	Chart                                 components.Spark
	CanAct                                bool // the admin may acknowledge or dismiss it (and it is not resolved)
}

// Number is one labelled figure of the evidence.
type Number struct{ Label, Value string }

// InsightsView is the Insights page: filters, findings, the next page.
type InsightsView struct {
	Kind, Severity, Status, Sort string
	Kinds, Severities, Statuses  []Option
	Findings                     []FindingCard
	NextURL                      string
	Counts                       []Number // active findings per severity
}

// FindingsSection is the findings part of a license or customer page.
type FindingsSection struct {
	Findings []FindingCard
	AllURL   string // the Insights page filtered to this license or customer
}

func join(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
