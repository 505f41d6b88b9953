package partials

// AuditFilter is the audit log's query, echoed into the form and links.
type AuditFilter struct {
	ActorType  string
	ActorID    string
	Action     string
	EntityType string
	EntityID   string
	CustomerID string
	From       string // YYYY-MM-DD or RFC 3339
	To         string // inclusive when a date
}

// AuditEntry is one audit row with its before and after, pretty-printed.
type AuditEntry struct {
	ID        string
	When      string
	ActorType string
	Actor     string // label, else id
	Action    string
	Entity    string // "license 1234…"
	Href      string // the entity's admin page, when it has one
	Before    string // indented JSON, "" when none
	After     string
	IP        string
}

// AuditResults is the audit log's swap target.
type AuditResults struct {
	Rows     []AuditEntry
	NextURL  string
	Filtered bool
	Error    string
}

// AuditVerification is the chain check's banner.
type AuditVerification struct {
	Checked  bool // false until someone asks
	OK       bool
	Rows     int64
	BrokenID int64
	Problem  string
}
