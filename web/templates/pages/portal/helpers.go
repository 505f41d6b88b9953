package portal

import "strconv"

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// meterClass is a usage bar's width class, in twelfths, capped at full;
// spelled out so Tailwind keeps every one. Over the limit it turns red,
// from 80% amber.
func meterClass(u UsageLine) string {
	colour := "bg-brand-600"
	switch {
	case u.Exceeded:
		colour = "bg-rose-600"
	case u.Percent >= 80:
		colour = "bg-amber-500"
	}
	widths := []string{"w-0", "w-1/12", "w-1/6", "w-1/4", "w-1/3", "w-5/12", "w-1/2", "w-7/12", "w-2/3", "w-3/4",
		"w-5/6", "w-11/12", "w-full"}
	p := min(max(u.Percent, 0), 100)
	return "block h-2 rounded-full " + colour + " " + widths[p*12/100]
}

// noticeClass styles a notice by its kind.
func noticeClass(kind string) string {
	switch kind {
	case NoticeDanger:
		return "rounded-md border border-rose-200 bg-rose-50 px-3 py-2 text-sm text-rose-900"
	case NoticeWarning:
		return "rounded-md border border-amber-200 bg-amber-50 px-3 py-2 text-sm text-amber-900"
	}
	return "rounded-md border border-sky-200 bg-sky-50 px-3 py-2 text-sm text-sky-900"
}
