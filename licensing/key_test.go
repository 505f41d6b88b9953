// Tests of the license key format, parsing, tampering and alg confusion.
package licensing

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestKeyRoundTrip(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(string(alg), func(t *testing.T) {
			kr := testKeyring(t, alg)
			want := sampleClaims()
			key, kid, err := kr.IssueKeyKid(want, testNow)
			if err != nil {
				t.Fatalf("issue: got %v, want nil", err)
			}
			got, code, err := kr.ParseKey(key)
			if err != nil || code != CodeValid {
				t.Fatalf("parse: got %v %v, want VALID nil", code, err)
			}
			want.IssuedAt, want.Kid = testNow, kid
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("claims: got %+v, want %+v", *got, want)
			}
			if got.Kid != kr.CurrentKid() {
				t.Errorf("kid: got %v, want %v", got.Kid, kr.CurrentKid())
			}
		})
	}
}

func TestFormatKeyContract(t *testing.T) {
	jws := "eyJhbGciOiJFZERTQSJ9.e30.c2ln"
	e := base64.RawURLEncoding.EncodeToString([]byte(jws))
	sum := sha256.Sum256([]byte("NLS-" + e))
	want := "NLS-" + e + "-" + hex.EncodeToString(sum[:])[:8]
	if got := FormatKey(jws); got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
	kr := testKeyring(t, AlgEdDSA)
	key := issueSample(t, kr)
	// Reconstruct from the right, as other programs do.
	dash := strings.LastIndex(key, "-")
	e = key[len("NLS-"):dash]
	sum = sha256.Sum256([]byte("NLS-" + e))
	if got, want := key[dash+1:], hex.EncodeToString(sum[:])[:8]; got != want {
		t.Errorf("checksum: got %v, want %v", got, want)
	}
	raw, err := base64.RawURLEncoding.DecodeString(e)
	if err != nil || strings.Count(string(raw), ".") != 2 {
		t.Errorf("E: got %q %v, want a compact JWS", raw, err)
	}
	if got, want := KeyPrefix(key), key[:12]; got != want {
		t.Errorf("prefix: got %v, want %v", got, want)
	}
	if got, want := KeyHash(key), sha256.Sum256([]byte(key)); got != want {
		t.Errorf("hash: got %x, want %x", got, want)
	}
}

func TestNormalizeKey(t *testing.T) {
	kr := testKeyring(t, AlgEdDSA)
	key := issueSample(t, kr)
	mid := len(key) / 2
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"plain", key, true},
		{"spaces around", "  " + key + " \n", true},
		{"wrapped by mail", key[:40] + "\r\n" + key[40:mid] + "\n\t" + key[mid:], true},
		{"spaces inside", key[:10] + " " + key[10:], true},
		{"nbsp inside", key[:10] + "\u00a0" + key[10:], false},
		{"zero width space", key[:10] + "\u200b" + key[10:], false},
		{"lower prefix", "nls-" + key[4:], false},
		{"no prefix", key[4:], false},
		{"upper checksum", key[:len(key)-8] + strings.ToUpper(key[len(key)-8:]), key[len(key)-8:] == strings.ToUpper(key[len(key)-8:])},
		{"cut", key[:len(key)-1], false},
		{"empty", "", false},
		{"only prefix", "NLS--12345678", false},
		{"padding", key[:mid] + "=" + key[mid:], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeKey(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("got %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && got != key {
				t.Errorf("got %v, want %v", got, key)
			}
			if !tt.ok {
				var ke *KeyError
				if !errors.As(err, &ke) || ke.Code != CodeInvalidKey {
					t.Errorf("got %v, want a *KeyError INVALID_KEY", err)
				}
			}
			_, code, _ := kr.ParseKey(tt.in)
			if want := map[bool]ValidationCode{true: CodeValid, false: CodeInvalidKey}[tt.ok]; code != want {
				t.Errorf("ParseKey code: got %v, want %v", code, want)
			}
		})
	}
}

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// otherChar is a different character of the same alphabet as c.
func otherChar(c byte, alphabet string) byte {
	i := strings.IndexByte(alphabet, c)
	if i < 0 {
		return alphabet[0]
	}
	return alphabet[(i+1+len(alphabet)/2)%len(alphabet)]
}

func TestTamperEveryPosition(t *testing.T) {
	for _, alg := range []Alg{AlgEdDSA, AlgRS256} {
		t.Run(string(alg), func(t *testing.T) {
			kr := testKeyring(t, alg)
			key := issueSample(t, kr)
			dash := strings.LastIndexByte(key, '-')
			sigCodes := map[ValidationCode]int{}
			for i := 0; i < len(key); i++ {
				b := []byte(key)
				if i > dash {
					b[i] = otherChar(b[i], "0123456789abcdef")
				} else {
					b[i] = otherChar(b[i], b64Alphabet)
				}
				tampered := string(b)
				if _, code, err := kr.ParseKey(tampered); code != CodeInvalidKey || err == nil {
					t.Fatalf("position %d: got %v, want %v", i, code, CodeInvalidKey)
				}
				// Re-checksummed tampering of E reaches the signature check.
				if i < len("NLS-") || i >= dash {
					continue
				}
				e := tampered[len("NLS-"):dash]
				if strings.HasSuffix(e, "-") || e == "" {
					continue
				}
				rekeyed := "NLS-" + e + "-" + string(func() []byte { s := keyChecksum("NLS-" + e); return s[:] }())
				_, code, err := kr.ParseKey(rekeyed)
				if code != CodeInvalidKey && code != CodeInvalidSignature || err == nil {
					t.Fatalf("re-checksummed position %d: got %v %v, want INVALID_KEY or INVALID_SIGNATURE", i, code, err)
				}
				sigCodes[code]++
			}
			if sigCodes[CodeInvalidSignature] == 0 {
				t.Errorf("re-checksummed tampering: got %v, want some INVALID_SIGNATURE", sigCodes)
			}
		})
	}
}

func TestKeyFailuresToldApart(t *testing.T) {
	kr := testKeyring(t, AlgEdDSA)
	other := testKeyring(t, AlgEdDSA)
	key := issueSample(t, kr)
	jws, _ := decodeKeyJWS(key[4 : len(key)-9])
	parts := strings.Split(jws, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[0] ^= 1
	badSig := FormatKey(parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig))
	tests := []struct {
		name   string
		key    string
		code   ValidationCode
		reason string
	}{
		{"wrong checksum", key[:len(key)-1] + string(otherChar(key[len(key)-1], "0123456789abcdef")), CodeInvalidKey, "checksum"},
		{"wrong signature", badSig, CodeInvalidSignature, "signature is invalid"},
		{"unknown kid", issueSample(t, other), CodeInvalidSignature, "unknown key"},
		{"not a JWS", FormatKey("hello"), CodeInvalidKey, "does not hold a JWS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, code, err := kr.ParseKey(tt.key)
			var ke *KeyError
			if code != tt.code || !errors.As(err, &ke) || ke.Code != tt.code {
				t.Fatalf("got %v %v, want %v", code, err, tt.code)
			}
			if !strings.Contains(ke.Reason, tt.reason) {
				t.Errorf("reason: got %v, want it to mention %v", ke.Reason, tt.reason)
			}
		})
	}
}

// forge builds a key whose JWS has the given header and is signed by sign.
func forge(t *testing.T, header, payload string, sign func(signingInput string) []byte) string {
	t.Helper()
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	return FormatKey(in + "." + base64.RawURLEncoding.EncodeToString(sign(in)))
}

func TestAlgConfusion(t *testing.T) {
	ed := testKeyring(t, AlgEdDSA)
	rs := testKeyring(t, AlgRS256)
	edKid, rsKid := ed.CurrentKid(), rs.CurrentKid()
	edPub := ed.set.Load().verify[edKid].pub.(ed25519.PublicKey)
	edDER, _ := x509.MarshalPKIXPublicKey(edPub)
	edPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: edDER})
	rsDER, _ := x509.MarshalPKIXPublicKey(&testRSA().PublicKey)
	rsPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsDER})
	payload := `{"sub":"6f1c2a9e-3b7d-4c1e-9a51-0d2b8e7f4a10","jti":"k1","iat":1767323045,"startsAt":0}`
	hmacWith := func(secret []byte) func(string) []byte {
		return func(in string) []byte {
			s, err := jwt.SigningMethodHS256.Sign(in, secret)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
	none := func(string) []byte { return nil }
	tests := []struct {
		name string
		kr   *Keyring
		key  string
	}{
		{"alg none", ed, forge(t, `{"alg":"none","kid":"`+edKid+`"}`, payload, none)},
		{"alg none no kid", ed, forge(t, `{"alg":"none"}`, payload, none)},
		{"HS256 with Ed25519 public key bytes", ed, forge(t, `{"alg":"HS256","kid":"`+edKid+`"}`, payload, hmacWith(edPub))},
		{"HS256 with Ed25519 public key PEM", ed, forge(t, `{"alg":"HS256","kid":"`+edKid+`"}`, payload, hmacWith(edPEM))},
		{"HS256 with RSA public key PEM", rs, forge(t, `{"alg":"HS256","kid":"`+rsKid+`"}`, payload, hmacWith(rsPEM))},
		{"HS256 with RSA public key DER", rs, forge(t, `{"alg":"HS256","kid":"`+rsKid+`"}`, payload, hmacWith(rsDER))},
		{"PS256 header on RS256 kid", rs, forge(t, `{"alg":"PS256","kid":"`+rsKid+`"}`, payload, func(in string) []byte {
			s, err := jwt.SigningMethodPS256.Sign(in, testRSA())
			if err != nil {
				t.Fatal(err)
			}
			return s
		})},
		{"EdDSA header on RS256 kid", rs, forge(t, `{"alg":"EdDSA","kid":"`+rsKid+`"}`, payload, func(in string) []byte {
			_, p, _ := ed25519.GenerateKey(nil)
			return ed25519.Sign(p, []byte(in))
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, code, err := tt.kr.ParseKey(tt.key); code != CodeInvalidSignature || err == nil {
				t.Errorf("got %v %v, want %v", code, err, CodeInvalidSignature)
			}
		})
	}
	// Control: the same forging path with the right key and alg is accepted,
	// so the rejections above are about the alg, not the forging.
	edPriv := ed.set.Load().sign[edKid].priv.(ed25519.PrivateKey)
	good := forge(t, `{"alg":"EdDSA","kid":"`+edKid+`"}`, payload, func(in string) []byte { return ed25519.Sign(edPriv, []byte(in)) })
	if _, code, err := ed.ParseKey(good); code != CodeValid {
		t.Errorf("control: got %v %v, want %v", code, err, CodeValid)
	}
}

// RFC 8037 Appendix A: our Ed25519 JWS is the standard one.
func TestRFC8037Vector(t *testing.T) {
	d, _ := base64.RawURLEncoding.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	x := "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	priv := ed25519.NewKeyFromSeed(d)
	pub := priv.Public().(ed25519.PublicKey)
	if got := base64.RawURLEncoding.EncodeToString(pub); got != x {
		t.Fatalf("A.1 public key: got %v, want %v", got, x)
	}
	// A.2: JWK form of the public key.
	j, ok := publicJWK("rfc", AlgEdDSA, pub)
	if !ok || j.Kty != "OKP" || j.Crv != "Ed25519" || j.X != x {
		t.Errorf("A.2 JWK: got %+v, want OKP Ed25519 x=%v", j, x)
	}
	// A.3: thumbprint.
	if got, want := must(thumbprint(pub)), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("A.3 thumbprint: got %v, want %v", got, want)
	}
	// A.4: signature.
	in := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte("Example of Ed25519 signing"))
	if want := "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"; in != want {
		t.Fatalf("A.4 signing input: got %v, want %v", in, want)
	}
	sig, err := jwt.SigningMethodEdDSA.Sign(in, priv)
	if err != nil {
		t.Fatal(err)
	}
	// The signature printed in RFC 8037 A.4; Ed25519 is deterministic.
	want := "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
	if got := base64.RawURLEncoding.EncodeToString(sig); got != want {
		t.Errorf("A.4 signature: got %v, want %v", got, want)
	}
	// A.5: verification with the keyring's verification path.
	kr := NewKeyring()
	if _, err := kr.AddKey("rfc8037", AlgEdDSA, priv, testNow, true); err != nil {
		t.Fatal(err)
	}
	if info := kr.List()[0]; info.Fingerprint != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
		t.Errorf("List fingerprint: got %v, want the A.3 thumbprint", info.Fingerprint)
	}
	if err := jwt.SigningMethodEdDSA.Verify(in, sig, pub); err != nil {
		t.Errorf("A.5 verify: got %v, want nil", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestKeySubject(t *testing.T) {
	kr := testKeyring(t, AlgEdDSA)
	key := issueSample(t, kr)
	if got, err := KeySubject(key); err != nil || got != sampleClaims().LicenseID {
		t.Errorf("got %q %v, want %q", got, err, sampleClaims().LicenseID)
	}
	if _, err := KeySubject(key[:len(key)-1] + string(otherChar(key[len(key)-1], "0123456789abcdef"))); err == nil {
		t.Errorf("bad checksum: got nil, want an error")
	}
}
