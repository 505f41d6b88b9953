package app

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/nectarcloud/nls/licensing"
)

// The portal signs with curve25519-voi; anyone verifying with any RFC 8032
// implementation must get what crypto/ed25519 would have given them.
func TestFastEd25519SignsAsTheStandardLibrary(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	for i := range 300 {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		msg := make([]byte, rng.IntN(3000))
		for j := range msg {
			msg[j] = byte(rng.Uint32())
		}
		got, want := signEd25519(priv, msg), ed25519.Sign(priv, msg)
		if !bytes.Equal(got, want) {
			t.Fatalf("key %d, %d-byte message: signed\n%x\nthe standard library\n%x", i, len(msg), got, want)
		}
		if !ed25519.Verify(priv.Public().(ed25519.PublicKey), msg, got) {
			t.Fatalf("key %d: the signature does not verify", i)
		}
	}
}

// A keyring wrapped by the key service issues the very lease it issued
// before, and still verifies it.
func TestKeyServiceLeasesAreTheKeyringsOwn(t *testing.T) {
	ring := licensing.NewKeyring()
	if _, err := ring.Rotate(licensing.AlgEdDSA, time.Now()); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	claims := licensing.LeaseClaims{LicenseID: "lic-1", DeploymentID: "dep-1", Code: licensing.CodeValid,
		Status: licensing.StateActive, Plan: "pro", Features: []string{"sso", "audit"},
		Limits: map[string]int64{"users": 50}, MaxDeployments: 3}
	before, _, err := ring.IssueLease(claims, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	svc := NewKeyService(ring, "")
	after, _, err := svc.Ring().IssueLease(claims, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("the key service's lease\n%s\ndiffers from the keyring's own\n%s", after, before)
	}
	if _, err := ring.VerifyLease(after, "dep-1", now); err != nil {
		t.Fatalf("the lease does not verify: %v", err)
	}
}

// go test -bench Ed25519 ./app: the signer the portal uses against the
// standard library's, on a lease-sized message.
func BenchmarkEd25519(b *testing.B) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := bytes.Repeat([]byte("eyJhbGciOiJFZERTQSJ9"), 30)
	b.Run("standard", func(b *testing.B) {
		for b.Loop() {
			ed25519.Sign(priv, msg)
		}
	})
	b.Run("portal", func(b *testing.B) {
		for b.Loop() {
			signEd25519(priv, msg)
		}
	})
}
