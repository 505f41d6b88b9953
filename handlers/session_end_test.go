package handlers_test

// Signing out ends the session on the server: a copied cookie is refused
// afterwards on both portals, for reads and for changes, by every process
// serving the database; "sign out everywhere" ends all of a user's sessions.

import (
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/web/static"
)

// secondProcess is another portal process over the env's database, with
// the same session secret and clock, and nothing else shared.
func secondProcess(t *testing.T, e *acctEnv) *testEnv {
	t.Helper()
	assets, err := static.New()
	if err != nil {
		t.Fatal(err)
	}
	keys, sealer := testKeys(t)
	app := handlers.New(e.cfg, handlers.Deps{Store: e.store, Log: slog.New(slog.NewTextHandler(e.logs, nil)),
		Limiter: handlers.NewMemoryLimiter(nil), Assets: assets, Registry: prometheus.NewRegistry(), Keys: keys,
		Sealer: sealer, Sessions: handlers.SessionKeys("test-session-secret-0123456789abcdef", ""), Now: e.clock.Now})
	return &testEnv{t: t, app: app, store: e.store, cfg: e.cfg}
}

// copyOf is another browser holding b's cookies and CSRF token, as someone
// who copied them would.
func copyOf(b *browser, on *testEnv) *browser {
	c := newBrowser(b.t, on)
	c.cookies = maps.Clone(b.cookies)
	c.csrf = b.csrf
	return c
}

// wantSignedOut checks that a page request is sent to sign in.
func wantSignedOut(t *testing.T, b *browser, path string) {
	t.Helper()
	p := b.get(path)
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/login") {
		t.Fatalf("GET %s: got %d %q, want a redirect to sign in", path, p.Status, p.Header.Get("Location"))
	}
}

func customerCount(t *testing.T, e *acctEnv, name string) int {
	t.Helper()
	var n int
	if err := e.store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM customers WHERE name = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSignOutRefusesACopiedCookie(t *testing.T) {
	e := newAcctEnv(t)
	other := secondProcess(t, e)
	e.customerUser("cara@acme.example")
	wantStatus(t, e.admin.get("/admin"), http.StatusOK)
	stolen := copyOf(e.admin, e.testEnv)
	stolenElsewhere := copyOf(e.admin, other)
	forgers := []*browser{copyOf(e.admin, e.testEnv), copyOf(e.admin, other)}
	// The copies work while the session lasts, on both processes.
	wantStatus(t, stolen.get("/admin/customers"), http.StatusOK)
	wantStatus(t, stolenElsewhere.get("/admin/customers"), http.StatusOK)

	p := e.admin.post("/logout", nil)
	wantStatus(t, p, http.StatusSeeOther)
	if loc := p.Header.Get("Location"); loc != "/login" {
		t.Fatalf("Location: got %q, want /login", loc)
	}

	wantSignedOut(t, stolen, "/admin")
	wantSignedOut(t, stolenElsewhere, "/admin")
	// A state-changing action with the copied cookie and its CSRF token.
	for _, b := range forgers {
		p := b.post("/admin/customers", url.Values{"name": {"Stolen Cookie Ltd"}, "email": {"x@stolen.example"}})
		if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/login") {
			t.Errorf("POST /admin/customers: got %d %q, want a redirect to sign in", p.Status, p.Header.Get("Location"))
		}
		h := b.htmx("POST", "/admin/customers", url.Values{"name": {"Stolen Cookie Ltd"}, "email": {"x@stolen.example"}})
		if h.Status != http.StatusUnauthorized || !strings.HasPrefix(h.Header.Get("HX-Redirect"), "/login") {
			t.Errorf("HTMX POST /admin/customers: got %d HX-Redirect %q, want 401 to sign in", h.Status, h.Header.Get("HX-Redirect"))
		}
	}
	if n := customerCount(t, e, "Stolen Cookie Ltd"); n != 0 {
		t.Fatalf("a copied cookie created %d customers after sign-out", n)
	}

	// The customer portal, the same way.
	cust := signIn(t, e.testEnv, "cara@acme.example", customerPassword)
	wantStatus(t, cust.get("/portal"), http.StatusOK)
	copied, copiedElsewhere, forger := copyOf(cust, e.testEnv), copyOf(cust, other), copyOf(cust, other)
	wantStatus(t, copiedElsewhere.get("/portal/account"), http.StatusOK)
	wantStatus(t, cust.post("/logout", nil), http.StatusSeeOther)
	wantSignedOut(t, copied, "/portal")
	wantSignedOut(t, copiedElsewhere, "/portal/account")
	p = forger.post("/portal/account/password", url.Values{"current": {customerPassword},
		"password": {"velvet-harbour-compass-7"}, "confirm": {"velvet-harbour-compass-7"}})
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/login") {
		t.Errorf("POST /portal/account/password: got %d %q, want a redirect to sign in", p.Status, p.Header.Get("Location"))
	}
}

func TestSignOutEverywhereEndsEverySession(t *testing.T) {
	e := newAcctEnv(t)
	other := secondProcess(t, e)
	id := e.customerUser("sam@acme.example")
	laptop := signIn(t, e.testEnv, "sam@acme.example", customerPassword)
	phone := signIn(t, other, "sam@acme.example", customerPassword)
	wantStatus(t, laptop.get("/portal"), http.StatusOK)
	// Three sessions: the one that set the password, the laptop's and the phone's.
	home := phone.get("/portal/account")
	wantStatus(t, home, http.StatusOK)
	if home.Doc.Find(`[data-testid=sign-out-everywhere] input[name=csrf_token]`).Length() == 0 {
		t.Fatal("no sign-out-everywhere form with a CSRF field")
	}
	// The admin's own session is not the customer user's to end.
	wantStatus(t, e.admin.get("/admin"), http.StatusOK)

	if p := phone.send("POST", "/logout/everywhere", url.Values{}, nil); p.Status != http.StatusForbidden {
		t.Fatalf("without a CSRF token: got %d, want 403", p.Status)
	}
	laptopElsewhere := copyOf(laptop, other)
	p := phone.post("/logout/everywhere", nil)
	wantStatus(t, p, http.StatusSeeOther)
	if loc := p.Header.Get("Location"); loc != "/login" {
		t.Fatalf("Location: got %q, want /login", loc)
	}
	if msg := one(t, phone.get("/login"), `[data-testid=flash] [data-testid=toast]`).Text(); !strings.Contains(msg, "3 sessions ended") {
		t.Errorf("flash: got %q, want it to say 3 sessions ended", msg)
	}
	wantSignedOut(t, laptop, "/portal")
	wantSignedOut(t, laptopElsewhere, "/portal")
	wantSignedOut(t, phone, "/portal")
	wantStatus(t, e.admin.get("/admin"), http.StatusOK)
	if audit := e.auditText(); !strings.Contains(audit, "customer_user "+id+" user.sign_out_everywhere user "+id) ||
		!strings.Contains(audit, `"sessionsEnded": 3`) {
		t.Errorf("no sign-out-everywhere row by the user:\n%s", audit)
	}

	// Admins have it too; and signing in again works.
	admin2 := signIn(t, other, adminEmail, adminPassword)
	wantStatus(t, admin2.get("/admin"), http.StatusOK)
	wantStatus(t, e.admin.post("/logout/everywhere", nil), http.StatusSeeOther)
	wantSignedOut(t, admin2, "/admin")
	wantSignedOut(t, e.admin, "/admin")
	wantStatus(t, signIn(t, e.testEnv, "sam@acme.example", customerPassword).get("/portal"), http.StatusOK)
}

func TestSessionStaysWhileUsedAndEndsWhenIdle(t *testing.T) {
	e := newAcctEnv(t)
	other := secondProcess(t, e)
	wantStatus(t, e.admin.get("/admin"), http.StatusOK)
	// In use every 90 minutes (under the 2-hour idle limit), alternately on
	// two processes, for longer than the idle limit: still signed in.
	for i := range 4 {
		e.clock.Advance(90 * time.Minute)
		b := e.admin
		if i%2 == 1 {
			b = copyOf(e.admin, other)
		}
		wantStatus(t, b.get("/admin"), http.StatusOK)
		maps.Copy(e.admin.cookies, b.cookies)
	}
	// Past the absolute lifetime (12 hours from sign-in): ended.
	for range 5 {
		e.clock.Advance(90 * time.Minute)
		e.admin.get("/admin")
	}
	wantSignedOut(t, e.admin, "/admin")
}
