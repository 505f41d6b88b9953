// Reading what callers send, at the edge: form fields from the body only,
// and checks that text is something PostgreSQL can store.
package handlers

import (
	"github.com/gofiber/fiber/v2"
)

// bodyFormValue reads a field of a urlencoded or multipart form body.
// Unlike c.FormValue it never falls back to the query string, so a value
// that must not travel in URLs (a CSRF token: URLs end up in logs,
// Referer headers and browser history) is never taken from one.
func bodyFormValue(c *fiber.Ctx, name string) string {
	if v := c.Request().PostArgs().Peek(name); v != nil {
		return string(v)
	}
	if f, err := c.MultipartForm(); err == nil && f != nil {
		if vs := f.Value[name]; len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}
