// Package layouts holds the page shells every portal page renders inside:
// Base (navigation, flash area, main) and AuthLayout (a centred card for
// sign-in). Handlers fill a Page once per request and pass it down.
package layouts

import (
	"encoding/json"

	"github.com/nectarcloud/nls/web/templates/components"
)

// AssetPather turns a static file's name ("css/app.css") into its URL; the
// handlers pass a *static.Assets, which answers fingerprinted URLs.
type AssetPather interface {
	Path(name string) string
}

// Page is what every layout needs to know about the request.
type Page struct {
	Title     string      // the page's own title; " · NLS" is appended
	Assets    AssetPather // nil: plain /static/ URLs
	CSRFToken string      // sent by htmx as X-CSRF-Token and by forms as csrf_token
	User      *UserView   // nil when signed out
	Flash     []Flash     // messages carried over from the previous request
	Nav       string      // the active nav item's Key, e.g. "licenses"
	// Customer is set on the customer portal's pages: its navigation
	// replaces the admin's and the customer's name is shown.
	Customer *CustomerView
}

// CustomerView is the customer whose portal a page belongs to.
type CustomerView struct {
	Name    string
	Billing bool // Stripe is configured: the Billing item is shown
}

// UserView is the signed-in person as the layout shows them.
type UserView struct {
	Email     string
	Role      string
	AdminRole string // owner, admin, support or viewer; "" for customers' users
}

// Flash is one message shown in the toast area.
type Flash struct {
	Kind    string // "success", "error" or "info"
	Message string
}

// NavItem is one entry of the portal's navigation.
type NavItem struct {
	Key   string // matched against Page.Nav
	Label string
	Href  string
}

// AdminNav is the admin portal's navigation, in order.
func AdminNav() []NavItem {
	return []NavItem{
		{Key: "dashboard", Label: "Dashboard", Href: "/admin"},
		{Key: "customers", Label: "Customers", Href: "/admin/customers"},
		{Key: "plans", Label: "Plans", Href: "/admin/plans"},
		{Key: "licenses", Label: "Licenses", Href: "/admin/licenses"},
		{Key: "releases", Label: "Releases", Href: "/admin/releases"},
		{Key: "usage", Label: "Usage", Href: "/admin/usage"},
		{Key: "insights", Label: "Insights", Href: "/admin/insights"},
		{Key: "stripe-events", Label: "Stripe events", Href: "/admin/stripe-events"},
		{Key: "notifications", Label: "Notifications", Href: "/admin/notifications"},
		{Key: "webhooks", Label: "Webhooks", Href: "/admin/webhooks"},
		{Key: "audit", Label: "Audit", Href: "/admin/audit"},
		{Key: "api-keys", Label: "API keys", Href: "/admin/api-keys"},
	}
}

// PortalNav is the customer portal's navigation, in order; Billing only
// when the portal offers it.
func PortalNav(billing bool) []NavItem {
	items := []NavItem{
		{Key: "overview", Label: "Overview", Href: "/portal"},
		{Key: "downloads", Label: "Downloads", Href: "/portal/downloads"},
		{Key: "activity", Label: "Activity", Href: "/portal/activity"},
	}
	if billing {
		items = append(items, NavItem{Key: "billing", Label: "Billing", Href: "/portal/billing"})
	}
	return append(items, NavItem{Key: "account", Label: "Account", Href: "/portal/account"})
}

// NavItems is the navigation of the portal the page belongs to. A page
// outside the customer portal (an error page) shown to a customer's user
// still gets their portal's navigation, never the admin's.
func (p Page) NavItems() []NavItem {
	switch {
	case p.Customer != nil:
		return PortalNav(p.Customer.Billing)
	case p.customerUser():
		return PortalNav(false)
	}
	items := AdminNav()
	if p.User != nil && p.User.AdminRole == "owner" {
		items = append(items, NavItem{Key: "team", Label: "Team", Href: "/admin/team"})
	}
	if p.User != nil {
		items = append(items, NavItem{Key: "account", Label: "Account", Href: "/admin/account"})
	}
	return items
}

// Home is where the logo of a signed-in page links: its portal's home.
func (p Page) Home() string {
	if p.Customer != nil || p.customerUser() {
		return "/portal"
	}
	return "/admin"
}

// HomeLabel names Home on a button back to it.
func (p Page) HomeLabel() string {
	if p.Customer != nil || p.customerUser() {
		return "Back to your licenses"
	}
	return "Back to the dashboard"
}

func (p Page) customerUser() bool { return p.User != nil && p.User.Role == "customer" }

// Asset is the URL of a static file.
func (p Page) Asset(name string) string {
	if p.Assets == nil {
		return "/static/" + name
	}
	return p.Assets.Path(name)
}

// FullTitle is the document title.
func (p Page) FullTitle() string {
	if p.Title == "" {
		return "NLS"
	}
	return p.Title + " · NLS"
}

// csrfHeaders is the hx-headers value that makes htmx send the CSRF token
// on every request it issues from the page.
func csrfHeaders(token string) string {
	b, _ := json.Marshal(map[string]string{components.CSRFHeaderName: token})
	return string(b)
}
