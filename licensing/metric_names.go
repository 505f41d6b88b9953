// Display names of the usage metrics, written once for every surface that
// shows a metric to a person (portals, CSV headers stay on the raw name),
// and the labels a plan may give its metrics instead.

package licensing

import (
	"strings"
	"unicode"
)

// metricNames are the words people read for the metrics the product knows.
var metricNames = map[string]string{
	"apiCalls":           "API calls",
	"workflowExecutions": "Workflow executions",
	"sessions":           "Sessions",
	"users":              "Active users",
	"storageBytes":       "Storage",
	"integrations":       "Integrations",
	"seats":              "Seats",
}

// KnownMetrics are the metric names with a display name, sorted, for forms
// that suggest names.
func KnownMetrics() []string {
	return []string{"apiCalls", "integrations", "sessions", "storageBytes", "users", "workflowExecutions"}
}

// MetricDisplayName is the name a person reads for a metric: the known ones
// by their words ("apiCalls" → "API calls"), any other camelCase or
// snake_case name split into words with a capital first letter
// ("reportExports" → "Report exports").
func MetricDisplayName(name string) string {
	if s, ok := metricNames[name]; ok {
		return s
	}
	var b strings.Builder
	prevLower := false
	for i, r := range name {
		switch {
		case r == '_' || r == '.' || r == '-':
			b.WriteByte(' ')
			prevLower = false
			continue
		case unicode.IsUpper(r) && prevLower:
			b.WriteByte(' ')
			r = unicode.ToLower(r)
		case i > 0 && unicode.IsUpper(r):
			r = unicode.ToLower(r)
		}
		if i == 0 {
			r = unicode.ToUpper(r)
		}
		b.WriteRune(r)
		prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
	}
	return b.String()
}

// MetricIsBytes reports whether a metric counts bytes, so that it is shown
// in KB, MB, GB rather than as a bare number.
func MetricIsBytes(name string) bool {
	return name == "storageBytes" || strings.HasSuffix(name, "Bytes") || strings.HasSuffix(name, "_bytes")
}

// maxMetricLabel is the longest label a plan may give a metric, in characters.
const maxMetricLabel = 60

// MetricLabel is what a person reads for a metric on a plan with labels:
// the plan's label when it has one, else the metric's display name.
func MetricLabel(labels map[string]string, name string) string {
	if l := labels[name]; l != "" {
		return l
	}
	return MetricDisplayName(name)
}

// checkMetricLabels validates a plan's metric labels and returns them
// trimmed, dropping blank ones (a blank label means the display name).
func checkMetricLabels(pr *Problems, field string, labels map[string]string) map[string]string {
	out := make(map[string]string, len(labels))
	if len(labels) > 100 {
		pr.Add(field, "at most 100 labels")
	}
	for name, label := range labels {
		key := field + "." + truncateText(name, 70)
		if !validMetricNameForLimit(name) {
			pr.Add(key, "label keys are metric names: [a-zA-Z][a-zA-Z0-9_.]{0,63}")
			continue
		}
		label = strings.TrimSpace(label)
		switch {
		case label == "":
			continue
		case len([]rune(label)) > maxMetricLabel || strings.ContainsFunc(label, unicode.IsControl):
			pr.Add(key, "must be one line of at most 60 characters")
			continue
		}
		out[name] = label
	}
	return out
}
