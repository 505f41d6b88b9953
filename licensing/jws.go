// Signing and verifying license keys and leases as JWS, shared by the
// Keyring (server) and the Verifier (public keys only, for clients).

package licensing

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultIssuer is the iss of keys and leases when the caller sets none.
const DefaultIssuer = "nls"

// DefaultOfflineWindow is how long a lease lets a deployment run without
// reaching the server, when the plan says nothing else (30 days).
const DefaultOfflineWindow = 30 * 24 * time.Hour

// Lease verification failures. VerifyLease returns an *Error (code
// EUNAUTHORIZED) that wraps one of these, so errors.Is tells them apart.
var (
	ErrLeaseMalformed       = errors.New("lease is malformed")
	ErrLeaseUnknownKey      = errors.New("lease is signed by an unknown key")
	ErrLeaseSignature       = errors.New("lease signature is invalid")
	ErrLeaseExpired         = errors.New("lease has expired")
	ErrLeaseWrongDeployment = errors.New("lease is for another deployment")
)

// keyJWT is the payload of a license key. It deliberately has no exp: a
// license past its expiry may still be in grace, and standard libraries
// reject an expired exp. It implements jwt.Claims with no time claims, so
// the jwt parser checks only the signature.
type keyJWT struct {
	Issuer           string           `json:"iss,omitempty"`
	Subject          string           `json:"sub"`
	ID               string           `json:"jti"`
	IssuedAt         int64            `json:"iat"`
	CustomerID       string           `json:"cid,omitempty"`
	Plan             string           `json:"plan,omitempty"`
	Features         []string         `json:"features,omitempty"`
	Limits           map[string]int64 `json:"limits,omitempty"`
	MaxDeployments   int              `json:"maxDeployments,omitempty"`
	LicenseExpiresAt *int64           `json:"licenseExpiresAt,omitempty"`
	StartsAt         int64            `json:"startsAt"`
	// Never set on keys: present only so that a lease passed off as a key
	// is recognised and refused.
	Audience json.RawMessage `json:"aud,omitempty"`
	Exp      json.RawMessage `json:"exp,omitempty"`
}

func (c *keyJWT) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (c *keyJWT) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (c *keyJWT) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (c *keyJWT) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *keyJWT) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *keyJWT) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// leaseJWT is the payload of a lease.
type leaseJWT struct {
	jwt.RegisteredClaims
	Status           State                  `json:"status"`
	Code             ValidationCode         `json:"code,omitempty"`
	CustomerID       string                 `json:"customerId,omitempty"`
	Plan             string                 `json:"plan,omitempty"`
	Features         []string               `json:"features,omitempty"`
	Limits           map[string]int64       `json:"limits,omitempty"`
	MaxDeployments   int                    `json:"maxDeployments,omitempty"`
	StartsAt         *int64                 `json:"startsAt,omitempty"`
	LicenseExpiresAt *int64                 `json:"licenseExpiresAt,omitempty"`
	GraceEndsAt      *int64                 `json:"graceEndsAt,omitempty"`
	PastDueSince     *int64                 `json:"pastDueSince,omitempty"`
	DunningEndsAt    *int64                 `json:"dunningEndsAt,omitempty"`
	MaxVersion       string                 `json:"maxVersion,omitempty"`
	Fingerprint      string                 `json:"fingerprint,omitempty"`
	LimitEnforcement map[string]Enforcement `json:"limitEnforcement,omitempty"`
}

// LeaseClaims are what a lease says: the effective entitlement of one
// deployment, for the client to evaluate gates offline until ExpiresAt.
type LeaseClaims struct {
	ID               string // jti, optional
	Issuer           string
	LicenseID        string // sub
	DeploymentID     string // aud
	IssuedAt         time.Time
	ExpiresAt        time.Time // exp: set by IssueLease
	Status           State
	Code             ValidationCode
	CustomerID       string
	Plan             string
	Features         []string
	Limits           map[string]int64
	MaxDeployments   int
	StartsAt         *time.Time
	LicenseExpiresAt *time.Time
	GraceEndsAt      *time.Time
	PastDueSince     *time.Time
	DunningEndsAt    *time.Time
	// MaxVersion is set on a VERSION_LOCKED lease: the newest application
	// version the expired license still runs (maintain strategy).
	MaxVersion string
	// Fingerprint is the machine fingerprint id the deployment is bound to
	// under a lock or components policy, so that a lease copied with a
	// state folder to another machine is refused there even offline.
	Fingerprint string
	// LimitEnforcement lists the metrics whose limits are soft.
	LimitEnforcement map[string]Enforcement
	Kid              string // header kid: set by verification
}

// HasFeature reports whether the lease grants feature.
func (c *LeaseClaims) HasFeature(feature string) bool {
	for _, f := range c.Features {
		if f == feature {
			return true
		}
	}
	return false
}

func unixPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	u := t.Unix()
	return &u
}

func timePtr(u *int64) *time.Time {
	if u == nil {
		return nil
	}
	t := time.Unix(*u, 0).UTC()
	return &t
}

// IssueKey signs c with the current key and returns the key text. IssuedAt
// is set to now; Issuer defaults to DefaultIssuer.
func (k *Keyring) IssueKey(c KeyClaims, now time.Time) (string, error) {
	key, _, err := k.IssueKeyKid(c, now)
	return key, err
}

// IssueKeyKid is IssueKey that also tells which kid signed the key (the
// server records it next to the key's hash).
func (k *Keyring) IssueKeyKid(c KeyClaims, now time.Time) (key, kid string, err error) {
	if c.LicenseID == "" || c.KeyID == "" {
		return "", "", Invalid("a license key needs a license id and a key id")
	}
	if c.MaxDeployments < 0 {
		return "", "", Invalid("maxDeployments must not be negative")
	}
	s := k.set.Load()
	sk := s.sign[s.current]
	if sk == nil {
		return "", "", Errorf(EUNAVAILABLE, "the keyring has no signing key")
	}
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	payload := &keyJWT{Issuer: c.Issuer, Subject: c.LicenseID, ID: c.KeyID, IssuedAt: now.Unix(),
		CustomerID: c.CustomerID, Plan: c.Plan, Features: c.Features, Limits: c.Limits,
		MaxDeployments: c.MaxDeployments, LicenseExpiresAt: unixPtr(c.LicenseExpiresAt), StartsAt: c.StartsAt.Unix()}
	jws, err := k.sign(sk, payload)
	if err != nil {
		return "", "", err
	}
	return FormatKey(jws), sk.info.Kid, nil
}

func (k *Keyring) sign(sk *signKey, claims jwt.Claims) (string, error) {
	if priv, ok := sk.priv.(ed25519.PrivateKey); ok && sk.header != "" {
		return signEdDSA(sk.header, priv, claims, k.ed25519Signer())
	}
	tok := jwt.NewWithClaims(sk.method, claims)
	tok.Header["kid"] = sk.info.Kid
	s, err := tok.SignedString(sk.priv)
	if err != nil {
		return "", Internal(err)
	}
	return s, nil
}

// signEdDSA writes what jwt's SignedString writes for an Ed25519 key, byte
// for byte (TestLeanEdDSASigningMatchesTheLibrary), in one buffer: the
// library's map header, string concatenations and segment encodings cost
// about thirty allocations a lease, and a lease is signed for every new
// deployment and every heartbeat whose signed lease is not reused.
func signEdDSA(header string, priv ed25519.PrivateKey, claims jwt.Claims, signer Ed25519Signer) (string, error) {
	var payload []byte
	if p, ok := claims.(*leaseJWT); ok {
		var room [1024]byte
		if payload, ok = appendLeasePayload(room[:0], p); !ok {
			payload = nil
		}
	}
	if payload == nil {
		var err error
		if payload, err = json.Marshal(claims); err != nil {
			return "", Internal(err)
		}
	}
	enc := base64.RawURLEncoding
	signed := len(header) + 1 + enc.EncodedLen(len(payload))
	buf := make([]byte, signed+1+enc.EncodedLen(ed25519.SignatureSize))
	copy(buf, header)
	buf[len(header)] = '.'
	enc.Encode(buf[len(header)+1:signed], payload)
	sig := signer(priv, buf[:signed])
	buf[signed] = '.'
	enc.Encode(buf[signed+1:], sig)
	// The token is buf itself, which nothing writes again: no second copy.
	return unsafe.String(unsafe.SliceData(buf), len(buf)), nil
}

// peekHeader reads kid and alg from the protected header, to choose the key
// (and so the one accepted alg) before the jwt parser runs.
func peekHeader(jws string) (kid, alg string, ok bool) {
	dot := strings.IndexByte(jws, '.')
	if dot <= 0 {
		return "", "", false
	}
	raw, err := strictB64.DecodeString(jws[:dot])
	if err != nil {
		return "", "", false
	}
	var h struct {
		Kid string `json:"kid"`
		Alg string `json:"alg"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return "", "", false
	}
	return h.Kid, h.Alg, true
}

// ParseKey checks a license key: text, structure and checksum (else
// INVALID_KEY), then the signature with the key its kid names and only that
// key's alg (else INVALID_SIGNATURE). On success the code is VALID, meaning
// only that the key is ours: the license still needs Decide. On failure the
// error is a *KeyError with the same code.
func (k *Keyring) ParseKey(key string) (*KeyClaims, ValidationCode, error) {
	return parseKey(k.set.Load(), &k.sigs, key)
}

// ParseKey is Keyring.ParseKey with public keys only.
func (v *Verifier) ParseKey(key string) (*KeyClaims, ValidationCode, error) {
	return parseKey(v.set, nil, key)
}

func parseKey(s *keySet, sigs *atomic.Uint64, key string) (*KeyClaims, ValidationCode, error) {
	norm, err := NormalizeKey(key)
	if err != nil {
		return nil, CodeInvalidKey, err
	}
	e, kerr := splitKey(norm)
	if kerr != nil { // unreachable after NormalizeKey; kept for safety
		return nil, kerr.Code, kerr
	}
	c, kerr := verifyKeyJWS(s, sigs, e)
	if kerr != nil {
		return nil, kerr.Code, kerr
	}
	return c, CodeValid, nil
}

// verifyKeyJWS decodes E and verifies the JWS inside.
func verifyKeyJWS(s *keySet, sigs *atomic.Uint64, e string) (*KeyClaims, *KeyError) {
	jws, kerr := decodeKeyJWS(e)
	if kerr != nil {
		return nil, kerr
	}
	kid, alg, ok := peekHeader(jws)
	if !ok {
		return nil, invalidSig("the license key's header is unreadable", nil)
	}
	vk := s.verify[kid]
	if vk == nil {
		return nil, invalidSig("the license key was signed by an unknown key", nil)
	}
	if alg != string(vk.alg) {
		return nil, invalidSig("the license key's algorithm does not match its signing key", nil)
	}
	var p keyJWT
	if sigs != nil {
		sigs.Add(1)
	}
	if _, err := vk.keyParser.ParseWithClaims(jws, &p, vk.keyfunc); err != nil {
		return nil, invalidSig("the license key's signature is invalid", err)
	}
	if p.Subject == "" || p.ID == "" || len(p.Audience) > 0 || len(p.Exp) > 0 || p.MaxDeployments < 0 {
		return nil, invalidSig("the token is not a license key", nil)
	}
	return &KeyClaims{Issuer: p.Issuer, LicenseID: p.Subject, KeyID: p.ID, IssuedAt: time.Unix(p.IssuedAt, 0).UTC(),
		CustomerID: p.CustomerID, Plan: p.Plan, Features: p.Features, Limits: p.Limits,
		MaxDeployments: p.MaxDeployments, StartsAt: time.Unix(p.StartsAt, 0).UTC(),
		LicenseExpiresAt: timePtr(p.LicenseExpiresAt), Kid: kid}, nil
}

// leaseSigner picks the key for leases. Leases are verified offline by
// customers, so they are never HMAC-signed: when the current key is HMAC we
// fall back to the newest asymmetric key, and fail if there is none.
func (s *keySet) leaseSigner() *signKey {
	if sk := s.sign[s.current]; sk != nil && sk.info.Alg != AlgHS256 {
		return sk
	}
	var best *signKey
	for _, sk := range s.sign {
		if sk.info.Alg == AlgHS256 {
			continue
		}
		if best == nil || sk.info.Created.After(best.info.Created) ||
			sk.info.Created.Equal(best.info.Created) && sk.info.Kid > best.info.Kid {
			best = sk
		}
	}
	return best
}

// IssueLease signs a lease for c.DeploymentID. Its exp is now+offlineWindow
// (DefaultOfflineWindow when zero or negative), but never past the grace end
// (c.GraceEndsAt, else c.LicenseExpiresAt) nor the dunning end: a client
// offline must stop when the server would. exp is rounded down to a whole
// second. It fails when that leaves no time at all.
func (k *Keyring) IssueLease(c LeaseClaims, offlineWindow time.Duration, now time.Time) (string, time.Time, error) {
	if c.LicenseID == "" || c.DeploymentID == "" {
		return "", time.Time{}, Invalid("a lease needs a license id and a deployment id")
	}
	sk := k.set.Load().leaseSigner()
	if sk == nil {
		return "", time.Time{}, Errorf(EUNAVAILABLE, "the keyring has no asymmetric key to sign leases with")
	}
	if offlineWindow <= 0 {
		offlineWindow = DefaultOfflineWindow
	}
	exp := now.Add(offlineWindow)
	switch {
	case c.Code == CodeVersionLocked:
		// The maintain fallback has no end: the lease is bounded by the
		// window alone, and MaxVersion says which versions it runs.
	case c.GraceEndsAt != nil:
		exp = earliest(exp, *c.GraceEndsAt)
	case c.LicenseExpiresAt != nil:
		exp = earliest(exp, *c.LicenseExpiresAt)
	}
	if c.DunningEndsAt != nil {
		exp = earliest(exp, *c.DunningEndsAt)
	}
	exp = time.Unix(exp.Unix(), 0).UTC()
	if !exp.After(now) {
		return "", time.Time{}, Errorf(ECONFLICT, "no lease: the license's grace or dunning period has ended")
	}
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	p := &leaseJWT{
		RegisteredClaims: jwt.RegisteredClaims{ID: c.ID, Issuer: c.Issuer, Subject: c.LicenseID,
			Audience: jwt.ClaimStrings{c.DeploymentID}, IssuedAt: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp)},
		Status: c.Status, Code: c.Code, CustomerID: c.CustomerID, Plan: c.Plan, Features: c.Features,
		Limits: c.Limits, MaxDeployments: c.MaxDeployments, StartsAt: unixPtr(c.StartsAt),
		LicenseExpiresAt: unixPtr(c.LicenseExpiresAt), GraceEndsAt: unixPtr(c.GraceEndsAt),
		PastDueSince: unixPtr(c.PastDueSince), DunningEndsAt: unixPtr(c.DunningEndsAt),
		MaxVersion: c.MaxVersion, Fingerprint: c.Fingerprint, LimitEnforcement: c.LimitEnforcement,
	}
	tok, err := k.sign(sk, p)
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, exp, nil
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// VerifyLease checks a lease for deploymentID at now: signed by a known
// asymmetric key with that key's alg, audience deploymentID, exp after now.
// Errors are *Error (EUNAUTHORIZED) wrapping one of the ErrLease* values.
func (k *Keyring) VerifyLease(token, deploymentID string, now time.Time) (*LeaseClaims, error) {
	return verifyLease(k.set.Load(), &k.sigs, token, deploymentID, now)
}

// VerifyLease is Keyring.VerifyLease with public keys only: what a client
// does offline.
func (v *Verifier) VerifyLease(token, deploymentID string, now time.Time) (*LeaseClaims, error) {
	return verifyLease(v.set, nil, token, deploymentID, now)
}

func leaseErr(kind error, cause error) *Error {
	err := kind
	if cause != nil {
		err = fmt.Errorf("%w: %w", kind, cause)
	}
	return &Error{Code: EUNAUTHORIZED, Message: kind.Error(), Err: err}
}

func verifyLease(s *keySet, sigs *atomic.Uint64, token, deploymentID string, now time.Time) (*LeaseClaims, error) {
	if deploymentID == "" {
		return nil, Invalid("a deployment id is required to verify a lease")
	}
	if len(token) > maxKeyLen {
		return nil, leaseErr(ErrLeaseMalformed, nil)
	}
	kid, alg, ok := peekHeader(token)
	if !ok {
		return nil, leaseErr(ErrLeaseMalformed, nil)
	}
	vk := s.verify[kid]
	if vk == nil || vk.alg == AlgHS256 {
		return nil, leaseErr(ErrLeaseUnknownKey, nil)
	}
	if alg != string(vk.alg) {
		return nil, leaseErr(ErrLeaseSignature, nil)
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{string(vk.alg)}), jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(func() time.Time { return now }), jwt.WithAudience(deploymentID),
		jwt.WithExpirationRequired())
	var p leaseJWT
	if sigs != nil {
		sigs.Add(1)
	}
	if _, err := parser.ParseWithClaims(token, &p, vk.keyfunc); err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
			return nil, leaseErr(ErrLeaseSignature, err)
		case errors.Is(err, jwt.ErrTokenExpired):
			return nil, leaseErr(ErrLeaseExpired, err)
		case errors.Is(err, jwt.ErrTokenInvalidAudience):
			return nil, leaseErr(ErrLeaseWrongDeployment, err)
		}
		return nil, leaseErr(ErrLeaseMalformed, err)
	}
	// jwt already refused exp <= now; restated because it is the contract.
	if p.ExpiresAt == nil || !now.Before(p.ExpiresAt.Time) {
		return nil, leaseErr(ErrLeaseExpired, nil)
	}
	if p.Subject == "" {
		return nil, leaseErr(ErrLeaseMalformed, nil)
	}
	c := &LeaseClaims{ID: p.ID, Issuer: p.Issuer, LicenseID: p.Subject, DeploymentID: deploymentID,
		ExpiresAt: p.ExpiresAt.UTC(), Status: p.Status, Code: p.Code, CustomerID: p.CustomerID,
		Plan: p.Plan, Features: p.Features, Limits: p.Limits, MaxDeployments: p.MaxDeployments,
		StartsAt: timePtr(p.StartsAt), LicenseExpiresAt: timePtr(p.LicenseExpiresAt),
		GraceEndsAt: timePtr(p.GraceEndsAt), PastDueSince: timePtr(p.PastDueSince),
		DunningEndsAt: timePtr(p.DunningEndsAt), MaxVersion: p.MaxVersion, Fingerprint: p.Fingerprint,
		LimitEnforcement: p.LimitEnforcement, Kid: kid}
	if p.IssuedAt != nil {
		c.IssuedAt = p.IssuedAt.UTC()
	}
	return c, nil
}
