// Keyset paging for every list, JSON or HTML: fetch one row more than the
// page holds, and if it came, the key of the last row shown starts the next.
package handlers

import "github.com/gofiber/fiber/v2"

// Page is one page of a keyset-paged list: the rows shown and, when more
// follow, the key of the last row shown, which the next page starts after.
type Page[T, K any] struct {
	Rows []T
	Next *K
}

// fetchPage asks fetch for limit+1 rows. The extra row is never shown: it
// only says that another page exists, so a list of exactly limit rows has
// no next page and no empty page is ever offered.
func fetchPage[T, K any](limit int32, fetch func(maxRows int32) ([]T, error), key func(last T) K) (Page[T, K], error) {
	rows, err := fetch(limit + 1)
	if err != nil {
		return Page[T, K]{}, err
	}
	if len(rows) <= int(limit) {
		return Page[T, K]{Rows: rows}, nil
	}
	rows = rows[:limit]
	next := key(rows[len(rows)-1])
	return Page[T, K]{Rows: rows, Next: &next}, nil
}

// mapRows turns each row shown into its view.
func mapRows[T, V any](rows []T, view func(T) V) []V {
	out := make([]V, 0, len(rows))
	for _, r := range rows {
		out = append(out, view(r))
	}
	return out
}

// listOf is the JSON list envelope of a page, its cursor opaque to clients.
func listOf[T, V any](pg Page[T, cursor], view func(T) V) listBody[V] {
	out := listBody[V]{Data: mapRows(pg.Rows, view)}
	if pg.Next != nil {
		out.NextCursor = encodeCursor(*pg.Next)
	}
	return out
}

// parseListPage is parsePage for a page of an admin list, which shows
// def rows unless the URL asks for another number.
func parseListPage(c *fiber.Ctx, def int32) (page, error) {
	p, err := parsePage(c)
	if err == nil && c.Query("limit") == "" {
		p.Limit = def
	}
	return p, err
}
