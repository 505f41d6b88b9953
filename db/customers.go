package db

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/licensing"
)

// CustomerInput is what a caller may set on a customer.
type CustomerInput struct {
	Name             string
	Email            string
	Company          string
	Metadata         map[string]any
	StripeCustomerID *string
	// Contacts besides Email (contacts.go): nil leaves one as it is, "" clears it.
	BillingEmail   *string
	TechnicalEmail *string
}

func (in *CustomerInput) normalise() ([]byte, error) {
	in.Name = strings.TrimSpace(in.Name)
	in.Email = strings.TrimSpace(in.Email)
	in.Company = strings.TrimSpace(in.Company)
	if err := licensing.ValidateCustomer(in.Name, in.Email, in.Company); err != nil {
		return nil, err
	}
	if err := in.checkContacts(); err != nil {
		return nil, err
	}
	if in.Metadata == nil {
		in.Metadata = map[string]any{}
	}
	md, err := json.Marshal(in.Metadata)
	if err != nil || len(md) > 16<<10 {
		return nil, licensing.Invalid("metadata must be a JSON object of at most 16 KiB",
			licensing.ErrorDetail{Field: "metadata", Message: "too large"})
	}
	return md, nil
}

// CreateCustomer adds a customer and audits it.
func (s *Store) CreateCustomer(ctx context.Context, actor licensing.Actor, in CustomerInput, now time.Time) (Customer, error) {
	md, err := in.normalise()
	if err != nil {
		return Customer{}, err
	}
	var c Customer
	err = s.inTx(ctx, func(q *Queries) error {
		var err error
		c, err = q.CreateCustomer(ctx, CreateCustomerParams{Name: in.Name, Email: in.Email, Company: in.Company,
			Metadata: md, StripeCustomerID: in.StripeCustomerID})
		if err != nil {
			return conflictAs(err, "stripeCustomerId", "another customer has this Stripe customer id")
		}
		if err := saveContacts(ctx, q, c.ID, in, now); err != nil {
			return err
		}
		if err := s.recordCustomer(ctx, q, events.CustomerCreated, c, now); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "customer.create", EntityType: "customer",
			EntityID: c.ID.String(), CustomerID: &c.ID, After: c.View()}, now)
	})
	return c, err
}

// UpdateCustomer applies change to the stored customer and audits before and after.
func (s *Store) UpdateCustomer(ctx context.Context, actor licensing.Actor, id uuid.UUID, change func(*CustomerInput), now time.Time) (Customer, error) {
	var c Customer
	err := s.inTx(ctx, func(q *Queries) error {
		before, err := q.GetCustomerForUpdate(ctx, id)
		if err != nil {
			return notFound(err, "customer")
		}
		in := CustomerInput{Name: before.Name, Email: before.Email, Company: before.Company,
			StripeCustomerID: before.StripeCustomerID}
		_ = json.Unmarshal(before.Metadata, &in.Metadata)
		change(&in)
		md, err := in.normalise()
		if err != nil {
			return err
		}
		c, err = q.UpdateCustomer(ctx, UpdateCustomerParams{ID: id, Name: in.Name, Email: in.Email, Company: in.Company,
			Metadata: md, StripeCustomerID: in.StripeCustomerID, UpdatedAt: now})
		if err != nil {
			return conflictAs(err, "stripeCustomerId", "another customer has this Stripe customer id")
		}
		if err := saveContacts(ctx, q, c.ID, in, now); err != nil {
			return err
		}
		if err := s.recordCustomer(ctx, q, events.CustomerUpdated, c, now); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "customer.update", EntityType: "customer",
			EntityID: id.String(), CustomerID: &c.ID, Before: before.View(), After: c.View()}, now)
	})
	return c, err
}

// ArchiveCustomer hides a customer from lists; their licenses are untouched.
func (s *Store) ArchiveCustomer(ctx context.Context, actor licensing.Actor, id uuid.UUID, now time.Time) (Customer, error) {
	var c Customer
	err := s.inTx(ctx, func(q *Queries) error {
		before, err := q.GetCustomerForUpdate(ctx, id)
		if err != nil {
			return notFound(err, "customer")
		}
		if before.ArchivedAt != nil {
			c = before
			return nil
		}
		if c, err = q.ArchiveCustomer(ctx, ArchiveCustomerParams{ID: id, ArchivedAt: &now}); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "customer.archive", EntityType: "customer",
			EntityID: id.String(), CustomerID: &c.ID, Before: before.View(), After: c.View()}, now)
	})
	return c, err
}

// UnarchiveCustomer shows an archived customer in lists again.
func (s *Store) UnarchiveCustomer(ctx context.Context, actor licensing.Actor, id uuid.UUID, now time.Time) (Customer, error) {
	var c Customer
	err := s.inTx(ctx, func(q *Queries) error {
		before, err := q.GetCustomerForUpdate(ctx, id)
		if err != nil {
			return notFound(err, "customer")
		}
		if before.ArchivedAt == nil {
			c = before
			return nil
		}
		if c, err = q.UnarchiveCustomer(ctx, UnarchiveCustomerParams{ID: id, UpdatedAt: now}); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "customer.unarchive", EntityType: "customer",
			EntityID: id.String(), CustomerID: &c.ID, Before: before.View(), After: c.View()}, now)
	})
	return c, err
}

// notFound names what was not found.
func notFound(err error, what string) error {
	err = Translate(err)
	if licensing.ErrorCode(err) == licensing.ENOTFOUND {
		return licensing.Errorf(licensing.ENOTFOUND, "%s not found", what)
	}
	return err
}

// conflictAs names the field of a unique violation.
func conflictAs(err error, field, msg string) error {
	err = Translate(err)
	if licensing.ErrorCode(err) == licensing.ECONFLICT {
		return &licensing.Error{Code: licensing.ECONFLICT, Message: msg,
			Details: []licensing.ErrorDetail{{Field: field, Message: msg}}, Err: err}
	}
	return err
}

// The reads and small writes handlers call. Each returns the query's rows;
// errors arrive already translated by the connection (conn.go).

func (s *Store) GetCustomer(ctx context.Context, id uuid.UUID) (Customer, error) {
	return s.q.GetCustomer(ctx, id)
}

func (s *Store) ListCustomers(ctx context.Context, arg ListCustomersParams) ([]Customer, error) {
	return s.q.ListCustomers(ctx, arg)
}

func (s *Store) ListCustomersByEmail(ctx context.Context, email string) ([]Customer, error) {
	return s.q.ListCustomersByEmail(ctx, email)
}

func (s *Store) GetCustomerByStripeID(ctx context.Context, stripeCustomerID string) (Customer, error) {
	return s.q.GetCustomerByStripeID(ctx, &stripeCustomerID)
}

func (s *Store) CountCustomers(ctx context.Context) (int64, error) { return s.q.CountCustomers(ctx) }
