package admin

import (
	"slices"

	"github.com/nectarcloud/nls/web/templates/partials"
)

// APIKeyForm is the create-a-key form as submitted.
type APIKeyForm struct {
	Name   string
	Scopes []string
	Errors map[string]string
}

// Err is the error of a field, "" when none.
func (f APIKeyForm) Err(field string) string { return f.Errors[field] }

// Has reports whether scope is ticked.
func (f APIKeyForm) Has(scope string) bool { return slices.Contains(f.Scopes, scope) }

// APIKeysPage is the keys table and the create form; right after creating,
// the new key's secret, once.
type APIKeysPage struct {
	Rows      []partials.APIKeyRow
	AllScopes []Option
	Form      APIKeyForm
	NewName   string
	NewSecret string
}
