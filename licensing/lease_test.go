// Tests of lease issue and verification.
package licensing

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func sampleLease() LeaseClaims {
	c := sampleClaims()
	return LeaseClaims{LicenseID: c.LicenseID, DeploymentID: "d2e3f4a5-b6c7-4d8e-9f01-23456789abcd",
		Status: StateActive, Code: CodeValid, CustomerID: c.CustomerID, Plan: c.Plan, Features: c.Features,
		Limits: c.Limits, MaxDeployments: c.MaxDeployments, LicenseExpiresAt: c.LicenseExpiresAt}
}

func TestLeaseRoundTrip(t *testing.T) {
	for _, alg := range []Alg{AlgEdDSA, AlgRS256, AlgPS256} {
		t.Run(string(alg), func(t *testing.T) {
			kr := testKeyring(t, alg)
			in := sampleLease()
			tok, exp, err := kr.IssueLease(in, 0, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if want := testNow.Add(DefaultOfflineWindow); !exp.Equal(want) {
				t.Errorf("exp: got %v, want %v", exp, want)
			}
			v, err := ParseJWKS(must(kr.JWKS()))
			if err != nil {
				t.Fatal(err)
			}
			for name, verify := range map[string]func(string, string, time.Time) (*LeaseClaims, error){
				"keyring": kr.VerifyLease, "verifier": v.VerifyLease} {
				got, err := verify(tok, in.DeploymentID, testNow.Add(time.Hour))
				if err != nil {
					t.Fatalf("%s: got %v, want nil", name, err)
				}
				if got.LicenseID != in.LicenseID || got.DeploymentID != in.DeploymentID || !got.ExpiresAt.Equal(exp) ||
					got.Status != StateActive || got.Code != CodeValid || !got.HasFeature("sso") || got.Limits["users"] != 50 ||
					got.Issuer != DefaultIssuer || !got.IssuedAt.Equal(testNow) || got.Kid != kr.CurrentKid() ||
					got.LicenseExpiresAt == nil || !got.LicenseExpiresAt.Equal(*in.LicenseExpiresAt) {
					t.Errorf("%s: got %+v, want the issued claims", name, got)
				}
			}
		})
	}
}

func TestLeaseHMAC(t *testing.T) {
	t.Run("only HMAC keys", func(t *testing.T) {
		kr := testKeyring(t, AlgHS256)
		if _, _, err := kr.IssueLease(sampleLease(), 0, testNow); ErrorCode(err) != EUNAVAILABLE {
			t.Errorf("got %v, want %v", err, EUNAVAILABLE)
		}
	})
	t.Run("falls back to newest asymmetric key", func(t *testing.T) {
		kr := testKeyring(t, AlgEdDSA)
		edKid := kr.CurrentKid()
		if _, err := kr.Rotate(AlgHS256, testNow.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		tok, _, err := kr.IssueLease(sampleLease(), 0, testNow)
		if err != nil {
			t.Fatal(err)
		}
		got, err := kr.VerifyLease(tok, sampleLease().DeploymentID, testNow)
		if err != nil || got.Kid != edKid {
			t.Errorf("got %v %v, want signed by %v", got, err, edKid)
		}
	})
}

func TestLeaseRejections(t *testing.T) {
	kr := testKeyring(t, AlgEdDSA)
	other := testKeyring(t, AlgEdDSA)
	in := sampleLease()
	tok, exp, err := kr.IssueLease(in, 24*time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	foreign, _, _ := other.IssueLease(in, 24*time.Hour, testNow)
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"pro"`, `"ent"`, 1))) + "." + parts[2]
	keyAsLease := keyJWS(t, issueSample(t, kr))
	tests := []struct {
		name  string
		token string
		dep   string
		now   time.Time
		want  error
	}{
		{"valid just before exp", tok, in.DeploymentID, exp.Add(-time.Nanosecond), nil},
		{"exp exactly now", tok, in.DeploymentID, exp, ErrLeaseExpired},
		{"after exp", tok, in.DeploymentID, exp.Add(time.Second), ErrLeaseExpired},
		{"another deployment", tok, "11111111-2222-4333-8444-555555555555", testNow, ErrLeaseWrongDeployment},
		{"unknown kid", foreign, in.DeploymentID, testNow, ErrLeaseUnknownKey},
		{"tampered payload", tampered, in.DeploymentID, testNow, ErrLeaseSignature},
		{"license key JWS as lease", keyAsLease, in.DeploymentID, testNow, ErrLeaseMalformed},
		{"garbage", "not.a.lease", in.DeploymentID, testNow, ErrLeaseMalformed},
		{"empty", "", in.DeploymentID, testNow, ErrLeaseMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := kr.VerifyLease(tt.token, tt.dep, tt.now)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || ErrorCode(err) != EUNAUTHORIZED {
				t.Errorf("got %v, want %v (%v)", err, tt.want, EUNAUTHORIZED)
			}
		})
	}
	t.Run("lease as license key", func(t *testing.T) {
		if _, code, _ := kr.ParseKey(FormatKey(tok)); code != CodeInvalidSignature {
			t.Errorf("got %v, want %v", code, CodeInvalidSignature)
		}
	})
	t.Run("no deployment id", func(t *testing.T) {
		if _, err := kr.VerifyLease(tok, "", testNow); ErrorCode(err) != EINVALID {
			t.Errorf("got %v, want %v", err, EINVALID)
		}
	})
}

func TestLeaseExpiryClamp(t *testing.T) {
	kr := testKeyring(t, AlgEdDSA)
	at := func(d time.Duration) *time.Time { x := testNow.Add(d); return &x }
	tests := []struct {
		name    string
		grace   *time.Time
		licExp  *time.Time
		dunning *time.Time
		window  time.Duration
		want    time.Time
		wantErr bool
	}{
		{"window", nil, nil, nil, 7 * 24 * time.Hour, testNow.Add(7 * 24 * time.Hour), false},
		{"clamped to grace end", at(3 * 24 * time.Hour), at(-time.Hour), nil, 0, testNow.Add(3 * 24 * time.Hour), false},
		{"clamped to expiry without grace info", nil, at(time.Hour), nil, 0, testNow.Add(time.Hour), false},
		{"clamped to dunning end", nil, nil, at(2 * time.Hour), 0, testNow.Add(2 * time.Hour), false},
		{"rounded down to a second", at(1500 * time.Millisecond), nil, nil, 0, testNow.Add(time.Second), false},
		{"grace over", at(0), nil, nil, 0, time.Time{}, true},
		{"grace ended before", at(-time.Hour), nil, nil, 0, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sampleLease()
			c.GraceEndsAt, c.LicenseExpiresAt, c.DunningEndsAt = tt.grace, tt.licExp, tt.dunning
			tok, exp, err := kr.IssueLease(c, tt.window, testNow)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %v, want an error", exp)
				}
				return
			}
			if err != nil || !exp.Equal(tt.want) {
				t.Fatalf("got %v %v, want %v", exp, err, tt.want)
			}
			got, err := kr.VerifyLease(tok, c.DeploymentID, testNow)
			if err != nil || !got.ExpiresAt.Equal(tt.want) {
				t.Errorf("verified exp: got %v %v, want %v", got, err, tt.want)
			}
		})
	}
}

// TestLeasePolicyClaims: the policy claims round-trip, a short lease window
// is kept, and a VERSION_LOCKED lease runs past the grace end (bounded by
// its window only) while any other stops there.
func TestLeasePolicyClaims(t *testing.T) {
	kr := testKeyring(t, AlgEdDSA)
	in := sampleLease()
	in.Fingerprint, in.MaxVersion = "fp-1", "1.5.0"
	in.LimitEnforcement = map[string]Enforcement{"users": EnforceSoft}
	tok, exp, err := kr.IssueLease(in, Policy{LeaseHours: 24}.LeaseWindow(30), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if want := testNow.Add(24 * time.Hour).Truncate(time.Second); !exp.Equal(want) {
		t.Errorf("exp: got %v, want %v (leaseHours)", exp, want)
	}
	got, err := kr.VerifyLease(tok, in.DeploymentID, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint != "fp-1" || got.MaxVersion != "1.5.0" || got.LimitEnforcement["users"] != EnforceSoft {
		t.Errorf("got %+v, want the policy claims back", got)
	}

	graceEnd := testNow.Add(-time.Hour)
	expired := sampleLease()
	expired.Status, expired.GraceEndsAt = StateExpired, &graceEnd
	if _, _, err := kr.IssueLease(expired, 0, testNow); ErrorCode(err) != ECONFLICT {
		t.Errorf("expired lease: got %v, want a conflict", err)
	}
	expired.Code, expired.MaxVersion = CodeVersionLocked, "1.5.0"
	_, exp, err = kr.IssueLease(expired, 48*time.Hour, testNow)
	if err != nil || !exp.Equal(testNow.Add(48*time.Hour).Truncate(time.Second)) {
		t.Errorf("version-locked lease: got %v %v, want one running 48h", exp, err)
	}
}

// The lean Ed25519 signer writes exactly what the jwt library writes for
// the same key and claims (Ed25519 signatures are deterministic), so that
// every verifier of leases, the clients' included, reads it as before.
func TestLeanEdDSASigningMatchesTheLibrary(t *testing.T) {
	kr := testKeyring(t, AlgEdDSA)
	sk := kr.set.Load().leaseSigner()
	if sk == nil || sk.header == "" {
		t.Fatal("the Ed25519 key has no precomputed header")
	}
	full := sampleLease()
	grace := testNow.Add(48 * time.Hour)
	full.GraceEndsAt, full.MaxVersion, full.Fingerprint = &grace, "2.1.0", "fp-1"
	full.LimitEnforcement = map[string]Enforcement{"users": EnforceSoft}
	for name, c := range map[string]LeaseClaims{"minimal": {LicenseID: "l", DeploymentID: "d", Code: CodeValid},
		"sample": sampleLease(), "every field": full} {
		tok, _, err := kr.IssueLease(c, 0, testNow)
		if err != nil {
			t.Fatal(err)
		}
		payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		var claims leaseJWT
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatal(err)
		}
		lean, err := kr.sign(sk, &claims)
		if err != nil {
			t.Fatal(err)
		}
		lib := jwt.NewWithClaims(sk.method, &claims)
		lib.Header["kid"] = sk.info.Kid
		want, err := lib.SignedString(sk.priv)
		if err != nil {
			t.Fatal(err)
		}
		if lean != want || tok != want {
			t.Errorf("%s: lean signer wrote\n%s\nthe library\n%s", name, lean, want)
		}
	}
}
