// Findings in the customer portal: only the kinds meant for customers (limit
// forecasts and upgrade suggestions), open or acknowledged (a finding staff
// dismissed is not shown), worded for the customer, with a link to billing.

package handlers

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/insights"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/portal"
)

// customerKinds are the kinds of finding the customer portal shows.
func customerKinds() []string {
	var out []string
	for _, k := range insights.Kinds {
		if k.Customer {
			out = append(out, string(k.Kind))
		}
	}
	return out
}

// portalAdvice lists the customer's advice, for one license or all of theirs.
func (s *Server) portalAdvice(c *fiber.Ctx, customer uuid.UUID, license *uuid.UUID) ([]portal.Advice, error) {
	active := "active"
	rows, err := s.store.ListFindings(c.UserContext(), db.FindingFilter{CustomerID: &customer, LicenseID: license,
		Kinds: customerKinds(), Status: &active, MaxRows: 20})
	if err != nil {
		return nil, err
	}
	out := make([]portal.Advice, 0, len(rows))
	for _, r := range rows {
		out = append(out, s.adviceOf(r))
	}
	return out, nil
}

// adviceOf words a finding for the customer: what we see, and what they can do.
func (s *Server) adviceOf(f db.FindingRow) portal.Advice {
	var ev insights.Evidence
	_ = json.Unmarshal(f.Evidence, &ev)
	a := portal.Advice{Kind: f.Kind}
	if f.LicenseID != nil {
		a.LicenseID = f.LicenseID.String()
		a.LinkURL, a.LinkLabel = "/portal/licenses/"+a.LicenseID, "Open the license"
	}
	if s.billingOffered() {
		a.LinkURL, a.LinkLabel = "/portal/billing", "Review plans and billing"
	}
	metric := components.MetricName(ev.Metric)
	switch insights.Kind(f.Kind) {
	case insights.KindForecast:
		when := "soon"
		if ev.ForecastDate != nil {
			when = "around " + ev.ForecastDate.UTC().Format("2 January 2006")
		}
		limit := ""
		if ev.Limit != nil {
			limit = " of " + components.MetricValue(ev.Metric, int64(*ev.Limit))
		}
		a.Title = fmt.Sprintf("%s is on course to reach its limit %s", metric, when)
		a.Text = fmt.Sprintf("At its growth over the last two months, %s will reach your %s plan's limit%s %s. "+
			"To keep working without interruption, consider more room before then.", strings.ToLower(metric), f.Plan, limit, when)
		if len(ev.Series) > 1 {
			sp := components.Spark{Title: metric + ", daily", Limit: ev.Limit,
				First: ev.Series[0].At.UTC().Format("2 Jan"), Last: ev.Series[len(ev.Series)-1].At.UTC().Format("2 Jan")}
			for _, p := range ev.Series {
				sp.Values = append(sp.Values, p.V)
			}
			a.Chart = sp
		}
	case insights.KindUpgrade:
		a.Title = "You are close to your plan's limits"
		a.Text = fmt.Sprintf("Your %s plan has run at 80 %% or more of its limits for most of the recent periods.", f.Plan)
		if ev.SuggestedPlan != "" {
			a.Text += fmt.Sprintf(" The %s plan would give you room to grow.", ev.SuggestedPlan)
		} else {
			a.Text += " Talk to us about a plan that fits."
		}
	default:
		a.Title, a.Text = f.Title, ev.Summary
	}
	return a
}
