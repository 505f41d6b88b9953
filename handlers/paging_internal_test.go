// Tests of the list and HTMX toolkit: the keyset pager, the page-or-partial
// decision and the redirect, each on a real Fiber app.
package handlers

import (
	"context"
	"io"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
)

// table is a keyset-ordered list of ids; fetch reads like the SQL does:
// the rows after a key, at most maxRows.
type table []int

func (t table) fetch(after *int, asked *int32) func(int32) ([]int, error) {
	return func(maxRows int32) ([]int, error) {
		*asked = maxRows
		var out []int
		for _, id := range t {
			if (after == nil || id > *after) && len(out) < int(maxRows) {
				out = append(out, id)
			}
		}
		return out, nil
	}
}

func ids(n int) table {
	t := make(table, n)
	for i := range t {
		t[i] = i + 1
	}
	return t
}

func TestFetchPageCursorEdges(t *testing.T) {
	const limit = 3
	for _, tc := range []struct {
		name     string
		rows     table
		wantRows []int
		wantNext *int
	}{
		{"empty list: no rows, no next page", nil, nil, nil},
		{"fewer than limit: no next page", ids(2), []int{1, 2}, nil},
		{"exactly limit: no next page, never an empty one", ids(3), []int{1, 2, 3}, nil},
		{"limit+1: the extra row is not shown, the next page starts after the last shown", ids(4), []int{1, 2, 3}, ptr(3)},
		{"many: still one page", ids(10), []int{1, 2, 3}, ptr(3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked int32
			pg, err := fetchPage(limit, tc.rows.fetch(nil, &asked), func(last int) int { return last })
			if err != nil {
				t.Fatal(err)
			}
			if asked != limit+1 {
				t.Fatalf("asked for %d rows, want %d", asked, limit+1)
			}
			if !slices.Equal(pg.Rows, tc.wantRows) {
				t.Fatalf("got rows %v, want %v", pg.Rows, tc.wantRows)
			}
			switch {
			case tc.wantNext == nil && pg.Next != nil:
				t.Fatalf("got next %d, want none", *pg.Next)
			case tc.wantNext != nil && (pg.Next == nil || *pg.Next != *tc.wantNext):
				t.Fatalf("got next %v, want %d", pg.Next, *tc.wantNext)
			}
		})
	}
}

// TestFetchPageWalksEveryRowOnce follows next cursors to the end: every row
// is shown once, in order, and the walk ends without an empty page.
func TestFetchPageWalksEveryRowOnce(t *testing.T) {
	for _, n := range []int{0, 1, 4, 5, 6, 13} {
		rows := ids(n)
		var seen []int
		var after *int
		pages := 0
		for {
			var asked int32
			pg, err := fetchPage(5, rows.fetch(after, &asked), func(last int) int { return last })
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(pg.Rows) == 0 && n > 0 {
				t.Fatalf("%d rows: page %d is empty", n, pages)
			}
			seen = append(seen, pg.Rows...)
			if pg.Next == nil {
				break
			}
			after = pg.Next
		}
		if !slices.Equal(seen, []int(rows)) && !(n == 0 && len(seen) == 0) {
			t.Fatalf("%d rows: got %v, want %v", n, seen, rows)
		}
		if want := max(1, (n+4)/5); pages != want {
			t.Fatalf("%d rows: got %d pages, want %d", n, pages, want)
		}
	}
}

func TestListOfEncodesTheCursor(t *testing.T) {
	pg := Page[int, cursor]{Rows: []int{7}, Next: &cursor{N: 7}}
	out := listOf(pg, func(i int) int { return i * 2 })
	if !slices.Equal(out.Data, []int{14}) || out.NextCursor == nil {
		t.Fatalf("got %+v, want data [14] and a cursor", out)
	}
	empty := listOf(Page[int, cursor]{}, func(i int) int { return i })
	if empty.Data == nil || len(empty.Data) != 0 || empty.NextCursor != nil {
		t.Fatalf("got %+v, want [] and no cursor (JSON data is never null)", empty)
	}
}

func text(s string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	})
}

func TestRenderSwapPicksPageOrPartial(t *testing.T) {
	s := &Server{}
	built := 0
	app := fiber.New()
	app.Get("/list", func(c *fiber.Ctx) error {
		return s.renderSwap(c, fiber.StatusUnprocessableEntity, text("partial"), func() (templ.Component, error) {
			built++
			return text("page"), nil
		})
	})
	for _, tc := range []struct {
		name       string
		headers    map[string]string
		wantBody   string
		wantStatus int
		wantBuilt  int
	}{
		{"a full load gets the page with its status", nil, "page", 422, 1},
		{"an HTMX swap gets the partial, 200, and the page is never built", map[string]string{"HX-Request": "true"}, "partial", 200, 0},
		{"a history restore gets the whole page", map[string]string{"HX-Request": "true", "HX-History-Restore-Request": "true"}, "page", 422, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			built = 0
			req := httptest.NewRequest("GET", "/list", nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := app.Test(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if string(body) != tc.wantBody || resp.StatusCode != tc.wantStatus {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if built != tc.wantBuilt {
				t.Fatalf("page built %d times, want %d", built, tc.wantBuilt)
			}
			if got := resp.Header.Get("Vary"); got != "HX-Request" {
				t.Fatalf("got Vary %q, want HX-Request", got)
			}
		})
	}
}

func TestRedirectUnderHTMXAndWithout(t *testing.T) {
	app := fiber.New()
	app.Post("/go", func(c *fiber.Ctx) error { return redirect(c, "/admin/customers/x") })
	app.Post("/ended", func(c *fiber.Ctx) error { return redirectWith(c, "/login", fiber.StatusUnauthorized) })
	for _, tc := range []struct {
		name, path      string
		htmx            bool
		wantStatus      int
		wantHX, wantLoc string
	}{
		{"a form post is a 303", "/go", false, 303, "", "/admin/customers/x"},
		{"an HTMX post is HX-Redirect with no Location", "/go", true, 204, "/admin/customers/x", ""},
		{"an ended session under HTMX says 401", "/ended", true, 401, "/login", ""},
		{"an ended session without HTMX is a 303", "/ended", false, 303, "", "/login"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", tc.path, nil)
			if tc.htmx {
				req.Header.Set("HX-Request", "true")
			}
			resp, err := app.Test(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus || resp.Header.Get("HX-Redirect") != tc.wantHX ||
				resp.Header.Get("Location") != tc.wantLoc {
				t.Fatalf("got %d HX-Redirect %q Location %q, want %d %q %q", resp.StatusCode,
					resp.Header.Get("HX-Redirect"), resp.Header.Get("Location"), tc.wantStatus, tc.wantHX, tc.wantLoc)
			}
			if got := resp.Header.Get("Vary"); got != "HX-Request" {
				t.Fatalf("got Vary %q, want HX-Request", got)
			}
		})
	}
}
