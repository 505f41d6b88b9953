package main

// The distribution commands against a running portal: the first start
// seeds the demo product with a release, a CI key publishes a new release
// with "portal release publish", and "portal registry config" prints the
// registry's auth section and writes the JWKS it must trust.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
)

func TestReleasePublishAndRegistryConfig(t *testing.T) {
	url := dbtest.NewURL(t)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	env := envOf(map[string]string{"DATABASE_URL": url, "NLS_LOG_LEVEL": "warn", "NLS_DATA_DIR": dir,
		"LISTEN_ADDR": addr, "NLS_BASE_URL": base, "NLS_BCRYPT_COST": "4"})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan int, 1)
	var serveOut, serveErr lockedBuffer
	go func() { served <- run(ctx, []string{"serve"}, env, nil, &serveOut, &serveErr) }()
	t.Cleanup(func() { cancel(); <-served })
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the portal did not start: %v\n%s", err, serveErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	pool, err := db.Connect(context.Background(), url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// The seed: the demo product with a published release and its file.
	var seeded int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM releases r JOIN products p ON p.id = r.product_id
		JOIN artifacts a ON a.release_id = r.id WHERE p.code = 'acme-server' AND r.published_at IS NOT NULL`).Scan(&seeded); err != nil || seeded != 1 {
		t.Fatalf("seeded releases with a file: %d %v, want 1", seeded, err)
	}

	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"apikey", "create", "--name", "ci", "--scopes", "releases:write"}, env, nil, &out, &errb); code != 0 {
		t.Fatalf("apikey: %d %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	key := lines[len(lines)-1]
	file := filepath.Join(t.TempDir(), "acme-server-linux-amd64.tar.gz")
	content := bytes.Repeat([]byte("release 1.1.0 "), 10_000)
	if err := os.WriteFile(file, content, 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	code := run(context.Background(), []string{"release", "publish", "--product", "acme-server", "--version", "1.1.0",
		"--channel", "stable", "--platform", "linux", "--arch", "amd64", file},
		envOf(map[string]string{"DATABASE_URL": url, "NLS_DATA_DIR": dir, "NLS_URL": base, "NLS_API_KEY": key}), nil, &out, &errb)
	if code != 0 {
		t.Fatalf("release publish: exit %d: %s", code, errb.String())
	}
	var sum []byte
	var published *time.Time
	if err := pool.QueryRow(context.Background(), `SELECT a.sha256, r.published_at FROM releases r JOIN artifacts a ON a.release_id = r.id
		WHERE r.version = '1.1.0'`).Scan(&sum, &published); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(content)
	if hex.EncodeToString(sum) != hex.EncodeToString(want[:]) || published == nil {
		t.Fatalf("stored sha %x published %v; want the file's hash and a publication date", sum, published)
	}
	// A second publish of the same version is refused, and says why.
	errb.Reset()
	if code := run(context.Background(), []string{"release", "publish", "--product", "acme-server", "--version", "1.1.0", file},
		envOf(map[string]string{"NLS_DATA_DIR": dir, "NLS_URL": base, "NLS_API_KEY": key}), nil, &out, &errb); code == 0 ||
		!strings.Contains(errb.String(), "409") {
		t.Fatalf("republish: exit %d, %s; want a 409 failure", code, errb.String())
	}

	out.Reset()
	jwksFile := filepath.Join(t.TempDir(), "jwks.json")
	if code := run(context.Background(), []string{"registry", "config", "--jwks", "/etc/distribution/jwks.json", "--write-jwks", jwksFile},
		env, nil, &out, &errb); code != 0 {
		t.Fatalf("registry config: %d %s", code, errb.String())
	}
	for _, want := range []string{"realm: " + base + "/api/registry/token", "service: nls-registry", "issuer: nls", "jwks: /etc/distribution/jwks.json"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config lacks %q:\n%s", want, out.String())
		}
	}
	// The file is what the portal serves at /api/registry/jwks.
	b, _ := os.ReadFile(jwksFile)
	res, err := http.Get(base + "/api/registry/jwks")
	if err != nil {
		t.Fatal(err)
	}
	var servedKeys, written struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	_ = json.NewDecoder(res.Body).Decode(&servedKeys)
	res.Body.Close()
	if err := json.Unmarshal(b, &written); err != nil || len(written.Keys) != 1 || len(servedKeys.Keys) != 1 || written.Keys[0].Kid != servedKeys.Keys[0].Kid {
		t.Fatalf("written JWKS %s, served %+v: want the same one key", b, servedKeys)
	}
}
