package partials

import (
	"strconv"

	"github.com/nectarcloud/nls/web/templates/components"
)

// UsageFilter is the usage page's query, echoed into the form and links.
type UsageFilter struct {
	Metric string
	Days   string // how many days back from today, today included
}

// UsageConsumer is one customer among those using the most of a metric.
type UsageConsumer struct {
	CustomerID   string
	CustomerName string
	Total        string
}

// UsageResults is the usage page's swap target: the chosen metric's daily
// totals and its top consumers over the range, or why there are none.
type UsageResults struct {
	Metric    string
	Kind      string // counter (summed) or gauge (peak)
	From, To  string // the range, YYYY-MM-DD, both included
	Chart     components.StackedBars
	Total     string // counters: the range's sum; gauges: its highest day
	HasUsage  bool   // any of the metric in the range
	NoMetrics bool   // no usage was ever reported
	Top       []UsageConsumer
	CSVURL    string // the range's daily usage, every metric
	Error     string // a filter that could not be read
}

func itoa(n int) string { return strconv.Itoa(n) }

// usageTotalLabel names what the range's total of a metric kind is.
func usageTotalLabel(kind string) string {
	if kind == "gauge" {
		return "highest day:"
	}
	return "in all:"
}

// usageTopNote says how the top consumers are ranked for a metric kind.
func usageTopNote(kind string) string {
	if kind == "gauge" {
		return "Ranked by the highest daily value of any one of the customer's licenses."
	}
	return "Ranked by the total over the range, all of the customer's licenses together."
}
