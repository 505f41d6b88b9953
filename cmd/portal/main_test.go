package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nectarcloud/nls/auth"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/web/static"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestBadConfigStopsStartupNamingTheVariable(t *testing.T) {
	cases := []struct {
		name, key, value string
	}{
		{"listen address", "LISTEN_ADDR", "eighty"},
		{"body limit", "NLS_BODY_LIMIT", "huge"},
		{"rate", "NLS_RATE_MACHINE_IP", "fast"},
		{"log level", "NLS_LOG_LEVEL", "loud"},
		{"seed flag", "NLS_SEED", "maybe"},
		{"short session secret", "NLS_SESSION_SECRET", "short"},
		{"cors wildcard", "NLS_CORS_ORIGINS", "*"},
		{"base url", "NLS_BASE_URL", "localhost:8080"},
		{"database url", "DATABASE_URL", "mysql://x"},
		{"proxy", "NLS_TRUSTED_PROXIES", "not-an-ip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"serve"}, envOf(map[string]string{tc.key: tc.value}), nil, &stdout, &stderr)
			if code == 0 {
				t.Fatalf("got exit 0, want a start-up error")
			}
			if !strings.Contains(stderr.String(), tc.key) || !strings.Contains(stderr.String(), "expected") {
				t.Fatalf("got %q, want a message naming %s and what it expected", stderr.String(), tc.key)
			}
			if strings.Contains(tc.key, "SECRET") && strings.Contains(stderr.String(), tc.value) {
				t.Fatalf("the secret's value leaked into the message: %q", stderr.String())
			}
		})
	}
}

func TestDefaultsAreValid(t *testing.T) {
	c, err := LoadConfig(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenAddr != ":8080" || c.BodyLimit != 1<<20 || !c.Seed || c.DataDir != "./.data" {
		t.Fatalf("got %+v, want the documented defaults", c)
	}
}

func TestEnvExampleListsEveryVariable(t *testing.T) {
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	// Every quoted upper-case variable name read in config.go.
	for _, part := range strings.Split(string(src), `"`) {
		if len(part) > 3 && strings.ToUpper(part) == part && strings.Contains(part, "_") && !strings.ContainsAny(part, " /:%") {
			if !strings.Contains(string(example), "\n"+part+"=") {
				t.Errorf(".env.example lacks %s", part)
			}
		}
	}
}

func TestAPIKeyCreatePrintsAWorkingKey(t *testing.T) {
	url := dbtest.NewURL(t)
	env := envOf(map[string]string{"DATABASE_URL": url, "NLS_LOG_LEVEL": "warn"})
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"apikey", "create", "--name", "ci", "--scopes", "customers:read"}, env, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	key := lines[len(lines)-1]
	if !strings.HasPrefix(key, "nls_") || strings.Contains(key, " ") {
		t.Fatalf("last line %q is not the key alone", key)
	}

	pool, err := db.Connect(context.Background(), url, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	assets, _ := static.New()
	app := handlers.New(handlers.Config{}, handlers.Deps{Store: db.NewStore(pool),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Assets: assets, Registry: prometheus.NewRegistry()})
	for _, tc := range []struct {
		key  string
		want int
	}{{key, 200}, {key + "x", 401}, {"nls_wrong", 401}, {"", 401}} {
		req := httptest.NewRequest("GET", "/api/customers", nil)
		if tc.key != "" {
			req.Header.Set("Authorization", "Bearer "+tc.key)
		}
		res, err := app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != tc.want {
			t.Fatalf("key %.12q: got %d, want %d", tc.key, res.StatusCode, tc.want)
		}
	}
	// The scope is enforced: this key cannot write.
	req := httptest.NewRequest("POST", "/api/customers", strings.NewReader(`{"name":"A","email":"a@b.example"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, _ := app.Test(req)
	if res.StatusCode != 403 {
		t.Fatalf("write with a read-only key: got %d, want 403", res.StatusCode)
	}
}

func TestAdminCreateReadsPasswordFromStdin(t *testing.T) {
	url := dbtest.NewURL(t)
	env := envOf(map[string]string{"DATABASE_URL": url, "NLS_LOG_LEVEL": "warn", "NLS_BCRYPT_COST": "4"})
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"admin", "create", "--email", "ops@vendor.example"}, env,
		strings.NewReader("correct horse battery staple\n"), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if strings.Contains(stdout.String(), "correct horse") {
		t.Fatalf("the password was echoed: %q", stdout.String())
	}
	pool, err := db.Connect(context.Background(), url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	u, err := db.New(pool).GetUserByEmail(context.Background(), "ops@vendor.example")
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != "admin" || u.PasswordHash == nil || !auth.CheckPassword(*u.PasswordHash, "correct horse battery staple") {
		t.Fatalf("got %+v, want an admin whose password matches", u)
	}
	// The same email again is refused.
	code = run(context.Background(), []string{"admin", "create", "--email", "ops@vendor.example"}, env,
		strings.NewReader("another long password\n"), &stdout, &stderr)
	if code == 0 {
		t.Fatal("a duplicate admin was created")
	}
	// Generated when stdin is empty, and printed.
	stdout.Reset()
	code = run(context.Background(), []string{"admin", "create", "--email", "second@vendor.example"}, env,
		strings.NewReader(""), &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "password: ") {
		t.Fatalf("exit %d, stdout %q: want a generated password printed", code, stdout.String())
	}
}

func TestAuditVerifyCommand(t *testing.T) {
	url := dbtest.NewURL(t)
	env := envOf(map[string]string{"DATABASE_URL": url, "NLS_LOG_LEVEL": "warn"})
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"apikey", "create", "--name", "a"}, env, nil, &stdout, &stderr); code != 0 {
		t.Fatal(stderr.String())
	}
	if code := run(context.Background(), []string{"apikey", "create", "--name", "b"}, env, nil, &stdout, &stderr); code != 0 {
		t.Fatal(stderr.String())
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"audit", "verify"}, env, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("intact chain: exit %d: %s", code, stderr.String())
	}
	pool, _ := db.Connect(context.Background(), url, 2)
	defer pool.Close()
	var id int64
	if err := pool.QueryRow(context.Background(), "UPDATE audit_log SET actor_label = 'forged' WHERE seq = 1 RETURNING id").Scan(&id); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	code := run(context.Background(), []string{"audit", "verify"}, env, nil, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "row "+strconv.FormatInt(id, 10)) {
		t.Fatalf("exit %d, %q: want non-zero naming row %d", code, stderr.String(), id)
	}
}
