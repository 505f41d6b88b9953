// Shared fixtures for the licensing tests: keyrings per algorithm and
// sample claims.
package licensing

import (
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"
	"time"
)

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testRSA generates one 2048-bit key per test binary: RSA generation is slow.
var testRSA = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

var allAlgs = []Alg{AlgEdDSA, AlgRS256, AlgPS256, AlgHS256}

// testKeyring is an in-memory keyring whose current key uses alg.
func testKeyring(t testing.TB, alg Alg) *Keyring {
	t.Helper()
	kr := NewKeyring()
	var priv any
	switch alg {
	case AlgRS256, AlgPS256:
		priv = testRSA()
	default:
		p, err := generatePrivate(alg)
		if err != nil {
			t.Fatal(err)
		}
		priv = p
	}
	kid, err := NewKid(testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.AddKey(kid, alg, priv, testNow, true); err != nil {
		t.Fatal(err)
	}
	return kr
}

func sampleClaims() KeyClaims {
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	return KeyClaims{Issuer: "nls.example.com", LicenseID: "6f1c2a9e-3b7d-4c1e-9a51-0d2b8e7f4a10",
		KeyID: "0b9e5d2c-7a41-4f8e-b3c6-1e2d3f4a5b6c", CustomerID: "a3d4e5f6-0718-4293-a4b5-c6d7e8f90a1b",
		Plan: "pro", Features: []string{"sso", "audit-log"}, Limits: map[string]int64{"users": 50},
		MaxDeployments: 3, StartsAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), LicenseExpiresAt: &exp}
}

func issueSample(t testing.TB, kr *Keyring) string {
	t.Helper()
	key, err := kr.IssueKey(sampleClaims(), testNow)
	if err != nil {
		t.Fatal(err)
	}
	return key
}
