package handlers

// The admin usage page: one metric's daily totals across every customer
// over a range, the customers using the most of it, and the limited
// metrics near or over their limit in the current period. Metric and range
// live in the URL; under HTMX a change swaps only the metric's results.

import (
	"context"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
	"github.com/nectarcloud/nls/web/templates/partials"
)

const (
	usageDefaultDays = 30
	usageTopRows     = 10
	// usageNearPercent is the share of a limit from which a metric counts
	// as near it: ListUsageNearLimits's, fixed by the rollup it reads
	// (usage_near_limit in migration 00007).
	usageNearPercent = 80
	usageNearRows    = 50
	// usageNearCountCap is as far as the page counts them: beyond it, it
	// says "more than".
	usageNearCountCap = 1000
)

// usageRanges are the ranges the page offers, in days back from today.
var usageRanges = []int{7, 30, 90}

// adminUsage handles GET /admin/usage?metric=&days=: the whole page, or
// under HTMX only the chosen metric's results. A filter that cannot be read
// is shown in place (and answers 422 to a full load).
func (s *Server) adminUsage(c *fiber.Ctx) error {
	ctx, now := c.UserContext(), s.now()
	f := partials.UsageFilter{Metric: strings.Clone(c.Query("metric")), Days: strings.Clone(c.Query("days"))}
	metrics, err := s.store.ListUsageMetrics(ctx)
	if err != nil {
		return err
	}
	var (
		res    partials.UsageResults
		resErr error
		v      = admin.Usage{NearPercent: usageNearPercent}
	)
	err = concurrently(
		func() error {
			res, resErr = s.usageResults(ctx, &f, metrics, now) // a filter refused is shown in place
			return nil
		},
		func() error {
			if wantsPartial(c) { // the limits are not part of the swap
				return nil
			}
			return s.usageNearLimits(ctx, now, &v)
		},
	)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if resErr != nil {
		if licensing.ErrorCode(resErr) != licensing.EINVALID {
			return resErr
		}
		res.Error, status = problemText(resErr), fiber.StatusUnprocessableEntity
	}
	return s.renderSwap(c, status, partials.UsageList(res), func() (templ.Component, error) {
		v.Filter, v.Results = f, res
		for _, m := range metrics {
			v.Metrics = append(v.Metrics, admin.Option{Value: m, Label: m})
		}
		if f.Metric != "" && !slices.Contains(metrics, f.Metric) {
			v.Metrics = append(v.Metrics, admin.Option{Value: f.Metric, Label: f.Metric + " (none reported)"})
		}
		for _, d := range usageRanges {
			v.Ranges = append(v.Ranges, admin.Option{Value: strconv.Itoa(d), Label: "Last " + strconv.Itoa(d) + " days"})
		}
		return admin.UsagePage(s.page(c, "Usage"), v), nil
	})
}

// usageResults reads the filter (filling in the defaults: the first metric,
// the last 30 days) and gathers the metric's daily totals and top consumers.
func (s *Server) usageResults(ctx context.Context, f *partials.UsageFilter, metrics []string, now time.Time) (partials.UsageResults, error) {
	var res partials.UsageResults
	days, err := parseUsageFilter(f, metrics)
	if err != nil || f.Metric == "" {
		res.NoMetrics = err == nil
		return res, err
	}
	to := utcDay(now)
	from := to.AddDate(0, 0, -(days - 1))
	kind := licensing.MetricKindOf(f.Metric)
	res = partials.UsageResults{Metric: f.Metric, Kind: string(kind), From: from.Format(dateFormat),
		To: to.Format(dateFormat), CSVURL: withQuery("/admin/usage.csv",
			url.Values{"from": {from.Format(dateFormat)}, "to": {to.Format(dateFormat)}})}
	var (
		perDay []db.UsageTotalsPerDayRow
		top    []db.UsageConsumer
	)
	err = concurrently(
		func() (err error) {
			perDay, err = s.store.UsageTotalsPerDay(ctx, db.UsageTotalsPerDayParams{Metric: f.Metric, FromDay: from, ToDay: to})
			return err
		},
		func() (err error) {
			top, err = s.store.TopUsageCustomers(ctx, f.Metric, from, to, usageTopRows)
			return err
		},
	)
	if err != nil {
		return res, err
	}
	res.Chart, res.Total, res.HasUsage = usageChart(f.Metric, kind, from, days, perDay)
	for _, t := range top {
		res.Top = append(res.Top, partials.UsageConsumer{CustomerID: t.CustomerID.String(), CustomerName: t.CustomerName,
			Total: strconv.FormatInt(t.Total, 10)})
	}
	return res, nil
}

// parseUsageFilter checks the filter and fills in its defaults; it answers
// the range in days. No metric (and no error) when none was ever reported.
func parseUsageFilter(f *partials.UsageFilter, metrics []string) (int, error) {
	var pr licensing.Problems
	days := usageDefaultDays
	if f.Days == "" {
		f.Days = strconv.Itoa(days)
	} else if n, err := strconv.Atoi(f.Days); err != nil || !slices.Contains(usageRanges, n) {
		pr.Add("days", "must be 7, 30 or 90")
	} else {
		days = n
	}
	switch {
	case f.Metric == "" && len(metrics) > 0:
		f.Metric = metrics[0]
	case f.Metric != "" && !licensing.ValidMetricName(f.Metric):
		pr.Add("metric", "is not a metric name ([a-zA-Z][a-zA-Z0-9_.]{0,63})")
	}
	return days, pr.Err()
}

// usageChart draws a metric's daily totals, one bar per day of the range
// (days without usage at 0), and sums them up: counters over the range,
// gauges as the highest day.
func usageChart(metric string, kind licensing.MetricKind, from time.Time, days int, rows []db.UsageTotalsPerDayRow) (components.StackedBars, string, bool) {
	what := "total"
	if kind == licensing.Gauge {
		what = "sum of each license's highest value of the day"
	}
	last := from.AddDate(0, 0, days-1)
	chart := components.StackedBars{
		Title: components.MetricName(metric) + " per day across all customers (" + what + "), " + from.Format("Jan 2") +
			" to " + last.Format("Jan 2"),
		Series: []components.Series{{Name: components.MetricName(metric), Fill: components.ChartFillNeutral, Values: make([]int64, days)}},
		Metric: metric}
	for i := range days {
		chart.Labels = append(chart.Labels, from.AddDate(0, 0, i).Format("Jan 2"))
	}
	var total int64
	for _, r := range rows {
		i := int(utcDay(r.Day).Sub(from).Hours() / 24)
		if i < 0 || i >= days {
			continue
		}
		chart.Series[0].Values[i] = r.Value
		if kind == licensing.Gauge {
			total = max(total, r.Value)
		} else {
			total = min(total, math.MaxInt64-r.Value) + r.Value // saturates rather than wraps
		}
	}
	return chart, strconv.FormatInt(total, 10), len(rows) > 0
}

// usageNearLimits fills in the limited metrics at usageNearPercent of their
// limit or more in each license's current period, the fullest first, and
// how many there are (counted up to usageNearCountCap).
func (s *Server) usageNearLimits(ctx context.Context, now time.Time, v *admin.Usage) error {
	monthStart, monthEnd := licensing.MonthPeriod(now)
	v.MonthPeriod = fmtDate(&monthStart) + " to " + fmtDate(&monthEnd)
	var rows []db.ListUsageNearLimitsRow
	err := concurrently(
		func() (err error) {
			rows, err = s.store.ListUsageNearLimits(ctx, db.ListUsageNearLimitsParams{Now: now, MonthStart: monthStart,
				MaxRows: usageNearRows})
			return err
		},
		func() (err error) {
			v.NearTotal, err = s.store.CountUsageNearLimits(ctx, db.CountUsageNearLimitsParams{Now: now,
				MonthStart: monthStart, MaxRows: usageNearCountCap + 1})
			if v.NearTotal > usageNearCountCap {
				v.NearTotal, v.NearMore = usageNearCountCap, true
			}
			return err
		},
	)
	if err != nil {
		return err
	}
	for _, r := range rows {
		u := licensing.EvaluateLimit(r.Used, r.UsageLimit)
		pct := "—"
		if u.Limit > 0 {
			pct = strconv.FormatFloat(math.Floor(float64(u.Used)*100/float64(u.Limit)), 'f', 0, 64) + "%"
		}
		v.NearLimits = append(v.NearLimits, admin.NearLimit{LicenseID: r.LicenseID.String(),
			ShortID: r.LicenseID.String()[:8], CustomerID: r.CustomerID.String(), CustomerName: r.CustomerName,
			Metric: r.Metric, Used: u.Used, Limit: u.Limit, Percent: pct, Over: u.Exceeded, Period: fmtDate(&r.PeriodStart)})
	}
	return nil
}
