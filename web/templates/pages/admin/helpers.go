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

// usagePercent is how much of a limit is used, capped at 100, for the bar.
func usagePercent(u UsageLine) int64 {
	if u.Limit <= 0 {
		return 100
	}
	p := u.Used * 100 / u.Limit
	return min(p, 100)
}

// meterClass is a usage bar's width class, in steps of a tenth; spelled
// out so Tailwind keeps every one.
func meterClass(u UsageLine) string {
	colour := "bg-brand-600"
	if u.Exceeded {
		colour = "bg-rose-600"
	}
	widths := []string{"w-0", "w-1/12", "w-1/6", "w-1/4", "w-1/3", "w-5/12", "w-1/2", "w-7/12", "w-2/3", "w-3/4",
		"w-5/6", "w-11/12", "w-full"}
	return "block h-2 rounded-full " + colour + " " + widths[usagePercent(u)*12/100]
}
