package partials

// View models of the license page's plan change and policy override
// sections (license_policy.templ).

// Choice is one option of a select.
type Choice struct{ Value, Label string }

// PlanChange is the plan change section: choose a plan and what happens to
// the license's own terms, preview the change, then confirm it.
type PlanChange struct {
	LicenseID   string
	CurrentName string // the license's plan now
	Plans       []Choice
	// Plan and Overrides are what was chosen ("" before the first preview).
	Plan, Overrides string
	Errors          map[string]string // by field: plan, overrides
	Preview         *PlanPreview
}

// Err is the message for field, "" when it is fine.
func (v PlanChange) Err(field string) string { return v.Errors[field] }

// PlanPreview is what confirming the change would do.
type PlanPreview struct {
	Plan, PlanName, Overrides string
	Seats                     string // the new max deployments, "Unlimited" when none
	// Allowance explains seat overage when it admits more than Seats, e.g.
	// "5 with 1.25× overage"; "" otherwise.
	Allowance string
	Features  string // comma separated, "none" when empty
	Holders   int    // deployments holding a seat now
	Losing    []LosingSeat
}

// LosingSeat is a deployment that would lose its seat at its next check.
type LosingSeat struct {
	ID, Hostname, FirstSeen string
}

// PolicyForm is the license's own policy settings; a blank field follows
// the plan, whose value each field shows.
type PolicyForm struct {
	LicenseID string
	Fields    []PolicyField
}

// PolicyField is one setting of PolicyForm.
type PolicyField struct {
	Name, Label string
	// Kind: "select", "number" or "text".
	Kind      string
	Value     string // the override, "" when it follows the plan
	PlanValue string // what the plan says, shown as the default
	Hint      string
	Options   []Choice // for a select, besides "follow the plan"
	Err       string
}

// Section ids of the license page.
const (
	PlanChangeID = "license-plan"
	PolicyFormID = "license-policy"
)

func overridesText(mode string) string {
	if mode == "reset" {
		return "reset this license's own terms to the plan's"
	}
	return "keep this license's own terms"
}

func seatsLostText(n int) string {
	if n == 1 {
		return "1 deployment loses its seat"
	}
	return itoa(n) + " deployments lose their seat"
}
