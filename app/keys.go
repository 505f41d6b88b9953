// The key service: the signing keyring as validation, the store and the CLI use it.
package app

import (
	"time"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

// KeyService is the keyring as the use cases, the store and the CLI use it: keys are
// parsed through a bounded cache (a key verified once is not verified again
// until the key ring changes), issued with the portal's issuer, and leases
// signed for deployments.
type KeyService struct {
	ring   *licensing.Keyring
	cache  *licensing.KeyCache
	issuer string
}

// NewKeyService wraps a keyring.
func NewKeyService(ring *licensing.Keyring, issuer string) *KeyService {
	return &KeyService{ring: ring, cache: licensing.NewKeyCache(ring, 10_000), issuer: issuer}
}

// Ring is the keyring itself (for the CLI and the portal's key pages).
func (k *KeyService) Ring() *licensing.Keyring { return k.ring }

// ParseKeyCached verifies a key, from the cache when it was seen before.
func (k *KeyService) ParseKeyCached(key string) (*licensing.KeyClaims, error) {
	claims, _, err := k.cache.ParseKey(key)
	return claims, err
}

// IssueLicenseKey implements db.KeyIssuer.
func (k *KeyService) IssueLicenseKey(f db.LicenseKeyFacts, now time.Time) (string, string, error) {
	max := 0
	if f.MaxDeployments != nil {
		max = int(*f.MaxDeployments)
	}
	return k.ring.IssueKeyKid(licensing.KeyClaims{Issuer: k.issuer, LicenseID: f.LicenseID.String(),
		KeyID: f.KeyID.String(), CustomerID: f.CustomerID.String(), Plan: f.Plan, Features: f.Features,
		Limits: f.Limits, MaxDeployments: max, StartsAt: f.StartsAt, LicenseExpiresAt: f.ExpiresAt}, now)
}

// IssueLease signs a lease with the portal's issuer.
func (k *KeyService) IssueLease(c licensing.LeaseClaims, window time.Duration, now time.Time) (string, time.Time, error) {
	c.Issuer = k.issuer
	return k.ring.IssueLease(c, window, now)
}
