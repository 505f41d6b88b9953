package db

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// The JSON views of stored rows: the shapes the API answers with and the
// audit log records, so that both always agree. Fields are camelCase, times
// RFC 3339 in UTC.

// CustomerView is a customer as the API shows it.
type CustomerView struct {
	ID               uuid.UUID       `json:"id"`
	Name             string          `json:"name"`
	Email            string          `json:"email"`
	Company          string          `json:"company"`
	Metadata         json.RawMessage `json:"metadata"`
	StripeCustomerID *string         `json:"stripeCustomerId"`
	ArchivedAt       *time.Time      `json:"archivedAt"`
	CreatedAt        time.Time       `json:"createdAt"`
	UpdatedAt        time.Time       `json:"updatedAt"`
}

// View renders the customer for the API and the audit log.
func (c Customer) View() CustomerView {
	md := json.RawMessage(c.Metadata)
	if len(md) == 0 {
		md = json.RawMessage("{}")
	}
	return CustomerView{ID: c.ID, Name: c.Name, Email: c.Email, Company: c.Company, Metadata: md,
		StripeCustomerID: c.StripeCustomerID, ArchivedAt: utcPtr(c.ArchivedAt), CreatedAt: c.CreatedAt.UTC(),
		UpdatedAt: c.UpdatedAt.UTC()}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
