package handlers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/static"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// testEnv is one app over its own fresh database.
type testEnv struct {
	t     *testing.T
	app   *fiber.App
	store *db.Store
	cfg   handlers.Config
}

// rawQueries gives tests the sqlc queries over the store's pool, to set up
// rows no store method writes (a user without an invitation, a legacy API
// key, usage days). Test-only: outside package db, code reaches the database
// through named db.Store methods; these errors are not translated.
func rawQueries(store *db.Store) *db.Queries { return db.New(store.Pool) }

func testConfig() handlers.Config {
	return handlers.Config{BodyLimit: 1 << 20}
}

func newEnv(t *testing.T, mutate ...func(*handlers.Config)) *testEnv {
	t.Helper()
	store := dbtest.NewStore(t)
	return newEnvOn(t, store, mutate...)
}

func newEnvOn(t *testing.T, store *db.Store, mutate ...func(*handlers.Config)) *testEnv {
	t.Helper()
	cfg := testConfig()
	for _, m := range mutate {
		m(&cfg)
	}
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("NLS_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	keys, sealer := testKeys(t)
	app := handlers.New(cfg, handlers.Deps{Store: store, Log: log, Limiter: handlers.NewMemoryLimiter(nil),
		Assets: assets, Registry: prometheus.NewRegistry(), Keys: keys, Sealer: sealer,
		Sessions: handlers.SessionKeys("test-session-secret-0123456789abcdef", "")})
	return &testEnv{t: t, app: app, store: store, cfg: cfg}
}

var (
	keysOnce   sync.Once
	testRing   *app.KeyService
	testSealer *licensing.Sealer
	keysErr    error
)

// testKeys is one keyring for the whole test binary, so that several app
// instances (as several processes would) verify each other's keys.
func testKeys(t *testing.T) (*app.KeyService, *licensing.Sealer) {
	t.Helper()
	keysOnce.Do(initTestKeys)
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return testRing, testSealer
}

func initTestKeys() {
	dir, err := os.MkdirTemp("", "nls-test-keys-")
	if err != nil {
		keysErr = err
		return
	}
	ring, _, err := licensing.LoadOrInitKeyring(dir, time.Now())
	if err != nil {
		keysErr = err
		return
	}
	testRing = app.NewKeyService(ring, "nls-test")
	testSealer, keysErr = licensing.NewSealer("test-seal-key-0123456789abcdef0123456789")
}

// apiKey creates a key with scopes and returns its secret.
func (e *testEnv) apiKey(scopes ...string) string {
	e.t.Helper()
	_, secret, err := e.store.CreateAPIKey(e.t.Context(), licensing.SystemActor("test"), "test key", scopes, nil, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// do sends one request; body may be nil, a string/[]byte (sent raw) or a value (sent as JSON).
func (e *testEnv) do(method, path, key string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := e.app.Test(req, 30_000)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// wantError checks the error envelope: status, code, and a request id.
func wantError(t *testing.T, r response, status int, code string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("got status %d, want %d: %s", r.Status, status, r.Body)
	}
	m := r.JSON(t)
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %s", r.Body)
	}
	if e["code"] != code {
		t.Fatalf("got code %v, want %v: %s", e["code"], code, r.Body)
	}
	if _, ok := e["message"].(string); !ok {
		t.Fatalf("error has no message: %s", r.Body)
	}
	if _, ok := e["details"].([]any); !ok {
		t.Fatalf("error has no details array: %s", r.Body)
	}
	if rid, _ := m["requestId"].(string); rid == "" || rid != r.Header.Get("X-Request-Id") {
		t.Fatalf("requestId %q does not match X-Request-Id %q", rid, r.Header.Get("X-Request-Id"))
	}
	return m
}

// live sends one request over a real TCP connection to the app.
func (e *testEnv) live(method, path, key, body string) response {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	go func() { _ = e.app.Listener(ln) }()
	defer e.app.Shutdown()
	req, err := http.NewRequest(method, "http://"+ln.Addr().String()+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}
