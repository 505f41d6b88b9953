package handlers_test

// License-gated images against the real registry (CNCF Distribution v3,
// built into bin/ by scripts/test.sh) configured with token auth pointing
// at the portal under test: an admin API key pushes, license keys pull the
// way the Docker client does (challenge, token, manifest, blobs), and the
// registry itself refuses what the tokens do not grant.

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/nectarcloud/nls/handlers"
)

// registryBinary finds the registry: NLS_REGISTRY_BIN, bin/registry, PATH.
// Missing: the test fails under CI and is skipped elsewhere.
func registryBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("NLS_REGISTRY_BIN"), "../bin/registry"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				abs, _ := filepath.Abs(p)
				return abs
			}
		}
	}
	if p, err := exec.LookPath("registry"); err == nil {
		return p
	}
	msg := "the registry (github.com/distribution/distribution/v3/cmd/registry@v3.1.2) is not in bin/ or on PATH; scripts/test.sh builds it"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startRegistry runs a registry trusting the portal's registry JWKS and
// answers its host:port.
func startRegistry(t *testing.T, d *distEnv) string {
	t.Helper()
	bin := registryBinary(t)
	dir := t.TempDir()
	jwks, err := d.regKeys.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	jwksPath := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksPath, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// go-containerregistry refuses token realms at IP literals of private
	// ranges (an SSRF guard); a host name is what deployments use anyway.
	realmBase := strings.Replace(d.base, "127.0.0.1", "localhost", 1)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
%s`, filepath.Join(dir, "data"), addr, handlers.RegistryAuthSection(realmBase, "nls-test-registry", "nls-test", jwksPath))
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	logf, _ := os.Create(filepath.Join(dir, "registry.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("registry log:\n%s", b)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 401 && strings.Contains(res.Header.Get("Www-Authenticate"), "/api/registry/token") {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry did not answer with a token challenge within 30s (last: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func imageRef(t *testing.T, host, repo string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// pull fetches manifest and every layer, as docker pull does.
func pull(host, repo, password string) (v1.Hash, error) {
	ref, err := name.ParseReference(host+"/"+repo, name.Insecure)
	if err != nil {
		return v1.Hash{}, err
	}
	img, err := remote.Image(ref, remote.WithAuth(&authn.Basic{Username: "customer", Password: password}))
	if err != nil {
		return v1.Hash{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return v1.Hash{}, err
		}
		buf := make([]byte, 32<<10)
		for {
			if _, err := rc.Read(buf); err != nil {
				break
			}
		}
		rc.Close()
	}
	return img.Digest()
}

// refusedByRegistry reports whether err is the registry (or its token
// service) saying no: 401 or 403, not a network failure.
func refusedByRegistry(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && (te.StatusCode == 401 || te.StatusCode == 403)
}

func TestRegistryPushAndLicensePulls(t *testing.T) {
	d := newDistEnv(t, func(c *handlers.DistributionConfig) { c.RegistryKeyDelay = time.Hour })
	host := startRegistry(t, d)
	d.product("acme")   // repository vendor/acme
	d.product("secret") // repository vendor/secret, no plan grants it
	now := time.Now().UTC().Truncate(time.Second)
	expiry := now.Add(-24 * time.Hour)
	old, newer := expiry.Add(-time.Hour), expiry.Add(time.Hour)
	d.release("acme", "1.0.0", "stable", &old, []byte("a"))
	d.release("acme", "2.0.0", "stable", &newer, []byte("b"))
	d.release("secret", "1.0.0", "stable", &old, []byte("c"))
	d.plan("acme", []string{"acme"}, []string{"stable"}, "maintain")

	// CI pushes with an API key holding registry:push.
	pusher := d.apiKey("registry:push")
	digests := map[string]v1.Hash{}
	for _, repo := range []string{"vendor/acme:latest", "vendor/acme/1.0.0:latest", "vendor/acme/2.0.0:latest", "vendor/secret/1.0.0:latest"} {
		img, err := random.Image(4096, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(imageRef(t, host, repo), img, remote.WithAuth(&authn.Basic{Username: "ci", Password: pusher})); err != nil {
			t.Fatalf("push %s: %v", repo, err)
		}
		digests[repo], _ = img.Digest()
	}
	// A key without the scope cannot push.
	reader := d.apiKey("releases:read")
	img, _ := random.Image(1024, 1)
	if err := remote.Write(imageRef(t, host, "vendor/acme:other"), img, remote.WithAuth(&authn.Basic{Username: "ci", Password: reader})); !refusedByRegistry(err) {
		t.Fatalf("push without registry:push: got %v, want refused", err)
	}

	_, active := d.issue(map[string]any{"plan": "acme"})
	lapsed := map[string]any{"plan": "acme", "startsAt": expiry.Add(-365 * 24 * time.Hour).Format(time.RFC3339),
		"expiresAt": expiry.Format(time.RFC3339)}
	_, maintain := d.issue(lapsed)
	revokedID, revoked := d.issue(map[string]any{"plan": "acme"})
	d.mustJSON(d.do("POST", "/api/licenses/"+revokedID+"/revoke", d.admin, map[string]any{}), 200)

	cases := []struct {
		name, repo, key string
		ok              bool
	}{
		{"active pulls the product", "vendor/acme:latest", active, true},
		{"active pulls a version path", "vendor/acme/2.0.0:latest", active, true},
		{"unentitled repository", "vendor/secret/1.0.0:latest", active, false},
		{"maintain pulls what was published before expiry", "vendor/acme/1.0.0:latest", maintain, true},
		{"maintain refused a newer release", "vendor/acme/2.0.0:latest", maintain, false},
		{"maintain refused the moving repository", "vendor/acme:latest", maintain, false},
		{"revoked", "vendor/acme/1.0.0:latest", revoked, false},
		{"wrong key", "vendor/acme:latest", "NLS-wrong-00000000", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pull(host, tc.repo, tc.key)
			if tc.ok {
				if err != nil {
					t.Fatalf("pull: %v", err)
				}
				if got != digests[tc.repo] {
					t.Fatalf("pulled %s, want the pushed %s", got, digests[tc.repo])
				}
				return
			}
			if !refusedByRegistry(err) {
				t.Fatalf("got %v, want a 401/403 refusal", err)
			}
			// A valid license gets a token without the repository in it:
			// the registry itself answers no.
			var te *transport.Error
			if errors.As(err, &te) && tc.key != revoked && tc.key != "NLS-wrong-00000000" &&
				(te.Request == nil || te.Request.URL.Host != host) {
				t.Fatalf("refused by %v, want the registry at %s", te.Request.URL, host)
			}
		})
	}

	// Rotation: the new key is published but does not sign until the delay
	// has passed, so the running registry (which read its JWKS at start)
	// keeps accepting tokens.
	if _, err := d.regKeys.Rotate("EdDSA", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := pull(host, "vendor/acme:latest", active); err != nil {
		t.Fatalf("pull after rotation: %v", err)
	}
}
