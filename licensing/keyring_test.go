// Tests of key files, first start, rotation, JWKS and independent
// verification with go-jose.
package licensing

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func TestLoadOrInitFirstStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	kr, created, err := LoadOrInitKeyring(dir, testNow)
	if err != nil || !created {
		t.Fatalf("got created=%v err=%v, want created=true nil", created, err)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("folder mode: got %v %v, want 0700", st.Mode().Perm(), err)
	}
	list := kr.List()
	if len(list) != 1 || list[0].Alg != AlgEdDSA || !list[0].Current || list[0].Fingerprint == "" {
		t.Fatalf("keys: got %+v, want one current EdDSA key", list)
	}
	fst, err := os.Stat(filepath.Join(dir, list[0].Kid+".pem"))
	if err != nil || fst.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: got %v %v, want 0600", fst.Mode().Perm(), err)
	}
	key := issueSample(t, kr)
	again, created, err := LoadOrInitKeyring(dir, testNow.Add(time.Hour))
	if err != nil || created {
		t.Fatalf("second start: got created=%v err=%v, want false nil", created, err)
	}
	if got, want := again.CurrentKid(), list[0].Kid; got != want {
		t.Errorf("current kid: got %v, want %v", got, want)
	}
	if _, code, err := again.ParseKey(key); code != CodeValid {
		t.Errorf("key after reload: got %v %v, want VALID", code, err)
	}
	if got := again.List()[0].Created; !got.Equal(testNow) {
		t.Errorf("created: got %v, want %v", got, testNow)
	}
}

func writePEM(t *testing.T, path string, block *pem.Block, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(block), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestKeyFiles(t *testing.T) {
	der, err := x509.MarshalPKCS8PrivateKey(testRSA())
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallDER, _ := x509.MarshalPKCS8PrivateKey(small)
	secret := make([]byte, 32)
	tests := []struct {
		name    string
		block   *pem.Block
		mode    os.FileMode
		wantErr string
		wantAlg Alg
	}{
		{"PS256 by header", &pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Alg": "PS256"}, Bytes: der}, 0o600, "", AlgPS256},
		{"RSA defaults to RS256", &pem.Block{Type: "PRIVATE KEY", Bytes: der}, 0o600, "", AlgRS256},
		{"HMAC", &pem.Block{Type: "NLS HMAC KEY", Bytes: secret}, 0o400, "", AlgHS256},
		{"mode 0644 refused", &pem.Block{Type: "PRIVATE KEY", Bytes: der}, 0o644, "mode 0644", ""},
		{"mode 0640 refused", &pem.Block{Type: "PRIVATE KEY", Bytes: der}, 0o640, "mode 0640", ""},
		{"RSA 1024 refused", &pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Alg": "RS256"}, Bytes: smallDER}, 0o600, "1024 bits", ""},
		{"short HMAC refused", &pem.Block{Type: "NLS HMAC KEY", Bytes: secret[:16]}, 0o600, "at least 32 bytes", ""},
		{"Ed25519 alg on RSA refused", &pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Alg": "EdDSA"}, Bytes: der}, 0o600, "needs an Ed25519 key", ""},
		{"public key refused", &pem.Block{Type: "PUBLIC KEY", Bytes: der}, 0o600, "PEM type", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "k1.pem")
			writePEM(t, path, tt.block, tt.mode)
			kr, err := LoadKeyring(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("got %v, want an error naming %v and mentioning %q", err, path, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			if got := kr.List()[0]; got.Alg != tt.wantAlg || !got.Current {
				t.Errorf("got %+v, want current %v", got, tt.wantAlg)
			}
			if _, err := kr.IssueKey(sampleClaims(), testNow); err != nil {
				t.Errorf("issue: got %v, want nil", err)
			}
		})
	}
	t.Run("AddKey refuses RSA 1024", func(t *testing.T) {
		if _, err := NewKeyring().AddKey("small", AlgRS256, small, testNow, true); err == nil {
			t.Errorf("got %v, want an error", err)
		}
	})
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	kr, _, err := LoadOrInitKeyring(dir, testNow)
	if err != nil {
		t.Fatal(err)
	}
	oldKid, gen := kr.CurrentKid(), kr.Generation()
	oldKey := issueSample(t, kr)
	info, err := kr.Rotate(AlgEdDSA, testNow.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if info.Kid == oldKid || !info.Current || kr.CurrentKid() != info.Kid {
		t.Fatalf("rotate: got %+v (current %v), want a new current kid", info, kr.CurrentKid())
	}
	if kr.Generation() == gen {
		t.Errorf("generation: got %v, want a change", kr.Generation())
	}
	if c, code, err := kr.ParseKey(oldKey); code != CodeValid || c.Kid != oldKid {
		t.Errorf("old key: got %v %v, want VALID by %v", code, err, oldKid)
	}
	newKey := issueSample(t, kr)
	if c, _, _ := kr.ParseKey(newKey); c == nil || c.Kid != info.Kid {
		t.Errorf("new key kid: got %v, want %v", c, info.Kid)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(must(kr.JWKS()), &set); err != nil || len(set.Keys) != 2 {
		t.Fatalf("JWKS: got %v keys (%v), want 2", len(set.Keys), err)
	}
	if set.Keys[0]["kid"] != oldKid || set.Keys[1]["kid"] != info.Kid {
		t.Errorf("JWKS kids: got %v %v, want %v %v", set.Keys[0]["kid"], set.Keys[1]["kid"], oldKid, info.Kid)
	}
	reloaded, err := LoadKeyring(dir)
	if err != nil || reloaded.CurrentKid() != info.Kid || len(reloaded.List()) != 2 {
		t.Fatalf("reload: got %v %v, want current %v of 2", reloaded, err, info.Kid)
	}
	// GenerateKey adds without changing the current key.
	added, err := kr.GenerateKey(AlgHS256, testNow.Add(48*time.Hour))
	if err != nil || added.Current || kr.CurrentKid() != info.Kid {
		t.Errorf("generate: got %+v %v, want a non-current key", added, err)
	}
}

func TestJWKSPublicOnly(t *testing.T) {
	kr := testKeyring(t, AlgEdDSA)
	if _, err := kr.AddKey("rsa1", AlgPS256, testRSA(), testNow, false); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.GenerateKey(AlgHS256, testNow); err != nil {
		t.Fatal(err)
	}
	raw := must(kr.JWKS())
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("got %d keys, want 2 (no HMAC): %s", len(set.Keys), raw)
	}
	for _, k := range set.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %v: got member %q, want no private part", k["kid"], private)
			}
		}
		if k["use"] != "sig" || k["alg"] == "" || k["kid"] == "" {
			t.Errorf("got %v, want use sig, alg and kid", k)
		}
		switch k["kty"] {
		case "OKP":
			if k["crv"] != "Ed25519" || k["x"] == "" {
				t.Errorf("got %v, want crv Ed25519 and x", k)
			}
		case "RSA":
			if k["n"] == "" || k["e"] != "AQAB" || k["alg"] != "PS256" {
				t.Errorf("got %v, want n, e=AQAB, alg PS256", k)
			}
		default:
			t.Errorf("kty: got %v, want OKP or RSA", k["kty"])
		}
	}
	v, err := ParseJWKS(raw)
	if err != nil || len(v.Kids()) != 2 {
		t.Fatalf("ParseJWKS: got %v %v, want 2 kids", v, err)
	}
	if _, code, err := v.ParseKey(issueSample(t, kr)); code != CodeValid {
		t.Errorf("verifier: got %v %v, want VALID", code, err)
	}
}

func TestParseJWKSRefuses(t *testing.T) {
	smallN := base64.RawURLEncoding.EncodeToString(make([]byte, 128))
	tests := []struct{ name, doc string }{
		{"not JSON", `{"keys":`},
		{"empty", `{"keys":[]}`},
		{"oct", `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h","alg":"HS256"}]}`},
		{"small RSA", `{"keys":[{"kty":"RSA","n":"` + smallN + `","e":"AQAB","kid":"r","alg":"RS256"}]}`},
		{"private part", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","kid":"e","alg":"EdDSA"}]}`},
		{"alg mismatch", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"e","alg":"RS256"}]}`},
		{"no kid", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"EdDSA"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, err := ParseJWKS([]byte(tt.doc)); err == nil {
				t.Errorf("got %v, want an error", v)
			}
		})
	}
}

// keyJWS extracts the compact JWS from a key text without our code.
func keyJWS(t *testing.T, key string) string {
	t.Helper()
	e := key[len("NLS-"):strings.LastIndex(key, "-")]
	raw, err := base64.RawURLEncoding.DecodeString(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// Our keys and leases verify with go-jose and our published JWKS alone.
func TestGoJoseVerifies(t *testing.T) {
	for _, alg := range []Alg{AlgEdDSA, AlgRS256, AlgPS256} {
		t.Run(string(alg), func(t *testing.T) {
			kr := testKeyring(t, alg)
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(must(kr.JWKS()), &set); err != nil {
				t.Fatal(err)
			}
			keys := set.Key(kr.CurrentKid())
			if len(keys) != 1 || keys[0].Algorithm != string(alg) || !keys[0].IsPublic() {
				t.Fatalf("go-jose JWKS: got %+v, want one public %v key", keys, alg)
			}
			verify := func(token string) map[string]any {
				t.Helper()
				jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
				if err != nil {
					t.Fatal(err)
				}
				if got := jws.Signatures[0].Header.KeyID; got != kr.CurrentKid() {
					t.Errorf("kid: got %v, want %v", got, kr.CurrentKid())
				}
				payload, err := jws.Verify(keys[0].Key)
				if err != nil {
					t.Fatalf("go-jose verify: got %v, want nil", err)
				}
				var claims map[string]any
				if err := json.Unmarshal(payload, &claims); err != nil {
					t.Fatal(err)
				}
				return claims
			}
			claims := verify(keyJWS(t, issueSample(t, kr)))
			if claims["sub"] != sampleClaims().LicenseID || claims["exp"] != nil {
				t.Errorf("key claims: got %v, want sub and no exp", claims)
			}
			lease, _, err := kr.IssueLease(sampleLease(), 0, testNow)
			if err != nil {
				t.Fatal(err)
			}
			claims = verify(lease)
			aud, _ := claims["aud"].([]any)
			if len(aud) != 1 || aud[0] != sampleLease().DeploymentID {
				t.Errorf("lease aud: got %v, want [%v]", claims["aud"], sampleLease().DeploymentID)
			}
		})
	}
}
