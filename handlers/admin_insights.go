// The admin portal's insights: the Insights page (filters by kind, severity
// and status; sort by revenue at stake), the findings box of the dashboard,
// the findings section of license and customer pages, and the actions
// acknowledge and dismiss (with a reason).

package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/insights"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
)

// kindLabel names a kind of finding.
func kindLabel(k string) string {
	if s, ok := insights.LookupKind(k); ok {
		return s.Label
	}
	return k
}

// numberLabels turn evidence numbers into words; others show their key.
var numberLabels = map[string]string{
	"fingerprints": "Machines", "seats": "Seats", "sharedDeployments": "Shared deployment ids",
	"maxFingerprintsPerDeployment": "Most machines on one id", "releases": "Releases (7 days)",
	"activations": "Activations (7 days)", "perDay": "Changes a day", "total": "Failures (24 hours)",
	"peakHour": "Most in one hour", "hours": "Hours with failures", "sources": "Addresses", "value": "Value",
	"expected": "Expected", "score": "Robust score", "reports": "Reports", "seatsUsed": "Seats in use",
	"refusedInstallations": "Installations refused (30 days)", "seatsSeen": "Deployments seen (60 days)",
	"declinePercent": "Decline (%)", "p": "p-value", "slopePerDay": "Growth a day", "r2": "R²",
	"daysAhead": "Days ahead", "limit": "Limit", "current": "Current (fitted)",
}

func money(cents int64) string {
	return fmt.Sprintf("$%s.%02d", components.FormatFloat(float64(cents/100)), cents%100)
}

// findingCard turns a stored finding into what the pages show.
func findingCard(f db.FindingRow, canAct bool) admin.FindingCard {
	var ev insights.Evidence
	_ = json.Unmarshal(f.Evidence, &ev)
	card := admin.FindingCard{ID: f.ID.String(), Kind: f.Kind, KindLabel: kindLabel(f.Kind), Severity: f.Severity,
		Status: f.Status, Title: f.Title, Summary: ev.Summary, Method: ev.Method, Customer: f.CustomerName, Plan: f.Plan,
		FirstSeen: fmtDateTime(f.FirstSeenAt), LastSeen: fmtDateTime(f.LastSeenAt), SuggestedPlan: ev.SuggestedPlan,
		Deployments: ev.Deployments, IPs: ev.IPs, CanAct: canAct && f.Status != "resolved"}
	if f.CustomerID != nil {
		card.CustomerID = f.CustomerID.String()
	}
	if f.LicenseID != nil {
		card.LicenseID = f.LicenseID.String()
	}
	if f.RevenueCents != nil {
		card.Revenue = money(*f.RevenueCents)
	}
	if f.DismissReason != nil {
		card.DismissReason = *f.DismissReason
	}
	if ev.ForecastDate != nil {
		card.ForecastDate = ev.ForecastDate.UTC().Format("2 January 2006")
	}
	keys := make([]string, 0, len(ev.Numbers))
	for k := range ev.Numbers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		label := numberLabels[k]
		if label == "" {
			label = k
		}
		card.Numbers = append(card.Numbers, admin.Number{Label: label, Value: components.FormatFloat(ev.Numbers[k])})
	}
	if len(ev.Series) > 1 {
		sp := components.Spark{Title: f.Title, Limit: ev.Limit}
		for _, p := range ev.Series {
			sp.Values = append(sp.Values, p.V)
		}
		layout := "2 Jan"
		if f.Kind == string(insights.KindKeyAttack) {
			layout = "2 Jan 15:04"
		}
		sp.First, sp.Last = ev.Series[0].At.UTC().Format(layout), ev.Series[len(ev.Series)-1].At.UTC().Format(layout)
		card.Chart = sp
	}
	return card
}

func (s *Server) canActOnFindings(c *fiber.Ctx) bool {
	return s.account(c).adminRole.Allows(licensing.PermInsightsWrite)
}

func findingCards(rows []db.FindingRow, canAct bool) []admin.FindingCard {
	out := make([]admin.FindingCard, 0, len(rows))
	for _, r := range rows {
		out = append(out, findingCard(r, canAct))
	}
	return out
}

// severityCounts are the active findings per severity, most severe first.
func (s *Server) severityCounts(ctx context.Context) ([]admin.Number, error) {
	counts, err := s.store.CountActiveFindings(ctx)
	if err != nil {
		return nil, err
	}
	var out []admin.Number
	for i := len(insights.Severities) - 1; i >= 0; i-- {
		sev := string(insights.Severities[i])
		out = append(out, admin.Number{Label: sev, Value: fmt.Sprint(counts[sev])})
	}
	return out, nil
}

// adminInsights handles GET /admin/insights?kind=&severity=&status=&sort=&cursor=.
func (s *Server) adminInsights(c *fiber.Ctx) error {
	f, err := parseFindingFilter(c)
	if err != nil {
		return err
	}
	p, err := parseListPage(c, 25)
	if err != nil {
		return err
	}
	v := admin.InsightsView{Kind: strings.Clone(c.Query("kind")), Severity: strings.Clone(c.Query("severity")),
		Status: strings.Clone(c.Query("status")), Sort: strings.Clone(c.Query("sort"))}
	for _, k := range insights.Kinds {
		v.Kinds = append(v.Kinds, admin.Option{Value: string(k.Kind), Label: k.Label})
	}
	for _, sev := range insights.Severities {
		v.Severities = append(v.Severities, admin.Option{Value: string(sev), Label: string(sev)})
	}
	for _, st := range findingStatuses {
		label := st
		if st == "active" {
			label = "active (open or acknowledged)"
		}
		v.Statuses = append(v.Statuses, admin.Option{Value: st, Label: label})
	}
	pg, err := s.findingPage(c, f, p)
	if err != nil {
		return err
	}
	v.Findings = findingCards(pg.Rows, s.canActOnFindings(c))
	if pg.Next != nil {
		q := url.Values{}
		for k, val := range map[string]string{"kind": v.Kind, "severity": v.Severity, "status": v.Status, "sort": v.Sort,
			"licenseId": c.Query("licenseId"), "customerId": c.Query("customerId")} {
			if val != "" {
				q.Set(k, val)
			}
		}
		q.Set("cursor", *encodeCursor(*pg.Next))
		v.NextURL = withQuery("/admin/insights", q)
	}
	if v.Counts, err = s.severityCounts(c.UserContext()); err != nil {
		return err
	}
	return s.render(c, admin.InsightsPage(s.page(c, "Insights"), v))
}

// findingsSection is the findings part of a license or customer page: the
// active and dismissed ones (resolved ones are on the Insights page).
func (s *Server) findingsSection(c *fiber.Ctx, license, customer *uuid.UUID) (admin.FindingsSection, error) {
	f := db.FindingFilter{LicenseID: license, CustomerID: customer, MaxRows: 20}
	rows, err := s.store.ListFindings(c.UserContext(), f)
	if err != nil {
		return admin.FindingsSection{}, err
	}
	shown := rows[:0]
	for _, r := range rows {
		if r.Status != "resolved" {
			shown = append(shown, r)
		}
	}
	out := admin.FindingsSection{Findings: findingCards(shown, s.canActOnFindings(c))}
	if license != nil {
		out.AllURL = "/admin/insights?licenseId=" + license.String()
	} else if customer != nil {
		out.AllURL = "/admin/insights?customerId=" + customer.String()
	}
	return out, nil
}

// adminAcknowledgeFinding handles POST /admin/findings/:id/acknowledge.
func (s *Server) adminAcknowledgeFinding(c *fiber.Ctx) error {
	return s.setFindingStatus(c, "acknowledged")
}

// adminDismissFinding handles POST /admin/findings/:id/dismiss (reason).
func (s *Server) adminDismissFinding(c *fiber.Ctx) error { return s.setFindingStatus(c, "dismissed") }

func (s *Server) setFindingStatus(c *fiber.Ctx, status string) error {
	id, err := parseUUID(c.Params("id"), "finding")
	if err != nil {
		return err
	}
	reason := strings.TrimSpace(strings.Clone(c.FormValue("reason")))
	f, err := s.store.SetFindingStatus(c.UserContext(), s.adminActor(c), id, status, reason, s.now())
	if err != nil {
		return err
	}
	s.setFlash(c, components.ToastSuccess, "Finding "+status+": "+f.Title+".")
	back := "/admin/insights"
	if f.LicenseID != nil {
		back = "/admin/licenses/" + f.LicenseID.String()
	}
	// Back where the admin acted, if that was an admin page.
	if ref := c.Get(fiber.HeaderReferer); ref != "" {
		if u, err := url.Parse(ref); err == nil && strings.HasPrefix(u.Path, "/admin/") {
			back = withQuery(u.Path, u.Query())
		}
	}
	return redirect(c, back)
}
