// Cross-client vectors of the licensing policies a lease carries: the
// newest application version a VERSION_LOCKED lease runs (maxVersion,
// checked offline against the app's version) and soft limits (over the
// limit passes; the server records it for true-up). Written to
// testdata/policy-v1.json with the Go client's verdicts; the Node client
// (clients/node/test/policy.test.mjs) must reach the same. Regenerate with
//
//	go test ./licensing/client -run TestPolicyVectors -update-policy-vectors

package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/licensing/client"
)

var updatePolicyVectors = flag.Bool("update-policy-vectors", false, "regenerate testdata/policy-v1.json")

const policyVectorFile = "testdata/policy-v1.json"

type policyVectors struct {
	About string         `json:"about"`
	JWKS  string         `json:"jwks"`
	Cases []policyVector `json:"cases"`
}

// policyVector is one client set up with a saved lease or an offline file.
type policyVector struct {
	Name string `json:"name"`
	// Kind: "lease" (saved lease.jwt) or "offline" (an offline license file).
	Kind         string        `json:"kind"`
	Data         string        `json:"data"`
	DeploymentID string        `json:"deploymentId"`
	AppVersion   string        `json:"appVersion"`
	Now          time.Time     `json:"now"`
	Limits       []limitCheck  `json:"limits,omitempty"`
	Expect       policyVerdict `json:"expect"`
}

type limitCheck struct {
	Metric  string `json:"metric"`
	Current int64  `json:"current"`
}

type policyVerdict struct {
	Valid bool   `json:"valid"`
	Code  string `json:"code"`
	// Limits: per check in order, "ok" or the refusal's code.
	Limits []string `json:"limits,omitempty"`
}

func generatePolicyVectors(t *testing.T) policyVectors {
	t.Helper()
	created := vecT0.Add(-48 * time.Hour)
	seed := sha256.Sum256([]byte("nls policy vectors: ed25519"))
	kr := licensing.NewKeyring()
	if _, err := kr.AddKey("pol-ed", licensing.AlgEdDSA, ed25519.NewKeyFromSeed(seed[:]), created, true); err != nil {
		t.Fatal(err)
	}
	jwks := must(kr.JWKS())
	expired := vecT0.Add(-10 * 24 * time.Hour)
	lease := func(c licensing.LeaseClaims) string {
		c.LicenseID, c.DeploymentID, c.Plan = vecLicenseID, "dep-1", "pro"
		tok, _, err := kr.IssueLease(c, 30*24*time.Hour, vecT0)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	locked := lease(licensing.LeaseClaims{Status: licensing.StateExpired, Code: licensing.CodeVersionLocked,
		Features: []string{"core"}, LicenseExpiresAt: &expired, MaxVersion: "1.4.0"})
	soft := lease(licensing.LeaseClaims{Status: licensing.StateActive, Code: licensing.CodeValid, Features: []string{"core"},
		Limits: map[string]int64{"users": 10, "apiCalls": 100, "seats": 0},
		LimitEnforcement: map[string]licensing.Enforcement{"users": licensing.EnforceSoft, "apiCalls": licensing.EnforceHard,
			"seats": licensing.EnforceSoft}})
	file := func(token string) string {
		return string(armorFile([][2]string{{"License", vecLicenseID}, {"Customer", "Acme"}, {"Plan", "pro"},
			{"Deployment", "dep-1"}, {"Issued", vecT0.Format(time.RFC3339)}}, token))
	}
	now := vecT0.Add(time.Hour)
	var cases []policyVector
	for _, v := range []struct{ name, app string }{
		{"older", "1.3.9"}, {"equal", "1.4.0"}, {"v-prefix", "v1.4.0"}, {"equal-with-build", "1.4.0+build.7"},
		{"prerelease-of-allowed", "1.4.0-rc.1"}, {"newer-patch", "1.4.1"}, {"prerelease-of-newer", "1.4.1-rc.1"},
		{"newer-major", "2.0.0"}, {"no-version", ""}, {"not-semver", "1.4"},
	} {
		cases = append(cases, policyVector{Name: "lease-maxversion-" + v.name, Kind: "lease", Data: locked, AppVersion: v.app})
	}
	cases = append(cases,
		policyVector{Name: "offline-maxversion-older", Kind: "offline", Data: file(locked), AppVersion: "1.2.0"},
		policyVector{Name: "offline-maxversion-newer", Kind: "offline", Data: file(locked), AppVersion: "1.5.0"})
	checks := []limitCheck{{"users", 10}, {"users", 11}, {"users", 1_000_000}, {"apiCalls", 100}, {"apiCalls", 101},
		{"seats", 1}, {"unlimited", 5}}
	cases = append(cases,
		policyVector{Name: "lease-soft-limits", Kind: "lease", Data: soft, AppVersion: "9.9.9", Limits: checks},
		policyVector{Name: "offline-soft-limits", Kind: "offline", Data: file(soft), Limits: checks},
		// The same claims without enforcement: every limit is hard.
		policyVector{Name: "lease-hard-limits", Kind: "lease", Data: lease(licensing.LeaseClaims{Status: licensing.StateActive,
			Code: licensing.CodeValid, Limits: map[string]int64{"users": 10, "apiCalls": 100}}), Limits: checks[:5]})
	for i := range cases {
		cases[i].DeploymentID, cases[i].Now = "dep-1", now
		cases[i].Expect = goPolicyVerdict(t, string(jwks), cases[i])
	}
	return policyVectors{About: "Licensing policy vectors written by licensing/client/policy_vectors_test.go " +
		"(go test ./licensing/client -run TestPolicyVectors -update-policy-vectors): a client holding the lease or " +
		"offline file, with the app version it runs, and the Go client's status code and limit checks.",
		JWKS: string(jwks), Cases: cases}
}

// goPolicyVerdict is what the Go client decides on v.
func goPolicyVerdict(t *testing.T, jwks string, v policyVector) policyVerdict {
	t.Helper()
	dir := t.TempDir()
	at := v.Now
	cfg := client.Config{PublicKeys: []byte(jwks), DeploymentID: v.DeploymentID, StateDir: filepath.Join(dir, "state"),
		AppVersion: v.AppVersion, Logger: quietLogger(), Now: func() time.Time { return at }}
	if v.Kind == "offline" {
		cfg.OfflineLicenseFile = filepath.Join(dir, "offline-license.txt")
		must(0, os.WriteFile(cfg.OfflineLicenseFile, []byte(v.Data), 0o600))
	} else {
		cfg.ServerURL, cfg.LicenseKey = "http://127.0.0.1:1", vectorKey(t)
		must(0, os.MkdirAll(cfg.StateDir, 0o700))
		must(0, os.WriteFile(filepath.Join(cfg.StateDir, "lease.jwt"), []byte(v.Data+"\n"), 0o600))
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	if v.Kind == "offline" {
		_ = c.Start(context.Background())
	}
	defer c.Close()
	st := c.Status()
	out := policyVerdict{Valid: st.Valid, Code: string(st.Code)}
	for _, l := range v.Limits {
		err := c.CheckLimit(l.Metric, l.Current)
		var le *client.LimitError
		var lic *client.LicenseError
		switch {
		case err == nil:
			out.Limits = append(out.Limits, "ok")
		case errors.As(err, &le):
			out.Limits = append(out.Limits, "LIMIT_EXCEEDED")
		case errors.As(err, &lic):
			out.Limits = append(out.Limits, string(lic.Code))
		default:
			t.Fatalf("%s: %v", v.Name, err)
		}
	}
	return out
}

func TestPolicyVectors(t *testing.T) {
	if *updatePolicyVectors {
		b := must(json.MarshalIndent(generatePolicyVectors(t), "", "  "))
		must(0, os.WriteFile(policyVectorFile, append(b, '\n'), 0o644))
	}
	var pv policyVectors
	if err := json.Unmarshal(must(os.ReadFile(policyVectorFile)), &pv); err != nil {
		t.Fatal(err)
	}
	if len(pv.Cases) < 15 {
		t.Fatalf("got %d cases, want the full set", len(pv.Cases))
	}
	for _, v := range pv.Cases {
		t.Run(v.Name, func(t *testing.T) {
			got, _ := json.Marshal(goPolicyVerdict(t, pv.JWKS, v))
			want, _ := json.Marshal(v.Expect)
			if string(got) != string(want) {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}
