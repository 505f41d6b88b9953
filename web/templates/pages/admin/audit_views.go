package admin

import "github.com/nectarcloud/nls/web/templates/partials"

// AuditPage is the audit log with its filters and the chain check.
type AuditPage struct {
	Filter     partials.AuditFilter
	ActorTypes []Option
	Results    partials.AuditResults
	Verify     partials.AuditVerification
	CSVURL     string // the export of the same filters
}
