package main

// The registry of "make run" and the keys several processes share: serve
// with NLS_DEV_REGISTRY starts the real registry (CNCF Distribution, built
// into bin/ by scripts/test.sh and by make run) trusting its tokens, an API
// key pushes and a license key pulls through it; and two serve processes on
// one database accept each other's download links and registry tokens.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/nectarcloud/nls/db/dbtest"
)

// lockedBuffer is a serve's stdout, read by the test while serve writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// registryBin is bin/registry (or NLS_REGISTRY_BIN, or registry on PATH);
// missing, the test fails under CI and is skipped elsewhere.
func registryBin(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("NLS_REGISTRY_BIN"), "../../bin/registry"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			abs, _ := filepath.Abs(p)
			return abs
		}
	}
	if p, err := exec.LookPath("registry"); err == nil {
		return p
	}
	msg := "the registry (github.com/distribution/distribution/v3/cmd/registry@v3.1.2) is not in bin/ or on PATH; scripts/test.sh and make run build it"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// servedPortal is one "portal serve" running in this test.
type servedPortal struct {
	base   string // http://localhost:port: go-containerregistry refuses token realms at private IP literals
	stdout *lockedBuffer
	stderr *lockedBuffer
}

// startServe runs serve with env (plus a listen address and base URL of its
// own) until the test ends, and waits for /readyz and, when wantOut is
// given, for that text on its stdout.
func startServe(t *testing.T, vars map[string]string, wantOut string) *servedPortal {
	t.Helper()
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	p := &servedPortal{base: "http://localhost:" + port, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	all := map[string]string{"LISTEN_ADDR": addr, "NLS_BASE_URL": p.base, "NLS_LOG_LEVEL": "warn",
		"NLS_BCRYPT_COST": "4", "NLS_WORKERS": "false"}
	for k, v := range vars {
		all[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan int, 1)
	go func() { served <- run(ctx, []string{"serve"}, envOf(all), nil, p.stdout, p.stderr) }()
	t.Cleanup(func() { cancel(); <-served })
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case code := <-served:
			t.Fatalf("serve exited %d at start:\n%s", code, p.stderr.String())
		default:
		}
		res, err := http.Get(p.base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 && strings.Contains(p.stdout.String(), wantOut) {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve was not ready (and had not printed %q) within 90s: %v\nstdout:\n%s\nstderr:\n%s",
				wantOut, err, p.stdout.String(), p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// demoLicenseKey is the key the first start prints (an enterprise license
// entitled to the demo product acme-server, repository acme/server).
func demoLicenseKey(t *testing.T, out string) string {
	t.Helper()
	_, after, ok := strings.Cut(out, "A demo license key")
	if !ok {
		t.Fatalf("serve printed no demo license key:\n%s", out)
	}
	lines := strings.Split(after, "\n")
	if len(lines) < 2 || !strings.HasPrefix(strings.TrimSpace(lines[1]), "NLS-") {
		t.Fatalf("no key after the demo key line:\n%s", out)
	}
	return strings.TrimSpace(lines[1])
}

// pushAPIKey creates an API key with the registry:push scope through the CLI.
func pushAPIKey(t *testing.T, vars map[string]string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"apikey", "create", "--name", "ci", "--scopes", "registry:push"},
		envOf(vars), nil, &out, &errOut); code != 0 {
		t.Fatalf("apikey create: exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return lines[len(lines)-1]
}

func pushRandomImage(t *testing.T, ref, user, password string) v1.Hash {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: user, Password: password})); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// pullImage fetches the manifest and every layer, as docker pull does.
func pullImage(ref, password string) (v1.Hash, error) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return v1.Hash{}, err
	}
	img, err := remote.Image(r, remote.WithAuth(&authn.Basic{Username: "customer", Password: password}))
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
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return v1.Hash{}, err
		}
	}
	return img.Digest()
}

func TestMakeRunStartsARegistryForPushAndLicensePull(t *testing.T) {
	// make run passes bin/registry to serve (building it first when missing).
	out, err := exec.Command("make", "-n", "-C", "../..", "run").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "NLS_DEV_REGISTRY=") || !strings.Contains(string(out), "distribution/v3/cmd/registry@v3.1.2") {
		t.Fatalf("make run neither passes NLS_DEV_REGISTRY nor builds the registry:\n%s", out)
	}

	bin := registryBin(t)
	regAddr := "localhost:" + strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
	vars := map[string]string{"DATABASE_URL": dbtest.NewURL(t), "NLS_DATA_DIR": t.TempDir(),
		"NLS_DEV_REGISTRY": bin, "NLS_DEV_REGISTRY_ADDR": regAddr}
	p := startServe(t, vars, "Container registry")
	stdout := p.stdout.String()
	for _, want := range []string{"at " + regAddr, "crane auth login " + regAddr, "docker login " + regAddr + " -u customer -p \"$NLS_LICENSE_KEY\"",
		"docker pull " + regAddr + "/acme/server:1.0.0"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the startup output lacks %q:\n%s", want, stdout)
		}
	}
	licenseKey := demoLicenseKey(t, stdout)
	apiKey := pushAPIKey(t, vars)

	ref := regAddr + "/acme/server:1.0.0"
	pushed := pushRandomImage(t, ref, "ci", apiKey)
	got, err := pullImage(ref, licenseKey)
	if err != nil {
		t.Fatalf("pull with the demo license key: %v", err)
	}
	if got != pushed {
		t.Fatalf("pulled %s, pushed %s", got, pushed)
	}
	if _, err := pullImage(ref, licenseKey[:len(licenseKey)-2]+"ZZ"); err == nil {
		t.Fatalf("a wrong license key pulled the image")
	}
}

func TestTwoProcessesAcceptEachOthersDownloadLinksAndRegistryTokens(t *testing.T) {
	bin := registryBin(t)
	url := dbtest.NewURL(t)
	// What the README's several-processes section says to share: the
	// database, the session secret, the seal key, the signing keys and the
	// registry keys (shared storage or the same files), and the artifacts.
	// Nothing else: no NLS_DOWNLOAD_SECRET, and each its own data dir.
	shared := map[string]string{"DATABASE_URL": url,
		"NLS_SESSION_SECRET":    strings.Repeat("s", 40),
		"NLS_SEAL_KEY":          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"NLS_KEYS_DIR":          t.TempDir(),
		"NLS_REGISTRY_KEYS_DIR": t.TempDir(),
		"NLS_BLOB_DIR":          t.TempDir()}
	regAddr := "localhost:" + strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
	varsA := map[string]string{"NLS_DATA_DIR": t.TempDir(), "NLS_DEV_REGISTRY": bin, "NLS_DEV_REGISTRY_ADDR": regAddr}
	varsB := map[string]string{"NLS_DATA_DIR": t.TempDir(), "NLS_SEED": "false"}
	for k, v := range shared {
		varsA[k], varsB[k] = v, v
	}
	a := startServe(t, varsA, "Container registry") // seeds the demo data; its registry trusts A's JWKS
	b := startServe(t, varsB, "")
	licenseKey := demoLicenseKey(t, a.stdout.String())

	// A download link B signs is served by A.
	req, _ := http.NewRequest("GET", b.base+"/api/releases/upgrade?product=acme-server&current=0.0.1&channel=stable", nil)
	req.Header.Set("Authorization", "License "+licenseKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var up struct {
		Upgrade *struct {
			Artifacts []struct {
				DownloadURL string `json:"downloadUrl"`
			} `json:"artifacts"`
		} `json:"upgrade"`
	}
	err = json.NewDecoder(res.Body).Decode(&up)
	res.Body.Close()
	if err != nil || up.Upgrade == nil || len(up.Upgrade.Artifacts) != 1 {
		t.Fatalf("upgrade check on B: %v, %+v", err, up)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	dl := up.Upgrade.Artifacts[0].DownloadURL
	if !strings.HasPrefix(dl, "http") {
		dl = b.base + dl
	}
	req, _ = http.NewRequest("GET", dl, nil)
	req.SetBasicAuth("license", licenseKey)
	res, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	link, err := neturl.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(link.Path, "/dl/") {
		t.Fatalf("download by key on B: status %d, Location %q; want 302 to a signed /dl/ link", res.StatusCode, res.Header.Get("Location"))
	}
	for _, p := range []*servedPortal{b, a} {
		res, err := http.Get(p.base + link.RequestURI())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(body), "Acme Server 1.0.0") {
			t.Errorf("B's signed link on %s: status %d, body %.80q; want 200 with the install script", p.base, res.StatusCode, body)
		}
	}

	// A registry token B issues is accepted by the registry that trusts A's JWKS.
	ref := regAddr + "/acme/server:1.0.0"
	pushed := pushRandomImage(t, ref, "ci", pushAPIKey(t, varsB))
	req, _ = http.NewRequest("GET", b.base+"/api/registry/token?service=nls-registry&scope=repository:acme/server:pull", nil)
	req.SetBasicAuth("customer", licenseKey)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	err = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if err != nil || tok.Token == "" {
		t.Fatalf("token from B: status %d, %v", res.StatusCode, err)
	}
	manifest := func(token string) int {
		req, _ := http.NewRequest("GET", "http://"+regAddr+"/v2/acme/server/manifests/1.0.0", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode == 200 && res.Header.Get("Docker-Content-Digest") != pushed.String() {
			t.Fatalf("manifest digest %s, pushed %s", res.Header.Get("Docker-Content-Digest"), pushed)
		}
		return res.StatusCode
	}
	if got := manifest(tok.Token); got != 200 {
		t.Fatalf("the registry trusting A's JWKS answered %d to B's token, want 200", got)
	}
	// The registry does check the signature: the same token with its
	// signature's last characters changed is refused.
	if got := manifest(tok.Token[:len(tok.Token)-4] + flip(tok.Token[len(tok.Token)-4:])); got != 401 {
		t.Fatalf("a token with a broken signature: the registry answered %d, want 401", got)
	}
}

// flip changes every character of a base64url tail to another valid one.
func flip(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c == 'A' {
			out[i] = 'B'
		} else {
			out[i] = 'A'
		}
	}
	return string(out)
}
