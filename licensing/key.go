// License key text: formatting, normalising, checksums, hashing and the
// claims a key carries. Signing and verification live in keyring.go.

package licensing

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
	"unsafe"
)

// KeyPrefixText starts every license key, so that humans and secret scanners
// recognise one.
const KeyPrefixText = "NLS-"

// checksumLen is the number of hex characters of the trailing checksum.
const checksumLen = 8

// maxKeyLen bounds what we try to parse: a real key is well under 4 KiB even
// with a 4096-bit RSA signature and many features, and the bound keeps
// hostile input from costing us a large decode.
const maxKeyLen = 16 << 10

// strictB64 refuses non-zero padding bits, so that one JWS has exactly one
// key text (two spellings of one key would get two KeyHash values).
var strictB64 = base64.RawURLEncoding.Strict()

// ValidationCode is the one answer a validation gives. Codes are part of the
// public API of the validate endpoint and the client package.
type ValidationCode string

// Validation codes, in the order Decide checks them. The last five are valid,
// the most urgent warning first.
const (
	CodeInvalidKey            ValidationCode = "INVALID_KEY"
	CodeInvalidSignature      ValidationCode = "INVALID_SIGNATURE"
	CodeNotFound              ValidationCode = "NOT_FOUND"
	CodeRevoked               ValidationCode = "REVOKED"
	CodeSuspended             ValidationCode = "SUSPENDED"
	CodeNotYetValid           ValidationCode = "NOT_YET_VALID"
	CodeExpired               ValidationCode = "EXPIRED"
	CodeDeploymentDeactivated ValidationCode = "DEPLOYMENT_DEACTIVATED"
	CodeFingerprintMismatch   ValidationCode = "FINGERPRINT_MISMATCH"
	CodeTooManyDeployments    ValidationCode = "TOO_MANY_DEPLOYMENTS"
	CodeFeatureNotEntitled    ValidationCode = "FEATURE_NOT_ENTITLED"
	CodeGracePeriod           ValidationCode = "GRACE_PERIOD"
	CodePaymentOverdue        ValidationCode = "PAYMENT_OVERDUE"
	CodeSeatOverage           ValidationCode = "SEAT_OVERAGE"
	CodeVersionLocked         ValidationCode = "VERSION_LOCKED"
	CodeValid                 ValidationCode = "VALID"
)

// Valid reports whether the code is one of the passing answers.
func (c ValidationCode) Valid() bool {
	switch c {
	case CodeValid, CodeGracePeriod, CodePaymentOverdue, CodeSeatOverage, CodeVersionLocked:
		return true
	}
	return false
}

// KeyError is the error of ParseKey: Code is INVALID_KEY (text, structure,
// checksum) or INVALID_SIGNATURE (unknown kid, bad signature, wrong alg);
// Reason is safe to show; Err is the underlying cause, for logs only.
type KeyError struct {
	Code   ValidationCode
	Reason string
	Err    error
}

func (e *KeyError) Error() string {
	if e.Err != nil {
		return string(e.Code) + ": " + e.Reason + ": " + e.Err.Error()
	}
	return string(e.Code) + ": " + e.Reason
}

func (e *KeyError) Unwrap() error { return e.Err }

func invalidKey(reason string) *KeyError { return &KeyError{Code: CodeInvalidKey, Reason: reason} }

func invalidSig(reason string, err error) *KeyError {
	return &KeyError{Code: CodeInvalidSignature, Reason: reason, Err: err}
}

// KeyClaims are what a license key says. A key is a snapshot taken when it
// was issued; validation always answers from the license's current facts.
type KeyClaims struct {
	Issuer           string           // iss
	LicenseID        string           // sub
	KeyID            string           // jti: a license may be re-keyed
	IssuedAt         time.Time        // iat (whole seconds)
	CustomerID       string           // cid
	Plan             string           // plan
	Features         []string         // features
	Limits           map[string]int64 // limits
	MaxDeployments   int              // maxDeployments; 0 = unlimited
	StartsAt         time.Time        // startsAt
	LicenseExpiresAt *time.Time       // licenseExpiresAt; nil = perpetual
	Kid              string           // header kid: set by parsing, ignored when issuing
}

// FormatKey wraps a compact JWS into the key text NLS-{E}-{C}.
func FormatKey(jws string) string {
	e := base64.RawURLEncoding.EncodeToString([]byte(jws))
	var b strings.Builder
	b.Grow(len(KeyPrefixText) + len(e) + 1 + checksumLen)
	b.WriteString(KeyPrefixText)
	b.WriteString(e)
	sum := keyChecksum(KeyPrefixText + e)
	b.WriteByte('-')
	b.Write(sum[:])
	return b.String()
}

// keyChecksum is the first 8 lowercase hex characters of SHA-256("NLS-"+E).
func keyChecksum(prefixAndE string) [checksumLen]byte {
	h := sha256.Sum256(stringBytes(prefixAndE))
	var out [checksumLen]byte
	hex.Encode(out[:], h[:checksumLen/2])
	return out
}

// stringBytes views s as bytes without copying; only for read-only use by
// hash functions, which keeps the cached-key path free of allocations.
func stringBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// KeyHash is what the server stores to find a license by its key: SHA-256 of
// the normalised key text. Keys are 256+ bits of signature, so a fast hash
// is as strong as a slow one here.
func KeyHash(normalizedKey string) [32]byte { return sha256.Sum256(stringBytes(normalizedKey)) }

// KeyPrefix is the first 12 characters of a key: enough to tell keys apart
// in a list or a log line, too little to use.
func KeyPrefix(key string) string {
	if len(key) <= 12 {
		return key
	}
	return key[:12]
}

// isKeySpace reports the characters email clients and terminals insert into
// a long pasted key; nothing else is forgiven.
func isKeySpace(c byte) bool { return keyBytes[c]&keySpace != 0 }

func isB64URL(c byte) bool { return keyBytes[c]&keyB64URL != 0 }

// keyBytes classifies every byte in one table, so that the loops over a
// key (hundreds of characters, on every validation) do one load a byte
// rather than a chain of comparisons.
var keyBytes = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			t[c] |= keyB64URL
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			t[c] |= keySpace
		}
	}
	return t
}()

const (
	keyB64URL = 1 << iota
	keySpace
)

// NormalizeKey removes spaces, tabs and line breaks anywhere in a pasted key
// and checks its structure and checksum. It does not check the signature.
// The error is a *KeyError with code INVALID_KEY. A key without whitespace
// is returned as is, without allocating.
func NormalizeKey(s string) (string, error) {
	if len(s) > maxKeyLen {
		return "", invalidKey("the key is too long")
	}
	// A key as sent by the clients has no whitespace, and splitKey refuses
	// any: the key is checked as it is first, and stripped only when that
	// fails, so that a clean key is read once.
	_, err := splitKey(s)
	if err == nil {
		return s, nil
	}
	if clean := stripKeySpace(s); clean != s {
		s = clean
		_, err = splitKey(s)
	}
	if err != nil {
		return "", err
	}
	return s, nil
}

// stripKeySpace drops spaces, tabs and line breaks; it returns s itself,
// without allocating, when there are none.
func stripKeySpace(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if isKeySpace(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if !isKeySpace(s[i]) {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// splitKey checks the structure and checksum of a key without whitespace and
// returns E. It reads from the right, because E may contain '-'.
func splitKey(key string) (string, *KeyError) {
	if !strings.HasPrefix(key, KeyPrefixText) {
		return "", invalidKey("a license key starts with NLS-")
	}
	dash := strings.LastIndexByte(key, '-')
	if dash != len(key)-checksumLen-1 || dash < len(KeyPrefixText) {
		return "", invalidKey("a license key ends with a dash and 8 checksum characters")
	}
	e := key[len(KeyPrefixText):dash]
	if e == "" {
		return "", invalidKey("the license key is empty")
	}
	for i := 0; i < len(e); i++ {
		if !isB64URL(e[i]) {
			return "", invalidKey("the license key contains a character that is not allowed")
		}
	}
	want := keyChecksum(key[:dash])
	if key[dash+1:] != string(want[:]) {
		return "", invalidKey("the license key checksum does not match: the key was mistyped or cut")
	}
	return e, nil
}

// decodeKeyJWS turns E into the compact JWS. E that is not strict base64url
// or does not decode to three dot-separated base64url parts is INVALID_KEY:
// it is not a key at all. Anything wrong inside a well-shaped JWS is
// INVALID_SIGNATURE.
func decodeKeyJWS(e string) (string, *KeyError) {
	raw, err := strictB64.DecodeString(e)
	if err != nil {
		return "", &KeyError{Code: CodeInvalidKey, Reason: "the license key does not decode", Err: err}
	}
	dots := 0
	for _, c := range raw {
		switch {
		case c == '.':
			dots++
		case !isB64URL(c):
			return "", invalidKey("the license key does not hold a JWS")
		}
	}
	if dots != 2 {
		return "", invalidKey("the license key does not hold a JWS")
	}
	return string(raw), nil
}

// KeySubject reads the license id (sub) from a key WITHOUT verifying its
// signature. It exists for one purpose: a client keys its machine
// fingerprint by the license id before it has reached the server. Never
// trust what it returns for anything else; ParseKey verifies.
func KeySubject(key string) (string, error) {
	norm, err := NormalizeKey(key)
	if err != nil {
		return "", err
	}
	e, kerr := splitKey(norm)
	if kerr != nil {
		return "", kerr
	}
	jws, kerr := decodeKeyJWS(e)
	if kerr != nil {
		return "", kerr
	}
	parts := strings.SplitN(jws, ".", 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", invalidKey("the license key's claims do not decode")
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Sub == "" {
		return "", invalidKey("the license key names no license")
	}
	return c.Sub, nil
}
