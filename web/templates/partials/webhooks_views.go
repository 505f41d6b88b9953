package partials

// The delivery log of one webhook endpoint, as its page shows it and the
// filter or the refresh swaps it.

// WebhookLogID is the id of the delivery log.
const WebhookLogID = "delivery-log"

// WebhookLog is one page of an endpoint's deliveries.
type WebhookLog struct {
	EndpointID string
	Status     string   // the filter, "" for every state
	Statuses   []string // the states to filter on
	Rows       []WebhookDeliveryRow
	NextURL    string // older deliveries, "" on the last page
	CSRF       string
	CanWrite   bool // may resend
	Refresh    bool // poll for new deliveries (the first page only)
}

// WebhookDeliveryRow is one delivery with its attempts.
type WebhookDeliveryRow struct {
	ID             string
	Event          string
	EventID        string
	Status         string
	Created        string
	Attempts       int
	ResponseStatus string
	Latency        string
	NextRetry      string
	AttemptRows    []WebhookAttemptRow
}

// WebhookAttemptRow is one attempt.
type WebhookAttemptRow struct {
	N         int
	At        string
	Status    string // the HTTP status, or "—" without an answer
	Latency   string
	Excerpt   string
	Error     string
	NextRetry string
}
