package handlers

// The customer portal: a customer's users see their own licenses, keys,
// installations, usage and activity, and act on them. Tenant isolation comes
// first: every handler takes the customer from the session and passes it to
// store operations that filter by it, so an id from the URL or a form names
// one of that customer's rows or nothing at all. Another customer's license
// or deployment answers 404, exactly like an id that does not exist.
//
// Pages: overview (this file), license page, reveal and release (this
// file), offline activation (portal_offline.go), billing
// (portal_billing.go), activity (portal_activity.go).

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
	"github.com/nectarcloud/nls/web/templates/layouts"
	"github.com/nectarcloud/nls/web/templates/pages/portal"
	"github.com/nectarcloud/nls/web/templates/partials"
)

const localPortalCustomer = "portalCustomer"

// registerPortalRoutes serves the customer portal to signed-in customer
// users. An admin gets 403: the vendor's staff manage customers from the
// admin portal, where their actions are audited as theirs, and never act
// inside a customer's portal.
func (s *Server) registerPortalRoutes(app *fiber.App) {
	g := app.Group("/portal", s.requireRole("customer"), s.csrfProtect, s.portalCustomer)
	g.Get("/", s.portalOverview)
	g.Get("/licenses/:id", s.portalLicense)
	g.Post("/licenses/:id/reveal", s.portalRevealKey)
	g.Post("/licenses/:id/deployments/:dep/release", s.portalReleaseDeployment)
	g.Post("/licenses/:id/offline", s.portalOfflineActivation)
	g.Get("/licenses/:id/sections/:section", s.portalLicenseSection)
	g.Get("/activity", s.portalActivity)
	g.Get("/billing", s.portalBilling)
	g.Post("/billing", s.portalOpenBilling)
}

// portalCustomer loads the signed-in user's customer for the handlers
// after it. A customer session always names its customer; one that does not
// is refused rather than guessed at.
func (s *Server) portalCustomer(c *fiber.Ctx) error {
	sess := s.loadSession(c)
	if sess.CustomerID == nil {
		return licensing.Errorf(licensing.EFORBIDDEN, "this page is not available to your account")
	}
	cu, err := s.store.GetCustomer(c.UserContext(), *sess.CustomerID)
	if err != nil {
		if licensing.ErrorCode(err) == licensing.ENOTFOUND {
			return licensing.Errorf(licensing.EFORBIDDEN, "this page is not available to your account")
		}
		return err
	}
	c.Locals(localPortalCustomer, &cu)
	return c.Next()
}

// customerOf is the signed-in user's customer (set by portalCustomer).
func (s *Server) customerOf(c *fiber.Ctx) db.Customer {
	if cu, ok := c.Locals(localPortalCustomer).(*db.Customer); ok {
		return *cu
	}
	return db.Customer{}
}

// billingOffered reports whether the portal offers Stripe's billing portal.
func (s *Server) billingOffered() bool { return s.cfg.StripeAPIKey != "" }

// portalPage is the layout props of a customer portal page: the customer's
// name and the portal's navigation, the item of the path marked. Pages under
// /portal served by other files use it too, so every portal page looks alike.
func (s *Server) portalPage(c *fiber.Ctx, title string) layouts.Page {
	p := s.page(c, title)
	cu, ok := c.Locals(localPortalCustomer).(*db.Customer)
	if !ok {
		if sess := s.loadSession(c); sess.CustomerID != nil {
			if got, err := s.store.GetCustomer(c.UserContext(), *sess.CustomerID); err == nil {
				cu = &got
			}
		}
	}
	p.Customer = &layouts.CustomerView{Billing: s.billingOffered()}
	if cu != nil {
		p.Customer.Name = cu.Name
	}
	p.Nav = portalNavOf(c.Path())
	return p
}

// portalNavOf is the navigation key of a portal path: /portal/licenses/x → "overview".
func portalNavOf(path string) string {
	rest := strings.Trim(strings.TrimPrefix(path, "/portal"), "/")
	key, _, _ := strings.Cut(rest, "/")
	switch key {
	case "", "licenses":
		return "overview"
	}
	return key
}

// portalActor names the signed-in customer user behind the request, for the audit log.
func (s *Server) portalActor(c *fiber.Ctx) licensing.Actor {
	sess := s.loadSession(c)
	a := licensing.Actor{Type: licensing.ActorCustomerUser, Label: sess.Email, IP: c.IP(),
		UserAgent: string([]byte(c.Get(fiber.HeaderUserAgent))), RequestID: requestIDOf(c)}
	if sess.UserID != nil {
		a.ID = sess.UserID.String()
	}
	return a
}

// portalOverview handles GET /portal: every license of the customer.
func (s *Server) portalOverview(c *fiber.Ctx) error {
	ctx, now, cu := c.UserContext(), s.now(), s.customerOf(c)
	rows, err := s.store.ListPortalLicenses(ctx, db.ListPortalLicensesParams{CustomerID: cu.ID, Now: now,
		MaxRows: db.PortalLicenseLimit + 1})
	if err != nil {
		return err
	}
	o := portal.Overview{CustomerName: cu.Name}
	if len(rows) > db.PortalLicenseLimit {
		rows, o.Truncated = rows[:db.PortalLicenseLimit], true
	}
	lics := make([]db.License, len(rows))
	for i, r := range rows {
		lics[i] = r.License
	}
	usage, err := s.store.CurrentUsageOf(ctx, lics, now)
	if err != nil {
		return err
	}
	for i, r := range rows {
		o.Licenses = append(o.Licenses, licenseSummary(lics[i], r.PlanName, r.PlanCode, r.PlanMetricLabels, int(r.SeatsInUse), usage[lics[i].ID], now))
	}
	if o.Advice, err = s.portalAdvice(c, cu.ID, nil); err != nil {
		return err
	}
	return s.render(c, portal.OverviewPage(s.portalPage(c, "Your licenses"), o))
}

// licenseSummary is a license's state, notices, seats and usage for display,
// each metric by the label its plan gives it (labels, as stored).
func licenseSummary(l db.License, planName, planCode string, labels []byte, seats int, used map[string]int64, now time.Time) portal.LicenseSummary {
	eff := l.Effective(now)
	v := portal.LicenseSummary{ID: l.ID.String(), ShortID: l.ID.String()[:8], Plan: planName, PlanCode: planCode,
		Status: string(eff.State), ExpiresAt: "Never", Notices: licenseNotices(l, eff, now)}
	if l.ExpiresAt != nil {
		v.ExpiresAt = fmtDate(l.ExpiresAt)
	}
	v.Seats = seatsText(seats, l.MaxDeployments)
	start, end := l.UsageLicense().UsagePeriod(now)
	v.UsagePeriod = fmtDate(&start) + " to " + fmtDate(&end)
	names := db.DecodeMetricLabels(labels)
	for metric, limit := range db.DecodeLimits(l.Limits) {
		u := portal.UsageLine{Metric: metric, Label: licensing.MetricLabel(names, metric), Used: used[metric], Limit: limit,
			Exceeded: used[metric] > limit}
		switch {
		case limit > 0:
			u.Percent = used[metric] * 100 / limit
		case used[metric] > 0:
			u.Percent = 100
		}
		v.Usage = append(v.Usage, u)
	}
	sort.Slice(v.Usage, func(i, j int) bool { return v.Usage[i].Metric < v.Usage[j].Metric })
	return v
}

// seatsText is "1 of 2 in use", or "1 in use (no limit)".
func seatsText(seats int, max *int32) string {
	if max == nil {
		return strconv.Itoa(seats) + " in use (no limit)"
	}
	return strconv.Itoa(seats) + " of " + strconv.Itoa(int(*max)) + " in use"
}

// licenseNotices says what needs the customer's attention, with the dates
// that matter. A suspension's reason is the vendor's own note and is not
// shown; its cause (payment or the vendor) is.
func licenseNotices(l db.License, eff licensing.Effective, now time.Time) []portal.Notice {
	var out []portal.Notice
	add := func(kind, text string) { out = append(out, portal.Notice{Kind: kind, Text: text}) }
	switch eff.State {
	case licensing.StateGrace:
		add(portal.NoticeWarning, fmt.Sprintf("Expired on %s. The grace period ends on %s: renew before then to keep your installations running.",
			fmtDate(l.ExpiresAt), fmtDate(eff.GraceEndsAt)))
	case licensing.StatePastDue:
		since := fmtDate(l.PastDueSince)
		if since == "" {
			since = "recently"
		} else {
			since = "since " + since
		}
		add(portal.NoticeWarning, fmt.Sprintf("Payment is overdue %s. The license will be suspended on %s unless the invoice is paid.",
			since, fmtDate(eff.DunningEndsAt)))
	case licensing.StateSuspended:
		switch {
		case eff.DunningEndsAt != nil:
			add(portal.NoticeDanger, fmt.Sprintf("Suspended on %s because payment is overdue. Paying the overdue invoice restores it.",
				fmtDate(eff.DunningEndsAt)))
		case l.Standing().SuspendedBy(licensing.SuspendedByPayment):
			add(portal.NoticeDanger, "Suspended because payment is overdue. Paying the overdue invoice restores it.")
		case l.Standing().SuspendedBy(licensing.SuspendedByDispute):
			add(portal.NoticeDanger, "Suspended while a payment dispute is open. Contact your vendor.")
		default:
			add(portal.NoticeDanger, "Suspended by your vendor. Contact them to restore it.")
		}
	case licensing.StateExpired:
		add(portal.NoticeDanger, fmt.Sprintf("Expired on %s; the grace period ended on %s. Renew it to use it again.",
			fmtDate(l.ExpiresAt), fmtDate(eff.GraceEndsAt)))
	case licensing.StateNotYetValid:
		add(portal.NoticeInfo, "Starts on "+fmtDate(&l.StartsAt)+".")
	case licensing.StateRevoked:
		add(portal.NoticeDanger, "Revoked by your vendor. It can no longer be used.")
	case licensing.StateActive:
		if l.ExpiresAt != nil && l.ExpiresAt.Sub(now) <= 30*24*time.Hour {
			days := int(l.ExpiresAt.Sub(now).Hours() / 24)
			when := "in " + strconv.Itoa(days) + " days"
			if days < 1 {
				when = "within a day"
			} else if days == 1 {
				when = "in 1 day"
			}
			add(portal.NoticeInfo, fmt.Sprintf("Expires on %s (%s), followed by a %d-day grace period.", fmtDate(l.ExpiresAt), when, l.GraceDays))
		}
	}
	return out
}

// portalLicenseParam is the license at :id if it is the customer's.
func (s *Server) portalLicenseParam(c *fiber.Ctx) (db.GetPortalLicenseRow, error) {
	id, err := parseUUID(c.Params("id"), "license")
	if err != nil {
		return db.GetPortalLicenseRow{}, err
	}
	return s.store.CustomerLicense(c.UserContext(), s.customerOf(c).ID, id, s.now())
}

// portalLicense handles GET /portal/licenses/:id: one license of the customer.
func (s *Server) portalLicense(c *fiber.Ctx) error {
	row, err := s.portalLicenseParam(c)
	if err != nil {
		return err
	}
	d, err := s.portalLicenseDetail(c, row)
	if err != nil {
		return err
	}
	return s.renderPortalLicense(c, d)
}

func (s *Server) renderPortalLicense(c *fiber.Ctx, d portal.LicenseDetail) error {
	return s.render(c, s.portalLicensePage(c, d))
}

// portalLicensePage is the customer's license page.
func (s *Server) portalLicensePage(c *fiber.Ctx, d portal.LicenseDetail) templ.Component {
	return portal.LicensePage(s.portalPage(c, d.Summary.Plan+" license "+d.Summary.ShortID), d)
}

// portalLicenseHead is what the license page's header shows: state, dates,
// seats and usage this period.
func (s *Server) portalLicenseHead(c *fiber.Ctx, row db.GetPortalLicenseRow) (portal.LicenseDetail, error) {
	l, now := row.License, s.now()
	used, err := s.store.CurrentUsage(c.UserContext(), l.UsageLicense(), now)
	if err != nil {
		return portal.LicenseDetail{}, err
	}
	return portal.LicenseDetail{Summary: licenseSummary(l, row.PlanName, row.PlanCode, row.PlanMetricLabels, int(row.SeatsInUse), used, now),
		StartsAt: fmtDate(&l.StartsAt), GraceDays: int(l.GraceDays)}, nil
}

// portalLicenseActivityRows is how many entries the license page's activity
// section shows; the activity page has the rest.
const portalLicenseActivityRows = 5

// portalLicenseActivity is the latest activity on license id of the customer.
func (s *Server) portalLicenseActivity(c *fiber.Ctx, id uuid.UUID) ([]partials.PortalActivityRow, error) {
	cu, lic := s.customerOf(c), id.String()
	rows, err := s.store.ListPortalActivity(c.UserContext(), db.ListPortalActivityParams{CustomerID: &cu.ID, LicenseID: &lic,
		MaxRows: portalLicenseActivityRows})
	if err != nil {
		return nil, err
	}
	out := make([]partials.PortalActivityRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, portalActivityRow(r))
	}
	return out, nil
}

// portalLicenseSection handles GET /portal/licenses/:id/sections/:section:
// one section of the license page, which fetches itself after an action on
// the page (HX-Trigger). Without htmx it sends the browser to the page.
func (s *Server) portalLicenseSection(c *fiber.Ctx) error {
	row, err := s.portalLicenseParam(c)
	if err != nil {
		return err
	}
	id := row.License.ID
	if !isHTMX(c) {
		return c.Redirect("/portal/licenses/"+id.String(), fiber.StatusSeeOther)
	}
	switch c.Params("section") {
	case "header":
		d, err := s.portalLicenseHead(c, row)
		if err != nil {
			return err
		}
		return s.render(c, portal.LicenseHeader(d))
	case "activity":
		rows, err := s.portalLicenseActivity(c, id)
		if err != nil {
			return err
		}
		return s.render(c, portal.LicenseActivity(id.String(), rows))
	}
	return licensing.Errorf(licensing.ENOTFOUND, "Page not found. Go back to the license page.")
}

// portalLicenseDetail gathers everything the license page shows.
func (s *Server) portalLicenseDetail(c *fiber.Ctx, row db.GetPortalLicenseRow) (portal.LicenseDetail, error) {
	now := s.now()
	l := row.License
	d, err := s.portalLicenseHead(c, row)
	if err != nil {
		return d, err
	}
	d.Features, d.MaxDeployments, d.Key = nonNilStrings(l.Features), "No limit", partials.PortalKey{LicenseID: l.ID.String()}
	if d.Activity, err = s.portalLicenseActivity(c, l.ID); err != nil {
		return d, err
	}
	if l.MaxDeployments != nil {
		d.MaxDeployments = strconv.Itoa(int(*l.MaxDeployments))
	}
	if d.Downloads, err = s.downloadCount(c, l.ID); err != nil {
		return portal.LicenseDetail{}, err
	}
	if d.Advice, err = s.portalAdvice(c, l.CustomerID, &l.ID); err != nil {
		return portal.LicenseDetail{}, err
	}
	if row.KeyPrefix != nil && row.KeySuffix != nil {
		d.Key.Masked = *row.KeyPrefix + "…" + *row.KeySuffix
	}
	for _, u := range d.Summary.Usage {
		d.Limits = append(d.Limits, portal.Limit{Metric: u.Metric, Label: u.Label, Value: u.Limit})
	}
	if d.Deployments, err = s.portalDeployments(c, l); err != nil {
		return d, err
	}
	d.Deployments.Seats = d.Summary.Seats
	if d.Charts, err = s.usageCharts(c, l, db.DecodeMetricLabels(row.PlanMetricLabels), now); err != nil {
		return d, err
	}
	d.Offline = offlineFormFor(l, now)
	return d, nil
}

// portalDeployments is the installations table of l, newest activity first.
func (s *Server) portalDeployments(c *fiber.Ctx, l db.License) (partials.PortalDeployments, error) {
	s.flushStats(c)
	rows, err := s.store.ListDeployments(c.UserContext(), l.ID)
	if err != nil {
		return partials.PortalDeployments{}, err
	}
	now, window := s.now(), heartbeatWindow(l)
	pol, err := s.store.LicensePolicy(c.UserContext(), l.ID)
	if err != nil {
		return partials.PortalDeployments{}, err
	}
	budget, err := s.store.TransferBudget(c.UserContext(), l.ID, now)
	if err != nil {
		return partials.PortalDeployments{}, err
	}
	out := partials.PortalDeployments{LicenseID: l.ID.String(), Transfers: budget.Describe()}
	for _, d := range rows {
		status, note := portalDeploymentState(d, window, now)
		if end := licensing.LastLeaseEnd(d.LastSeenAt, pol.LeaseWindow(l.OfflineDays), l.GraceEnd()); (status == "deactivated" || status == "stale") && end.After(now) {
			// It gets no new lease, but the one it holds keeps it running offline until then.
			if note != "" {
				note += ". "
			}
			note += "Its last lease ends by " + fmtDateTime(end) + " UTC"
		}
		out.Rows = append(out.Rows, partials.PortalDeployment{ID: d.DeploymentID, Hostname: d.Hostname,
			AppVersion: d.AppVersion, FirstSeen: fmtDateTime(d.FirstSeenAt), LastSeen: fmtDateTime(d.LastSeenAt),
			Status: status, Note: note})
	}
	return out, nil
}

// portalDeploymentState is a deployment's state as its customer reads it:
// released; offline (running from an offline license file); active (holding
// its seat by checking in); or stale (not seen within the heartbeat window,
// so holding no seat until it checks in again).
func portalDeploymentState(d db.Deployment, window time.Duration, now time.Time) (status, note string) {
	st := d.State(window, now)
	switch st {
	case licensing.DeploymentReleased:
		if d.Facts().OfflineFileValid(now) {
			note = "Its offline license file holds the seat until " + fmtDateTime(*d.OfflineUntil) + " UTC"
		}
	case licensing.DeploymentOffline:
		note = "Offline license file valid until " + fmtDateTime(*d.OfflineUntil) + " UTC"
	case licensing.DeploymentStale:
		note = fmt.Sprintf("No check-in for over %d hours: holds no seat", int(window.Hours()))
	}
	return string(st), note
}

// portalRevealKey handles POST /portal/licenses/:id/reveal: the license's
// current key, opened from its sealed copy; the reveal is audited with the
// customer user as its actor.
func (s *Server) portalRevealKey(c *fiber.Ctx) error {
	id, err := parseUUID(c.Params("id"), "license")
	if err != nil {
		return err
	}
	cu := s.customerOf(c)
	key, err := s.licenses.RevealCustomerKey(c.UserContext(), s.portalActor(c), cu.ID, id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("HX-Trigger", partials.EventKeyRevealed)
	partial := partials.PortalKeyBlock(partials.PortalKey{LicenseID: id.String(), Key: key}, s.loadSession(c).CSRF)
	return s.renderSwap(c, fiber.StatusOK, partial, func() (templ.Component, error) {
		row, err := s.store.CustomerLicense(c.UserContext(), cu.ID, id, s.now())
		if err != nil {
			return nil, err
		}
		d, err := s.portalLicenseDetail(c, row)
		if err != nil {
			return nil, err
		}
		d.Key.Key = key
		return s.portalLicensePage(c, d), nil
	})
}

// portalReleaseDeployment handles POST /portal/licenses/:id/deployments/:dep/release:
// the deployment's seat is freed (unless an offline license file still
// holds it) and it answers DEPLOYMENT_DEACTIVATED. Under htmx the answer is
// the installations table, the seats line and a toast; without, a redirect
// back with a flash message.
func (s *Server) portalReleaseDeployment(c *fiber.Ctx) error {
	id, err := parseUUID(c.Params("id"), "license")
	if err != nil {
		return err
	}
	dep, err := url.PathUnescape(c.Params("dep"))
	if err != nil {
		return licensing.Errorf(licensing.ENOTFOUND, "deployment not found")
	}
	dep = strings.Clone(dep)
	cu, now := s.customerOf(c), s.now()
	d, err := s.licenses.ReleaseCustomerDeployment(c.UserContext(), s.portalActor(c), cu.ID, id, dep)
	if err != nil {
		return err
	}
	msg := "Deployment " + dep + " released: its seat is free for another installation."
	if d.OfflineUntil != nil && d.OfflineUntil.After(now) {
		msg = "Deployment " + dep + " released. Its offline license file keeps its seat until " +
			fmtDateTime(*d.OfflineUntil) + " UTC."
	}
	if !isHTMX(c) {
		s.setFlash(c, components.ToastSuccess, msg)
		return redirect(c, "/portal/licenses/"+id.String())
	}
	row, err := s.store.CustomerLicense(c.UserContext(), cu.ID, id, now)
	if err != nil {
		return err
	}
	l := row.License
	table, err := s.portalDeployments(c, l)
	if err != nil {
		return err
	}
	seats := seatsText(int(row.SeatsInUse), l.MaxDeployments)
	c.Set("HX-Trigger", partials.EventDeploymentsChanged)
	return s.render(c, templ.Join(partials.PortalDeploymentsTable(table, s.loadSession(c).CSRF),
		partials.PortalSeatsOOB(seats), components.ToastOOB(components.ToastSuccess, msg)))
}
