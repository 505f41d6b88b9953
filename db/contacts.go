// A customer's billing and technical contact addresses, kept beside the
// customer row (customer_contacts) and told about billing and about usage
// and installations respectively.

package db

import (
	"context"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/nectarcloud/nls/licensing"
)

// checkContacts trims the contact addresses and refuses malformed ones.
func (in *CustomerInput) checkContacts() error {
	var pr licensing.Problems
	for _, c := range []struct {
		field string
		v     *string
	}{{"billingEmail", in.BillingEmail}, {"technicalEmail", in.TechnicalEmail}} {
		if c.v == nil {
			continue
		}
		*c.v = strings.TrimSpace(*c.v)
		if *c.v == "" {
			continue
		}
		a, err := mail.ParseAddress(*c.v)
		if err != nil || a.Address != *c.v || len(*c.v) > 254 {
			pr.Add(c.field, "must be an email address such as billing@example.com")
		}
	}
	return pr.Err()
}

// saveContacts stores the contacts in given (those not nil) for customer id.
func saveContacts(ctx context.Context, q *Queries, id uuid.UUID, in CustomerInput, now time.Time) error {
	if in.BillingEmail == nil && in.TechnicalEmail == nil {
		return nil
	}
	cur, err := q.GetCustomerContacts(ctx, id)
	if err != nil && licensing.ErrorCode(Translate(err)) != licensing.ENOTFOUND {
		return err
	}
	billing, technical := cur.BillingEmail, cur.TechnicalEmail
	if in.BillingEmail != nil {
		billing = pgtype.Text{String: *in.BillingEmail, Valid: *in.BillingEmail != ""}
	}
	if in.TechnicalEmail != nil {
		technical = pgtype.Text{String: *in.TechnicalEmail, Valid: *in.TechnicalEmail != ""}
	}
	return q.UpsertCustomerContacts(ctx, UpsertCustomerContactsParams{CustomerID: id, BillingEmail: billing,
		TechnicalEmail: technical, UpdatedAt: now})
}

// CustomerContacts returns a customer's billing and technical addresses (nil when none).
func (s *Store) CustomerContacts(ctx context.Context, id uuid.UUID) (billing, technical *string, err error) {
	c, err := s.q.GetCustomerContacts(ctx, id)
	if err != nil {
		if licensing.ErrorCode(Translate(err)) == licensing.ENOTFOUND {
			return nil, nil, nil
		}
		return nil, nil, Translate(err)
	}
	return textPtr(c.BillingEmail), textPtr(c.TechnicalEmail), nil
}

func textPtr(t pgtype.Text) *string {
	if !t.Valid {
		return nil
	}
	return &t.String
}
