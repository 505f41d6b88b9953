package handlers

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

func (s *Server) registerLicenseRoutes(api fiber.Router) {
	read, write := s.requireScope(licensing.ScopeLicensesRead), s.requireScope(licensing.ScopeLicensesWrite)
	api.Get("/licenses", read, s.listLicenses)
	api.Post("/licenses", write, s.createLicense)
	api.Get("/licenses/:id", read, s.getLicense)
	api.Patch("/licenses/:id", write, s.updateLicense)
	api.Post("/licenses/:id/suspend", write, s.suspendLicense)
	api.Post("/licenses/:id/reactivate", write, s.reactivateLicense)
	api.Post("/licenses/:id/renew", write, s.renewLicense)
	api.Post("/licenses/:id/revoke", write, s.revokeLicense)
	api.Post("/licenses/:id/rekey", write, s.rekeyLicense)
	api.Get("/licenses/:id/deployments", read, s.listDeployments)
	api.Delete("/licenses/:id/deployments/:deploymentId", write, s.releaseDeployment)
	api.Post("/licenses/:id/deployments/:deploymentId/reactivate", write, s.reactivateDeployment)
	s.registerTrueUpRoutes(api)
}

// LicenseView is a license as the API shows it: its effective status and
// current entitlements.
type LicenseView struct {
	ID                   uuid.UUID        `json:"id"`
	CustomerID           uuid.UUID        `json:"customerId"`
	Plan                 string           `json:"plan"`
	Status               string           `json:"status"`
	Features             []string         `json:"features"`
	Limits               map[string]int64 `json:"limits"`
	MaxDeployments       *int32           `json:"maxDeployments"`
	ActiveDeployments    int              `json:"activeDeployments"`
	StartsAt             time.Time        `json:"startsAt"`
	ExpiresAt            *time.Time       `json:"expiresAt"`
	GraceDays            int32            `json:"graceDays"`
	GraceEndsAt          *time.Time       `json:"graceEndsAt"`
	PaymentState         string           `json:"paymentState"`
	PastDueSince         *time.Time       `json:"pastDueSince"`
	DunningEndsAt        *time.Time       `json:"dunningEndsAt"`
	SuspendedReason      *string          `json:"suspendedReason"`
	StripeSubscriptionID *string          `json:"stripeSubscriptionId"`
	Notes                string           `json:"notes"`
	// PolicyOverrides are the license's own policy settings; absent ones
	// follow the plan.
	PolicyOverrides licensing.PolicyOverrides `json:"policyOverrides"`
	CreatedAt       time.Time                 `json:"createdAt"`
	UpdatedAt       time.Time                 `json:"updatedAt"`
}

func viewLicense(l db.License, plan string, seats int, now time.Time) LicenseView {
	eff := l.Effective(now)
	return LicenseView{ID: l.ID, CustomerID: l.CustomerID, Plan: plan, Status: string(eff.State),
		Features: nonNilStrings(l.Features), Limits: db.DecodeLimits(l.Limits), MaxDeployments: l.MaxDeployments,
		ActiveDeployments: seats, StartsAt: l.StartsAt.UTC(), ExpiresAt: utcPtr(l.ExpiresAt), GraceDays: l.GraceDays,
		GraceEndsAt: l.GraceEnd(), PaymentState: l.PaymentState, PastDueSince: utcPtr(l.PastDueSince),
		DunningEndsAt: utcPtr(eff.DunningEndsAt), SuspendedReason: l.SuspendedReason,
		StripeSubscriptionID: l.StripeSubscriptionID, Notes: l.Notes, PolicyOverrides: db.DecodePolicyOverrides(l.PolicyOverrides),
		CreatedAt: l.CreatedAt.UTC(), UpdatedAt: l.UpdatedAt.UTC()}
}

func nonNilStrings(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// licenseResponse loads what a license view needs beyond the row.
func (s *Server) licenseResponse(c *fiber.Ctx, l db.License) (LicenseView, error) {
	now := s.now()
	plan, err := s.store.GetPlan(c.UserContext(), l.PlanID)
	if err != nil {
		return LicenseView{}, err
	}
	seats, err := s.store.SeatsInUse(c.UserContext(), l, now)
	if err != nil {
		return LicenseView{}, err
	}
	return viewLicense(l, plan.Code, seats, now), nil
}

// licenseBody is a license create or update request.
type licenseBody struct {
	CustomerID     *string           `json:"customerId"`
	Plan           *string           `json:"plan"`
	Features       *[]string         `json:"features"`
	Limits         *map[string]int64 `json:"limits"`
	MaxDeployments optional[int32]   `json:"maxDeployments"`
	StartsAt       *string           `json:"startsAt"`
	ExpiresAt      optional[string]  `json:"expiresAt"`
	GraceDays      *int32            `json:"graceDays"`
	Notes          *string           `json:"notes"`
	// Overrides says what a plan change does with the license's own terms:
	// keep or reset (required with plan in a PATCH).
	Overrides *licensing.OverrideMode `json:"overrides"`
	// PolicyOverrides replaces the license's policy overrides whole ({}
	// follows the plan in everything).
	PolicyOverrides *licensing.PolicyOverrides `json:"policyOverrides"`
}

// createLicense handles POST /api/licenses: 201 with the license and its key.
func (s *Server) createLicense(c *fiber.Ctx) error {
	var b licenseBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	var pr licensing.Problems
	in := db.LicenseInput{Features: b.Features, GraceDays: b.GraceDays}
	if b.StartsAt != nil {
		t := parseTimeField(&pr, "startsAt", *b.StartsAt)
		in.StartsAt = &t
	}
	if b.CustomerID == nil {
		pr.Add("customerId", "is required")
	} else if id, err := uuid.Parse(*b.CustomerID); err != nil {
		pr.Add("customerId", "must be a UUID")
	} else {
		in.CustomerID = id
	}
	if b.Plan == nil || *b.Plan == "" {
		pr.Add("plan", "is required (a plan code)")
	} else {
		in.Plan = *b.Plan
	}
	if b.Limits != nil {
		in.Limits = *b.Limits
	}
	if b.MaxDeployments.Set {
		in.MaxDeployments = &b.MaxDeployments.Value
	}
	if b.ExpiresAt.Set {
		exp := optionalTime(&pr, "expiresAt", b.ExpiresAt)
		in.ExpiresAt = &exp
	}
	if b.Notes != nil {
		in.Notes = *b.Notes
	}
	in.PolicyOverrides = b.PolicyOverrides
	if b.Overrides != nil {
		pr.Add("overrides", "only with a plan change (PATCH)")
	}
	if err := pr.Err(); err != nil {
		return err
	}
	lic, key, err := s.licenses.Issue(c.UserContext(), s.apiActor(c), in)
	if err != nil {
		return err
	}
	view, err := s.licenseResponse(c, lic)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"license": view, "licenseKey": key})
}

// listLicenses handles GET /api/licenses?customerId=&plan=&status=&q=&expiresWithinDays=&limit=&cursor=.
func (s *Server) listLicenses(c *fiber.Ctx) error {
	p, err := parsePage(c)
	if err != nil {
		return err
	}
	now := s.now()
	params, err := parseLicenseFilter(c, now)
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
	return c.JSON(listOf(pg, func(r db.ListLicensesRow) LicenseView {
		return viewLicense(r.License, r.PlanCode, int(r.SeatsInUse), now)
	}))
}

// licensesPage is one page of licenses, newest first, for the API and the
// admin list alike.
func (s *Server) licensesPage(c *fiber.Ctx, limit int32, params db.ListLicensesParams) (Page[db.ListLicensesRow, cursor], error) {
	return fetchPage(limit, func(n int32) ([]db.ListLicensesRow, error) {
		params.MaxRows = n
		return s.store.ListLicenses(c.UserContext(), params)
	}, func(last db.ListLicensesRow) cursor { return cursor{T: last.License.CreatedAt, ID: last.License.ID} })
}

// effectiveStates are the filter values and dashboard rows, in the order
// pages list them.
var effectiveStates = func() []string {
	out := make([]string, len(licensing.ListedStates))
	for i, s := range licensing.ListedStates {
		out[i] = string(s)
	}
	return out
}()

// parseLicenseFilter reads the license list's filters, shared with the admin pages.
func parseLicenseFilter(c *fiber.Ctx, now time.Time) (db.ListLicensesParams, error) {
	var pr licensing.Problems
	f := db.ListLicensesParams{Now: now}
	if v := c.Query("customerId"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			pr.Add("customerId", "must be a UUID")
		}
		f.CustomerID = &id
	}
	if v := c.Query("plan"); v != "" {
		v = string([]byte(v))
		f.PlanCode = &v
	}
	if v := c.Query("status"); v != "" {
		ok := false
		for _, st := range effectiveStates {
			if v == st {
				ok = true
				f.EffectiveStatus = &st
			}
		}
		if !ok {
			pr.Add("status", "must be one of active, grace, past_due, expired, suspended, not_yet_valid, revoked")
		}
	}
	if v := c.Query("expiresWithinDays"); v != "" {
		n, err := parseIntRange(v, 1, 3650)
		if err != nil {
			pr.Add("expiresWithinDays", "must be an integer from 1 to 3650")
		}
		to := now.AddDate(0, 0, n)
		f.ExpiresAfter, f.ExpiresBefore = &now, &to
	}
	if q := c.Query("q"); q != "" {
		f.Q = likePattern(q)
		exact := string([]byte(q))
		f.QExact = &exact
	}
	return f, pr.Err()
}

// getLicense handles GET /api/licenses/:id.
func (s *Server) getLicense(c *fiber.Ctx) error {
	l, err := s.licenseByParam(c)
	if err != nil {
		return err
	}
	view, err := s.licenseResponse(c, l)
	if err != nil {
		return err
	}
	return c.JSON(view)
}

func (s *Server) licenseByParam(c *fiber.Ctx) (db.License, error) {
	id, err := parseUUID(c.Params("id"), "license")
	if err != nil {
		return db.License{}, err
	}
	l, err := s.store.GetLicense(c.UserContext(), id)
	return l, notFoundAs(err, "license")
}

// licenseAction runs one action on the license at :id and answers its view.
func (s *Server) licenseAction(c *fiber.Ctx, act func(id uuid.UUID) (db.License, error)) error {
	id, err := parseUUID(c.Params("id"), "license")
	if err != nil {
		return err
	}
	l, err := act(id)
	if err != nil {
		return err
	}
	view, err := s.licenseResponse(c, l)
	if err != nil {
		return err
	}
	return c.JSON(view)
}

// updateLicense handles PATCH /api/licenses/:id: features, limits,
// maxDeployments, expiresAt, graceDays, notes. Limits given replace the
// license's limits whole.
func (s *Server) updateLicense(c *fiber.Ctx) error {
	var b licenseBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	if b.CustomerID != nil || b.StartsAt != nil {
		return licensing.Invalid("customerId and startsAt cannot be changed",
			licensing.ErrorDetail{Field: "customerId", Message: "immutable"})
	}
	if b.Plan != nil {
		return s.changeLicensePlan(c, b)
	}
	if b.Overrides != nil {
		return licensing.Invalid("overrides goes with plan", licensing.ErrorDetail{Field: "overrides", Message: "only with plan"})
	}
	edit := func(l *db.License) error {
		var pr licensing.Problems
		if b.Features != nil {
			l.Features = licensing.CheckFeatures(&pr, "features", *b.Features)
		}
		if b.Limits != nil {
			licensing.CheckLimits(&pr, "limits", *b.Limits)
			l.Limits = encodeLimits(*b.Limits)
		}
		b.MaxDeployments.applyTo(&l.MaxDeployments)
		if b.ExpiresAt.Set {
			l.ExpiresAt = optionalTime(&pr, "expiresAt", b.ExpiresAt)
		}
		setIf(&l.GraceDays, b.GraceDays)
		setIf(&l.Notes, b.Notes)
		if b.PolicyOverrides != nil {
			b.PolicyOverrides.Validate(&pr)
			l.PolicyOverrides = db.EncodePolicyOverrides(*b.PolicyOverrides)
		}
		return pr.Err()
	}
	return s.licenseAction(c, func(id uuid.UUID) (db.License, error) {
		return s.licenses.Update(c.UserContext(), s.apiActor(c), id, edit)
	})
}

// changeLicensePlan is PATCH /api/licenses/:id with plan: an upgrade or
// downgrade, with overrides "keep" or "reset" said explicitly. The plan
// changes alone, so that what the overrides rule keeps is not mixed with
// edits in the same request.
func (s *Server) changeLicensePlan(c *fiber.Ctx, b licenseBody) error {
	var pr licensing.Problems
	if *b.Plan == "" {
		pr.Add("plan", "must be a plan code")
	}
	if b.Overrides == nil || (*b.Overrides != licensing.OverridesKeep && *b.Overrides != licensing.OverridesReset) {
		pr.Add("overrides", "is required with plan: keep (the license's own terms stay) or reset (all from the new plan)")
	}
	if b.Features != nil || b.Limits != nil || b.MaxDeployments.Set || b.ExpiresAt.Set || b.GraceDays != nil ||
		b.Notes != nil || b.PolicyOverrides != nil {
		pr.Add("plan", "change the plan alone, then edit the license")
	}
	if err := pr.Err(); err != nil {
		return err
	}
	code, mode := string([]byte(*b.Plan)), *b.Overrides
	return s.licenseAction(c, func(id uuid.UUID) (db.License, error) {
		return s.licenses.ChangePlan(c.UserContext(), s.apiActor(c), id, code, mode)
	})
}

// suspendLicense handles POST /api/licenses/:id/suspend {reason}.
func (s *Server) suspendLicense(c *fiber.Ctx) error {
	var b struct {
		Reason *string `json:"reason"`
	}
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	if b.Reason == nil || len(trimmed(*b.Reason)) == 0 || len(*b.Reason) > 500 {
		return licensing.Invalid("a reason is required", licensing.ErrorDetail{Field: "reason", Message: "required, at most 500 characters"})
	}
	reason := trimmed(*b.Reason)
	return s.licenseAction(c, func(id uuid.UUID) (db.License, error) {
		return s.licenses.Suspend(c.UserContext(), s.apiActor(c), id, reason)
	})
}

// reactivateLicense handles POST /api/licenses/:id/reactivate: lifts a suspension.
func (s *Server) reactivateLicense(c *fiber.Ctx) error {
	return s.licenseAction(c, func(id uuid.UUID) (db.License, error) {
		return s.licenses.Reactivate(c.UserContext(), s.apiActor(c), id)
	})
}

// renewLicense handles POST /api/licenses/:id/renew {expiresAt} or {days}:
// days extend from the current expiry, or from now when already expired.
func (s *Server) renewLicense(c *fiber.Ctx) error {
	var b struct {
		ExpiresAtText *string    `json:"expiresAt"`
		Days          *int       `json:"days"`
		ExpiresAt     *time.Time `json:"-"`
	}
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	if b.ExpiresAtText != nil {
		var pr licensing.Problems
		t := parseTimeField(&pr, "expiresAt", *b.ExpiresAtText)
		if err := pr.Err(); err != nil {
			return err
		}
		b.ExpiresAt = &t
	}
	if (b.ExpiresAt == nil) == (b.Days == nil) {
		return licensing.Invalid("give either expiresAt or days", licensing.ErrorDetail{Field: "days", Message: "exactly one of expiresAt or days"})
	}
	if b.Days != nil && (*b.Days < licensing.MinRenewDays || *b.Days > licensing.MaxRenewDays) {
		return licensing.Invalid("days must be from 1 to 36500", licensing.ErrorDetail{Field: "days", Message: "out of range"})
	}
	days := ptrOr(b.Days, 0)
	return s.licenseAction(c, func(id uuid.UUID) (db.License, error) {
		return s.licenses.Renew(c.UserContext(), s.apiActor(c), id, b.ExpiresAt, days)
	})
}

// revokeLicense handles POST /api/licenses/:id/revoke: final, it never validates again.
func (s *Server) revokeLicense(c *fiber.Ctx) error {
	return s.licenseAction(c, func(id uuid.UUID) (db.License, error) {
		return s.licenses.Revoke(c.UserContext(), s.apiActor(c), id)
	})
}

// rekeyLicense handles POST /api/licenses/:id/rekey: a new key; the old one stops working.
func (s *Server) rekeyLicense(c *fiber.Ctx) error {
	id, err := parseUUID(c.Params("id"), "license")
	if err != nil {
		return err
	}
	l, key, err := s.licenses.Rekey(c.UserContext(), s.apiActor(c), id)
	if err != nil {
		return err
	}
	view, err := s.licenseResponse(c, l)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"license": view, "licenseKey": key})
}

// parseTimeField reads an RFC 3339 time, naming the field when it is not one.
func parseTimeField(pr *licensing.Problems, field, v string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, v)
	switch {
	case err != nil:
		pr.Add(field, "must be an RFC 3339 time such as 2027-01-31T00:00:00Z")
	case !inLicenseDateWindow(t):
		pr.Add(field, licenseDateWindow)
	}
	return t.UTC()
}

// optionalTime reads a nullable time field: null clears it.
func optionalTime(pr *licensing.Problems, field string, o optional[string]) *time.Time {
	if o.Value == nil {
		return nil
	}
	t := parseTimeField(pr, field, *o.Value)
	return &t
}
