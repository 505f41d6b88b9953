package pages_test

import (
	"strings"
	"testing"

	"github.com/nectarcloud/nls/web/templates/internal/viewtest"
	"github.com/nectarcloud/nls/web/templates/layouts"
	"github.com/nectarcloud/nls/web/templates/pages"
)

func TestErrorPage(t *testing.T) {
	tests := []struct {
		name     string
		page     layouts.Page
		wantHome string
	}{
		{"signed out", layouts.Page{Title: "Page not found", CSRFToken: "csrf-1"}, "/"},
		{"signed in", layouts.Page{Title: "Page not found", CSRFToken: "csrf-1",
			User: &layouts.UserView{Email: "ada@example.com", Role: "admin"}}, "/admin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := pages.ErrorPage(tc.page, 404, "Page not found", `no such route <script>alert(1)</script>`, "req-7f3a9c")
			doc, html := viewtest.MustRender(t, c)
			viewtest.CheckCSP(t, doc)

			ep := viewtest.One(t, doc, `main#main [data-testid=error-page]`)
			if got := ep.AttrOr("data-status", ""); got != "404" {
				t.Errorf("data-status: got %q, want 404", got)
			}
			if !strings.Contains(ep.Text(), "404") {
				t.Error("status not shown")
			}
			if got := ep.Find("h1").Text(); got != "Page not found" {
				t.Errorf("heading: got %q, want Page not found", got)
			}
			if got := viewtest.One(t, doc, `[data-testid=request-id]`).Text(); got != "req-7f3a9c" {
				t.Errorf("request id: got %q, want req-7f3a9c", got)
			}
			// The message is text, never markup.
			if got := viewtest.One(t, doc, `[data-testid=error-message]`).Text(); got != `no such route <script>alert(1)</script>` {
				t.Errorf("message: got %q", got)
			}
			if strings.Contains(html, "<script>alert") {
				t.Error("message was not escaped")
			}
			if !strings.Contains(doc.Find("body").AttrOr("hx-headers", ""), `"X-CSRF-Token":"csrf-1"`) {
				t.Errorf("hx-headers: got %q", doc.Find("body").AttrOr("hx-headers", ""))
			}
			if ep.Find(`a[href="`+tc.wantHome+`"]`).Length() != 1 {
				t.Errorf("no way back to %s", tc.wantHome)
			}
			viewtest.One(t, doc, `[data-testid=nav]`)
			viewtest.One(t, doc, `[data-testid=flash]`)
		})
	}
}

func TestErrorPageWithoutRequestID(t *testing.T) {
	doc, _ := viewtest.MustRender(t, pages.ErrorPage(layouts.Page{}, 500, "Something went wrong", "internal error", ""))
	if doc.Find(`[data-testid=request-id]`).Length() != 0 {
		t.Error("empty request id shown")
	}
}

func TestWelcome(t *testing.T) {
	doc, _ := viewtest.MustRender(t, pages.Welcome(layouts.Page{Title: "Welcome"}))
	viewtest.CheckCSP(t, doc)
	w := viewtest.One(t, doc, `main#main [data-testid=welcome]`)
	if w.Find(`a[href="/login"]`).Length() == 0 {
		t.Error("no link to /login")
	}
	if w.Find("h1").Length() != 1 {
		t.Error("want one h1")
	}
}
