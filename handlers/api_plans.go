package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

func (s *Server) registerPlanRoutes(api fiber.Router) {
	api.Get("/plans", s.requireScope(licensing.ScopeLicensesRead), s.listPlans)
	api.Post("/plans", s.requireScope(licensing.ScopeAdmin), s.createPlan)
	api.Get("/plans/:id", s.requireScope(licensing.ScopeLicensesRead), s.getPlan)
	api.Patch("/plans/:id", s.requireScope(licensing.ScopeAdmin), s.updatePlan)
}

// planBody is a plan create or update request; absent fields keep their value.
type planBody struct {
	Code                 *string            `json:"code"`
	Name                 *string            `json:"name"`
	Description          *string            `json:"description"`
	Features             *[]string          `json:"features"`
	Limits               *map[string]int64  `json:"limits"`
	MetricLabels         *map[string]string `json:"metricLabels"`
	MaxDeployments       optional[int32]    `json:"maxDeployments"`
	DurationDays         optional[int32]    `json:"durationDays"`
	GraceDays            *int32             `json:"graceDays"`
	OfflineDays          *int32             `json:"offlineDays"`
	HeartbeatWindowHours *int32             `json:"heartbeatWindowHours"`
	DunningDays          *int32             `json:"dunningDays"`
	StripePriceIDs       *[]string          `json:"stripePriceIds"`
	QuantitySets         optional[string]   `json:"quantitySets"`
	Archived             *bool              `json:"archived"`
	policyBody
}

// policyBody is the licensing policy fields of a plan request; absent
// fields keep their value.
type policyBody struct {
	FingerprintPolicy  *licensing.FingerprintPolicy      `json:"fingerprintPolicy"`
	FingerprintMatch   *licensing.MatchRule              `json:"fingerprintMatch"`
	LeaseHours         *int32                            `json:"leaseHours"`
	TransfersPerPeriod *int32                            `json:"transfersPerPeriod"`
	TransferPeriodDays *int32                            `json:"transferPeriodDays"`
	SeatOverage        *licensing.SeatOverage            `json:"seatOverage"`
	LimitEnforcement   *map[string]licensing.Enforcement `json:"limitEnforcement"`
	ExpiryStrategy     *licensing.ExpiryStrategy         `json:"expiryStrategy"`
}

func (b policyBody) apply(p *licensing.Policy) {
	setIf(&p.FingerprintPolicy, b.FingerprintPolicy)
	setIf(&p.FingerprintMatch, b.FingerprintMatch)
	setIf(&p.LeaseHours, b.LeaseHours)
	setIf(&p.TransfersPerPeriod, b.TransfersPerPeriod)
	setIf(&p.TransferPeriodDays, b.TransferPeriodDays)
	setIf(&p.SeatOverage, b.SeatOverage)
	setIf(&p.LimitEnforcement, b.LimitEnforcement)
	setIf(&p.ExpiryStrategy, b.ExpiryStrategy)
}

func (b planBody) apply(p *licensing.PlanSpec) {
	setIf(&p.Code, b.Code)
	setIf(&p.Name, b.Name)
	setIf(&p.Description, b.Description)
	setIf(&p.Features, b.Features)
	setIf(&p.Limits, b.Limits)
	setIf(&p.MetricLabels, b.MetricLabels)
	b.MaxDeployments.applyTo(&p.MaxDeployments)
	b.DurationDays.applyTo(&p.DurationDays)
	setIf(&p.GraceDays, b.GraceDays)
	setIf(&p.OfflineDays, b.OfflineDays)
	setIf(&p.HeartbeatWindowHours, b.HeartbeatWindowHours)
	setIf(&p.DunningDays, b.DunningDays)
	setIf(&p.StripePriceIDs, b.StripePriceIDs)
	b.QuantitySets.applyTo(&p.QuantitySets)
	b.policyBody.apply(&p.Policy)
	if p.Features == nil {
		p.Features = []string{}
	}
	if p.Limits == nil {
		p.Limits = map[string]int64{}
	}
}

func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// listPlans handles GET /api/plans.
func (s *Server) listPlans(c *fiber.Ctx) error {
	p, err := parsePage(c)
	if err != nil {
		return err
	}
	params := db.ListPlansParams{IncludeArchived: c.QueryBool("archived")}
	if p.After != nil {
		code := p.After.S
		params.AfterCode = &code
	}
	pg, err := s.plansPage(c, p.Limit, params)
	if err != nil {
		return err
	}
	prices, err := s.store.ListAllPlanPrices(c.UserContext())
	if err != nil {
		return err
	}
	byPlan := map[[16]byte][]string{}
	for _, pr := range prices {
		byPlan[pr.PlanID] = append(byPlan[pr.PlanID], pr.PriceID)
	}
	return c.JSON(listOf(pg, func(r db.Plan) db.PlanView { return r.View(byPlan[r.ID]) }))
}

// plansPage is one page of plans in code order, for the API and the admin
// list alike.
func (s *Server) plansPage(c *fiber.Ctx, limit int32, params db.ListPlansParams) (Page[db.Plan, cursor], error) {
	return fetchPage(limit, func(n int32) ([]db.Plan, error) {
		params.MaxRows = n
		return s.store.ListPlans(c.UserContext(), params)
	}, func(last db.Plan) cursor { return cursor{S: last.Code} })
}

// createPlan handles POST /api/plans.
func (s *Server) createPlan(c *fiber.Ctx) error {
	var b planBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	spec := licensing.DefaultPlanSpec()
	b.apply(&spec)
	view, err := s.store.CreatePlan(c.UserContext(), s.apiActor(c), spec, s.now())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(view)
}

// getPlan handles GET /api/plans/:id (an id or a plan code).
func (s *Server) getPlan(c *fiber.Ctx) error {
	plan, err := s.planByRef(c, c.Params("id"))
	if err != nil {
		return err
	}
	_, prices, err := s.store.PlanWithPrices(c.UserContext(), plan.ID)
	if err != nil {
		return err
	}
	return c.JSON(plan.View(prices))
}

// updatePlan handles PATCH /api/plans/:id.
func (s *Server) updatePlan(c *fiber.Ctx) error {
	plan, err := s.planByRef(c, c.Params("id"))
	if err != nil {
		return err
	}
	var b planBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	if b.Code != nil && *b.Code != plan.Code {
		return licensing.Invalid("a plan's code cannot change", licensing.ErrorDetail{Field: "code", Message: "immutable"})
	}
	view, err := s.store.UpdatePlan(c.UserContext(), s.apiActor(c), plan.ID, b.Archived, b.apply, s.now())
	if err != nil {
		return err
	}
	return c.JSON(view)
}

// planByRef finds a plan by UUID or by code.
func (s *Server) planByRef(c *fiber.Ctx, ref string) (db.Plan, error) {
	if id, err := parseUUID(ref, "plan"); err == nil {
		p, err := s.store.GetPlan(c.UserContext(), id)
		return p, notFoundAs(err, "plan")
	}
	p, err := s.store.GetPlanByCode(c.UserContext(), string([]byte(ref)))
	return p, notFoundAs(err, "plan")
}
