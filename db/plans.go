package db

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/licensing"
)

// PlanView is a plan as the API shows it.
type PlanView struct {
	ID          uuid.UUID        `json:"id"`
	Code        string           `json:"code"`
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Features    []string         `json:"features"`
	Limits      map[string]int64 `json:"limits"`
	// MetricLabels are the plan's own words for its metrics, shown in the
	// portals instead of the metrics' display names.
	MetricLabels         map[string]string `json:"metricLabels"`
	MaxDeployments       *int32            `json:"maxDeployments"`
	DurationDays         *int32            `json:"durationDays"`
	GraceDays            int32             `json:"graceDays"`
	OfflineDays          int32             `json:"offlineDays"`
	HeartbeatWindowHours int32             `json:"heartbeatWindowHours"`
	DunningDays          int32             `json:"dunningDays"`
	StripePriceIDs       []string          `json:"stripePriceIds"`
	QuantitySets         *string           `json:"quantitySets"`
	ArchivedAt           *time.Time        `json:"archivedAt"`
	CreatedAt            time.Time         `json:"createdAt"`
	UpdatedAt            time.Time         `json:"updatedAt"`
	// The licensing policies, flattened into the plan's fields.
	licensing.Policy
}

// View renders the plan with its Stripe prices.
func (p Plan) View(prices []string) PlanView {
	if prices == nil {
		prices = []string{}
	}
	return PlanView{ID: p.ID, Code: p.Code, Name: p.Name, Description: p.Description, Features: nonNil(p.Features),
		Limits: DecodeLimits(p.Limits), MetricLabels: DecodeMetricLabels(p.MetricLabels), MaxDeployments: p.MaxDeployments,
		DurationDays: p.DurationDays, GraceDays: p.GraceDays, OfflineDays: p.OfflineDays,
		HeartbeatWindowHours: p.HeartbeatWindowHours, DunningDays: p.DunningDays, StripePriceIDs: prices,
		QuantitySets: p.QuantitySets, ArchivedAt: utcPtr(p.ArchivedAt), CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
		Policy: p.policyView()}
}

// policyView is the policy as shown: never a null map.
func (p Plan) policyView() licensing.Policy {
	pol := p.Policy()
	if pol.LimitEnforcement == nil {
		pol.LimitEnforcement = map[string]licensing.Enforcement{}
	}
	return pol
}

// Spec returns the plan as an editable spec.
func (p Plan) Spec(prices []string) licensing.PlanSpec {
	return licensing.PlanSpec{Code: p.Code, Name: p.Name, Description: p.Description, Features: nonNil(p.Features),
		Limits: DecodeLimits(p.Limits), MetricLabels: DecodeMetricLabels(p.MetricLabels), MaxDeployments: p.MaxDeployments,
		DurationDays: p.DurationDays, GraceDays: p.GraceDays, OfflineDays: p.OfflineDays,
		HeartbeatWindowHours: p.HeartbeatWindowHours, DunningDays: p.DunningDays, StripePriceIDs: prices,
		QuantitySets: p.QuantitySets, Policy: p.policyView()}
}

// DecodeLimits reads a stored limits object; the CHECK constraint keeps it an object.
func DecodeLimits(b []byte) map[string]int64 {
	m := map[string]int64{}
	_ = json.Unmarshal(b, &m)
	return m
}

// DecodeMetricLabels reads a plan's stored metric labels; the CHECK
// constraint keeps them an object.
func DecodeMetricLabels(b []byte) map[string]string {
	m := map[string]string{}
	_ = json.Unmarshal(b, &m)
	return m
}

// storeMetricLabels sets a plan's metric labels (validated, so never nil
// after Validate; an empty map is stored as {}).
func storeMetricLabels(ctx context.Context, q *Queries, id uuid.UUID, labels map[string]string) (Plan, error) {
	b, _ := json.Marshal(labels)
	if labels == nil {
		b = []byte("{}")
	}
	return q.SetPlanMetricLabels(ctx, SetPlanMetricLabelsParams{ID: id, MetricLabels: b})
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// PlanWithPrices loads a plan and its Stripe prices.
func (s *Store) PlanWithPrices(ctx context.Context, id uuid.UUID) (Plan, []string, error) {
	p, err := s.q.GetPlan(ctx, id)
	if err != nil {
		return Plan{}, nil, notFound(err, "plan")
	}
	prices, err := s.q.ListPlanPrices(ctx, id)
	return p, prices, Translate(err)
}

// CreatePlan validates and stores a plan with its Stripe prices.
func (s *Store) CreatePlan(ctx context.Context, actor licensing.Actor, spec licensing.PlanSpec, now time.Time) (PlanView, error) {
	if err := spec.Validate(); err != nil {
		return PlanView{}, err
	}
	limits, _ := json.Marshal(spec.Limits)
	var view PlanView
	err := s.inTx(ctx, func(q *Queries) error {
		p, err := q.CreatePlan(ctx, CreatePlanParams{Code: spec.Code, Name: spec.Name, Description: spec.Description,
			Features: spec.Features, Limits: limits, MaxDeployments: spec.MaxDeployments, DurationDays: spec.DurationDays,
			GraceDays: spec.GraceDays, OfflineDays: spec.OfflineDays, HeartbeatWindowHours: spec.HeartbeatWindowHours,
			DunningDays: spec.DunningDays, QuantitySets: spec.QuantitySets})
		if err != nil {
			return conflictAs(err, "code", "a plan with this code already exists")
		}
		if p, err = storePlanPolicy(ctx, q, p.ID, spec.Policy); err != nil {
			return err
		}
		if p, err = storeMetricLabels(ctx, q, p.ID, spec.MetricLabels); err != nil {
			return err
		}
		if err := setPrices(ctx, q, p.ID, spec.StripePriceIDs); err != nil {
			return err
		}
		view = p.View(spec.StripePriceIDs)
		return Audit(ctx, q, actor, AuditEntry{Action: "plan.create", EntityType: "plan", EntityID: p.ID.String(),
			After: view}, now)
	})
	return view, err
}

// UpdatePlan applies change to the stored plan. The code cannot change:
// licenses and scripts refer to it.
func (s *Store) UpdatePlan(ctx context.Context, actor licensing.Actor, id uuid.UUID, archive *bool,
	change func(*licensing.PlanSpec), now time.Time) (PlanView, error) {
	var view PlanView
	err := s.inTx(ctx, func(q *Queries) error {
		before, err := q.GetPlanForUpdate(ctx, id)
		if err != nil {
			return notFound(err, "plan")
		}
		prices, err := q.ListPlanPrices(ctx, id)
		if err != nil {
			return err
		}
		spec := before.Spec(prices)
		change(&spec)
		spec.Code = before.Code
		if err := spec.Validate(); err != nil {
			return err
		}
		archivedAt := before.ArchivedAt
		if archive != nil {
			if *archive && archivedAt == nil {
				archivedAt = &now
			} else if !*archive {
				archivedAt = nil
			}
		}
		limits, _ := json.Marshal(spec.Limits)
		p, err := q.UpdatePlan(ctx, UpdatePlanParams{ID: id, Name: spec.Name, Description: spec.Description,
			Features: spec.Features, Limits: limits, MaxDeployments: spec.MaxDeployments, DurationDays: spec.DurationDays,
			GraceDays: spec.GraceDays, OfflineDays: spec.OfflineDays, HeartbeatWindowHours: spec.HeartbeatWindowHours,
			DunningDays: spec.DunningDays, QuantitySets: spec.QuantitySets, ArchivedAt: archivedAt, UpdatedAt: now})
		if err != nil {
			return err
		}
		if p, err = storePlanPolicy(ctx, q, id, spec.Policy); err != nil {
			return err
		}
		if p, err = storeMetricLabels(ctx, q, id, spec.MetricLabels); err != nil {
			return err
		}
		if err := q.DeletePlanPrices(ctx, id); err != nil {
			return err
		}
		if err := setPrices(ctx, q, id, spec.StripePriceIDs); err != nil {
			return err
		}
		view = p.View(spec.StripePriceIDs)
		return Audit(ctx, q, actor, AuditEntry{Action: "plan.update", EntityType: "plan", EntityID: id.String(),
			Before: before.View(prices), After: view}, now)
	})
	return view, err
}

func setPrices(ctx context.Context, q *Queries, planID uuid.UUID, prices []string) error {
	for _, price := range prices {
		if err := q.AddPlanPrice(ctx, AddPlanPriceParams{PriceID: price, PlanID: planID}); err != nil {
			return conflictAs(err, "stripePriceIds", "Stripe price "+price+" already belongs to another plan")
		}
	}
	return nil
}

// The reads and small writes handlers call. Each returns the query's rows;
// errors arrive already translated by the connection (conn.go).

func (s *Store) GetPlanByCode(ctx context.Context, code string) (Plan, error) {
	return s.q.GetPlanByCode(ctx, code)
}

func (s *Store) GetPlan(ctx context.Context, id uuid.UUID) (Plan, error) { return s.q.GetPlan(ctx, id) }

func (s *Store) ListAllPlanPrices(ctx context.Context) ([]ListAllPlanPricesRow, error) {
	return s.q.ListAllPlanPrices(ctx)
}

func (s *Store) ListPlanPrices(ctx context.Context, planID uuid.UUID) ([]string, error) {
	return s.q.ListPlanPrices(ctx, planID)
}

func (s *Store) ListPlans(ctx context.Context, arg ListPlansParams) ([]Plan, error) {
	return s.q.ListPlans(ctx, arg)
}
