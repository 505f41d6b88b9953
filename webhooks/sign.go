// Package webhooks delivers NLS's events to the vendor's own HTTP endpoints
// the Standard Webhooks way (https://www.standardwebhooks.com): signing
// secrets and signatures, the request body, the retry schedule, and the HTTP
// client that refuses to reach internal addresses (server-side request
// forgery) at save time and again at connect time. It knows nothing of the
// database or the job engine: the jobs package drives it.
package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every signing secret, as the specification has it.
const SecretPrefix = "whsec_"

// secretBytes is the secret's length: 256 bits, the HMAC-SHA256 key size.
const secretBytes = 32

// NewSecret returns a fresh signing secret: whsec_ and the standard base64
// of 32 random bytes.
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// SecretKey is the HMAC key a secret stands for.
func SecretKey(secret string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(b) == 0 {
		return nil, errors.New("not a whsec_ secret")
	}
	return b, nil
}

// Signature is the webhook-signature header: "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>" for each key, space-separated (several while a rotated
// secret overlaps the new one; receivers accept any that verifies).
func Signature(keys [][]byte, id string, ts time.Time, body []byte) string {
	signed := make([]byte, 0, len(id)+len(body)+24)
	signed = append(signed, id...)
	signed = append(signed, '.')
	signed = strconv.AppendInt(signed, ts.Unix(), 10)
	signed = append(signed, '.')
	signed = append(signed, body...)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		mac := hmac.New(sha256.New, k)
		mac.Write(signed)
		parts = append(parts, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(parts, " ")
}
