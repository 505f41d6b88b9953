package admin

import "github.com/nectarcloud/nls/web/templates/components"

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
	Archived             bool
	Errors               map[string]string
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
