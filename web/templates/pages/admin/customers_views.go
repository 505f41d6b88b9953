package admin

import "github.com/nectarcloud/nls/web/templates/partials"

// CustomersPage is the customer list with its search.
type CustomersPage struct {
	Filter  partials.CustomerFilter
	Results partials.CustomerResults
}

// CustomerForm is the add or edit form as submitted, with its errors by field.
type CustomerForm struct {
	ID               string // "" when adding
	Name             string
	Email            string
	Company          string
	StripeCustomerID string
	BillingEmail     string // notice contacts (customer_contacts)
	TechnicalEmail   string
	Errors           map[string]string
}

// Err is the error of a field, "" when none.
func (f CustomerForm) Err(field string) string { return f.Errors[field] }

// Action is where the form posts.
func (f CustomerForm) Action() string {
	if f.ID == "" {
		return "/admin/customers"
	}
	return "/admin/customers/" + f.ID + "/edit"
}

// UsageTotal is one metric's use over the usage window.
type UsageTotal struct {
	Metric string
	Kind   string // counter (summed) or gauge (peak)
	Total  int64
}

// CustomerDetail is everything the customer page shows.
type CustomerDetail struct {
	Findings         FindingsSection
	ID               string
	Name             string
	Email            string
	Company          string
	StripeCustomerID string
	StripeURL        string // "" without a Stripe customer
	ArchivedAt       string // "" when not archived
	CreatedAt        string
	Licenses         []partials.LicenseRow
	MoreLicenses     bool // more than shown; the list page has them all
	Users            partials.UsersSection
	UsageFrom        string
	UsageTo          string
	Usage            []UsageTotal
	Audit            []AuditRow
}
