package portal

import "strconv"

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

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
