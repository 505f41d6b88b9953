package handlers_test

// Tests of distribution over a real listener: releases and artifact uploads
// through the management API, downloads by license key and signed link, the
// entitlement and channel matrix of the upgrade check, yanked releases, and
// another customer's artifacts.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nectarcloud/nls/blobstore"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/static"
)

// distEnv is a portal with a filesystem blob store and a registry keyring,
// served on a real TCP listener.
type distEnv struct {
	*fixture
	base    string
	blobDir string
	regKeys *licensing.Keyring
	http    *http.Client
}

// distServer is the portal of a distribution test or benchmark.
type distServer struct {
	app     *fiber.App
	store   *db.Store
	cfg     handlers.Config
	base    string
	blobDir string
	regKeys *licensing.Keyring
}

func startDist(tb testing.TB, mutate ...func(*handlers.DistributionConfig)) distServer {
	tb.Helper()
	blobDir := tb.TempDir()
	return startDistWith(tb, func(base string) (blobstore.Store, *blobstore.FS) {
		fs, err := blobstore.NewFS(blobDir, bytes.Repeat([]byte{9}, 32), base+"/dl", nil)
		if err != nil {
			tb.Fatal(err)
		}
		return fs, fs
	}, blobDir, mutate...)
}

// startDistWith serves with the blob store mk makes (given the base URL).
func startDistWith(tb testing.TB, mk func(base string) (blobstore.Store, *blobstore.FS), blobDir string,
	mutate ...func(*handlers.DistributionConfig)) distServer {
	tb.Helper()
	store := dbtest.NewStore(tb)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	blobs, local := mk(base)
	regKeys, _, err := licensing.LoadOrInitKeyring(tb.TempDir(), time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	cfg := testConfig()
	cfg.BaseURL = base
	cfg.Distribution = handlers.DistributionConfig{RegistryService: "nls-test-registry", RegistryIssuer: "nls-test"}
	for _, m := range mutate {
		m(&cfg.Distribution)
	}
	assets, err := static.New()
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("NLS_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	keysOnce.Do(initTestKeys)
	if keysErr != nil {
		tb.Fatal(keysErr)
	}
	app := handlers.New(cfg, handlers.Deps{Store: store, Log: log, Limiter: handlers.NewMemoryLimiter(nil),
		Assets: assets, Registry: prometheus.NewRegistry(), Keys: testRing, Sealer: testSealer,
		Sessions: handlers.SessionKeys("test-session-secret-0123456789abcdef", ""),
		Blobs:    blobs, LocalBlobs: local, RegistryKeys: regKeys})
	go func() { _ = app.Listener(ln) }()
	tb.Cleanup(func() { _ = app.Shutdown() })
	return distServer{app: app, store: store, cfg: cfg, base: base, blobDir: blobDir, regKeys: regKeys}
}

func newDistEnv(t *testing.T, mutate ...func(*handlers.DistributionConfig)) *distEnv {
	t.Helper()
	return distEnvOn(t, startDist(t, mutate...))
}

func distEnvOn(t *testing.T, srv distServer) *distEnv {
	t.Helper()
	e := &testEnv{t: t, app: srv.app, store: srv.store, cfg: srv.cfg}
	f := &fixture{testEnv: e, admin: e.apiKey("admin")}
	r := e.do("POST", "/api/customers", f.admin, map[string]any{"name": "Acme", "email": "ops@acme.example"})
	if r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	f.customerID = r.JSON(t)["id"].(string)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout: 5 * time.Minute}
	return &distEnv{fixture: f, base: srv.base, blobDir: srv.blobDir, regKeys: srv.regKeys, http: noRedirect}
}

// req sends one request over the wire; auth is the whole Authorization value.
func (d *distEnv) req(method, path, auth string, body io.Reader, header map[string]string) response {
	d.t.Helper()
	req, err := http.NewRequest(method, d.base+path, body)
	if err != nil {
		d.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := d.http.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

func (d *distEnv) mustJSON(r response, status int) map[string]any {
	d.t.Helper()
	if r.Status != status {
		d.t.Fatalf("got %d %s, want %d", r.Status, r.Body, status)
	}
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		d.t.Fatalf("answer is not JSON: %s", r.Body)
	}
	return m
}

// plan creates a plan entitled to products on channels with a strategy.
func (d *distEnv) plan(code string, products, channels []string, strategy string) {
	d.t.Helper()
	r := d.do("POST", "/api/plans", d.admin, map[string]any{"code": code, "name": code, "graceDays": 0})
	p := d.mustJSON(r, 201)
	d.mustJSON(d.do("PUT", "/api/plans/"+p["id"].(string)+"/distribution", d.admin, map[string]any{
		"products": products, "channels": channels, "expiryStrategy": strategy}), 200)
}

// release creates a release published at when (nil: a draft) and uploads
// one artifact; it answers the release id and the artifact id.
func (d *distEnv) release(product, version, channel string, when *time.Time, content []byte) (string, string) {
	d.t.Helper()
	body := map[string]any{"product": product, "version": version, "channel": channel, "notes": "notes of " + version}
	if when != nil {
		body["publishedAt"] = when.UTC().Format(time.RFC3339)
	}
	rel := d.mustJSON(d.do("POST", "/api/releases", d.admin, body), 201)
	id := rel["id"].(string)
	sum := sha256.Sum256(content)
	a := d.mustJSON(d.req("PUT", "/api/releases/"+id+"/artifacts/"+product+"-"+version+".tar.gz?platform=linux&arch=amd64",
		"Bearer "+d.admin, bytes.NewReader(content), map[string]string{"X-Checksum-Sha256": hex.EncodeToString(sum[:]),
			"Content-Type": "application/gzip"}), 201)
	return id, a["id"].(string)
}

func (d *distEnv) product(code string) {
	d.t.Helper()
	d.mustJSON(d.do("POST", "/api/products", d.admin, map[string]any{"code": code, "name": strings.ToUpper(code),
		"repository": "vendor/" + code}), 201)
}

func licenseAuth(key string) string { return "License " + key }

func TestArtifactUploadChecksumAndDownloadByKey(t *testing.T) {
	d := newDistEnv(t)
	d.product("acme")
	d.product("other")
	d.plan("acme-stable", []string{"acme"}, []string{"stable"}, "restrict")
	now := time.Now()
	past := now.Add(-time.Hour)
	content := bytes.Repeat([]byte("acme release bytes "), 50_000)
	relID, artID := d.release("acme", "1.4.0", "stable", &past, content)

	// A wrong checksum is refused and nothing of the upload is kept.
	before, _ := os.ReadDir(d.blobDir)
	wantError(t, d.req("PUT", "/api/releases/"+relID+"/artifacts/bad.bin", "Bearer "+d.admin, strings.NewReader("hello"),
		map[string]string{"X-Checksum-Sha256": strings.Repeat("00", 32)}), 422, "invalid")
	after, _ := os.ReadDir(d.blobDir)
	if len(after) != len(before) {
		t.Fatalf("blob dir holds %d entries after a refused upload, want %d", len(after), len(before))
	}
	// Without the releases:write scope, no upload.
	reader := d.apiKey("releases:read")
	wantError(t, d.req("PUT", "/api/releases/"+relID+"/artifacts/x.bin", "Bearer "+reader, strings.NewReader("x"), nil), 403, "forbidden")

	_, key := d.issue(map[string]any{"plan": "acme-stable"})
	r := d.req("GET", "/api/artifacts/"+artID+"/download", licenseAuth(key), nil, nil)
	if r.Status != 302 {
		t.Fatalf("download by key: got %d %s, want 302", r.Status, r.Body)
	}
	link := r.Header.Get("Location")
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || sha256.Sum256(got) != sha256.Sum256(content) {
		t.Fatalf("signed link: got %d and %d bytes, want 200 and the uploaded %d bytes", res.StatusCode, len(got), len(content))
	}
	if cd := res.Header.Get("Content-Disposition"); !strings.Contains(cd, "acme-1.4.0.tar.gz") {
		t.Errorf("Content-Disposition %q, want the file name", cd)
	}
	// A tampered link serves nothing.
	if res, err := http.Get(strings.Replace(link, "sig=", "sig=x", 1)); err != nil || res.StatusCode != 404 {
		t.Fatalf("tampered link: got %v %v, want 404", res.StatusCode, err)
	}
	// Basic auth with the key as password works the same (curl -u x:KEY).
	if r := d.req("GET", "/api/artifacts/"+artID+"/download", "Basic "+basic("anything", key), nil, nil); r.Status != 302 {
		t.Fatalf("basic auth: got %d %s, want 302", r.Status, r.Body)
	}
	// A wrong key is 401.
	wantError(t, d.req("GET", "/api/artifacts/"+artID+"/download", licenseAuth("NLS-nope-00000000"), nil, nil), 401, "unauthorized")

	// Two downloads, counted on the license and audited.
	var n int64
	if err := d.store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM downloads`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("downloads recorded: %d %v, want 2", n, err)
	}
	if err := d.store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE action = 'artifact.download'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("download audit rows: %d %v, want 2", n, err)
	}

	// Another product's artifact is 404 to this license, as if it did not exist.
	_, otherArt := d.release("other", "1.0.0", "stable", &past, []byte("other"))
	wantError(t, d.req("GET", "/api/artifacts/"+otherArt+"/download", licenseAuth(key), nil, nil), 404, "not_found")

	// Yanked: hidden from the upgrade check and no longer downloadable.
	d.mustJSON(d.do("PATCH", "/api/releases/"+relID, d.admin, map[string]any{"yanked": true}), 200)
	wantError(t, d.req("GET", "/api/artifacts/"+artID+"/download", licenseAuth(key), nil, nil), 404, "not_found")
	up := d.mustJSON(d.req("GET", "/api/releases/upgrade?product=acme&current=1.3.0&channel=stable", licenseAuth(key), nil, nil), 200)
	if up["upgrade"] != nil || up["reason"] != "UP_TO_DATE" {
		t.Fatalf("after yanking: got %v %v, want no upgrade", up["upgrade"], up["reason"])
	}
}

func basic(user, pass string) string {
	return strings.TrimSpace(encodeBase64(user + ":" + pass))
}

// TestUpgradeEntitlementChannelMatrix: which release the upgrade check
// offers per plan channel set, followed channel and expiry strategy.
func TestUpgradeEntitlementChannelMatrix(t *testing.T) {
	d := newDistEnv(t)
	d.product("acme")
	now := time.Now().UTC().Truncate(time.Second)
	expiry := now.Add(-24 * time.Hour)
	at := func(dur time.Duration) *time.Time { x := expiry.Add(dur); return &x }
	d.release("acme", "1.3.2", "stable", at(-30*24*time.Hour), []byte("a"))
	d.release("acme", "1.4.0", "stable", at(-time.Hour), []byte("b"))
	d.release("acme", "1.5.0-rc.1", "rc", at(-time.Minute), []byte("c"))
	d.release("acme", "1.5.0", "stable", at(time.Hour), []byte("d")) // after the lapsed licenses expired
	d.release("acme", "1.6.0", "stable", nil, []byte("e"))           // a draft
	d.plan("stable", []string{"acme"}, []string{"stable"}, "restrict")
	d.plan("rc", []string{"acme"}, []string{"stable", "rc"}, "restrict")
	d.plan("maintain", []string{"acme"}, []string{"stable"}, "maintain")
	d.plan("restrict", []string{"acme"}, []string{"stable"}, "restrict")
	d.plan("none", []string{}, []string{"stable"}, "allow")
	lapsed := map[string]any{"startsAt": expiry.Add(-365 * 24 * time.Hour).Format(time.RFC3339), "expiresAt": expiry.Format(time.RFC3339)}
	keyOf := func(plan string, extra map[string]any) string {
		body := map[string]any{"plan": plan}
		for k, v := range extra {
			body[k] = v
		}
		_, key := d.issue(body)
		return key
	}
	cases := []struct {
		name, key, current, channel, want string
	}{
		{"stable plan, stable channel", keyOf("stable", nil), "1.3.2", "stable", "1.5.0"},
		{"stable plan never sees rc", keyOf("stable", nil), "1.5.0-rc.1", "stable", "1.5.0"},
		{"stable plan asking for rc", keyOf("stable", nil), "1.5.0", "rc", "UP_TO_DATE"},
		{"rc plan on rc", keyOf("rc", nil), "1.4.0", "rc", "1.5.0"},
		{"maintain after expiry gets what was published before", keyOf("maintain", lapsed), "1.3.2", "stable", "1.4.0"},
		{"maintain after expiry: newer refused", keyOf("maintain", lapsed), "1.4.0", "stable", "RELEASED_AFTER_EXPIRY"},
		{"restrict after expiry", keyOf("restrict", lapsed), "1.3.2", "stable", "EXPIRED"},
		{"no product", keyOf("none", nil), "1.3.2", "stable", "PRODUCT_NOT_ENTITLED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up := d.mustJSON(d.req("GET", "/api/releases/upgrade?product=acme&current="+tc.current+"&channel="+tc.channel,
				licenseAuth(tc.key), nil, nil), 200)
			got, _ := up["reason"].(string)
			if rel, ok := up["upgrade"].(map[string]any); ok {
				got = rel["version"].(string)
				if arts := rel["artifacts"].([]any); len(arts) != 1 {
					t.Errorf("upgrade lists %d artifacts, want 1", len(arts))
				}
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	// A revoked license hears so.
	id, key := d.issue(map[string]any{"plan": "stable"})
	d.mustJSON(d.do("POST", "/api/licenses/"+id+"/revoke", d.admin, map[string]any{}), 200)
	up := d.mustJSON(d.req("GET", "/api/releases/upgrade?product=acme&current=1.0.0", licenseAuth(key), nil, nil), 200)
	if up["reason"] != "REVOKED" {
		t.Fatalf("revoked: got %v, want REVOKED", up["reason"])
	}
	// Bad input is the error envelope naming the fields.
	m := wantError(t, d.req("GET", "/api/releases/upgrade?product=acme&current=1.x&channel=nightly", licenseAuth(key), nil, nil), 422, "invalid")
	if details := m["error"].(map[string]any)["details"].([]any); len(details) != 2 {
		t.Fatalf("got details %v, want current and channel", details)
	}
}

// TestStreamedUploadMemoryBounded uploads 1 GiB and checks the server's heap
// did not grow with it: the body streams to disk while it is hashed.
func TestStreamedUploadMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 1 GiB")
	}
	d := newDistEnv(t)
	d.product("big")
	rel := d.mustJSON(d.do("POST", "/api/releases", d.admin, map[string]any{"product": "big", "version": "1.0.0"}), 201)
	const size = 1 << 30
	src := &patternReader{left: size}
	h := sha256.New()
	stop := make(chan struct{})
	peak := make(chan uint64)
	base := heapInUse()
	go func() {
		var max uint64
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				peak <- max
				return
			case <-tick.C:
				if v := heapInUse(); v > max {
					max = v
				}
			}
		}
	}()
	req, _ := http.NewRequest("PUT", d.base+"/api/releases/"+rel["id"].(string)+"/artifacts/big.bin", io.TeeReader(src, h))
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+d.admin)
	start := time.Now()
	res, err := d.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	elapsed := time.Since(start)
	close(stop)
	maxHeap := <-peak
	if res.StatusCode != 201 {
		t.Fatalf("got %d %s, want 201", res.StatusCode, body)
	}
	var a map[string]any
	_ = json.Unmarshal(body, &a)
	if a["size"] != float64(size) || a["sha256"] != hex.EncodeToString(h.Sum(nil)) {
		t.Fatalf("stored size %v sha %v, want %d and the sent hash", a["size"], a["sha256"], size)
	}
	growth := int64(maxHeap) - int64(base)
	t.Logf("1 GiB upload in %v (%.0f MiB/s); heap in use grew by at most %.1f MiB", elapsed,
		float64(size)/(1<<20)/elapsed.Seconds(), float64(growth)/(1<<20))
	if growth > 64<<20 {
		t.Fatalf("heap grew by %d MiB during a 1 GiB upload, want under 64 MiB", growth>>20)
	}
	if fi, err := os.Stat(filepath.Join(d.blobDir)); err != nil || !fi.IsDir() {
		t.Fatal(err)
	}
}

type patternReader struct{ left int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	n := len(b)
	if int64(n) > p.left {
		n = int(p.left)
	}
	for i := 0; i < n; i++ {
		b[i] = byte(p.left - int64(i))
	}
	p.left -= int64(n)
	return n, nil
}

func encodeBase64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
