// The key service: the signing keyring as validation, the store and the CLI use it.
package app

import (
	"crypto/ed25519"
	"maps"
	"slices"
	"sync"
	"time"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

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
	leases leaseCache
}

// NewKeyService wraps a keyring, and makes it sign with signEd25519.
func NewKeyService(ring *licensing.Keyring, issuer string) *KeyService {
	ring.UseEd25519Signer(signEd25519)
	return &KeyService{ring: ring, cache: licensing.NewKeyCache(ring, licensing.DefaultKeyCacheSize), issuer: issuer}
}

// signEd25519 signs as crypto/ed25519.Sign does, byte for byte (RFC 8032's
// signatures are deterministic; TestFastEd25519SignsAsTheStandardLibrary),
// in about 0.56 of its time on amd64: curve25519-voi's larger precomputed
// table of the base point. Every heartbeat of a deployment whose last lease
// is too old to hand out again signs one, and on a two-CPU machine signing
// was a third of the server's CPU in make bench's production mix.
func signEd25519(priv ed25519.PrivateKey, message []byte) []byte {
	return voi.Sign(voi.PrivateKey(priv), message)
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

// IssueLease signs a lease with the portal's issuer. A deployment that
// validates again within leaseReuse, with the same facts, the same offline
// window and the same key ring, gets the lease it was given last time:
// signing is a fifth of a validation's CPU, and the lease it would sign
// differs only in its times, by minutes out of an offline window of days.
func (k *KeyService) IssueLease(c licensing.LeaseClaims, window time.Duration, now time.Time) (string, time.Time, error) {
	c.Issuer = k.issuer
	gen := k.ring.Generation()
	if token, exp, ok := k.leases.get(c, window, gen, now); ok {
		return token, exp, nil
	}
	token, exp, err := k.ring.IssueLease(c, window, now)
	if err == nil {
		k.leases.put(c, window, gen, now, token, exp)
	}
	return token, exp, err
}

// leaseReuse is how long a signed lease is handed out again unchanged.
const leaseReuse = 5 * time.Minute

// maxLeases bounds the leases kept; past it the cache starts afresh.
const maxLeases = 200_000

type leaseKey struct{ license, deployment string }

type leaseEntry struct {
	claims licensing.LeaseClaims
	window time.Duration
	gen    uint64
	issued time.Time
	token  string
	exp    time.Time
}

// leaseCache is the last lease signed per deployment.
type leaseCache struct {
	mu sync.Mutex
	m  map[leaseKey]*leaseEntry
}

func (l *leaseCache) get(c licensing.LeaseClaims, window time.Duration, gen uint64, now time.Time) (string, time.Time, bool) {
	l.mu.Lock()
	e := l.m[leaseKey{c.LicenseID, c.DeploymentID}]
	l.mu.Unlock()
	if e == nil || e.gen != gen || e.window != window || now.Before(e.issued) || now.Sub(e.issued) >= leaseReuse || !e.exp.After(now) ||
		!sameLeaseFacts(&e.claims, &c) {
		return "", time.Time{}, false
	}
	return e.token, e.exp, true
}

func (l *leaseCache) put(c licensing.LeaseClaims, window time.Duration, gen uint64, now time.Time, token string, exp time.Time) {
	e := &leaseEntry{claims: c, window: window, gen: gen, issued: now, token: token, exp: exp}
	l.mu.Lock()
	if l.m == nil || len(l.m) >= maxLeases {
		l.m = make(map[leaseKey]*leaseEntry)
	}
	l.m[leaseKey{c.LicenseID, c.DeploymentID}] = e
	l.mu.Unlock()
}

// sameLeaseFacts compares everything a lease says except its times.
func sameLeaseFacts(a, b *licensing.LeaseClaims) bool {
	return a.ID == b.ID && a.Issuer == b.Issuer && a.Status == b.Status && a.Code == b.Code &&
		a.CustomerID == b.CustomerID && a.Plan == b.Plan && a.MaxDeployments == b.MaxDeployments &&
		slices.Equal(a.Features, b.Features) && maps.Equal(a.Limits, b.Limits) &&
		sameTime(a.StartsAt, b.StartsAt) && sameTime(a.LicenseExpiresAt, b.LicenseExpiresAt) &&
		sameTime(a.GraceEndsAt, b.GraceEndsAt) && sameTime(a.PastDueSince, b.PastDueSince) &&
		sameTime(a.DunningEndsAt, b.DunningEndsAt) && a.MaxVersion == b.MaxVersion && a.Fingerprint == b.Fingerprint &&
		maps.Equal(a.LimitEnforcement, b.LimitEnforcement)
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
