// One-click unsubscribe links: the notice's id signed with the portal's
// secret, so that a link works without signing in and a changed one is refused.

package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/google/uuid"
)

// UnsubscribeToken signs a notice's id.
func UnsubscribeToken(secret []byte, notice uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString(notice[:]) + "." + base64.RawURLEncoding.EncodeToString(unsubscribeMAC(secret, notice))
}

// ErrBadToken is a link that was not made by this portal, or was changed.
var ErrBadToken = errors.New("this unsubscribe link is not valid")

// ParseUnsubscribeToken checks a token's signature and returns its notice id.
func ParseUnsubscribeToken(secret []byte, token string) (uuid.UUID, error) {
	idPart, macPart, ok := strings.Cut(token, ".")
	if !ok {
		return uuid.Nil, ErrBadToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(idPart)
	if err != nil || len(raw) != 16 {
		return uuid.Nil, ErrBadToken
	}
	mac, err := base64.RawURLEncoding.DecodeString(macPart)
	if err != nil {
		return uuid.Nil, ErrBadToken
	}
	id := uuid.UUID(raw)
	if !hmac.Equal(mac, unsubscribeMAC(secret, id)) {
		return uuid.Nil, ErrBadToken
	}
	return id, nil
}

func unsubscribeMAC(secret []byte, id uuid.UUID) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("nls-unsubscribe:"))
	m.Write(id[:])
	return m.Sum(nil)
}
