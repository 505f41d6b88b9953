package handlers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/auth"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/licensing"
)

// browser is a signed-in (or anonymous) visitor: it keeps the session
// cookie between requests, as a browser would.
type browser struct {
	t       *testing.T
	e       *testEnv
	cookies map[string]*http.Cookie
	csrf    string
}

func newBrowser(t *testing.T, e *testEnv) *browser {
	return &browser{t: t, e: e, cookies: map[string]*http.Cookie{}}
}

type page struct {
	response
	Cookies []*http.Cookie
	Doc     *goquery.Document
}

// send issues one request: form (may be nil) is sent urlencoded; headers
// are added as given.
func (b *browser) send(method, path string, form url.Values, headers map[string]string) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	res, err := b.e.app.Test(req, 30_000)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
			continue
		}
		b.cookies[c.Name] = c
	}
	p := page{response: response{Status: res.StatusCode, Header: res.Header, Body: raw}, Cookies: res.Cookies()}
	if doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(raw))); err == nil {
		p.Doc = doc
		if tok := csrfOf(doc); tok != "" {
			b.csrf = tok
		}
	}
	return p
}

func (b *browser) get(path string) page { b.t.Helper(); return b.send("GET", path, nil, nil) }

// htmx sends a request as htmx would: HX-Request and the CSRF header.
func (b *browser) htmx(method, path string, form url.Values) page {
	b.t.Helper()
	return b.send(method, path, form, map[string]string{"HX-Request": "true", "X-CSRF-Token": b.csrf,
		"HX-Current-URL": "http://example.test/admin"})
}

// post submits a plain form with the page's CSRF token.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", b.csrf)
	return b.send("POST", path, form, nil)
}

// csrfOf reads the CSRF token from the body's hx-headers or a hidden field.
func csrfOf(doc *goquery.Document) string {
	if h, ok := doc.Find("body").Attr("hx-headers"); ok {
		var m map[string]string
		if json.Unmarshal([]byte(h), &m) == nil && m["X-CSRF-Token"] != "" {
			return m["X-CSRF-Token"]
		}
	}
	return doc.Find(`input[name=csrf_token]`).First().AttrOr("value", "")
}

// one returns the single element matching sel.
func one(t *testing.T, p page, sel string) *goquery.Selection {
	t.Helper()
	if p.Doc == nil {
		t.Fatalf("%s: response is not HTML: %s", sel, p.Body)
	}
	s := p.Doc.Find(sel)
	if s.Length() != 1 {
		t.Fatalf("%s: got %d elements, want 1 (status %d)\n%.1500s", sel, s.Length(), p.Status, p.Body)
	}
	return s
}

func wantStatus(t *testing.T, p page, status int) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("got status %d, want %d\n%.1500s", p.Status, status, p.Body)
	}
}

// createAdmin adds an admin with password pw (bcrypt cost 4).
func createAdmin(t *testing.T, e *testEnv, email, pw string) string {
	t.Helper()
	hash, err := auth.HashPassword(pw, 4)
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.store.CreateAdmin(t.Context(), licensing.SystemActor("test"), email, "Ada", hash, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return u.ID.String()
}

// signIn signs in through the form and returns the browser holding the session.
func signIn(t *testing.T, e *testEnv, email, pw string) *browser {
	t.Helper()
	b := newBrowser(t, e)
	b.get("/login")
	if b.csrf == "" {
		t.Fatal("no CSRF token on the sign-in page")
	}
	p := b.post("/login", url.Values{"email": {email}, "password": {pw}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("sign-in: got %d, want 303\n%s", p.Status, p.Body)
	}
	return b
}

// adminEnv is an app with a customer, plans, one license and a signed-in admin.
type adminEnv struct {
	*fixture
	b         *browser
	adminID   string
	licenseID string
	key       string
}

const adminEmail, adminPassword = "ada@nls.example", "correct horse battery staple"

func newAdminEnv(t *testing.T, mutate ...func(*handlers.Config)) *adminEnv {
	t.Helper()
	e := newEnv(t, mutate...)
	f := &fixture{testEnv: e, admin: e.apiKey("admin")}
	r := e.do("POST", "/api/customers", f.admin, map[string]any{"name": "Acme Corp", "email": "ops@acme.example"})
	if r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	f.customerID = r.JSON(t)["id"].(string)
	if r := e.do("POST", "/api/plans", f.admin, map[string]any{"code": "pro", "name": "Pro",
		"features": []string{"sso", "api"}, "limits": map[string]any{"users": 10}, "maxDeployments": 2,
		"durationDays": 365, "heartbeatWindowHours": 24}); r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	a := &adminEnv{fixture: f}
	a.licenseID, a.key = f.issue(map[string]any{"plan": "pro"})
	a.adminID = createAdmin(t, e, adminEmail, adminPassword)
	a.b = signIn(t, e, adminEmail, adminPassword)
	return a
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// checkCSP fails for what the Content-Security-Policy would block: inline
// scripts, style elements or attributes, event-handler attributes.
func checkCSP(t *testing.T, p page) {
	t.Helper()
	p.Doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		if s.AttrOr("src", "") == "" || strings.TrimSpace(s.Text()) != "" {
			t.Errorf("inline script: %q", s.Text())
		}
	})
	if n := p.Doc.Find("style, [style]").Length(); n > 0 {
		t.Errorf("got %d inline styles, want 0", n)
	}
	p.Doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			if strings.HasPrefix(strings.ToLower(a.Key), "on") || strings.HasPrefix(a.Key, "hx-on") {
				t.Errorf("<%s> has handler attribute %s", s.Nodes[0].Data, a.Key)
			}
		}
	})
}
