// Fuzz targets: parsing keys and verifying leases never panics and fails
// only with typed errors.
package licensing

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// fuzzKeyring is deterministic (the RFC 8037 key under kid "fuzz"), so that
// the committed seed corpus holds a valid key and lease.
func fuzzKeyring(t testing.TB) *Keyring {
	seed, _ := base64.RawURLEncoding.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	kr := NewKeyring()
	if _, err := kr.AddKey("fuzz", AlgEdDSA, ed25519.NewKeyFromSeed(seed), testNow, true); err != nil {
		t.Fatal(err)
	}
	return kr
}

const fuzzDeployment = "d2e3f4a5-b6c7-4d8e-9f01-23456789abcd"

func FuzzParseKey(f *testing.F) {
	kr := fuzzKeyring(f)
	key := issueSample(f, kr)
	f.Add(key)
	f.Add(key[:len(key)-1])
	f.Add("NLS--00000000")
	f.Add(FormatKey("a.b.c"))
	f.Fuzz(func(t *testing.T, s string) {
		c, code, err := kr.ParseKey(s)
		if err == nil {
			if code != CodeValid || c == nil || c.LicenseID == "" {
				t.Fatalf("got %v %v, want VALID with claims", code, c)
			}
			return
		}
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Code != code || (code != CodeInvalidKey && code != CodeInvalidSignature) || c != nil {
			t.Fatalf("got %v %v %T, want a *KeyError with INVALID_KEY or INVALID_SIGNATURE", code, err, err)
		}
		if norm, nerr := NormalizeKey(s); nerr == nil && code == CodeInvalidKey && len(norm) > 0 {
			// Structure and checksum passed: only E's decoding can fail.
			if _, derr := decodeKeyJWS(norm[len(KeyPrefixText) : len(norm)-checksumLen-1]); derr == nil {
				t.Fatalf("got INVALID_KEY for a decodable key: %v", err)
			}
		}
	})
}

func FuzzVerifyLease(f *testing.F) {
	kr := fuzzKeyring(f)
	tok, _, err := kr.IssueLease(sampleLease(), 24*time.Hour, testNow)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok, fuzzDeployment, testNow.Unix())
	f.Add(tok, "other", testNow.Unix())
	f.Add(tok, fuzzDeployment, testNow.Add(48*time.Hour).Unix())
	f.Add("e30.e30.", "x", int64(0))
	f.Fuzz(func(t *testing.T, token, deployment string, now int64) {
		c, err := kr.VerifyLease(token, deployment, time.Unix(now, 0))
		if err == nil {
			if c == nil || c.DeploymentID != deployment || !time.Unix(now, 0).Before(c.ExpiresAt) {
				t.Fatalf("got %+v, want claims for %v valid at %v", c, deployment, now)
			}
			return
		}
		var le *Error
		if !errors.As(err, &le) || (le.Code != EUNAUTHORIZED && le.Code != EINVALID) {
			t.Fatalf("got %T %v, want an *Error", err, err)
		}
	})
}

// TestWriteFuzzSeeds rewrites the committed seed corpus when NLS_WRITE_SEEDS
// is set; otherwise it checks that the committed seeds still hold a valid
// key and lease.
func TestWriteFuzzSeeds(t *testing.T) {
	kr := fuzzKeyring(t)
	key := issueSample(t, kr)
	tok, _, err := kr.IssueLease(sampleLease(), 24*time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"FuzzParseKey/valid-key":      "go test fuzz v1\nstring(" + strconv.Quote(key) + ")\n",
		"FuzzParseKey/wrapped-key":    "go test fuzz v1\nstring(" + strconv.Quote(key[:30]+"\r\n "+key[30:]) + ")\n",
		"FuzzParseKey/bad-checksum":   "go test fuzz v1\nstring(" + strconv.Quote(key[:len(key)-8]+"00000000") + ")\n",
		"FuzzParseKey/not-a-jws":      "go test fuzz v1\nstring(" + strconv.Quote(FormatKey("hello")) + ")\n",
		"FuzzVerifyLease/valid-lease": "go test fuzz v1\nstring(" + strconv.Quote(tok) + ")\nstring(" + strconv.Quote(fuzzDeployment) + ")\nint64(" + strconv.FormatInt(testNow.Unix(), 10) + ")\n",
		"FuzzVerifyLease/expired":     "go test fuzz v1\nstring(" + strconv.Quote(tok) + ")\nstring(" + strconv.Quote(fuzzDeployment) + ")\nint64(" + strconv.FormatInt(testNow.Add(25*time.Hour).Unix(), 10) + ")\n",
		"FuzzVerifyLease/alg-none":    "go test fuzz v1\nstring(\"eyJhbGciOiJub25lIiwia2lkIjoiZnV6eiJ9.e30.\")\nstring(\"x\")\nint64(0)\n",
	}
	for name, content := range files {
		path := filepath.Join("testdata", "fuzz", name)
		if os.Getenv("NLS_WRITE_SEEDS") != "" {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Errorf("%s: got %q %v, want the current seed (run with NLS_WRITE_SEEDS=1)", path, got, err)
		}
	}
}
