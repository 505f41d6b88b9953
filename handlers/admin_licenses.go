package handlers

// Admin pages for licenses: the filtered list, the issue form and the
// license page. The actions on a license are in admin_license_actions.go.

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
	"github.com/nectarcloud/nls/web/templates/partials"
)

const adminPageSize = 25

// problemText is a refused input's message with its field details, for
// showing in place.
func problemText(err error) string {
	le := classify(err)
	msg := le.Message
	for _, d := range le.Details {
		if d.Field != "" && !strings.Contains(msg, d.Message) {
			msg += "; " + d.Field + " " + d.Message
		}
	}
	return msg
}

// adminLicenses handles GET /admin/licenses?q=&status=&plan=&customerId=&expiresWithinDays=&cursor=:
// the whole page, or under HTMX only the results.
func (s *Server) adminLicenses(c *fiber.Ctx) error {
	now := s.now()
	f := partials.LicenseFilter{Q: strings.Clone(c.Query("q")), Status: strings.Clone(c.Query("status")),
		Plan: strings.Clone(c.Query("plan")), Customer: strings.Clone(c.Query("customerId")),
		Expiring: strings.Clone(c.Query("expiresWithinDays"))}
	res := partials.LicenseResults{Filtered: f != partials.LicenseFilter{}}
	status := fiber.StatusOK
	if err := s.loadLicenseResults(c, now, f, &res); err != nil {
		if licensing.ErrorCode(err) != licensing.EINVALID {
			return err
		}
		res.Error, status = problemText(err), fiber.StatusUnprocessableEntity
	}
	return s.renderSwap(c, status, partials.LicenseList(res), func() (templ.Component, error) {
		v := admin.LicensesPage{Filter: f, Results: res,
			Expiring: []admin.Option{{Value: "7", Label: "Within 7 days"}, {Value: "30", Label: "Within 30 days"},
				{Value: "90", Label: "Within 90 days"}}}
		for _, st := range effectiveStates {
			v.Statuses = append(v.Statuses, admin.Option{Value: st, Label: components.BadgeLabel(st)})
		}
		var err error
		if v.Plans, v.Customers, err = s.licenseChoices(c); err != nil {
			return nil, err
		}
		return admin.LicensesList(s.page(c, "Licenses"), v), nil
	})
}

func (s *Server) loadLicenseResults(c *fiber.Ctx, now time.Time, f partials.LicenseFilter, res *partials.LicenseResults) error {
	params, err := parseLicenseFilter(c, now)
	if err != nil {
		return err
	}
	p, err := parseListPage(c, adminPageSize)
	if err != nil {
		return err
	}
	if p.After != nil {
		params.BeforeCreated, params.BeforeID = &p.After.T, &p.After.ID
	}
	pg, err := s.licensesPage(c, p.Limit, params)
	if err != nil {
		return err
	}
	if pg.Next != nil {
		res.NextURL = licensesURL(f, *encodeCursor(*pg.Next))
	}
	res.Rows = mapRows(pg.Rows, func(r db.ListLicensesRow) partials.LicenseRow { return licenseRowOf(r, now) })
	return nil
}

// licensesURL is the list's URL for a filter and page.
func licensesURL(f partials.LicenseFilter, cur string) string {
	q := url.Values{}
	for k, v := range map[string]string{"q": f.Q, "status": f.Status, "plan": f.Plan, "customerId": f.Customer,
		"expiresWithinDays": f.Expiring, "cursor": cur} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return "/admin/licenses"
	}
	return "/admin/licenses?" + q.Encode()
}

// licenseChoices are the plans and customers a form or filter offers.
func (s *Server) licenseChoices(c *fiber.Ctx) (plans, customers []admin.Option, err error) {
	ps, err := s.store.ListPlans(c.UserContext(), db.ListPlansParams{MaxRows: 200})
	if err != nil {
		return nil, nil, err
	}
	for _, p := range ps {
		plans = append(plans, admin.Option{Value: p.Code, Label: p.Name + " (" + p.Code + ")"})
	}
	cs, err := s.store.ListCustomers(c.UserContext(), db.ListCustomersParams{MaxRows: 500})
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(cs, func(i, j int) bool { return strings.ToLower(cs[i].Name) < strings.ToLower(cs[j].Name) })
	for _, cu := range cs {
		customers = append(customers, admin.Option{Value: cu.ID.String(), Label: cu.Name + " <" + cu.Email + ">"})
	}
	return plans, customers, nil
}

// adminNewLicense handles GET /admin/licenses/new?customerId=: the issue form.
func (s *Server) adminNewLicense(c *fiber.Ctx) error {
	f := admin.LicenseForm{CustomerID: strings.Clone(c.Query("customerId"))}
	var err error
	if f.Plans, f.Customers, err = s.licenseChoices(c); err != nil {
		return err
	}
	return s.render(c, admin.NewLicense(s.page(c, "Issue a license"), f))
}

// adminCreateLicense handles POST /admin/licenses: issues the license and
// shows its key once, or re-renders the form with its errors (422).
func (s *Server) adminCreateLicense(c *fiber.Ctx) error {
	f := admin.LicenseForm{CustomerID: strings.Clone(c.FormValue("customerId")), Plan: strings.Clone(c.FormValue("plan")),
		Features: strings.Clone(c.FormValue("features")), Limits: strings.Clone(c.FormValue("limits")),
		MaxDeployments: strings.Clone(c.FormValue("maxDeployments")), ExpiresAt: strings.Clone(c.FormValue("expiresAt")),
		Notes: strings.Clone(c.FormValue("notes")), Errors: formTextErrors(c)}
	in, now := db.LicenseInput{Plan: strings.TrimSpace(f.Plan), Notes: strings.TrimSpace(f.Notes)}, s.now()
	if id, err := uuid.Parse(f.CustomerID); err != nil {
		f.Errors["customerId"] = "Choose a customer."
	} else {
		in.CustomerID = id
	}
	if in.Plan == "" {
		f.Errors["plan"] = "Choose a plan."
	}
	if strings.TrimSpace(f.Features) != "" {
		features := []string{}
		for _, x := range strings.Split(f.Features, ",") {
			if x = strings.TrimSpace(x); x != "" {
				features = append(features, x)
			}
		}
		in.Features = &features
	}
	if limits, msg := parseLimitLines(f.Limits); msg != "" {
		f.Errors["limits"] = msg
	} else if len(limits) > 0 {
		in.Limits = limits
	}
	if v := strings.TrimSpace(f.MaxDeployments); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			f.Errors["maxDeployments"] = "Enter a whole number from 1 to 1000000, or leave blank for the plan's."
		} else {
			m := ptr(int32(n))
			in.MaxDeployments = &m
		}
	}
	if v := strings.TrimSpace(f.ExpiresAt); v != "" {
		d, err := time.Parse(dateFormat, v)
		switch {
		case err != nil:
			f.Errors["expiresAt"] = "Enter a date as YYYY-MM-DD."
		case !inLicenseDateWindow(d):
			f.Errors["expiresAt"] = "Choose a date between 2000-01-01 and 2999-12-31."
		case !d.AddDate(0, 0, 1).After(now):
			f.Errors["expiresAt"] = "Choose a date in the future."
		default:
			// The license runs to the end of the chosen day (UTC).
			exp := ptr(d.AddDate(0, 0, 1))
			in.ExpiresAt = &exp
		}
	}
	var (
		lic db.License
		key string
		err error
	)
	if len(f.Errors) == 0 {
		lic, key, err = s.store.CreateLicense(c.UserContext(), s.adminActor(c), s.issuer, s.sealer, in, now)
		if err != nil {
			le := classify(err)
			if le.Code != licensing.EINVALID {
				return err
			}
			for _, d := range le.Details {
				field, _, _ := strings.Cut(d.Field, ".")
				if field == "" || f.Errors[field] != "" {
					field = "plan"
				}
				f.Errors[field] = d.Message
			}
			if len(le.Details) == 0 {
				f.Errors["plan"] = le.Message
			}
		}
	}
	if len(f.Errors) > 0 {
		if f.Plans, f.Customers, err = s.licenseChoices(c); err != nil {
			return err
		}
		c.Status(fiber.StatusUnprocessableEntity)
		return s.render(c, admin.NewLicense(s.page(c, "Issue a license"), f))
	}
	v := admin.LicenseIssued{ID: lic.ID.String(), Key: key, Plan: in.Plan}
	if cu, err := s.store.GetCustomer(c.UserContext(), lic.CustomerID); err == nil {
		v.CustomerName = cu.Name
	}
	c.Status(fiber.StatusCreated)
	return s.render(c, admin.LicenseIssuedPage(s.page(c, "License issued"), v))
}

// parseLimitLines reads "name=value" lines; blank lines are skipped.
func parseLimitLines(text string) (map[string]int64, string) {
	out := map[string]int64{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if !ok || strings.TrimSpace(name) == "" || err != nil || n < 0 {
			return nil, fmt.Sprintf("Line %d: write name=value with a whole number, e.g. users=25.", i+1)
		}
		out[strings.TrimSpace(name)] = n
	}
	return out, ""
}

// adminLicense handles GET /admin/licenses/:id: the license page.
func (s *Server) adminLicense(c *fiber.Ctx) error {
	s.flushStats(c)
	l, err := s.licenseByParam(c)
	if err != nil {
		return err
	}
	d, err := s.licenseDetail(c, l)
	if err != nil {
		return err
	}
	return s.render(c, admin.LicensePage(s.page(c, "License "+l.ID.String()[:8]), d))
}

// licenseHeader is the license page's status block for l.
func (s *Server) licenseHeader(c *fiber.Ctx, l db.License) (partials.LicenseHeader, error) {
	v, err := s.licenseResponse(c, l)
	if err != nil {
		return partials.LicenseHeader{}, err
	}
	h := partials.LicenseHeader{ID: l.ID.String(), CustomerID: l.CustomerID.String(), Plan: v.Plan, Status: v.Status,
		StoredStatus: l.Status, StartsAt: fmtDate(&l.StartsAt), ExpiresAt: fmtDate(l.ExpiresAt),
		GraceEndsAt: fmtDate(v.GraceEndsAt), Seats: strconv.Itoa(v.ActiveDeployments)}
	if v.MaxDeployments != nil {
		h.Seats += " of " + strconv.Itoa(int(*v.MaxDeployments))
	} else {
		h.Seats += " (unlimited)"
	}
	if l.SuspendedReason != nil {
		h.SuspendedReason = *l.SuspendedReason
	}
	h.PlanName = v.Plan
	if pl, err := s.store.GetPlanByCode(c.UserContext(), v.Plan); err == nil && pl.Name != "" {
		h.PlanName = pl.Name
	}
	if cu, err := s.store.GetCustomer(c.UserContext(), l.CustomerID); err == nil {
		h.CustomerName = cu.Name
	} else {
		h.CustomerName = l.CustomerID.String()
	}
	return h, nil
}

// licenseDeployments is the deployments table of l.
func (s *Server) licenseDeployments(c *fiber.Ctx, l db.License) (partials.Deployments, error) {
	s.flushStats(c)
	rows, err := s.store.ListDeployments(c.UserContext(), l.ID)
	if err != nil {
		return partials.Deployments{}, err
	}
	now := s.now()
	pol, err := s.store.LicensePolicy(c.UserContext(), l.ID)
	if err != nil {
		return partials.Deployments{}, err
	}
	budget, err := s.store.TransferBudget(c.UserContext(), l.ID, now)
	if err != nil {
		return partials.Deployments{}, err
	}
	out := partials.Deployments{LicenseID: l.ID.String(), Transfers: budget.Describe()}
	lost := map[string]bool{}
	if l.MaxDeployments != nil {
		_, losing := db.LosingSeats(rows, heartbeatWindow(l), licensing.SeatAllowance(int(*l.MaxDeployments), pol.SeatOverage), now)
		for _, d := range losing {
			lost[d.DeploymentID] = true
		}
	}
	for _, d := range rows {
		row := partials.Deployment{ID: d.DeploymentID, Hostname: d.Hostname, IP: d.Ip,
			AppVersion: d.AppVersion, FirstSeen: fmtDateTime(d.FirstSeenAt), LastSeen: fmtDateTime(d.LastSeenAt), LastSeenAt: d.LastSeenAt,
			Status: string(d.State(heartbeatWindow(l), now)), SeatLost: lost[d.DeploymentID]}
		if end := licensing.LastLeaseEnd(d.LastSeenAt, pol.LeaseWindow(l.OfflineDays), l.GraceEnd()); row.Status != string(licensing.DeploymentActive) && end.After(now) {
			row.LeaseEnds = fmtDateTime(end)
		}
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

// licenseDetail gathers everything the license page shows.
func (s *Server) licenseDetail(c *fiber.Ctx, l db.License) (admin.LicenseDetail, error) {
	ctx, now := c.UserContext(), s.now()
	var d admin.LicenseDetail
	var err error
	if d.Header, err = s.licenseHeader(c, l); err != nil {
		return d, err
	}
	d.Features = l.Features
	if d.Downloads, err = s.downloadCount(c, l.ID); err != nil {
		return d, err
	}
	d.MaxDeployments = "Unlimited"
	if l.MaxDeployments != nil {
		d.MaxDeployments = strconv.Itoa(int(*l.MaxDeployments))
		if d.SeatOverage, err = s.seatOverageLine(c, l, now); err != nil {
			return d, err
		}
	}
	ul := db.UsageLicense{ID: l.ID, CustomerID: l.CustomerID, BillingPeriodStart: l.BillingPeriodStart,
		BillingPeriodEnd: l.BillingPeriodEnd}
	start, end := ul.UsagePeriod(now)
	d.UsagePeriod = fmtDate(&start) + " to " + fmtDate(&end)
	used, err := s.store.CurrentUsage(ctx, ul, now)
	if err != nil {
		return d, err
	}
	plan, err := s.store.GetPlan(ctx, l.PlanID)
	if err != nil {
		return d, err
	}
	labels := db.DecodeMetricLabels(plan.MetricLabels)
	for metric, limit := range db.DecodeLimits(l.Limits) {
		d.Limits = append(d.Limits, admin.UsageLine{Metric: metric, Label: licensing.MetricLabel(labels, metric),
			Used: used[metric], Limit: limit, Exceeded: used[metric] > limit})
	}
	sort.Slice(d.Limits, func(i, j int) bool { return d.Limits[i].Metric < d.Limits[j].Metric })
	charts, err := s.usageCharts(c, l, labels, now)
	if err != nil {
		return d, err
	}
	for _, ch := range charts {
		note := "running total this period"
		if ch.Kind == string(licensing.Gauge) {
			note = "highest each day"
		}
		d.UsageCharts = append(d.UsageCharts, admin.UsageChart{Metric: ch.Metric, Label: ch.Label, Note: note, Chart: ch.Chart})
	}
	if d.Deployments, err = s.licenseDeployments(c, l); err != nil {
		return d, err
	}
	vals, err := s.store.ValidationsForLicense(ctx, db.ValidationsForLicenseParams{LicenseID: &l.ID,
		Since: now.AddDate(0, 0, -chartDays)})
	if err != nil {
		return d, err
	}
	byDay := map[[2]string]int64{}
	for _, v := range vals {
		byDay[[2]string{v.Hour.UTC().Format(dateFormat), v.Code}] += v.Count
	}
	for k, n := range byDay {
		d.Validations = append(d.Validations, admin.ValidationRow{Day: k[0], Code: k[1], Count: n})
	}
	sort.Slice(d.Validations, func(i, j int) bool {
		a, b := d.Validations[i], d.Validations[j]
		return a.Day > b.Day || (a.Day == b.Day && a.Code < b.Code)
	})
	if d.Audit, err = s.licenseAudit(c, l); err != nil {
		return d, err
	}
	if d.Lifecycle, err = s.licenseLifecycle(c, l); err != nil {
		return d, err
	}
	if d.Findings, err = s.findingsSection(c, &l.ID, nil); err != nil {
		return d, err
	}
	if d.PlanChange, err = s.planChangeView(c, l); err != nil {
		return d, err
	}
	if d.Policy, err = s.policyFormView(c, l); err != nil {
		return d, err
	}
	return d, nil
}

// licenseAudit is the latest audit rows of l, for its page.
func (s *Server) licenseAudit(c *fiber.Ctx, l db.License) ([]admin.AuditRow, error) {
	id := l.ID.String()
	audit, err := s.store.ListAudit(c.UserContext(), db.ListAuditParams{EntityID: &id, MaxRows: 25})
	if err != nil {
		return nil, err
	}
	return auditRows(audit), nil
}

// adminLicenseSection handles GET /admin/licenses/:id/sections/:section:
// one section of the license page (header, deployments, plan, policy or
// audit), which
// fetches itself again when an action elsewhere on the page changed it.
func (s *Server) adminLicenseSection(c *fiber.Ctx) error {
	l, err := s.licenseByParam(c)
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return c.Redirect("/admin/licenses/"+l.ID.String(), fiber.StatusSeeOther)
	}
	csrf := s.loadSession(c).CSRF
	switch c.Params("section") {
	case "header":
		h, err := s.licenseHeader(c, l)
		if err != nil {
			return err
		}
		return s.render(c, partials.Header(h, csrf))
	case "deployments":
		d, err := s.licenseDeployments(c, l)
		if err != nil {
			return err
		}
		return s.render(c, partials.DeploymentsTable(d, csrf))
	case "plan":
		v, err := s.planChangeView(c, l)
		if err != nil {
			return err
		}
		return s.render(c, partials.PlanChangeSection(v, csrf))
	case "policy":
		v, err := s.policyFormView(c, l)
		if err != nil {
			return err
		}
		return s.render(c, partials.PolicySection(v, csrf))
	case "audit":
		rows, err := s.licenseAudit(c, l)
		if err != nil {
			return err
		}
		return s.render(c, admin.LicenseAudit(l.ID.String(), rows))
	}
	return licensing.Errorf(licensing.ENOTFOUND, "Page not found. Go back to the license page.")
}

// seatOverageLine is this month's peak of seats held beyond the license's
// seats, as recorded for true-up; "" when it never went over.
func (s *Server) seatOverageLine(c *fiber.Ctx, l db.License, now time.Time) (string, error) {
	start, end := licensing.MonthPeriod(now)
	peak, err := s.store.PeakSeatOverage(c.UserContext(), l.ID, start, end)
	if err != nil || peak <= int(*l.MaxDeployments) {
		return "", err
	}
	return fmt.Sprintf("%d of %d (%d over)", peak, *l.MaxDeployments, peak-int(*l.MaxDeployments)), nil
}
