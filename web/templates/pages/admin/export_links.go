package admin

import (
	"net/url"

	"github.com/a-h/templ"

	"github.com/nectarcloud/nls/web/templates/partials"
)

// licensesCSVURL is the CSV export of the license list's current filters.
func licensesCSVURL(f partials.LicenseFilter) templ.SafeURL {
	q := url.Values{}
	for k, v := range map[string]string{"q": f.Q, "status": f.Status, "plan": f.Plan, "customerId": f.Customer,
		"expiresWithinDays": f.Expiring} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return "/admin/licenses.csv"
	}
	return templ.SafeURL("/admin/licenses.csv?" + q.Encode())
}
