// Package viewtest holds the helpers the template tests share: rendering a
// component into a goquery document and checking it against the portal's
// Content-Security-Policy (no inline scripts, styles or handlers, nothing
// loaded from another origin).
package viewtest

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

// MustRender renders c and parses the result.
func MustRender(tb testing.TB, c templ.Component) (*goquery.Document, string) {
	tb.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		tb.Fatalf("render: %v", err)
	}
	html := buf.String()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		tb.Fatalf("parse: %v", err)
	}
	return doc, html
}

// WithChildren renders layout with children as its { children... }, as a
// templ caller writing @layout { ... } would.
func WithChildren(layout, children templ.Component) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		return layout.Render(templ.WithChildren(ctx, children), w)
	})
}

// One returns the single element matching sel, failing unless there is
// exactly one.
func One(tb testing.TB, doc *goquery.Document, sel string) *goquery.Selection {
	tb.Helper()
	s := doc.Find(sel)
	if s.Length() != 1 {
		tb.Fatalf("%s: got %d elements, want 1", sel, s.Length())
	}
	return s
}

// CheckCSP fails for anything script-src 'self' / style-src 'self' would
// block or that would load from outside the process.
func CheckCSP(tb testing.TB, doc *goquery.Document) {
	tb.Helper()
	doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		if src, ok := s.Attr("src"); !ok || src == "" {
			tb.Errorf("inline <script> (no src): %q", s.Text())
		}
		if strings.TrimSpace(s.Text()) != "" {
			tb.Errorf("<script> with inline content: %q", s.Text())
		}
	})
	if n := doc.Find("style").Length(); n > 0 {
		tb.Errorf("got %d <style> elements, want 0", n)
	}
	if n := doc.Find("[style]").Length(); n > 0 {
		h, _ := goquery.OuterHtml(doc.Find("[style]").First())
		tb.Errorf("got %d style= attributes, want 0; first: %s", n, h)
	}
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			name := strings.ToLower(a.Key)
			if strings.HasPrefix(name, "on") || strings.HasPrefix(name, "hx-on") || strings.HasPrefix(name, "data-hx-on") {
				tb.Errorf("<%s> has event-handler attribute %s=%q", s.Nodes[0].Data, a.Key, a.Val)
			}
			if name == "href" || name == "src" || name == "action" {
				v := strings.ToLower(strings.TrimSpace(a.Val))
				if strings.HasPrefix(v, "//") || strings.Contains(v, "://") || strings.HasPrefix(v, "javascript:") {
					tb.Errorf("<%s %s=%q> points outside the process", s.Nodes[0].Data, a.Key, a.Val)
				}
			}
		}
	})
}
