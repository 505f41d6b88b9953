// Usage metrics: metric kinds and names, merging reports into a period's
// aggregate, limits, and the calendar-month accounting period.

package licensing

import (
	"math"
	"time"
)

// MetricKind says how a metric aggregates over a period.
type MetricKind string

// Metric kinds: counters add up over a period; gauges keep the period's peak.
const (
	Counter MetricKind = "counter"
	Gauge   MetricKind = "gauge"
)

// MetricKindOf is the kind of a metric: users, storageBytes and
// integrations are gauges; every other name (apiCalls, workflowExecutions,
// sessions, anything new) is a counter, so unknown metrics still add up.
func MetricKindOf(name string) MetricKind {
	switch name {
	case "users", "storageBytes", "integrations":
		return Gauge
	}
	return Counter
}

// ValidMetricName reports whether name matches ^[a-zA-Z][a-zA-Z0-9_.]{0,63}$,
// by hand so that the per-report hot path runs no regexp.
func ValidMetricName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !letter {
			return false
		}
		if !letter && !(c >= '0' && c <= '9') && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// LimitUsage is a metric's use against its limit in a period.
type LimitUsage struct {
	Used      int64 `json:"used"`
	Limit     int64 `json:"limit"`
	Remaining int64 `json:"remaining"` // never negative
	Exceeded  bool  `json:"exceeded"`
	// Enforcement and Blocked are set by EvaluateLimitPolicy: a soft limit
	// is exceeded without blocking (the excess is recorded for true-up).
	Enforcement Enforcement `json:"enforcement,omitempty"`
	Blocked     bool        `json:"blocked,omitempty"`
}

// EvaluateLimit compares used with limit. The limit is the most allowed, so
// used == limit is not exceeded (Remaining 0); only used > limit is.
func EvaluateLimit(used, limit int64) LimitUsage {
	u := LimitUsage{Used: used, Limit: limit, Exceeded: used > limit, Blocked: used > limit}
	if !u.Exceeded && limit-used > 0 {
		u.Remaining = limit - used
	}
	return u
}

// MergeMetric folds one reported value into a period aggregate: counters add
// (an overflowing sum is an EINVALID error and leaves agg unchanged), gauges
// keep the maximum. Negative values are refused.
func MergeMetric(agg map[string]int64, name string, v int64) error {
	if v < 0 {
		return Invalid("metric "+name+" must not be negative",
			ErrorDetail{Field: "metrics." + name, Message: "negative"})
	}
	old, ok := agg[name]
	switch {
	case !ok:
		agg[name] = v
	case MetricKindOf(name) == Gauge:
		agg[name] = max(old, v)
	case old > math.MaxInt64-v:
		return Invalid("the sum of "+name+" overflows a 64-bit integer",
			ErrorDetail{Field: "metrics." + name, Message: "sum too large"})
	default:
		agg[name] = old + v
	}
	return nil
}

// MergeReport folds a whole report into agg, all or nothing: on an error
// (invalid name, negative value, overflow) agg is unchanged.
func MergeReport(agg, report map[string]int64) error {
	for name, v := range report {
		if !ValidMetricName(name) {
			return Invalid("invalid metric name", ErrorDetail{Field: "metrics." + truncateText(name, 70),
				Message: "metric names match [a-zA-Z][a-zA-Z0-9_.]{0,63}"})
		}
		probe := map[string]int64{}
		if old, ok := agg[name]; ok {
			probe[name] = old
		}
		if err := MergeMetric(probe, name, v); err != nil {
			return err
		}
	}
	for name, v := range report {
		_ = MergeMetric(agg, name, v) // checked above
	}
	return nil
}

// MonthPeriod is the calendar month (UTC) containing t, as [start, end):
// start is the first instant of the month, end the first of the next.
func MonthPeriod(t time.Time) (start, end time.Time) {
	t = t.UTC()
	start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 1, 0)
}
