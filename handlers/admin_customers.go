package handlers

// Admin pages for customers: the searchable list, the add and edit forms,
// the customer page (licenses, people, recent usage, changes) and archiving.

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
	"github.com/nectarcloud/nls/web/templates/partials"
)

// customerUsageDays is how far back the customer page sums usage.
const customerUsageDays = 30

// customerLicensesShown is how many licenses the customer page lists before
// pointing at the filtered license list.
const customerLicensesShown = 50

// adminCustomers handles GET /admin/customers?q=&archived=&cursor=: the
// whole page, or under HTMX only the results.
func (s *Server) adminCustomers(c *fiber.Ctx) error {
	f := partials.CustomerFilter{Q: strings.Clone(c.Query("q")), Archived: c.QueryBool("archived")}
	res := partials.CustomerResults{Filtered: f != partials.CustomerFilter{}}
	status := fiber.StatusOK
	if err := s.loadCustomerResults(c, f, &res); err != nil {
		if licensing.ErrorCode(err) != licensing.EINVALID {
			return err
		}
		res.Error, status = problemText(err), fiber.StatusUnprocessableEntity
	}
	return s.renderSwap(c, status, partials.CustomerList(res), func() (templ.Component, error) {
		return admin.CustomersList(s.page(c, "Customers"), admin.CustomersPage{Filter: f, Results: res}), nil
	})
}

func (s *Server) loadCustomerResults(c *fiber.Ctx, f partials.CustomerFilter, res *partials.CustomerResults) error {
	p, err := parseListPage(c, adminPageSize)
	if err != nil {
		return err
	}
	params := db.ListCustomersParams{Q: likePattern(f.Q), IncludeArchived: f.Archived}
	if p.After != nil {
		params.BeforeCreated, params.BeforeID = &p.After.T, &p.After.ID
	}
	pg, err := s.customersPage(c, p.Limit, params)
	if err != nil {
		return err
	}
	res.Rows = mapRows(pg.Rows, func(r db.Customer) partials.CustomerRow {
		return partials.CustomerRow{ID: r.ID.String(), Name: r.Name, Email: r.Email,
			Company: r.Company, CreatedAt: fmtDate(&r.CreatedAt), Archived: r.ArchivedAt != nil}
	})
	if pg.Next != nil {
		res.NextURL = customersURL(f, *encodeCursor(*pg.Next))
	}
	return nil
}

// customersURL is the list's URL for a search and page.
func customersURL(f partials.CustomerFilter, cur string) string {
	q := url.Values{}
	if f.Q != "" {
		q.Set("q", f.Q)
	}
	if f.Archived {
		q.Set("archived", "true")
	}
	if cur != "" {
		q.Set("cursor", cur)
	}
	if len(q) == 0 {
		return "/admin/customers"
	}
	return "/admin/customers?" + q.Encode()
}

// customerFormOf reads the add/edit form.
func customerFormOf(c *fiber.Ctx) admin.CustomerForm {
	return admin.CustomerForm{Name: strings.Clone(c.FormValue("name")), Email: strings.Clone(c.FormValue("email")),
		Company: strings.Clone(c.FormValue("company")), StripeCustomerID: strings.Clone(c.FormValue("stripeCustomerId")),
		BillingEmail: strings.Clone(c.FormValue("billingEmail")), TechnicalEmail: strings.Clone(c.FormValue("technicalEmail")),
		Errors: formTextErrors(c)}
}

// apply copies the form onto a customer; a blank Stripe id unlinks it.
func applyCustomerForm(f admin.CustomerForm, in *db.CustomerInput) {
	in.Name, in.Email, in.Company = f.Name, f.Email, f.Company
	in.BillingEmail, in.TechnicalEmail = &f.BillingEmail, &f.TechnicalEmail
	in.StripeCustomerID = nil
	if v := strings.TrimSpace(f.StripeCustomerID); v != "" {
		in.StripeCustomerID = &v
	}
}

// formErrors puts a refused input's field details under the form's fields;
// a detail for a field the form does not have goes to the form as a whole.
// It returns err unchanged when the admin cannot act on it.
func formErrors(err error, errs map[string]string, fields ...string) error {
	if err == nil {
		return nil
	}
	le := classify(err)
	if le.Code != licensing.EINVALID && le.Code != licensing.ECONFLICT {
		return err
	}
	for _, d := range le.Details {
		field, _, _ := strings.Cut(d.Field, ".")
		known := false
		for _, f := range fields {
			known = known || f == field
		}
		if !known {
			field = "form"
		}
		if errs[field] == "" {
			errs[field] = sentence(d.Message)
		}
	}
	if len(le.Details) == 0 {
		errs["form"] = sentence(le.Message)
	}
	return nil
}

// sentence capitalises a problem's message and ends it with a full stop,
// so that "is required" reads "Is required." under its label.
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

var customerFields = []string{"name", "email", "company", "stripeCustomerId", "billingEmail", "technicalEmail"}

// adminNewCustomer handles GET /admin/customers/new: the add form.
func (s *Server) adminNewCustomer(c *fiber.Ctx) error {
	return s.render(c, admin.CustomerFormPage(s.page(c, "Add a customer"), admin.CustomerForm{}))
}

// adminCreateCustomer handles POST /admin/customers: adds the customer and
// redirects to their page, or re-renders the form with its errors (422).
func (s *Server) adminCreateCustomer(c *fiber.Ctx) error {
	f := customerFormOf(c)
	var in db.CustomerInput
	applyCustomerForm(f, &in)
	cu, err := s.store.CreateCustomer(c.UserContext(), s.adminActor(c), in, s.now())
	if err != nil {
		if err := formErrors(err, f.Errors, customerFields...); err != nil {
			return err
		}
		c.Status(fiber.StatusUnprocessableEntity)
		return s.render(c, admin.CustomerFormPage(s.page(c, "Add a customer"), f))
	}
	s.setFlash(c, components.ToastSuccess, "Customer "+cu.Name+" added.")
	return c.Redirect("/admin/customers/"+cu.ID.String(), fiber.StatusSeeOther)
}

func (s *Server) customerByParam(c *fiber.Ctx) (db.Customer, error) {
	id, err := parseUUID(c.Params("id"), "customer")
	if err != nil {
		return db.Customer{}, err
	}
	cu, err := s.store.GetCustomer(c.UserContext(), id)
	return cu, notFoundAs(err, "customer")
}

// adminEditCustomer handles GET /admin/customers/:id/edit: the edit form.
func (s *Server) adminEditCustomer(c *fiber.Ctx) error {
	cu, err := s.customerByParam(c)
	if err != nil {
		return err
	}
	f := admin.CustomerForm{ID: cu.ID.String(), Name: cu.Name, Email: cu.Email, Company: cu.Company}
	if cu.StripeCustomerID != nil {
		f.StripeCustomerID = *cu.StripeCustomerID
	}
	billing, technical, err := s.store.CustomerContacts(c.UserContext(), cu.ID)
	if err != nil {
		return err
	}
	if billing != nil {
		f.BillingEmail = *billing
	}
	if technical != nil {
		f.TechnicalEmail = *technical
	}
	return s.render(c, admin.CustomerFormPage(s.page(c, "Edit "+cu.Name), f))
}

// adminUpdateCustomer handles POST /admin/customers/:id/edit: saves and
// redirects to the customer page, or re-renders the form with its errors (422).
func (s *Server) adminUpdateCustomer(c *fiber.Ctx) error {
	id, err := parseUUID(c.Params("id"), "customer")
	if err != nil {
		return err
	}
	f := customerFormOf(c)
	f.ID = id.String()
	cu, err := s.store.UpdateCustomer(c.UserContext(), s.adminActor(c), id, func(in *db.CustomerInput) {
		applyCustomerForm(f, in)
	}, s.now())
	if err != nil {
		if licensing.ErrorCode(err) == licensing.ENOTFOUND {
			return err
		}
		if err := formErrors(err, f.Errors, customerFields...); err != nil {
			return err
		}
		c.Status(fiber.StatusUnprocessableEntity)
		return s.render(c, admin.CustomerFormPage(s.page(c, "Edit customer"), f))
	}
	s.setFlash(c, components.ToastSuccess, "Customer "+cu.Name+" saved.")
	return c.Redirect("/admin/customers/"+id.String(), fiber.StatusSeeOther)
}

// adminArchiveCustomer handles POST /admin/customers/:id/archive. The form
// asks for confirmation (hx-confirm); the answer is the customer page, by
// HX-Redirect under HTMX or a plain redirect, with a flash message.
func (s *Server) adminArchiveCustomer(c *fiber.Ctx) error {
	id, err := parseUUID(c.Params("id"), "customer")
	if err != nil {
		return err
	}
	cu, err := s.store.ArchiveCustomer(c.UserContext(), s.adminActor(c), id, s.now())
	if err != nil {
		return err
	}
	s.setFlash(c, components.ToastSuccess, "Customer "+cu.Name+" archived. Their licenses are unchanged.")
	return redirect(c, "/admin/customers/"+id.String())
}

// adminUnarchiveCustomer handles POST /admin/customers/:id/unarchive.
func (s *Server) adminUnarchiveCustomer(c *fiber.Ctx) error {
	id, err := parseUUID(c.Params("id"), "customer")
	if err != nil {
		return err
	}
	cu, err := s.store.UnarchiveCustomer(c.UserContext(), s.adminActor(c), id, s.now())
	if err != nil {
		return err
	}
	s.setFlash(c, components.ToastSuccess, "Customer "+cu.Name+" restored. They show in lists again.")
	return redirect(c, "/admin/customers/"+id.String())
}

// adminCustomer handles GET /admin/customers/:id: the customer page.
func (s *Server) adminCustomer(c *fiber.Ctx) error {
	cu, err := s.customerByParam(c)
	if err != nil {
		return err
	}
	d, err := s.customerDetail(c, cu)
	if err != nil {
		return err
	}
	return s.render(c, admin.CustomerPage(s.page(c, cu.Name), d))
}

// customerDetail is everything the customer page shows.
func (s *Server) customerDetail(c *fiber.Ctx, cu db.Customer) (admin.CustomerDetail, error) {
	ctx, now := c.UserContext(), s.now()
	d := admin.CustomerDetail{ID: cu.ID.String(), Name: cu.Name, Email: cu.Email, Company: cu.Company,
		ArchivedAt: fmtDate(cu.ArchivedAt), CreatedAt: fmtDate(&cu.CreatedAt)}
	if cu.StripeCustomerID != nil && *cu.StripeCustomerID != "" {
		d.StripeCustomerID = *cu.StripeCustomerID
		d.StripeURL = "https://dashboard.stripe.com/customers/" + url.PathEscape(*cu.StripeCustomerID)
	}

	lics, err := s.store.ListLicenses(ctx, db.ListLicensesParams{Now: now, CustomerID: &cu.ID,
		MaxRows: customerLicensesShown + 1})
	if err != nil {
		return d, err
	}
	for i, r := range lics {
		if i == customerLicensesShown {
			d.MoreLicenses = true
			break
		}
		d.Licenses = append(d.Licenses, licenseRowOf(r, now))
	}

	if d.Users, err = s.customerUsers(c, cu); err != nil {
		return d, err
	}

	to := now.UTC().Truncate(24 * time.Hour)
	from := to.AddDate(0, 0, -(customerUsageDays - 1))
	d.UsageFrom, d.UsageTo = fmtDate(&from), fmtDate(&to)
	usage, err := s.store.UsageTotalsByCustomer(ctx, db.UsageTotalsByCustomerParams{CustomerID: cu.ID,
		FromDay: from, ToDay: to})
	if err != nil {
		return d, err
	}
	for _, u := range usage {
		d.Usage = append(d.Usage, admin.UsageTotal{Metric: u.Metric, Kind: u.Kind, Total: u.Total})
	}

	audit, err := s.store.ListAudit(ctx, db.ListAuditParams{CustomerID: &cu.ID, MaxRows: 10})
	if err != nil {
		return d, err
	}
	d.Audit = auditRows(audit)
	if d.Findings, err = s.findingsSection(c, nil, &cu.ID); err != nil {
		return d, err
	}
	return d, nil
}

// licenseRowOf is one license as the lists show it.
func licenseRowOf(r db.ListLicensesRow, now time.Time) partials.LicenseRow {
	l := r.License
	seats := strconv.Itoa(int(r.SeatsInUse))
	if l.MaxDeployments != nil {
		seats += " of " + strconv.Itoa(int(*l.MaxDeployments))
	}
	exp := fmtDate(l.ExpiresAt)
	if exp == "" {
		exp = "Never"
	}
	return partials.LicenseRow{ID: l.ID.String(), ShortID: l.ID.String()[:8], CustomerName: r.CustomerName,
		Plan: r.PlanCode, Status: string(l.Effective(now).State), Seats: seats, ExpiresAt: exp,
		CreatedAt: fmtDate(&l.CreatedAt)}
}
