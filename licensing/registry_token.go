// Registry tokens: the short-lived JWTs of the CNCF Distribution token
// authentication specification, signed with a keyring the registry trusts
// through its JWKS.

package licensing

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// RegistryAccess is one entry of a token's access claim.
type RegistryAccess struct {
	Type    string   `json:"type"` // "repository"
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// RegistryClaims are the claims of a registry token.
type RegistryClaims struct {
	jwt.RegisteredClaims
	Access []RegistryAccess `json:"access"`
}

// SignRegistryToken signs claims with the key kid of the keyring. The
// registry verifies by kid against the JWKS it was given.
func (k *Keyring) SignRegistryToken(kid string, c RegistryClaims) (string, error) {
	sk, ok := k.set.Load().sign[kid]
	if !ok {
		return "", Errorf(EUNAVAILABLE, "no registry signing key %q", kid)
	}
	if sk.info.Alg == AlgHS256 {
		return "", Errorf(EINTERNAL, "registry tokens need an asymmetric key")
	}
	if c.Access == nil {
		c.Access = []RegistryAccess{} // the specification wants a list, even empty
	}
	return k.sign(sk, &c)
}

// NewRegistryClaims fills the standard claims of a token valid for ttl.
func NewRegistryClaims(issuer, service, subject, id string, access []RegistryAccess, ttl time.Duration, now time.Time) RegistryClaims {
	return RegistryClaims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: issuer, Subject: subject, Audience: jwt.ClaimStrings{service}, ID: id,
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}, Access: access}
}
