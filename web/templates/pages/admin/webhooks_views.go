package admin

import (
	"slices"

	"github.com/nectarcloud/nls/web/templates/partials"
)

// WebhookForm is the endpoint form as submitted (create or edit).
type WebhookForm struct {
	URL         string
	Description string
	Events      []string // event types, or just "*"
	Errors      map[string]string
}

// Err is the error of a field, "" when none.
func (f WebhookForm) Err(field string) string { return f.Errors[field] }

// Has reports whether an event type is ticked.
func (f WebhookForm) Has(t string) bool { return slices.Contains(f.Events, t) }

// All reports whether the endpoint takes every event type.
func (f WebhookForm) All() bool { return f.Has("*") }

// WebhookEventType is one event type the form offers.
type WebhookEventType struct {
	Type, Description string
}

// WebhookRow is one endpoint in the list, or the head of its page.
type WebhookRow struct {
	ID             string
	URL            string
	Description    string
	Events         string
	Enabled        bool
	DisabledReason string
	SuccessRate    string // of the last 7 days, "—" without ended deliveries
	Created        string
}

// WebhooksPage is the endpoint list and the form to add one.
type WebhooksPage struct {
	Rows       []WebhookRow
	Form       WebhookForm
	EventTypes []WebhookEventType
	CanWrite   bool
	Private    bool // NLS_WEBHOOK_ALLOW_PRIVATE: plain http and local receivers accepted
}

// WebhookPage is one endpoint: its settings, figures, actions and
// delivery log; right after creating or rotating, the secret, once.
type WebhookPage struct {
	Endpoint      WebhookRow
	NewSecret     string
	SecretNote    string // what the new secret replaced
	PreviousUntil string // the rotated secret signs until then
	FailingSince  string
	Delivered     int64
	Failed        int64
	Pending       int64
	ReplaySince   string // datetime-local default
	ReplayError   string
	CanWrite      bool
	Log           partials.WebhookLog
}

// WebhookEditPage is the edit form of one endpoint.
type WebhookEditPage struct {
	ID         string
	Form       WebhookForm
	EventTypes []WebhookEventType
	Private    bool
}
