package handlers

// Admin pages for plans: the table, and the add and edit forms. Plans are
// addressed by code, which never changes once created.

import (
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
)

const plansPageSize = 100

var planFields = []string{"code", "name", "description", "features", "limits", "maxDeployments", "durationDays",
	"graceDays", "offlineDays", "heartbeatWindowHours", "dunningDays", "stripePriceIds", "quantitySets",
	"fingerprintPolicy", "fingerprintMatch", "leaseHours", "transfersPerPeriod", "transferPeriodDays", "seatOverage",
	"limitEnforcement", "expiryStrategy"}

// adminPlans handles GET /admin/plans?cursor=: every plan, archived ones marked.
func (s *Server) adminPlans(c *fiber.Ctx) error {
	p, err := parsePage(c)
	if err != nil {
		return err
	}
	params := db.ListPlansParams{IncludeArchived: true}
	if p.After != nil && p.After.S != "" {
		params.AfterCode = &p.After.S
	}
	ctx := c.UserContext()
	pg, err := s.plansPage(c, plansPageSize, params)
	if err != nil {
		return err
	}
	all, err := s.store.ListAllPlanPrices(ctx)
	if err != nil {
		return err
	}
	prices := map[uuid.UUID][]string{}
	for _, pp := range all {
		prices[pp.PlanID] = append(prices[pp.PlanID], pp.PriceID)
	}
	var v admin.PlansPage
	if pg.Next != nil {
		v.NextURL = "/admin/plans?cursor=" + url.QueryEscape(*encodeCursor(*pg.Next))
	}
	for _, pl := range pg.Rows {
		r := admin.PlanRow{Code: pl.Code, Name: pl.Name, Features: strings.Join(pl.Features, ", "),
			Limits: limitsDisplay(db.DecodeLimits(pl.Limits), db.DecodeMetricLabels(pl.MetricLabels)), MaxDeployments: "Unlimited", Duration: "Perpetual",
			Prices: strings.Join(prices[pl.ID], ", "), Archived: pl.ArchivedAt != nil}
		if pl.MaxDeployments != nil {
			r.MaxDeployments = strconv.Itoa(int(*pl.MaxDeployments))
		}
		if pl.DurationDays != nil {
			r.Duration = strconv.Itoa(int(*pl.DurationDays)) + " days"
		}
		if pl.QuantitySets != nil {
			r.QuantitySets = *pl.QuantitySets
		}
		v.Rows = append(v.Rows, r)
	}
	return s.render(c, admin.PlansList(s.page(c, "Plans"), v))
}

// labelledLimitRows puts each metric's label from labels on its row.
func labelledLimitRows(rows []components.LimitRow, labels map[string]string) []components.LimitRow {
	for i := range rows {
		rows[i].Label = labels[rows[i].Name]
	}
	return rows
}

// limitRowLabels is a plan's metric labels after its form: each limited
// metric's label as typed (blank: none), and the labels of metrics without
// a limit, which the form does not show, kept as they were.
func limitRowLabels(rows []components.LimitRow, before map[string]string) map[string]string {
	out := map[string]string{}
	for name, label := range before {
		out[name] = label
	}
	for _, r := range rows {
		name := strings.TrimSpace(r.Name)
		if name == "" {
			continue
		}
		if label := strings.TrimSpace(r.Label); label != "" {
			out[name] = label
		} else {
			delete(out, name)
		}
	}
	return out
}

// limitsDisplay writes limits for people, by metric name or the plan's
// label, e.g. "Active users 10, API calls 1,000,000".
func limitsDisplay(limits map[string]int64, labels map[string]string) string {
	names := make([]string, 0, len(limits))
	for n := range limits {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, licensing.MetricLabel(labels, n)+" "+components.MetricValue(n, limits[n]))
	}
	return strings.Join(parts, ", ")
}

// splitList reads a comma or newline separated list, dropping blanks.
func splitList(text string) []string {
	out := []string{}
	for _, x := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// planFormOf reads the add/edit form as typed.
func planFormOf(c *fiber.Ctx) admin.PlanForm {
	v := func(name string) string { return strings.Clone(c.FormValue(name)) }
	return admin.PlanForm{Code: v("code"), Name: v("name"), Description: v("description"), Features: v("features"),
		Limits: append(nonBlankRows(limitRowsFrom(c)), make([]components.LimitRow, blankLimitRows)...), MaxDeployments: v("maxDeployments"), DurationDays: v("durationDays"),
		GraceDays: v("graceDays"), OfflineDays: v("offlineDays"), HeartbeatWindowHours: v("heartbeatWindowHours"),
		DunningDays: v("dunningDays"), StripePriceIDs: v("stripePriceIds"), QuantitySets: v("quantitySets"),
		FingerprintPolicy: v("fingerprintPolicy"), FingerprintMatch: v("fingerprintMatch"), LeaseHours: v("leaseHours"),
		TransfersPerPeriod: v("transfersPerPeriod"), TransferPeriodDays: v("transferPeriodDays"),
		SeatOverage: v("seatOverage"), SoftLimits: v("softLimits"), ExpiryStrategy: v("expiryStrategy"),
		Archived: c.FormValue("archived") == "true", Errors: formTextErrors(c)}
}

// planFormFrom fills the form from a stored plan.
func planFormFrom(spec licensing.PlanSpec, archived bool) admin.PlanForm {
	f := admin.PlanForm{Editing: true, Code: spec.Code, Name: spec.Name, Description: spec.Description,
		Features: strings.Join(spec.Features, ", "), Limits: labelledLimitRows(limitRowsOf(spec.Limits), spec.MetricLabels),
		GraceDays: strconv.Itoa(int(spec.GraceDays)), OfflineDays: strconv.Itoa(int(spec.OfflineDays)),
		HeartbeatWindowHours: strconv.Itoa(int(spec.HeartbeatWindowHours)), DunningDays: strconv.Itoa(int(spec.DunningDays)),
		StripePriceIDs: strings.Join(spec.StripePriceIDs, "\n"), Archived: archived}
	f.SetPolicy(spec.Policy)
	if spec.MaxDeployments != nil {
		f.MaxDeployments = strconv.Itoa(int(*spec.MaxDeployments))
	}
	if spec.DurationDays != nil {
		f.DurationDays = strconv.Itoa(int(*spec.DurationDays))
	}
	if spec.QuantitySets != nil {
		f.QuantitySets = *spec.QuantitySets
	}
	return f
}

// applyPlanForm copies the typed form onto spec, recording in f.Errors what
// cannot be read. Blank terms keep spec's values (the defaults when adding);
// blank max deployments and duration mean unlimited and perpetual.
func applyPlanForm(f *admin.PlanForm, spec *licensing.PlanSpec) {
	spec.Name, spec.Description = f.Name, strings.TrimSpace(f.Description)
	spec.Features = splitList(f.Features)
	if limits, msg := parseLimitRows(f.Limits); msg != "" {
		f.Errors["limits"] = msg
	} else {
		spec.Limits = limits
		spec.MetricLabels = limitRowLabels(f.Limits, spec.MetricLabels)
	}
	optional := func(field, text, blank string) *int32 {
		text = strings.TrimSpace(text)
		if text == "" {
			return nil
		}
		n, err := strconv.ParseInt(text, 10, 32)
		if err != nil {
			f.Errors[field] = "Enter a whole number, or leave blank for " + blank + "."
			return nil
		}
		return ptr(int32(n))
	}
	spec.MaxDeployments = optional("maxDeployments", f.MaxDeployments, "unlimited")
	spec.DurationDays = optional("durationDays", f.DurationDays, "perpetual")
	for _, n := range []struct {
		field, text string
		dst         *int32
	}{{"graceDays", f.GraceDays, &spec.GraceDays}, {"offlineDays", f.OfflineDays, &spec.OfflineDays},
		{"heartbeatWindowHours", f.HeartbeatWindowHours, &spec.HeartbeatWindowHours},
		{"dunningDays", f.DunningDays, &spec.DunningDays}} {
		text := strings.TrimSpace(n.text)
		if text == "" {
			continue
		}
		v, err := strconv.ParseInt(text, 10, 32)
		if err != nil {
			f.Errors[n.field] = "Enter a whole number."
			continue
		}
		*n.dst = int32(v)
	}
	applyPolicyForm(f, &spec.Policy)
	spec.StripePriceIDs = splitList(f.StripePriceIDs)
	spec.QuantitySets = nil
	if q := strings.TrimSpace(f.QuantitySets); q != "" {
		spec.QuantitySets = &q
	}
}

// adminNewPlan handles GET /admin/plans/new: the add form, with the defaults.
func (s *Server) adminNewPlan(c *fiber.Ctx) error {
	f := planFormFrom(licensing.DefaultPlanSpec(), false)
	f.Editing = false
	return s.render(c, admin.PlanFormPage(s.page(c, "Add a plan"), f))
}

// adminCreatePlan handles POST /admin/plans: adds the plan and returns to
// the table, or re-renders the form with its errors (422).
func (s *Server) adminCreatePlan(c *fiber.Ctx) error {
	f := planFormOf(c)
	spec := licensing.DefaultPlanSpec()
	spec.Code = f.Code
	applyPlanForm(&f, &spec)
	var err error
	if len(f.Errors) == 0 {
		_, err = s.store.CreatePlan(c.UserContext(), s.adminActor(c), spec, s.now())
	} else {
		// Report every problem at once, not only the unreadable numbers.
		err = spec.Validate()
	}
	if err := formErrors(err, f.Errors, planFields...); err != nil {
		return err
	}
	if len(f.Errors) > 0 {
		c.Status(fiber.StatusUnprocessableEntity)
		return s.render(c, admin.PlanFormPage(s.page(c, "Add a plan"), f))
	}
	s.setFlash(c, components.ToastSuccess, "Plan "+spec.Code+" added.")
	return c.Redirect("/admin/plans", fiber.StatusSeeOther)
}

func (s *Server) planByCodeParam(c *fiber.Ctx) (db.Plan, error) {
	code, err := url.PathUnescape(c.Params("code"))
	if err != nil {
		return db.Plan{}, licensing.Errorf(licensing.ENOTFOUND, "plan not found")
	}
	p, err := s.store.GetPlanByCode(c.UserContext(), code)
	return p, notFoundAs(err, "plan")
}

// adminEditPlan handles GET /admin/plans/:code/edit: the edit form.
func (s *Server) adminEditPlan(c *fiber.Ctx) error {
	p, err := s.planByCodeParam(c)
	if err != nil {
		return err
	}
	prices, err := s.store.ListPlanPrices(c.UserContext(), p.ID)
	if err != nil {
		return err
	}
	f := planFormFrom(p.Spec(prices), p.ArchivedAt != nil)
	return s.render(c, admin.PlanFormPage(s.page(c, "Edit plan "+p.Code), f))
}

// adminUpdatePlan handles POST /admin/plans/:code/edit: saves and returns
// to the table, or re-renders the form with its errors (422).
func (s *Server) adminUpdatePlan(c *fiber.Ctx) error {
	p, err := s.planByCodeParam(c)
	if err != nil {
		return err
	}
	f := planFormOf(c)
	f.Editing, f.Code = true, p.Code
	// Read the form before opening the update, so that an unreadable field
	// stores nothing; report it with every other problem at once.
	scratch := p.Spec(nil)
	applyPlanForm(&f, &scratch)
	if len(f.Errors) > 0 {
		err = scratch.Validate()
	} else {
		archive := f.Archived
		_, err = s.store.UpdatePlan(c.UserContext(), s.adminActor(c), p.ID, &archive, func(spec *licensing.PlanSpec) {
			g := f
			g.Errors = map[string]string{}
			applyPlanForm(&g, spec)
		}, s.now())
	}
	if licensing.ErrorCode(err) == licensing.ENOTFOUND {
		return err
	}
	if err := formErrors(err, f.Errors, planFields...); err != nil {
		return err
	}
	if len(f.Errors) > 0 {
		c.Status(fiber.StatusUnprocessableEntity)
		return s.render(c, admin.PlanFormPage(s.page(c, "Edit plan "+p.Code), f))
	}
	s.setFlash(c, components.ToastSuccess, "Plan "+p.Code+" saved.")
	return c.Redirect("/admin/plans", fiber.StatusSeeOther)
}

// applyPolicyForm copies the policy fields of the form onto p; blank
// numbers keep p's values.
func applyPolicyForm(f *admin.PlanForm, p *licensing.Policy) {
	if v := strings.TrimSpace(f.FingerprintPolicy); v != "" {
		p.FingerprintPolicy = licensing.FingerprintPolicy(v)
	}
	if v := strings.TrimSpace(f.FingerprintMatch); v != "" {
		p.FingerprintMatch = licensing.MatchRule(v)
	}
	if v := strings.TrimSpace(f.SeatOverage); v != "" {
		p.SeatOverage = licensing.SeatOverage(v)
	}
	if v := strings.TrimSpace(f.ExpiryStrategy); v != "" {
		p.ExpiryStrategy = licensing.ExpiryStrategy(v)
	}
	for _, n := range []struct {
		field, text string
		dst         *int32
	}{{"leaseHours", f.LeaseHours, &p.LeaseHours}, {"transfersPerPeriod", f.TransfersPerPeriod, &p.TransfersPerPeriod},
		{"transferPeriodDays", f.TransferPeriodDays, &p.TransferPeriodDays}} {
		text := strings.TrimSpace(n.text)
		if text == "" {
			continue
		}
		v, err := strconv.ParseInt(text, 10, 32)
		if err != nil {
			f.Errors[n.field] = "Enter a whole number."
			continue
		}
		*n.dst = int32(v)
	}
	p.LimitEnforcement = map[string]licensing.Enforcement{}
	for _, m := range splitList(f.SoftLimits) {
		p.LimitEnforcement[m] = licensing.EnforceSoft
	}
}
