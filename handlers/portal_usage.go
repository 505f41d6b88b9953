package handlers

// Usage charts of the customer portal's license page: each limited metric
// over the current period, against its limit.

import (
	"sort"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/portal"
)

// usageChartDays is the most days a chart shows: the end of a longer
// (yearly) billing period.
const usageChartDays = 31

func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// usageCharts draws each limited metric of l from the start of the current
// period to today: counters as their running total in the period (what the
// limit is checked against), gauges as each day's peak. Each bar is split
// into the part within the limit and the part over it. Each metric is named
// by the label its plan gives it (labels).
func (s *Server) usageCharts(c *fiber.Ctx, l db.License, labels map[string]string, now time.Time) ([]portal.UsageChart, error) {
	limits := db.DecodeLimits(l.Limits)
	if len(limits) == 0 {
		return nil, nil
	}
	start, end := l.UsageLicense().UsagePeriod(now)
	first, last := utcDay(start), utcDay(now)
	if periodLast := utcDay(end.Add(-time.Nanosecond)); periodLast.Before(last) {
		last = periodLast
	}
	rows, err := s.store.UsageSeriesByLicense(c.UserContext(), db.UsageSeriesByLicenseParams{LicenseID: l.ID,
		FromDay: first, ToDay: last})
	if err != nil {
		return nil, err
	}
	byDay := map[string]map[time.Time]int64{}
	for _, r := range rows {
		if byDay[r.Metric] == nil {
			byDay[r.Metric] = map[time.Time]int64{}
		}
		byDay[r.Metric][utcDay(r.Day)] = r.Value
	}
	shownFrom := first
	if days := int(last.Sub(first).Hours()/24) + 1; days > usageChartDays {
		shownFrom = last.AddDate(0, 0, -(usageChartDays - 1))
	}
	metrics := make([]string, 0, len(limits))
	for m := range limits {
		metrics = append(metrics, m)
	}
	sort.Strings(metrics)
	out := make([]portal.UsageChart, 0, len(metrics))
	for _, metric := range metrics {
		limit, kind := limits[metric], licensing.MetricKindOf(metric)
		ch := portal.UsageChart{Metric: metric, Label: licensing.MetricLabel(labels, metric), Kind: string(kind)}
		within := components.Series{Name: "Within the limit", Fill: components.ChartFillGood}
		over := components.Series{Name: "Over the limit", Fill: components.ChartFillBad}
		var total int64
		for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
			v := byDay[metric][d]
			if kind == licensing.Counter {
				total += v
				v = total
			}
			if d.Before(shownFrom) {
				continue
			}
			ch.Chart.Labels = append(ch.Chart.Labels, d.Format("Jan 2"))
			within.Values = append(within.Values, min(v, limit))
			over.Values = append(over.Values, max(v-limit, 0))
		}
		what := "running total"
		if kind == licensing.Gauge {
			what = "highest value each day"
		}
		ch.Chart.Title = ch.Label + " this period (" + what + ")"
		ch.Chart.Series = []components.Series{within, over}
		ch.Chart.Metric, ch.Chart.Limit = metric, limit
		out = append(out, ch)
	}
	return out, nil
}
