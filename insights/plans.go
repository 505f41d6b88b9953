// The commercial rules: upgrade opportunities (the cheapest plan that
// fits), over-provisioned licenses, churn risk from a falling trend, and the
// forecast of the day a limit is reached.

package insights

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Plan is one plan of the catalogue as the rules see it.
type Plan struct {
	Code           string
	Limits         map[string]int64 // a metric without a limit is unlimited
	MaxDeployments int              // 0: unlimited
	MonthlyCents   *int64           // nil: no price known
	Stripe         bool             // the plan is sold through a Stripe price
}

// MetricUse is one limited metric of a license over its recent periods.
type MetricUse struct {
	Metric string
	Limit  int64
	// Periods are the values of the last periods (counters summed, gauges
	// the peak), oldest first, the current one last.
	Periods   []float64
	Projected float64 // the projected value of a full current period
	Gauge     bool
}

// Upgrade thresholds.
const (
	UpgradeFill    = 0.8 // a period at this share of its limit counts as full
	UpgradePeriods = 3   // of the last this many periods ...
	UpgradeMost    = 2   // ... at least this many were full
)

// UpgradeInput is a license's recent use against its limits and seats.
type UpgradeInput struct {
	Subject
	Current     Plan
	Metrics     []MetricUse
	SeatsUsed   int
	SeatRefused int // TOO_MANY_DEPLOYMENTS answers in the last 30 days
	Catalogue   []Plan
}

// CheapestFit is the cheapest plan other than current whose limits hold
// need (projected values per metric, and seats), priced plans first by
// price, then unpriced ones by how much they allow. ok is false when none fits.
func CheapestFit(catalogue []Plan, current string, need map[string]float64, seats int) (Plan, bool) {
	var fits []Plan
	for _, p := range catalogue {
		if p.Code == current {
			continue
		}
		ok := p.MaxDeployments == 0 || seats <= p.MaxDeployments
		for m, v := range need {
			if lim, limited := p.Limits[m]; limited && v > float64(lim) {
				ok = false
			}
		}
		if ok {
			fits = append(fits, p)
		}
	}
	if len(fits) == 0 {
		return Plan{}, false
	}
	slices.SortStableFunc(fits, func(a, b Plan) int {
		switch {
		case a.MonthlyCents != nil && b.MonthlyCents != nil:
			return int(*a.MonthlyCents - *b.MonthlyCents)
		case a.MonthlyCents != nil:
			return -1
		case b.MonthlyCents != nil:
			return 1
		}
		return int(capacity(a) - capacity(b))
	})
	return fits[0], true
}

// capacity orders unpriced plans: the sum of their limits and seats.
func capacity(p Plan) float64 {
	c := float64(p.MaxDeployments)
	for _, v := range p.Limits {
		c += float64(v)
	}
	return c
}

// Upgrade reports a license at UpgradeFill of a limit in most recent
// periods (or out of seats and refusing installations), with the cheapest
// plan that holds its projected use with room to grow.
func Upgrade(in UpgradeInput) (Finding, bool) {
	var full []string
	numbers := map[string]float64{}
	need := map[string]float64{}
	for _, m := range in.Metrics {
		if m.Limit <= 0 {
			continue
		}
		n := 0
		for _, v := range tailF(m.Periods, UpgradePeriods) {
			if v >= UpgradeFill*float64(m.Limit) {
				n++
			}
		}
		// The new plan should leave the same headroom: the use it must hold
		// is the projection over the fill threshold.
		need[m.Metric] = math.Max(m.Projected, last(m.Periods)) / UpgradeFill
		if n >= UpgradeMost {
			full = append(full, m.Metric)
			numbers[m.Metric+"Projected"] = math.Round(m.Projected)
			numbers[m.Metric+"Limit"] = float64(m.Limit)
			numbers[m.Metric+"FullPeriods"] = float64(n)
		}
	}
	seatsFull := in.Current.MaxDeployments > 0 && in.SeatsUsed >= in.Current.MaxDeployments && in.SeatRefused > 0
	if len(full) == 0 && !seatsFull {
		return Finding{}, false
	}
	seats := in.SeatsUsed
	if seatsFull {
		seats++
		full = append(full, "seats")
		numbers["seatsUsed"], numbers["seats"] = float64(in.SeatsUsed), float64(in.Current.MaxDeployments)
		numbers["refusedInstallations"] = float64(in.SeatRefused)
	}
	ev := Evidence{Method: fmt.Sprintf("%d of the last %d periods at %.0f %% of a limit or more; the cheapest plan holding the projected monthly use below %.0f %%",
		UpgradeMost, UpgradePeriods, UpgradeFill*100, UpgradeFill*100), Numbers: numbers}
	if len(in.Metrics) > 0 {
		ev.Metric = full[0]
	}
	f := in.finding(KindUpgrade, SeverityInfo, "Upgrade opportunity", ev)
	target, ok := CheapestFit(in.Catalogue, in.Current.Code, need, seats)
	if ok {
		f.Evidence.SuggestedPlan = target.Code
		f.Evidence.Summary = fmt.Sprintf("At %.0f %% or more of %s in most recent periods; %s holds the projected use",
			UpgradeFill*100, joinAnd(full), target.Code)
		if target.MonthlyCents != nil && in.Current.MonthlyCents != nil && in.Current.Stripe {
			up := max(*target.MonthlyCents-*in.Current.MonthlyCents, 0)
			f.RevenueCents = &up
		}
	} else {
		f.Evidence.Summary = fmt.Sprintf("At %.0f %% or more of %s in most recent periods; no plan in the catalogue holds the projected use: offer a custom plan",
			UpgradeFill*100, joinAnd(full))
	}
	if seatsFull || len(full) > 1 {
		f.Severity = SeverityWarning
	}
	return f, true
}

// Right-sizing thresholds.
const (
	RightSizeDays = 60   // the license has run at least this long, and use is judged over it
	RightSizeUse  = 0.25 // every limit's peak, and the seats used, at most this share
)

// RightSizeInput is a license's peak use over the last RightSizeDays.
type RightSizeInput struct {
	Subject
	Current   Plan
	AgeDays   int
	Peaks     map[string]float64 // per limited metric: the highest period value
	SeatsSeen int                // deployments seen in the window
	Catalogue []Plan
}

// RightSize reports a license whose limits and seats stayed mostly unused
// for RightSizeDays, with a smaller plan that would hold its peak use.
func RightSize(in RightSizeInput) (Finding, bool) {
	if in.AgeDays < RightSizeDays {
		return Finding{}, false
	}
	judged := 0
	numbers := map[string]float64{}
	for m, lim := range in.Current.Limits {
		if lim <= 0 {
			continue
		}
		peak := in.Peaks[m]
		if peak > RightSizeUse*float64(lim) {
			return Finding{}, false
		}
		judged++
		numbers[m+"PeakPercent"] = math.Round(100 * peak / float64(lim))
	}
	if in.Current.MaxDeployments > 1 {
		if float64(in.SeatsSeen) > RightSizeUse*float64(in.Current.MaxDeployments) {
			return Finding{}, false
		}
		judged++
		numbers["seatsSeen"], numbers["seats"] = float64(in.SeatsSeen), float64(in.Current.MaxDeployments)
	}
	if judged == 0 {
		return Finding{}, false
	}
	need := map[string]float64{}
	for m, v := range in.Peaks {
		need[m] = v / UpgradeFill
	}
	ev := Evidence{Numbers: numbers, Method: fmt.Sprintf("peak use of every limit and of the seats at most %.0f %% over %d days",
		RightSizeUse*100, RightSizeDays)}
	f := in.finding(KindRightSizing, SeverityInfo, "Over-provisioned", ev)
	if in.Current.MonthlyCents != nil && in.Current.Stripe {
		c := *in.Current.MonthlyCents
		f.RevenueCents = &c
	}
	if p, ok := CheapestFit(in.Catalogue, in.Current.Code, need, max(in.SeatsSeen, 1)); ok &&
		(p.MonthlyCents == nil || in.Current.MonthlyCents == nil || *p.MonthlyCents < *in.Current.MonthlyCents) {
		f.Evidence.SuggestedPlan = p.Code
		f.Evidence.Summary = fmt.Sprintf("Limits and seats at most %.0f %% used for %d days; %s would hold the peak use (a churn risk: right-size before renewal)",
			RightSizeUse*100, RightSizeDays, p.Code)
	} else {
		f.Evidence.Summary = fmt.Sprintf("Limits and seats at most %.0f %% used for %d days", RightSizeUse*100, RightSizeDays)
	}
	return f, true
}

// Churn thresholds.
const (
	ChurnWeeks   = 12   // weekly totals judged
	ChurnP       = 0.01 // Mann-Kendall two-sided p-value below this
	ChurnDecline = 0.3  // and the Theil-Sen line falls by at least this share over the weeks
)

// ChurnMethod says in words how a fall is judged.
const ChurnMethod = "Mann-Kendall trend test on 12 weekly totals (p < 0.01) and a Theil-Sen slope falling by 30 % or more over them"

// Churn reports usage falling steadily: a significant downward trend, not
// one bad week. weekly are the last ChurnWeeks complete weeks per metric.
func Churn(s Subject, weekly []MetricSeries) (Finding, bool) {
	var bestMetric string
	var bestDecline, bestP float64
	var chart []Point
	for _, ms := range weekly {
		if len(ms.Days) < ChurnWeeks {
			continue
		}
		xs := make([]float64, len(ms.Days))
		for i, p := range ms.Days {
			xs[i] = p.V
		}
		sc, _, p := MannKendall(xs)
		level := Median(xs)
		if sc >= 0 || p >= ChurnP || level <= 0 {
			continue
		}
		decline := -TheilSen(xs) * float64(len(xs)-1) / level
		if decline >= ChurnDecline && decline > bestDecline {
			bestMetric, bestDecline, bestP, chart = ms.Metric, decline, p, ms.Days
		}
	}
	if bestMetric == "" {
		return Finding{}, false
	}
	sev := SeverityWarning
	if bestDecline >= 0.6 {
		sev = SeverityCritical
	}
	return s.finding(KindChurn, sev, "Usage falling: churn risk", Evidence{
		Summary: fmt.Sprintf("%s fell about %.0f %% over %d weeks (Mann-Kendall p = %.4f)", bestMetric, bestDecline*100, len(chart), bestP),
		Method:  ChurnMethod, Metric: bestMetric, Series: chart,
		Numbers: map[string]float64{"declinePercent": math.Round(bestDecline * 100), "p": math.Round(bestP*1e5) / 1e5}}), true
}

// Forecast thresholds.
const (
	ForecastDays    = 60  // daily values of a gauge the line is fitted to
	ForecastR2      = 0.6 // the date is given only when the line explains this much
	ForecastHorizon = 120 // days ahead the forecast looks
)

// ForecastMethod says in words how the date is found.
const ForecastMethod = "least-squares line through the last 60 daily values; the date is shown only when R² ≥ 0.6 and it falls within 120 days"

// ForecastInput is a gauge metric's recent daily values and its limit.
type ForecastInput struct {
	Metric string
	Limit  int64
	Days   []Point // oldest first, the last complete day last
}

// Forecast reports the first limit a rising gauge will reach, on the date
// the fitted line crosses it, when the fit is good.
func Forecast(s Subject, metrics []ForecastInput, now time.Time) (Finding, bool) {
	var best *Finding
	var bestAt time.Time
	for _, m := range metrics {
		if m.Limit <= 0 || len(m.Days) < ForecastDays/2 {
			continue
		}
		days := tail(m.Days, ForecastDays)
		ys := make([]float64, len(days))
		for i, p := range days {
			ys[i] = p.V
		}
		fit := FitLine(ys)
		lim := float64(m.Limit)
		nowFit := fit.Intercept + fit.Slope*float64(len(ys)-1)
		if fit.Slope <= 0 || fit.R2 < ForecastR2 || nowFit >= lim || last(ys) >= lim {
			continue
		}
		ahead := math.Ceil((lim - nowFit) / fit.Slope)
		if ahead > ForecastHorizon {
			continue
		}
		at := days[len(days)-1].At.AddDate(0, 0, int(ahead))
		if best != nil && !at.Before(bestAt) {
			continue
		}
		sev := SeverityInfo
		if ahead <= 30 {
			sev = SeverityWarning
		}
		atc := at
		f := s.finding(KindForecast, sev, fmt.Sprintf("%s limit reached around %s", m.Metric, at.Format("2 Jan 2006")), Evidence{
			Summary: fmt.Sprintf("At the current trend (+%.1f a day, R² %.2f) %s reaches its limit of %d around %s, in %d days",
				fit.Slope, fit.R2, m.Metric, m.Limit, at.Format("2 Jan 2006"), int(ahead)),
			Method: ForecastMethod, Metric: m.Metric, Series: days, Limit: &lim, ForecastDate: &atc,
			Numbers: map[string]float64{"slopePerDay": round1(fit.Slope), "r2": math.Round(fit.R2*100) / 100,
				"daysAhead": ahead, "limit": lim, "current": math.Round(nowFit)}})
		best, bestAt = &f, at
	}
	if best == nil {
		return Finding{}, false
	}
	return *best, true
}

func tailF(xs []float64, n int) []float64 {
	if len(xs) > n {
		return xs[len(xs)-n:]
	}
	return xs
}

func last(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return xs[len(xs)-1]
}

func joinAnd(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	out := xs[0]
	for _, x := range xs[1 : len(xs)-1] {
		out += ", " + x
	}
	return out + " and " + xs[len(xs)-1]
}
