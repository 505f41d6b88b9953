package db

import (
	"context"
	"encoding/json"
	"maps"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/licensing"
)

// KeyIssuer signs license keys; the keyring does, through a small adapter in handlers.
type KeyIssuer interface {
	IssueLicenseKey(k LicenseKeyFacts, now time.Time) (key, kid string, err error)
}

// LicenseKeyFacts are the claims a new key carries: a snapshot of the
// license when it was keyed. Validation always answers from current facts.
type LicenseKeyFacts struct {
	LicenseID      uuid.UUID
	KeyID          uuid.UUID
	CustomerID     uuid.UUID
	Plan           string
	Features       []string
	Limits         map[string]int64
	MaxDeployments *int32
	StartsAt       time.Time
	ExpiresAt      *time.Time
}

// LicenseInput creates a license: a customer, a plan code, and overrides of
// what the plan grants. Features given replace the plan's; limits given are
// laid over the plan's (a limit not named keeps the plan's value).
type LicenseInput struct {
	CustomerID     uuid.UUID
	Plan           string
	Features       *[]string
	Limits         map[string]int64
	MaxDeployments **int32 // nil: the plan's; pointer to nil: unlimited
	StartsAt       *time.Time
	ExpiresAt      **time.Time // nil: from the plan's duration; pointer to nil: perpetual
	GraceDays      *int32
	Notes          string
	// PolicyOverrides are the license's own policy settings (nil: none).
	PolicyOverrides *licensing.PolicyOverrides
	// Set by Stripe.
	StripeSubscriptionID *string
	StripePriceID        *string
	StripeQuantity       *int32
	StripeStatus         *string
	StripeStateAt        *time.Time
	BillingPeriodStart   *time.Time
	BillingPeriodEnd     *time.Time
}

// CreateLicense issues a license and its first key. The key is returned once;
// only its hash and a sealed copy are stored.
func (s *Store) CreateLicense(ctx context.Context, actor licensing.Actor, issuer KeyIssuer, sealer *licensing.Sealer,
	in LicenseInput, now time.Time) (License, string, error) {
	var (
		lic License
		key string
	)
	err := s.inTx(ctx, func(q *Queries) error {
		var err error
		lic, key, err = s.createLicense(ctx, q, actor, issuer, sealer, in, now)
		return err
	})
	return lic, key, err
}

// createLicense is CreateLicense inside the caller's transaction q.
func (s *Store) createLicense(ctx context.Context, q *Queries, actor licensing.Actor, issuer KeyIssuer,
	sealer *licensing.Sealer, in LicenseInput, now time.Time) (lic License, key string, err error) {
	err = func() error {
		var pr licensing.Problems
		cust, err := q.GetCustomer(ctx, in.CustomerID)
		if err != nil {
			if licensing.ErrorCode(Translate(err)) != licensing.ENOTFOUND {
				return err
			}
			pr.Add("customerId", "no customer with this id")
		}
		plan, err := q.GetPlanByCode(ctx, in.Plan)
		if err != nil {
			if licensing.ErrorCode(Translate(err)) != licensing.ENOTFOUND {
				return err
			}
			pr.Add("plan", "no plan with this code")
		}
		if err := pr.Err(); err != nil {
			return err
		}
		if cust.ArchivedAt != nil {
			pr.Add("customerId", "this customer is archived")
		}
		l := License{ID: uuid.New(), CustomerID: cust.ID, PlanID: plan.ID, Status: string(licensing.StatusActive),
			Features: nonNil(plan.Features), MaxDeployments: plan.MaxDeployments, StartsAt: now,
			GraceDays: plan.GraceDays, OfflineDays: plan.OfflineDays, HeartbeatWindowHours: plan.HeartbeatWindowHours,
			DunningDays: plan.DunningDays, PaymentState: string(licensing.PaymentOK), Notes: in.Notes, CreatedAt: now, UpdatedAt: now,
			StripeSubscriptionID: in.StripeSubscriptionID, StripePriceID: in.StripePriceID, StripeQuantity: in.StripeQuantity,
			StripeStatus: in.StripeStatus, StripeStateAt: in.StripeStateAt, BillingPeriodStart: in.BillingPeriodStart,
			BillingPeriodEnd: in.BillingPeriodEnd}
		limits := DecodeLimits(plan.Limits)
		if in.Features != nil {
			l.Features = licensing.CheckFeatures(&pr, "features", *in.Features)
		}
		if in.Limits != nil {
			licensing.CheckLimits(&pr, "limits", in.Limits)
			maps.Copy(limits, in.Limits)
		}
		if in.MaxDeployments != nil {
			l.MaxDeployments = *in.MaxDeployments
		}
		if in.StartsAt != nil {
			l.StartsAt = *in.StartsAt
		}
		switch {
		case in.ExpiresAt != nil:
			l.ExpiresAt = *in.ExpiresAt
		case plan.DurationDays != nil:
			exp := l.StartsAt.AddDate(0, 0, int(*plan.DurationDays))
			l.ExpiresAt = &exp
		}
		if in.GraceDays != nil {
			l.GraceDays = *in.GraceDays
		}
		if in.PolicyOverrides != nil {
			in.PolicyOverrides.Validate(&pr)
		}
		checkLicenseFacts(&pr, l)
		if err := pr.Err(); err != nil {
			return err
		}
		l.Limits, _ = json.Marshal(limits)
		lic, err = q.CreateLicense(ctx, CreateLicenseParams{ID: l.ID, CustomerID: l.CustomerID, PlanID: l.PlanID,
			Features: l.Features, Limits: l.Limits, MaxDeployments: l.MaxDeployments, StartsAt: l.StartsAt,
			ExpiresAt: l.ExpiresAt, GraceDays: l.GraceDays, OfflineDays: l.OfflineDays,
			HeartbeatWindowHours: l.HeartbeatWindowHours, DunningDays: l.DunningDays, Notes: l.Notes,
			StripeSubscriptionID: l.StripeSubscriptionID, StripePriceID: l.StripePriceID, StripeQuantity: l.StripeQuantity,
			StripeStatus: l.StripeStatus, StripeStateAt: l.StripeStateAt, BillingPeriodStart: l.BillingPeriodStart,
			BillingPeriodEnd: l.BillingPeriodEnd, CreatedAt: now})
		if err != nil {
			return conflictAs(err, "stripeSubscriptionId", "a license already exists for this subscription")
		}
		if in.PolicyOverrides != nil && !in.PolicyOverrides.IsZero() {
			if err := q.SetLicensePolicyOverrides(ctx, SetLicensePolicyOverridesParams{ID: lic.ID,
				PolicyOverrides: EncodePolicyOverrides(*in.PolicyOverrides), UpdatedAt: now}); err != nil {
				return err
			}
			lic.PolicyOverrides = EncodePolicyOverrides(*in.PolicyOverrides)
		}
		if key, err = s.issueKey(ctx, q, issuer, sealer, lic, plan.Code, now); err != nil {
			return err
		}
		if err := s.recordLicense(ctx, q, events.LicenseCreated, "license.create", lic, now); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "license.create", EntityType: "license",
			EntityID: lic.ID.String(), CustomerID: &lic.CustomerID, After: lic.Facts(plan.Code)}, now)
	}()
	return lic, key, err
}

// checkLicenseFacts validates overrides the database would also refuse, so
// the caller gets a field-named error instead of a constraint name.
func checkLicenseFacts(pr *licensing.Problems, l License) {
	if l.MaxDeployments != nil && (*l.MaxDeployments < 1 || *l.MaxDeployments > 1_000_000) {
		pr.Add("maxDeployments", "must be from 1 to 1000000, or null for unlimited")
	}
	if l.ExpiresAt != nil && !l.ExpiresAt.After(l.StartsAt) {
		pr.Add("expiresAt", "must be after startsAt")
	}
	if l.GraceDays < 0 || l.GraceDays > 365 {
		pr.Add("graceDays", "must be from 0 to 365")
	}
	if len(l.Notes) > 10000 {
		pr.Add("notes", "at most 10000 characters")
	}
}

// issueKey signs a new key for lic, stores its hash and sealed copy, and
// retires any previous key.
func (s *Store) issueKey(ctx context.Context, q *Queries, issuer KeyIssuer, sealer *licensing.Sealer, lic License,
	planCode string, now time.Time) (string, error) {
	keyID := uuid.New()
	key, kid, err := issuer.IssueLicenseKey(LicenseKeyFacts{LicenseID: lic.ID, KeyID: keyID, CustomerID: lic.CustomerID,
		Plan: planCode, Features: lic.Features, Limits: DecodeLimits(lic.Limits), MaxDeployments: lic.MaxDeployments,
		StartsAt: lic.StartsAt, ExpiresAt: lic.ExpiresAt}, now)
	if err != nil {
		return "", licensing.Internal(err)
	}
	sealed, err := sealer.Seal([]byte(key), lic.ID[:])
	if err != nil {
		return "", licensing.Internal(err)
	}
	if err := q.ReplaceLicenseKeys(ctx, ReplaceLicenseKeysParams{LicenseID: lic.ID, ReplacedAt: &now}); err != nil {
		return "", err
	}
	hash := licensing.KeyHash(key)
	_, err = q.InsertLicenseKey(ctx, InsertLicenseKeyParams{ID: keyID, LicenseID: lic.ID, KeyHash: hash[:],
		KeyPrefix: licensing.KeyPrefix(key), KeySuffix: key[len(key)-8:], KeySealed: sealed, Kid: kid, CreatedAt: now})
	return key, err
}

// Rekey issues a new key for a license; the old key stops validating.
func (s *Store) Rekey(ctx context.Context, actor licensing.Actor, issuer KeyIssuer, sealer *licensing.Sealer,
	id uuid.UUID, now time.Time) (License, string, error) {
	var (
		lic License
		key string
	)
	err := s.inTx(ctx, func(q *Queries) error {
		var err error
		if lic, err = q.GetLicenseForUpdate(ctx, id); err != nil {
			return notFound(err, "license")
		}
		if err := lic.Standing().Rekey(); err != nil {
			return err
		}
		plan, err := q.GetPlan(ctx, lic.PlanID)
		if err != nil {
			return err
		}
		old, err := q.GetCurrentLicenseKey(ctx, id)
		if err != nil {
			return err
		}
		if key, err = s.issueKey(ctx, q, issuer, sealer, lic, plan.Code, now); err != nil {
			return err
		}
		if err := s.recordLicense(ctx, q, events.LicenseRekeyed, "license.rekey", lic, now); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "license.rekey", EntityType: "license", EntityID: id.String(),
			CustomerID: &lic.CustomerID, Before: map[string]any{"keyPrefix": old.KeyPrefix, "keySuffix": old.KeySuffix},
			After: map[string]any{"keyPrefix": licensing.KeyPrefix(key), "keySuffix": key[len(key)-8:]}}, now)
	})
	return lic, key, err
}

// RevealKey opens the sealed copy of a license's current key and audits the reveal.
func (s *Store) RevealKey(ctx context.Context, actor licensing.Actor, sealer *licensing.Sealer, id uuid.UUID, now time.Time) (string, error) {
	var key string
	err := s.inTx(ctx, func(q *Queries) error {
		lic, err := q.GetLicense(ctx, id)
		if err != nil {
			return notFound(err, "license")
		}
		k, err := q.GetCurrentLicenseKey(ctx, id)
		if err != nil {
			return notFound(err, "license key")
		}
		plain, err := sealer.Open(k.KeySealed, id[:])
		if err != nil {
			return licensing.Internal(err)
		}
		key = string(plain)
		return Audit(ctx, q, actor, AuditEntry{Action: "license.reveal_key", EntityType: "license", EntityID: id.String(),
			CustomerID: &lic.CustomerID, After: map[string]any{"keyPrefix": k.KeyPrefix, "keySuffix": k.KeySuffix}}, now)
	})
	return key, err
}

// ChangeLicense runs change on the license locked for update, stores the
// result and audits it as action. change may refuse with an error.
func (s *Store) ChangeLicense(ctx context.Context, actor licensing.Actor, id uuid.UUID, action string,
	change func(l *License) error, now time.Time) (License, error) {
	var after License
	err := s.inTx(ctx, func(q *Queries) error {
		var err error
		after, err = s.changeLicense(ctx, q, actor, id, action, change, now)
		return err
	})
	return after, err
}

// changeLicense is ChangeLicense inside the caller's transaction q.
func (s *Store) changeLicense(ctx context.Context, q *Queries, actor licensing.Actor, id uuid.UUID, action string,
	change func(l *License) error, now time.Time) (after License, err error) {
	err = func() error {
		before, err := q.GetLicenseForUpdate(ctx, id)
		if err != nil {
			return notFound(err, "license")
		}
		l := before
		if err := change(&l); err != nil {
			return err
		}
		var pr licensing.Problems
		checkLicenseFacts(&pr, l)
		if err := pr.Err(); err != nil {
			return err
		}
		l.UpdatedAt = now
		after, err = q.UpdateLicense(ctx, UpdateLicenseParams{ID: id, PlanID: l.PlanID, Status: l.Status,
			SuspendedReason: l.SuspendedReason, SuspensionSource: l.SuspensionSource, Features: nonNil(l.Features),
			Limits: l.Limits, MaxDeployments: l.MaxDeployments, StartsAt: l.StartsAt, ExpiresAt: l.ExpiresAt,
			GraceDays: l.GraceDays, OfflineDays: l.OfflineDays, HeartbeatWindowHours: l.HeartbeatWindowHours,
			DunningDays: l.DunningDays, PaymentState: l.PaymentState, PastDueSince: l.PastDueSince,
			BillingPeriodStart: l.BillingPeriodStart, BillingPeriodEnd: l.BillingPeriodEnd,
			StripeSubscriptionID: l.StripeSubscriptionID, StripePriceID: l.StripePriceID, StripeQuantity: l.StripeQuantity,
			StripeStatus: l.StripeStatus, StripeStateAt: l.StripeStateAt, Notes: l.Notes, RevokedAt: l.RevokedAt,
			PolicyOverrides: policyOverridesOrEmpty(l.PolicyOverrides), UpdatedAt: now})
		if err != nil {
			return err
		}
		planCode := func(l License) string {
			p, _ := q.GetPlan(ctx, l.PlanID)
			return p.Code
		}
		if err := s.recordLicenseChange(ctx, q, action, before, after, now); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: action, EntityType: "license", EntityID: id.String(),
			CustomerID: &after.CustomerID, Before: before.Facts(planCode(before)), After: after.Facts(planCode(after))}, now)
	}()
	return after, err
}

// LicenseFacts is the stored license as the audit log records it.
type LicenseFacts struct {
	ID                   uuid.UUID        `json:"id"`
	CustomerID           uuid.UUID        `json:"customerId"`
	Plan                 string           `json:"plan"`
	Status               string           `json:"storedStatus"`
	SuspendedReason      *string          `json:"suspendedReason"`
	SuspensionSource     *string          `json:"suspensionSource"`
	Features             []string         `json:"features"`
	Limits               map[string]int64 `json:"limits"`
	MaxDeployments       *int32           `json:"maxDeployments"`
	StartsAt             time.Time        `json:"startsAt"`
	ExpiresAt            *time.Time       `json:"expiresAt"`
	GraceDays            int32            `json:"graceDays"`
	PaymentState         string           `json:"paymentState"`
	PastDueSince         *time.Time       `json:"pastDueSince"`
	StripeSubscriptionID *string          `json:"stripeSubscriptionId"`
	StripeStatus         *string          `json:"stripeStatus"`
	Notes                string           `json:"notes"`
}

// Facts renders the stored license for the audit log.
func (l License) Facts(plan string) LicenseFacts {
	return LicenseFacts{ID: l.ID, CustomerID: l.CustomerID, Plan: plan, Status: l.Status,
		SuspendedReason: l.SuspendedReason, SuspensionSource: l.SuspensionSource, Features: nonNil(l.Features),
		Limits: DecodeLimits(l.Limits), MaxDeployments: l.MaxDeployments, StartsAt: l.StartsAt.UTC(),
		ExpiresAt: utcPtr(l.ExpiresAt), GraceDays: l.GraceDays, PaymentState: l.PaymentState,
		PastDueSince: utcPtr(l.PastDueSince), StripeSubscriptionID: l.StripeSubscriptionID, StripeStatus: l.StripeStatus,
		Notes: l.Notes}
}

// The reads and small writes handlers call. Each returns the query's rows;
// errors arrive already translated by the connection (conn.go).

func (s *Store) GetLicense(ctx context.Context, id uuid.UUID) (License, error) {
	return s.q.GetLicense(ctx, id)
}

func (s *Store) ListLicenses(ctx context.Context, arg ListLicensesParams) ([]ListLicensesRow, error) {
	return s.q.ListLicenses(ctx, arg)
}

func (s *Store) GetLicenseBySubscription(ctx context.Context, subscriptionID string) (License, error) {
	return s.q.GetLicenseBySubscription(ctx, &subscriptionID)
}
