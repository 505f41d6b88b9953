package admin

import (
	"strconv"

	"github.com/a-h/templ"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// statusHref is the license list filtered to one state.
func statusHref(state string) templ.SafeURL {
	return templ.SafeURL("/admin/licenses?status=" + state)
}
