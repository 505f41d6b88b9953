package handlers_test

// Benchmarks of distribution for the performance note (make bench):
// artifact download throughput through the portal (key → redirect →
// signed link, filesystem store) against cat of the same file as the floor,
// and registry token issue latency.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nectarcloud/nls/licensing"
)

// benchClient drives a distServer over HTTP with an admin API key.
type benchClient struct {
	tb    testing.TB
	base  string
	admin string
	http  *http.Client
}

func newBenchClient(tb testing.TB, srv distServer) *benchClient {
	_, admin, err := srv.store.CreateAPIKey(tb.Context(), licensing.SystemActor("bench"), "bench", []string{"admin"}, nil, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return &benchClient{tb: tb, base: srv.base, admin: admin, http: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *benchClient) call(method, path, auth string, body io.Reader, want int) map[string]any {
	c.tb.Helper()
	req, _ := http.NewRequest(method, c.base+path, body)
	if auth == "" {
		auth = "Bearer " + c.admin
	}
	req.Header.Set("Authorization", auth)
	if method == "POST" || method == "PATCH" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.tb.Fatalf("%s %s: got %d %s, want %d", method, path, res.StatusCode, b, want)
	}
	m := map[string]any{"location": res.Header.Get("Location")}
	_ = json.Unmarshal(b, &m)
	return m
}

func jsonBody(v any) io.Reader { b, _ := json.Marshal(v); return bytes.NewReader(b) }

// setupDownload publishes a release with one artifact of size bytes and
// answers the artifact id and a license key entitled to it.
func setupDownload(tb testing.TB, c *benchClient, size int64) (artifact, key string, file string) {
	c.call("POST", "/api/products", "", jsonBody(map[string]any{"code": "acme", "name": "Acme"}), 201)
	plan := c.call("POST", "/api/plans", "", jsonBody(map[string]any{"code": "p", "name": "P"}), 201)
	c.call("PUT", "/api/plans/"+plan["id"].(string)+"/distribution", "", jsonBody(map[string]any{"products": []string{"acme"},
		"channels": []string{"stable"}, "expiryStrategy": "restrict"}), 200)
	cu := c.call("POST", "/api/customers", "", jsonBody(map[string]any{"name": "C", "email": "c@example.com"}), 201)
	lic := c.call("POST", "/api/licenses", "", jsonBody(map[string]any{"customerId": cu["id"], "plan": "p"}), 201)
	rel := c.call("POST", "/api/releases", "", jsonBody(map[string]any{"product": "acme", "version": "1.0.0", "publish": true}), 201)
	req, _ := http.NewRequest("PUT", c.base+"/api/releases/"+rel["id"].(string)+"/artifacts/big.bin", &patternReader{left: size})
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+c.admin)
	res, err := c.http.Do(req)
	if err != nil || res.StatusCode != 201 {
		tb.Fatalf("upload: %v %v", err, res)
	}
	var a map[string]any
	_ = json.NewDecoder(res.Body).Decode(&a)
	res.Body.Close()
	return a["id"].(string), lic["licenseKey"].(string), ""
}

const benchFileSize = 256 << 20

// BenchmarkDownloadByKey: one iteration is the license key request, its
// redirect and the whole file from the signed link, over loopback TCP.
func BenchmarkDownloadByKey(b *testing.B) {
	srv := startDist(b)
	c := newBenchClient(b, srv)
	art, key, _ := setupDownload(b, c, benchFileSize)
	buf := make([]byte, 256<<10)
	b.SetBytes(benchFileSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		loc := c.call("GET", "/api/artifacts/"+art+"/download", "License "+key, nil, 302)["location"].(string)
		res, err := http.Get(loc)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.CopyBuffer(io.Discard, res.Body, buf)
		res.Body.Close()
		if n != benchFileSize {
			b.Fatalf("got %d bytes, want %d", n, benchFileSize)
		}
	}
}

// BenchmarkCatFloor reads the same stored file through cat and a pipe: the
// least any download of it costs on this machine.
func BenchmarkCatFloor(b *testing.B) {
	srv := startDist(b)
	c := newBenchClient(b, srv)
	setupDownload(b, c, benchFileSize)
	entries, _ := os.ReadDir(srv.blobDir)
	var file string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			file = filepath.Join(srv.blobDir, e.Name())
		}
	}
	buf := make([]byte, 256<<10)
	b.SetBytes(benchFileSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command("cat", file)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		n, _ := io.CopyBuffer(io.Discard, out, buf)
		if err := cmd.Wait(); err != nil || n != benchFileSize {
			b.Fatalf("cat: %v, %d bytes", err, n)
		}
	}
}

// BenchmarkRegistryToken: one token for one repository, license key in
// Basic auth, over loopback TCP (lookup, entitlement, signature).
func BenchmarkRegistryToken(b *testing.B) {
	srv := startDist(b)
	c := newBenchClient(b, srv)
	_, key, _ := setupDownload(b, c, 1024)
	auth := "Basic " + encodeBase64("customer:"+key)
	path := "/api/registry/token?service=nls-test-registry&scope=repository:acme:pull"
	c.call("GET", path, auth, nil, 200)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.call("GET", path, auth, nil, 200)
	}
}
