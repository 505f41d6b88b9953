package layouts_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"github.com/nectarcloud/nls/web/templates/internal/viewtest"
	"github.com/nectarcloud/nls/web/templates/layouts"
)

// fakeAssets fingerprints like static.Assets, without the embedded files.
type fakeAssets struct{}

func (fakeAssets) Path(name string) string {
	i := strings.LastIndex(name, ".")
	return "/static/" + name[:i] + ".0123456789" + name[i:]
}

const token = `tok"en<&>`

func signedIn() layouts.Page {
	return layouts.Page{
		Title:     "Licenses",
		Assets:    fakeAssets{},
		CSRFToken: token,
		User:      &layouts.UserView{Email: "ada@example.com", Role: "admin"},
		Flash: []layouts.Flash{
			{Kind: "success", Message: "License renewed"},
			{Kind: "error", Message: "<b>not bold</b>"},
		},
		Nav: "licenses",
	}
}

var child = templ.Raw(`<p data-testid="child">page content</p>`)

func TestBaseSignedIn(t *testing.T) {
	doc, _ := viewtest.MustRender(t, viewtest.WithChildren(layouts.Base(signedIn()), child))
	viewtest.CheckCSP(t, doc)

	if got, want := doc.Find("title").Text(), "Licenses · NLS"; got != want {
		t.Errorf("title: got %q, want %q", got, want)
	}
	if lang, _ := viewtest.One(t, doc, "html").Attr("lang"); lang != "en" {
		t.Errorf("lang: got %q, want en", lang)
	}
	viewtest.One(t, doc, `meta[name=viewport]`)

	var cfg map[string]any
	raw, _ := viewtest.One(t, doc, `meta[name=htmx-config]`).Attr("content")
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("htmx-config %q: %v", raw, err)
	}
	if cfg["includeIndicatorStyles"] != false || cfg["allowEval"] != false {
		t.Errorf("htmx-config: got %v, want includeIndicatorStyles and allowEval false", cfg)
	}

	if href, _ := viewtest.One(t, doc, `link[rel=stylesheet]`).Attr("href"); href != "/static/css/app.0123456789.css" {
		t.Errorf("stylesheet: got %q, want the fingerprinted path", href)
	}
	if src, _ := viewtest.One(t, doc, `script[src*=htmx]`).Attr("src"); src != "/static/js/htmx.min.0123456789.js" {
		t.Errorf("htmx script: got %q, want the fingerprinted path", src)
	}
	if src, _ := viewtest.One(t, doc, `script[src*=ui]`).Attr("src"); src != "/static/js/ui.0123456789.js" {
		t.Errorf("ui script: got %q, want the fingerprinted path", src)
	}

	// htmx sends the CSRF token as a header on every request.
	hx, ok := viewtest.One(t, doc, "body").Attr("hx-headers")
	if !ok {
		t.Fatal("body has no hx-headers")
	}
	var headers map[string]string
	if err := json.Unmarshal([]byte(hx), &headers); err != nil {
		t.Fatalf("hx-headers %q: %v", hx, err)
	}
	if headers["X-CSRF-Token"] != token {
		t.Errorf("hx-headers: got %v, want X-CSRF-Token %q", headers, token)
	}

	// Navigation: every admin section, the active one marked.
	nav := viewtest.One(t, doc, `[data-testid=nav]`)
	for _, item := range layouts.AdminNav() {
		if nav.Find(`a[href="`+item.Href+`"]`).Length() != 1 {
			t.Errorf("nav: no link to %s", item.Href)
		}
	}
	if cur := nav.Find(`[aria-current=page]`); cur.Length() != 1 || cur.AttrOr("href", "") != "/admin/licenses" {
		t.Errorf("nav: aria-current on %q, want /admin/licenses", cur.AttrOr("href", ""))
	}
	// The mobile menu works without JavaScript.
	viewtest.One(t, doc, `details[data-testid=nav-mobile] > summary`)

	// Sign out is a POST carrying the CSRF token, in both menus.
	forms := doc.Find(`form[action="/logout"]`)
	if forms.Length() != 2 {
		t.Errorf("sign-out forms: got %d, want 2 (sidebar and mobile menu)", forms.Length())
	}
	forms.Each(func(_ int, f *goquery.Selection) {
		if m := strings.ToLower(f.AttrOr("method", "")); m != "post" {
			t.Errorf("sign-out method: got %q, want post", m)
		}
		if v := f.Find(`input[type=hidden][name=csrf_token]`).AttrOr("value", ""); v != token {
			t.Errorf("sign-out csrf field: got %q, want %q", v, token)
		}
	})
	if got := doc.Find(`[data-testid=user-email]`).First().Text(); got != "ada@example.com" {
		t.Errorf("user email: got %q", got)
	}

	flash := viewtest.One(t, doc, `#toasts[data-testid=flash]`)
	if flash.AttrOr("aria-live", "") != "polite" {
		t.Errorf("flash aria-live: got %q, want polite", flash.AttrOr("aria-live", ""))
	}
	if n := flash.Find(`[data-testid=toast]`).Length(); n != 2 {
		t.Errorf("toasts: got %d, want 2", n)
	}
	if flash.Find("b").Length() != 0 || !strings.Contains(flash.Text(), "<b>not bold</b>") {
		t.Errorf("flash message must be escaped text, got %q", flash.Text())
	}

	main := viewtest.One(t, doc, `main#main[data-testid=main]`)
	if main.Find(`[data-testid=child]`).Length() != 1 {
		t.Error("main does not hold the page's children")
	}
	if main.Find(`#toasts`).Length() != 0 {
		t.Error("#toasts must sit outside #main so swapping #main keeps it")
	}
}

func TestBaseSignedOut(t *testing.T) {
	doc, _ := viewtest.MustRender(t, viewtest.WithChildren(layouts.Base(layouts.Page{Title: "Welcome"}), child))
	viewtest.CheckCSP(t, doc)
	if _, ok := doc.Find("body").Attr("hx-headers"); ok {
		t.Error("hx-headers present without a CSRF token")
	}
	nav := viewtest.One(t, doc, `[data-testid=nav]`)
	if nav.Find(`a[href="/login"]`).Length() != 1 {
		t.Error("signed-out nav has no sign-in link")
	}
	if doc.Find(`a[href="/admin/licenses"]`).Length() != 0 || doc.Find(`form[action="/logout"]`).Length() != 0 {
		t.Error("signed-out page shows the admin navigation")
	}
	// Without Assets, plain URLs.
	if href := doc.Find(`link[rel=stylesheet]`).AttrOr("href", ""); href != "/static/css/app.css" {
		t.Errorf("stylesheet: got %q, want /static/css/app.css", href)
	}
	viewtest.One(t, doc, `#toasts[data-testid=flash]`)
	viewtest.One(t, doc, `main#main [data-testid=child]`)
}

func TestAuthLayout(t *testing.T) {
	p := layouts.Page{Title: "Sign in", Assets: fakeAssets{}, CSRFToken: "t1",
		Flash: []layouts.Flash{{Kind: "error", Message: "Wrong email or password"}}}
	doc, _ := viewtest.MustRender(t, viewtest.WithChildren(layouts.AuthLayout(p), child))
	viewtest.CheckCSP(t, doc)
	main := viewtest.One(t, doc, `main#main[data-testid=main]`)
	if got := main.Find("h1").Text(); got != "Sign in" {
		t.Errorf("heading: got %q, want Sign in", got)
	}
	if main.Find(`[data-testid=child]`).Length() != 1 {
		t.Error("main does not hold the page's children")
	}
	if !strings.Contains(viewtest.One(t, doc, `#toasts`).Text(), "Wrong email or password") {
		t.Error("flash message missing")
	}
	if doc.Find(`[data-testid=nav-mobile]`).Length() != 0 {
		t.Error("auth layout has the portal navigation")
	}
	if hx := doc.Find("body").AttrOr("hx-headers", ""); !strings.Contains(hx, `"t1"`) {
		t.Errorf("hx-headers: got %q", hx)
	}
}
