package admin

import (
	"sort"
	"strconv"
	"strings"

	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
)

// PlanRow is one plan in the plans table, formatted for display.
type PlanRow struct {
	Code           string
	Name           string
	Features       string // comma-separated, "" for none
	Limits         string // "users=10, apiCalls=1000"
	MaxDeployments string // "Unlimited" or a number
	Duration       string // "Perpetual" or "365 days"
	Prices         string
	QuantitySets   string // "" for none
	Archived       bool
}

// PlansPage is the plans table.
type PlansPage struct {
	Rows    []PlanRow
	NextURL string
}

// PlanForm is the add or edit form as submitted, with its errors by field.
// Numbers are kept as typed so that a mistake can be corrected in place.
type PlanForm struct {
	Editing              bool // the code is fixed once created
	Code                 string
	Name                 string
	Description          string
	Features             string                // comma or newline separated
	Limits               []components.LimitRow // one row per limit, blank rows to add
	MaxDeployments       string                // blank: unlimited
	DurationDays         string                // blank: perpetual
	GraceDays            string
	OfflineDays          string
	HeartbeatWindowHours string
	DunningDays          string
	StripePriceIDs       string // comma or newline separated
	QuantitySets         string // "", deployments or users
	// Licensing policies (see licensing.Policy).
	FingerprintPolicy  string // none, lock, components
	FingerprintMatch   string // any, most, all
	LeaseHours         string // 0: the offline window
	TransfersPerPeriod string // 0: unlimited
	TransferPeriodDays string
	SeatOverage        string // none, 1.25x, 1.5x, 2x, always
	SoftLimits         string // metric names whose limit is soft, comma separated
	ExpiryStrategy     string // restrict, maintain
	Archived           bool
	Errors             map[string]string
}

// Err is the error of a field, "" when none.
func (f PlanForm) Err(field string) string { return f.Errors[field] }

// Action is where the form posts.
func (f PlanForm) Action() string {
	if f.Editing {
		return "/admin/plans/" + f.Code + "/edit"
	}
	return "/admin/plans"
}

// SetPolicy fills the policy fields from a stored plan's policy.
func (f *PlanForm) SetPolicy(p licensing.Policy) {
	f.FingerprintPolicy, f.FingerprintMatch = string(p.FingerprintPolicy), string(p.FingerprintMatch)
	f.LeaseHours, f.TransfersPerPeriod = strconv.Itoa(int(p.LeaseHours)), strconv.Itoa(int(p.TransfersPerPeriod))
	f.TransferPeriodDays = strconv.Itoa(int(p.TransferPeriodDays))
	f.SeatOverage, f.ExpiryStrategy = string(p.SeatOverage), string(p.ExpiryStrategy)
	var soft []string
	for m, e := range p.LimitEnforcement {
		if e == licensing.EnforceSoft {
			soft = append(soft, m)
		}
	}
	sort.Strings(soft)
	f.SoftLimits = strings.Join(soft, ", ")
}
