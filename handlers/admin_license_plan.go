package handlers

// The license page's plan change and policy override sections. A plan
// change is previewed first (the new terms and the deployments that would
// lose their seat, newest first) and changes the license only when
// confirmed; both go through app.Licenses, as PATCH /api/licenses/:id does
// (ChangePlan, and Update for policyOverrides), audited the same way.

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
	"github.com/nectarcloud/nls/web/templates/partials"
)

// planChangeView is the plan change section of l with nothing chosen yet.
func (s *Server) planChangeView(c *fiber.Ctx, l db.License) (partials.PlanChange, error) {
	v := partials.PlanChange{LicenseID: l.ID.String(), Errors: map[string]string{}}
	cur, err := s.store.GetPlan(c.UserContext(), l.PlanID)
	if err != nil {
		return v, err
	}
	v.CurrentName = cur.Name + " (" + cur.Code + ")"
	plans, err := s.store.ListPlans(c.UserContext(), db.ListPlansParams{MaxRows: 200})
	if err != nil {
		return v, err
	}
	for _, p := range plans {
		if p.ID != l.PlanID {
			v.Plans = append(v.Plans, partials.Choice{Value: p.Code, Label: p.Name + " (" + p.Code + ")"})
		}
	}
	return v, nil
}

// planChangeForm reads the plan and overrides fields; errors go into v.
func planChangeForm(c *fiber.Ctx, v *partials.PlanChange) (string, licensing.OverrideMode) {
	v.Plan, v.Overrides = strings.TrimSpace(c.FormValue("plan")), strings.TrimSpace(c.FormValue("overrides"))
	v.Plan, v.Overrides = strings.Clone(v.Plan), strings.Clone(v.Overrides)
	if v.Plan == "" {
		v.Errors["plan"] = "Choose the plan to change to."
	}
	mode := licensing.OverrideMode(v.Overrides)
	if mode != licensing.OverridesKeep && mode != licensing.OverridesReset {
		v.Errors["overrides"] = "Say whether this license keeps its own terms or takes all of the new plan's."
	}
	return v.Plan, mode
}

// adminPreviewPlanChange handles POST /admin/licenses/:id/plan/preview
// {plan, overrides}: what the change would do, with the button that makes
// it. Nothing changes.
func (s *Server) adminPreviewPlanChange(c *fiber.Ctx) error {
	l, err := s.licenseByParam(c)
	if err != nil {
		return err
	}
	v, err := s.planChangeView(c, l)
	if err != nil {
		return err
	}
	code, mode := planChangeForm(c, &v)
	if len(v.Errors) == 0 {
		p, err := s.licenses.PreviewPlanChange(c.UserContext(), l.ID, code, mode)
		switch {
		case err == nil:
			v.Preview = planPreviewView(p, code, mode)
		case classify(err).Code == licensing.EINVALID:
			fieldErrors(v.Errors, err, "plan")
		default:
			return err
		}
	}
	status := fiber.StatusOK
	if len(v.Errors) > 0 {
		status = fiber.StatusUnprocessableEntity
	}
	csrf := s.loadSession(c).CSRF
	return s.renderSwap(c, status, partials.PlanChangeSection(v, csrf), func() (templ.Component, error) {
		d, err := s.licenseDetail(c, l)
		if err != nil {
			return nil, err
		}
		d.PlanChange = v
		return admin.LicensePage(s.page(c, "License "+l.ID.String()[:8]), d), nil
	})
}

func planPreviewView(p db.PlanChangePreview, code string, mode licensing.OverrideMode) *partials.PlanPreview {
	v := &partials.PlanPreview{Plan: code, PlanName: p.To.Name, Overrides: string(mode), Seats: "Unlimited",
		Features: strings.Join(p.Terms.Features, ", "), Holders: p.Holders}
	if v.Features == "" {
		v.Features = "none"
	}
	if p.Terms.MaxDeployments != nil {
		v.Seats = strconv.Itoa(int(*p.Terms.MaxDeployments))
		switch {
		case p.Allowance == 0:
			v.Allowance = "unlimited with " + string(p.Policy.SeatOverage) + " overage"
		case p.Allowance > int(*p.Terms.MaxDeployments):
			v.Allowance = fmt.Sprintf("%d with %s overage", p.Allowance, p.Policy.SeatOverage)
		}
	}
	for _, d := range p.Losing {
		v.Losing = append(v.Losing, partials.LosingSeat{ID: d.DeploymentID, Hostname: d.Hostname, FirstSeen: fmtDateTime(d.FirstSeenAt)})
	}
	return v
}

// adminChangePlan handles POST /admin/licenses/:id/plan {plan, overrides}:
// the confirmed change, answered like the other license actions (the
// header, a toast, HX-Trigger licenseChanged).
func (s *Server) adminChangePlan(c *fiber.Ctx) error {
	v := partials.PlanChange{Errors: map[string]string{}}
	code, mode := planChangeForm(c, &v)
	if len(v.Errors) > 0 {
		msg := v.Errors["plan"]
		if msg == "" {
			msg = v.Errors["overrides"]
		}
		return s.answerLicenseAction(c, db.License{}, licensing.Invalid(msg), "", "")
	}
	id, err := parseUUID(c.Params("id"), "license")
	if err != nil {
		return err
	}
	l, err := s.licenses.ChangePlan(c.UserContext(), s.adminActor(c), id, code, mode)
	if err != nil {
		return s.answerLicenseAction(c, l, err, "", "")
	}
	// Say who loses a seat, as the preview did.
	rows, err := s.store.ListDeployments(c.UserContext(), l.ID)
	if err != nil {
		return err
	}
	msg := "Plan changed to " + code + "."
	if _, losing := s.losingSeats(c, l, rows); len(losing) > 0 {
		ids := make([]string, len(losing))
		for i, d := range losing {
			ids[i] = d.DeploymentID
		}
		msg += " " + lostSeatsText(len(losing)) + " at the next check: " + strings.Join(ids, ", ") + "."
	}
	return s.answerLicenseAction(c, l, nil, msg, "")
}

func lostSeatsText(n int) string {
	if n == 1 {
		return "1 deployment loses its seat"
	}
	return strconv.Itoa(n) + " deployments lose their seat"
}

// losingSeats is which of rows hold a seat beyond l's allowance now, newest
// first: they are refused at their next check.
func (s *Server) losingSeats(c *fiber.Ctx, l db.License, rows []db.Deployment) (int, []db.Deployment) {
	if l.MaxDeployments == nil {
		return 0, nil
	}
	pol, err := s.store.LicensePolicy(c.UserContext(), l.ID)
	if err != nil {
		return 0, nil // only a marking: the seat rule itself runs at validation
	}
	return db.LosingSeats(rows, l.HeartbeatWindow(), licensing.SeatAllowance(int(*l.MaxDeployments), pol.SeatOverage), s.now())
}

// policyFormView is the policy section of l: its overrides, and its plan's
// values as the defaults.
func (s *Server) policyFormView(c *fiber.Ctx, l db.License) (partials.PolicyForm, error) {
	plan, err := s.store.GetPlan(c.UserContext(), l.PlanID)
	if err != nil {
		return partials.PolicyForm{}, err
	}
	return policyForm(l.ID.String(), plan.Policy(), policyValues(db.DecodePolicyOverrides(l.PolicyOverrides)), nil), nil
}

// policyValues are the form values of overrides ("" for each unset one).
func policyValues(o licensing.PolicyOverrides) map[string]string {
	v := map[string]string{}
	str := func(name string, p *string) {
		if p != nil {
			v[name] = *p
		}
	}
	num := func(name string, p *int32) {
		if p != nil {
			v[name] = strconv.Itoa(int(*p))
		}
	}
	if o.FingerprintPolicy != nil {
		str("fingerprintPolicy", (*string)(o.FingerprintPolicy))
	}
	if o.FingerprintMatch != nil {
		str("fingerprintMatch", (*string)(o.FingerprintMatch))
	}
	num("leaseHours", o.LeaseHours)
	num("transfersPerPeriod", o.TransfersPerPeriod)
	num("transferPeriodDays", o.TransferPeriodDays)
	if o.SeatOverage != nil {
		str("seatOverage", (*string)(o.SeatOverage))
	}
	if o.ExpiryStrategy != nil {
		str("expiryStrategy", (*string)(o.ExpiryStrategy))
	}
	if o.LimitEnforcement != nil {
		v["limitEnforcement"] = enforcementText(o.LimitEnforcement)
	}
	return v
}

func enforcementText(m map[string]licensing.Enforcement) string {
	parts := make([]string, 0, len(m))
	for metric, e := range m {
		parts = append(parts, metric+"="+string(e))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// policyFields lists the policy settings a license may override.
var policyFields = []struct {
	name, label, kind, hint string
	options                 []partials.Choice
}{
	{"fingerprintPolicy", "Machine binding", "select", "", choices("none", "None (recorded only)", "lock", "Lock to the first machine", "components", "Compare components")},
	{"fingerprintMatch", "Components that must match", "select", "", choices("any", "Any one", "most", "Most (more than half)", "all", "All")},
	{"leaseHours", "Lease hours", "number", "0: the offline window", nil},
	{"transfersPerPeriod", "Seat transfers per period", "number", "0: unlimited", nil},
	{"transferPeriodDays", "Transfer period, days", "number", "", nil},
	{"seatOverage", "Seat overage allowed", "select", "", choices("none", "None", "1.25x", "1.25×", "1.5x", "1.5×", "2x", "2×", "always", "Always")},
	{"limitEnforcement", "Limit enforcement", "text", "e.g. users=soft, apiCalls=hard (soft: allowed over, for true-up)", nil},
	{"expiryStrategy", "After expiry", "select", "", choices("restrict", "Stop (expired)", "maintain", "Keep versions released before expiry")},
}

// choices pairs values and labels: value, label, value, label, ...
func choices(pairs ...string) []partials.Choice {
	out := make([]partials.Choice, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, partials.Choice{Value: pairs[i], Label: pairs[i+1]})
	}
	return out
}

func policyForm(id string, plan licensing.Policy, values, errs map[string]string) partials.PolicyForm {
	planValues := map[string]string{
		"fingerprintPolicy": string(plan.FingerprintPolicy), "fingerprintMatch": string(plan.FingerprintMatch),
		"leaseHours": strconv.Itoa(int(plan.LeaseHours)), "transfersPerPeriod": strconv.Itoa(int(plan.TransfersPerPeriod)),
		"transferPeriodDays": strconv.Itoa(int(plan.TransferPeriodDays)), "seatOverage": string(plan.SeatOverage),
		"limitEnforcement": enforcementText(plan.LimitEnforcement), "expiryStrategy": string(plan.ExpiryStrategy),
	}
	if planValues["limitEnforcement"] == "" {
		planValues["limitEnforcement"] = "all hard"
	}
	f := partials.PolicyForm{LicenseID: id}
	for _, d := range policyFields {
		f.Fields = append(f.Fields, partials.PolicyField{Name: d.name, Label: d.label, Kind: d.kind, Hint: d.hint,
			Options: d.options, Value: values[d.name], PlanValue: planValues[d.name], Err: errs[d.name]})
	}
	return f
}

// parsePolicyForm reads the posted policy fields into overrides; a blank
// field follows the plan. Errors of form go into errs; the values' own
// checks are licensing.PolicyOverrides.Validate's, run by the use case.
func parsePolicyForm(values, errs map[string]string) licensing.PolicyOverrides {
	var o licensing.PolicyOverrides
	text := func(name string) *string {
		if v := values[name]; v != "" {
			return &v
		}
		return nil
	}
	if v := text("fingerprintPolicy"); v != nil {
		o.FingerprintPolicy = (*licensing.FingerprintPolicy)(v)
	}
	if v := text("fingerprintMatch"); v != nil {
		o.FingerprintMatch = (*licensing.MatchRule)(v)
	}
	if v := text("seatOverage"); v != nil {
		o.SeatOverage = (*licensing.SeatOverage)(v)
	}
	if v := text("expiryStrategy"); v != nil {
		o.ExpiryStrategy = (*licensing.ExpiryStrategy)(v)
	}
	for _, n := range []struct {
		name string
		dst  **int32
	}{{"leaseHours", &o.LeaseHours}, {"transfersPerPeriod", &o.TransfersPerPeriod}, {"transferPeriodDays", &o.TransferPeriodDays}} {
		v := text(n.name)
		if v == nil {
			continue
		}
		x, err := strconv.ParseInt(*v, 10, 32)
		if err != nil {
			errs[n.name] = "Enter a whole number, or leave it blank to follow the plan."
			continue
		}
		*n.dst = ptr(int32(x))
	}
	if v := text("limitEnforcement"); v != nil {
		o.LimitEnforcement = map[string]licensing.Enforcement{}
		for _, item := range splitList(*v) {
			metric, e, ok := strings.Cut(item, "=")
			metric, e = strings.TrimSpace(metric), strings.TrimSpace(e)
			if !ok || metric == "" {
				errs["limitEnforcement"] = "Write each as metric=soft or metric=hard, e.g. users=soft."
				break
			}
			o.LimitEnforcement[metric] = licensing.Enforcement(e)
		}
	}
	return o
}

// adminUpdatePolicy handles POST /admin/licenses/:id/policy: the license's
// policy overrides. Invalid input shows the form again with what was typed
// and nothing saved (422 without htmx); saved, the section shows the stored
// values and the page's other sections refresh (HX-Trigger licenseChanged).
func (s *Server) adminUpdatePolicy(c *fiber.Ctx) error {
	l, err := s.licenseByParam(c)
	if err != nil {
		return err
	}
	values, errs := map[string]string{}, map[string]string{}
	for _, d := range policyFields {
		values[d.name] = strings.Clone(strings.TrimSpace(c.FormValue(d.name)))
		if !storableText(values[d.name]) || len(values[d.name]) > 2000 {
			errs[d.name] = "Remove the invalid characters, or shorten it."
		}
	}
	o := parsePolicyForm(values, errs)
	if len(errs) == 0 {
		l2, err := s.licenses.SetPolicyOverrides(c.UserContext(), s.adminActor(c), l.ID, o)
		switch {
		case err == nil:
			l = l2
		case classify(err).Code == licensing.EINVALID:
			fieldErrors(errs, err, "fingerprintPolicy")
		default:
			return err
		}
	}
	plan, err := s.store.GetPlan(c.UserContext(), l.PlanID)
	if err != nil {
		return err
	}
	csrf := s.loadSession(c).CSRF
	if len(errs) > 0 {
		f := policyForm(l.ID.String(), plan.Policy(), values, errs)
		return s.renderSwap(c, fiber.StatusUnprocessableEntity, partials.PolicySection(f, csrf), func() (templ.Component, error) {
			d, err := s.licenseDetail(c, l)
			if err != nil {
				return nil, err
			}
			d.Policy = f
			return admin.LicensePage(s.page(c, "License "+l.ID.String()[:8]), d), nil
		})
	}
	const done = "Policies saved. Installations get them at their next validation."
	if !isHTMX(c) {
		s.setFlash(c, components.ToastSuccess, done)
		return redirect(c, "/admin/licenses/"+l.ID.String())
	}
	c.Set("HX-Trigger", partials.EventLicenseChanged)
	f := policyForm(l.ID.String(), plan.Policy(), policyValues(db.DecodePolicyOverrides(l.PolicyOverrides)), nil)
	return s.render(c, templ.Join(partials.PolicySection(f, csrf), components.ToastOOB(components.ToastSuccess, done)))
}

// fieldErrors puts an invalid-input error's details into errs by field (the
// part before the first dot: limitEnforcement.users is limitEnforcement);
// a detail without a field, or none at all, goes to fallback.
func fieldErrors(errs map[string]string, err error, fallback string) {
	le := classify(err)
	for _, d := range le.Details {
		field, _, _ := strings.Cut(d.Field, ".")
		if field == "" {
			field = fallback
		}
		errs[field] = sentence(d.Message)
	}
	if len(le.Details) == 0 {
		errs[fallback] = sentence(problemText(err))
	}
}
