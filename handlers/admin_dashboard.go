package handlers

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
)

const chartDays = 14

// adminDashboard handles GET /admin: the same overview as the dashboard
// API, plus validations per day and the latest audit events.
func (s *Server) adminDashboard(c *fiber.Ctx) error {
	s.flushStats(c)
	d, err := s.loadDashboard(c)
	if err != nil {
		return err
	}
	v := admin.Dashboard{Total: d.LicensesTotal, ExpiringSoon: d.ExpiringSoon, ExpiringDays: d.ExpiringWithinDays,
		ActiveDeployments: d.ActiveDeployments, StaleDeployments: d.StaleDeployments}
	for _, st := range effectiveStates {
		v.Statuses = append(v.Statuses, admin.StatusCount{State: st, Count: d.Licenses[st]})
	}
	if v.Validations, v.ValidationsTotal, err = s.validationChart(c); err != nil {
		return err
	}
	audit, err := s.store.Q.ListAudit(c.UserContext(), db.ListAuditParams{MaxRows: 10})
	if err != nil {
		return db.Translate(err)
	}
	v.Audit = auditRows(audit)
	return s.render(c, admin.DashboardPage(s.page(c, "Dashboard"), v))
}

// validationChart is validations per UTC day for the last chartDays days,
// split into answers that let the product run and those that refused it.
func (s *Server) validationChart(c *fiber.Ctx) (components.StackedBars, int64, error) {
	now := s.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	from := today.AddDate(0, 0, -(chartDays - 1))
	rows, err := s.store.Q.ValidationsPerDay(c.UserContext(), from)
	if err != nil {
		return components.StackedBars{}, 0, db.Translate(err)
	}
	chart := components.StackedBars{Title: "Validations per day over the last 14 days, valid and refused",
		Series: []components.Series{
			{Name: "Valid", Fill: components.ChartFillGood, Values: make([]int64, chartDays)},
			{Name: "Refused", Fill: components.ChartFillBad, Values: make([]int64, chartDays)},
		}}
	for i := range chartDays {
		chart.Labels = append(chart.Labels, from.AddDate(0, 0, i).Format("Jan 2"))
	}
	var total int64
	for _, r := range rows {
		i := int(r.Day.UTC().Sub(from).Hours() / 24)
		if i < 0 || i >= chartDays {
			continue
		}
		series := 1
		if licensing.ValidationCode(r.Code).Valid() {
			series = 0
		}
		chart.Series[series].Values[i] += r.Count
		total += r.Count
	}
	return chart, total, nil
}
