package licensing

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The hand-written lease payload is byte for byte encoding/json's, for
// leases with and without each field, and leaves text encoding/json would
// escape to encoding/json.
func TestLeasePayloadIsWhatEncodingJSONWrites(t *testing.T) {
	check := func(name string, p *leaseJWT, wantFast bool) {
		t.Helper()
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendLeasePayload(nil, p)
		if ok != wantFast {
			t.Errorf("%s: written by hand %v, want %v", name, ok, wantFast)
		}
		if ok && string(got) != string(want) {
			t.Errorf("%s: wrote\n%s\nencoding/json\n%s", name, got, want)
		}
	}
	check("empty", &leaseJWT{}, true)
	i64 := func(v int64) *int64 { return &v }
	full := &leaseJWT{
		RegisteredClaims: jwt.RegisteredClaims{ID: "jti-1", Issuer: "nls.example.com", Subject: "lic",
			Audience: jwt.ClaimStrings{"dep-1"}, IssuedAt: jwt.NewNumericDate(testNow),
			ExpiresAt: jwt.NewNumericDate(testNow.Add(72 * time.Hour)), NotBefore: jwt.NewNumericDate(testNow.Add(-time.Second))},
		Status: StateGrace, Code: CodeValid, CustomerID: "cust", Plan: "pro", Features: []string{"sso", "audit-log", "a.b_c"},
		Limits: map[string]int64{"users": 50, "apiCalls": 1 << 40, "b": 0, "a": -1}, MaxDeployments: -3,
		StartsAt: i64(-1), LicenseExpiresAt: i64(1 << 33), GraceEndsAt: i64(0), PastDueSince: i64(7), DunningEndsAt: i64(8),
		MaxVersion: "2.1.0", Fingerprint: "fp",
		LimitEnforcement: map[string]Enforcement{"users": EnforceSoft, "apiCalls": "hard", "z": ""},
	}
	check("every field", full, true)
	for name, edit := range map[string]func(p *leaseJWT){
		"quote in plan":        func(p *leaseJWT) { p.Plan = `p"ro` },
		"html in feature":      func(p *leaseJWT) { p.Features = []string{"<b>"} },
		"ampersand in a limit": func(p *leaseJWT) { p.Limits = map[string]int64{"a&b": 1} },
		"accent in customer":   func(p *leaseJWT) { p.CustomerID = "é" },
		"newline in audience":  func(p *leaseJWT) { p.Audience = jwt.ClaimStrings{"d\n"} },
		"backslash in enforce": func(p *leaseJWT) { p.LimitEnforcement = map[string]Enforcement{"u": `\`} },
	} {
		p := *full
		edit(&p)
		check(name, &p, false)
	}
	// Random leases: maps of many keys, empty and nil slices, absent dates.
	r := rand.New(rand.NewPCG(1, 2))
	word := func() string { return string(rune('a'+r.IntN(26))) + strconv.Itoa(r.IntN(1000)) }
	for n := range 300 {
		p := &leaseJWT{Status: State(word()), MaxDeployments: r.IntN(3) - 1}
		if r.IntN(2) == 0 {
			p.Issuer, p.Subject, p.Audience = word(), word(), jwt.ClaimStrings{word()}
			p.IssuedAt = jwt.NewNumericDate(time.Unix(r.Int64N(1<<34), r.Int64N(1e9)))
		}
		if r.IntN(2) == 0 {
			p.Features = []string{}
			for range r.IntN(12) {
				p.Features = append(p.Features, word())
			}
		}
		if r.IntN(2) == 0 {
			p.Limits = map[string]int64{}
			for range r.IntN(20) {
				p.Limits[word()] = r.Int64() - 1<<62
			}
		}
		if r.IntN(3) == 0 {
			p.LimitEnforcement = map[string]Enforcement{word(): EnforceSoft}
			p.DunningEndsAt = new(int64)
		}
		check("random "+strconv.Itoa(n), p, true)
	}
}
