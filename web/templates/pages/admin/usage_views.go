package admin

import (
	"strconv"

	"github.com/nectarcloud/nls/web/templates/partials"
)

// Usage is the usage page: the metric and range filters, the chosen
// metric's results (the swap target) and the limits nearly or already used
// up in the current period.
type Usage struct {
	Filter      partials.UsageFilter
	Metrics     []Option
	Ranges      []Option
	Results     partials.UsageResults
	NearLimits  []NearLimit
	NearTotal   int64  // all of them, up to a cap; NearLimits holds the fullest
	NearMore    bool   // there are more than NearTotal
	NearPercent int    // the share of a limit that counts as near
	MonthPeriod string // the calendar month's period, for licenses billed by none
}

// NearLimit is one limited metric of a license at or near its limit.
type NearLimit struct {
	LicenseID    string
	ShortID      string
	CustomerID   string
	CustomerName string
	Metric       string
	Used         int64
	Limit        int64
	Percent      string // "85%"; "—" for a limit of 0
	Over         bool   // used > limit
	Period       string // the period's first day
}

// State is the row's standing in words, so it never rests on colour.
func (n NearLimit) State() string {
	switch {
	case n.Over:
		return "Over the limit"
	case n.Used == n.Limit:
		return "At the limit"
	}
	return "Near the limit"
}

// StateClass colours the standing; State carries the meaning.
func (n NearLimit) StateClass() string {
	if n.Over {
		return "badge badge-suspended"
	}
	return "badge badge-grace"
}

// NearCount is how many are near a limit, in words when past the cap.
func (v Usage) NearCount() string {
	if v.NearMore {
		return "more than " + strconv.FormatInt(v.NearTotal, 10)
	}
	return strconv.FormatInt(v.NearTotal, 10)
}
