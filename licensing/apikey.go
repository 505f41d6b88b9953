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
	ScopeReleasesRead   = "releases:read"
	ScopeReleasesWrite  = "releases:write"
	ScopeRegistryPush   = "registry:push"  // push (and pull) any product image
	ScopeWebhooksRead   = "webhooks:read"  // webhook endpoints and their delivery logs
	ScopeWebhooksWrite  = "webhooks:write" // create, change, rotate, ping, resend, replay
	ScopeInsightsRead   = "insights:read"  // list findings
)

// Scopes lists every scope, in the order the portal shows them.
var Scopes = []string{ScopeAdmin, ScopeLicensesRead, ScopeLicensesWrite, ScopeCustomersRead,
	ScopeCustomersWrite, ScopeUsageRead, ScopeAuditRead, ScopeReleasesRead, ScopeReleasesWrite, ScopeRegistryPush,
	ScopeWebhooksRead, ScopeWebhooksWrite, ScopeInsightsRead}

// APIKeyPrefix starts every API key, so that secret scanners can spot one.
const APIKeyPrefix = "nls_"

// An API key is APIKeyPrefix, 43 characters of base64url (32 random bytes),
// then 8 characters of base64url checksum: the first 6 bytes of SHA-256 over
// everything before it. The checksum lets the server refuse a mistyped,
// truncated or made-up key without a database lookup. Keys made before the
// checksum existed (prefix and random part only) keep working; for those
// only the lookup can tell.
const (
	apiKeyRandomLen   = 43 // base64url of 32 bytes, no padding
	apiKeyChecksumLen = 8  // base64url of 6 bytes
)

// NewAPIKey returns a fresh random API key, the short prefix shown in lists,
// and the hash to store. The key itself is shown once and never stored.
func NewAPIKey() (key, prefix string, hash [32]byte, err error) {
	buf := make([]byte, 32)
	if _, err = rand.Read(buf); err != nil {
		return "", "", hash, err
	}
	body := APIKeyPrefix + base64.RawURLEncoding.EncodeToString(buf)
	key = body + apiKeyChecksum(body)
	return key, key[:len(APIKeyPrefix)+8], HashAPIKey(key), nil
}

func apiKeyChecksum(body string) string {
	sum := sha256.Sum256([]byte(body))
	return base64.RawURLEncoding.EncodeToString(sum[:6])
}

// APIKeyPlausible reports whether key can be one of ours: the prefix, the
// right length and alphabet, and, for keys with a checksum, a checksum that
// matches. A key that fails needs no lookup to be refused.
func APIKeyPlausible(key string) bool {
	rest, ok := strings.CutPrefix(key, APIKeyPrefix)
	if !ok {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	switch len(rest) {
	case apiKeyRandomLen: // made before keys had a checksum
		return true
	case apiKeyRandomLen + apiKeyChecksumLen:
		body := key[:len(APIKeyPrefix)+apiKeyRandomLen]
		return key[len(body):] == apiKeyChecksum(body)
	}
	return false
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
