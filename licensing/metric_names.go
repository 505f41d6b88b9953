// Display names of the usage metrics, written once for every surface that
// shows a metric to a person (portals, CSV headers stay on the raw name).

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
