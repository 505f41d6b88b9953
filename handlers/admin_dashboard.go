package handlers

import (
	"context"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
)

const chartDays = 14

// dashboardExpiringDays is how far ahead "expiring soon" looks, as in the
// dashboard API.
const dashboardExpiringDays = 30

// dashboardFindings is how many of the latest active findings the dashboard lists.
const dashboardFindings = 5

// dashboardStripeEvents is how many of the Stripe events needing attention
// the dashboard lists.
const dashboardStripeEvents = 5

// adminDashboard handles GET /admin: licenses by effective status, those
// expiring soon, deployments by freshness, validations per day, the Stripe
// events needing attention and the latest audit events. The reads are
// independent, so they run side by side on the pool: the page takes as long
// as the slowest, not their sum.
func (s *Server) adminDashboard(c *fiber.Ctx) error {
	s.flushStats(c)
	ctx, now := c.UserContext(), s.now()
	soon := now.AddDate(0, 0, dashboardExpiringDays)
	v := admin.Dashboard{ExpiringDays: dashboardExpiringDays}
	var (
		byState []db.CountLicensesByEffectiveStatusRow
		deps    db.CountDeploymentsByFreshnessRow
		audit   []db.AuditLog
		stripe  []db.ListStripeEventsNeedingAttentionRow
	)
	err := concurrently(
		func() (err error) {
			byState, err = s.store.CountLicensesByEffectiveStatus(ctx, now)
			return err
		},
		func() (err error) {
			v.ExpiringSoon, err = s.store.CountExpiringBetween(ctx, db.CountExpiringBetweenParams{FromTime: &now, ToTime: &soon})
			return err
		},
		func() (err error) {
			deps, err = s.store.CountDeploymentsByFreshness(ctx, now)
			return err
		},
		func() (err error) {
			v.Validations, v.ValidationsTotal, err = s.validationChart(ctx, now)
			return err
		},
		func() (err error) {
			audit, err = s.store.ListAudit(ctx, db.ListAuditParams{MaxRows: 10})
			return err
		},
		// Reads only the needs_attention and failed ranges of the status
		// index: few rows, however many events were processed.
		func() (err error) {
			stripe, err = s.store.ListStripeEventsNeedingAttention(ctx, dashboardStripeEvents)
			return err
		},
		func() (err error) {
			v.FailedDeliveries, err = s.store.CountFailedNotificationsSince(ctx, now.AddDate(0, 0, -7))
			return err
		},
		func() (err error) {
			v.FindingCounts, err = s.severityCounts(ctx)
			return err
		},
		func() error {
			active := "active"
			rows, err := s.store.ListFindings(ctx, db.FindingFilter{Status: &active, MaxRows: dashboardFindings})
			v.Findings = findingCards(rows, false)
			return err
		},
	)
	if err != nil {
		return err
	}
	counts := map[string]int64{}
	for _, r := range byState {
		counts[r.State] = r.Count
		v.Total += r.Count
	}
	for _, st := range effectiveStates {
		v.Statuses = append(v.Statuses, admin.StatusCount{State: st, Count: counts[st]})
	}
	v.ActiveDeployments, v.StaleDeployments = deps.Active, deps.Stale
	v.Audit = auditRows(audit)
	for _, e := range stripe {
		v.Stripe.NeedsAttention, v.Stripe.Failed = e.NeedsAttention, e.Failed
		v.Stripe.Latest = append(v.Stripe.Latest, stripeEventRow(e.ID, e.Type, e.Status, e.Error,
			fmtDateTime(e.ReceivedAt), nil, nil, nil))
	}
	return s.render(c, admin.DashboardPage(s.page(c, "Dashboard"), v))
}

// concurrently runs each function in its own goroutine and returns the
// first error once all have finished.
func concurrently(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// validationChart is validations per UTC day for the last chartDays days,
// split into answers that let the product run and those that refused it.
func (s *Server) validationChart(ctx context.Context, now time.Time) (components.StackedBars, int64, error) {
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	from := today.AddDate(0, 0, -(chartDays - 1))
	rows, err := s.store.ValidationsPerDay(ctx, from)
	if err != nil {
		return components.StackedBars{}, 0, err
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
