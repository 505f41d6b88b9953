package licensing

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strings"
)

// API key scopes. "admin" grants every other scope.
const (
	ScopeAdmin          = "admin"
	ScopeLicensesRead   = "licenses:read"
	ScopeLicensesWrite  = "licenses:write"
	ScopeCustomersRead  = "customers:read"
	ScopeCustomersWrite = "customers:write"
	ScopeUsageRead      = "usage:read"
	ScopeAuditRead      = "audit:read"
)

// Scopes lists every scope, in the order the portal shows them.
var Scopes = []string{ScopeAdmin, ScopeLicensesRead, ScopeLicensesWrite, ScopeCustomersRead,
	ScopeCustomersWrite, ScopeUsageRead, ScopeAuditRead}

// APIKeyPrefix starts every API key, so that secret scanners can spot one.
const APIKeyPrefix = "nls_"

// NewAPIKey returns a fresh random API key, the short prefix shown in lists,
// and the hash to store. The key itself is shown once and never stored.
func NewAPIKey() (key, prefix string, hash [32]byte, err error) {
	buf := make([]byte, 32)
	if _, err = rand.Read(buf); err != nil {
		return "", "", hash, err
	}
	key = APIKeyPrefix + base64.RawURLEncoding.EncodeToString(buf)
	return key, key[:len(APIKeyPrefix)+8], HashAPIKey(key), nil
}

// HashAPIKey is the lookup hash of an API key. Keys carry 256 random bits, so
// a fast hash is as strong as a slow one here.
func HashAPIKey(key string) [32]byte { return sha256.Sum256([]byte(key)) }

// ValidateScopes checks a requested scope list: known names, at least one.
func ValidateScopes(scopes []string) error {
	if len(scopes) == 0 {
		return Invalid("at least one scope is required", ErrorDetail{Field: "scopes", Message: "empty"})
	}
	for _, s := range scopes {
		if !slices.Contains(Scopes, s) {
			return Invalid("unknown scope "+s, ErrorDetail{Field: "scopes",
				Message: "unknown scope " + s + "; known: " + strings.Join(Scopes, ", ")})
		}
	}
	return nil
}

// ScopeAllows reports whether granted scopes allow need.
func ScopeAllows(granted []string, need string) bool {
	return slices.Contains(granted, ScopeAdmin) || slices.Contains(granted, need)
}
