package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nectarcloud/nls/auth"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/static"
)

func TestUserInvitePrintsAWorkingLink(t *testing.T) {
	dbURL := dbtest.NewURL(t)
	env := envOf(map[string]string{"DATABASE_URL": dbURL, "NLS_LOG_LEVEL": "warn",
		"NLS_BASE_URL": "https://licenses.vendor.example/", "NLS_INVITE_TTL": "2d"})
	pool, err := db.Connect(context.Background(), dbURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store := db.NewStore(pool)
	if _, err := db.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	acme, err := store.CreateCustomer(t.Context(), licensing.SystemActor("test"),
		db.CustomerInput{Name: "Acme Corp", Email: "ops@acme.example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	invite := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"user", "invite"}, args...), env, nil, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	code, out, errOut := invite("--customer", "ops@acme.example", "--email", "dev@acme.example", "--name", "Dev")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	link := lines[len(lines)-1]
	if !strings.HasPrefix(link, "https://licenses.vendor.example/invite/") || strings.Contains(link, " ") {
		t.Fatalf("last line %q is not the link alone", link)
	}
	if !strings.Contains(errOut, "NLS_SMTP_URL is not set") {
		t.Errorf("stderr does not say the link was not emailed: %q", errOut)
	}
	inv, err := store.GetInvitationByTokenHash(t.Context(), db.InviteTokenHash(strings.TrimPrefix(link,
		"https://licenses.vendor.example/invite/")))
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Until(inv.ExpiresAt); got < 47*time.Hour || got > 48*time.Hour {
		t.Errorf("expires in %s, want NLS_INVITE_TTL=2d", got)
	}

	// The link works in the portal: set a password, land signed in.
	assets, _ := static.New()
	app := handlers.New(handlers.Config{BcryptCost: 4}, handlers.Deps{Store: store,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Assets: assets, Registry: prometheus.NewRegistry(),
		Sessions: handlers.SessionKeys("test-session-secret-0123456789abcdef", "")})
	path := strings.TrimPrefix(link, "https://licenses.vendor.example")
	res, cookies, body := sendToApp(t, app, "GET", path, nil, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET the link: %d", res.StatusCode)
	}
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
	csrf := doc.Find(`input[name=csrf_token]`).AttrOr("value", "")
	form := url.Values{"csrf_token": {csrf}, "password": {"plum-orchard-lantern-42"}, "confirm": {"plum-orchard-lantern-42"}}
	res, _, _ = sendToApp(t, app, "POST", path, form, cookies)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/portal" {
		t.Fatalf("POST the link: %d %q", res.StatusCode, res.Header.Get("Location"))
	}

	// By customer id too; an admin's address and another customer's user
	// are refused; an ambiguous contact email asks for the id.
	if code, out, errOut := invite("--customer", acme.ID.String(), "--email", "ops2@acme.example"); code != 0 ||
		!strings.Contains(out, "/invite/") {
		t.Fatalf("by id: exit %d: %s %s", code, out, errOut)
	}
	hash, _ := auth.HashPassword("an admin password 123", 4)
	if _, err := store.CreateAdmin(t.Context(), licensing.SystemActor("test"), "root@vendor.example", "", hash, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateCustomer(t.Context(), licensing.SystemActor("test"),
		db.CustomerInput{Name: "Acme Twin", Email: "ops@acme.example"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"admin's address", []string{"--customer", acme.ID.String(), "--email", "root@vendor.example"}, "already has an account"},
		{"ambiguous customer email", []string{"--customer", "ops@acme.example", "--email", "x@acme.example"}, "several customers"},
		{"unknown customer", []string{"--customer", "nobody@nowhere.example", "--email", "x@acme.example"}, "no customer"},
		{"bad email", []string{"--customer", acme.ID.String(), "--email", "nope"}, "--email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := invite(tc.args...)
			if code == 0 || !strings.Contains(errOut, tc.want) || strings.Contains(out, "/invite/") {
				t.Fatalf("exit %d, stdout %q, stderr %q: want a refusal mentioning %q", code, out, errOut, tc.want)
			}
		})
	}
}

func TestInviteTTLAndSMTPConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		bad  string // the variable named, "" when valid
	}{
		{"defaults", nil, ""},
		{"days", map[string]string{"NLS_INVITE_TTL": "14d"}, ""},
		{"hours", map[string]string{"NLS_INVITE_TTL": "36h"}, ""},
		{"too long", map[string]string{"NLS_INVITE_TTL": "365d"}, "NLS_INVITE_TTL"},
		{"nonsense", map[string]string{"NLS_INVITE_TTL": "soon"}, "NLS_INVITE_TTL"},
		{"smtp", map[string]string{"NLS_SMTP_URL": "smtp://u:p@mail.example:587", "NLS_SMTP_FROM": "NLS <l@v.example>"}, ""},
		{"smtps", map[string]string{"NLS_SMTP_URL": "smtps://mail.example", "NLS_SMTP_FROM": "l@v.example"}, ""},
		{"wrong scheme", map[string]string{"NLS_SMTP_URL": "http://u:topsecret@mail.example", "NLS_SMTP_FROM": "l@v.example"}, "NLS_SMTP_URL"},
		{"no sender", map[string]string{"NLS_SMTP_URL": "smtp://mail.example"}, "NLS_SMTP_FROM"},
		{"bad sender", map[string]string{"NLS_SMTP_URL": "smtp://mail.example", "NLS_SMTP_FROM": "not an address"}, "NLS_SMTP_FROM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadConfig(envOf(tc.env))
			if tc.bad == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.env == nil && c.InviteTTL != 7*24*time.Hour {
					t.Errorf("default TTL %s, want 7 days", c.InviteTTL)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Fatalf("got %v, want an error naming %s", err, tc.bad)
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Fatalf("the SMTP password leaked into the message: %v", err)
			}
		})
	}
}

// sendToApp issues one request to app with a form and cookies, returning the
// response, its cookies and its body.
func sendToApp(t *testing.T, app interface {
	Test(*http.Request, ...int) (*http.Response, error)
}, method, path string, form url.Values, cookies []*http.Cookie) (*http.Response, []*http.Cookie, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	res, err := app.Test(req, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, res.Cookies(), string(b)
}
