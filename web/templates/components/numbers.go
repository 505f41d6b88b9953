package components

// Numbers and metric names as people read them: thousands separators
// ("1,000,000"), bytes in units ("2.4 GB"), and each metric by its display
// name from licensing, so every page words them the same way.

import (
	"strconv"

	"github.com/nectarcloud/nls/licensing"
)

// Number writes n with a comma between each group of three digits.
func Number(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// Bytes writes a byte count in decimal units (1 kB = 1,000 bytes, as disks
// and bills count): "950 B", "2.4 GB", "12 TB".
func Bytes(n int64) string {
	const unit = 1000
	if n < unit && n > -unit {
		return Number(n) + " B"
	}
	v := float64(n)
	units := []string{"kB", "MB", "GB", "TB", "PB", "EB"}
	i := -1
	for (v >= unit || v <= -unit) && i < len(units)-1 {
		v /= unit
		i++
	}
	prec := 1
	if v >= 100 || v <= -100 {
		prec = 0
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s + " " + units[i]
}

// MetricValue writes a metric's amount: bytes in units, anything else as a
// number with separators.
func MetricValue(metric string, n int64) string {
	if licensing.MetricIsBytes(metric) {
		return Bytes(n)
	}
	return Number(n)
}

// MetricName is the display name of a metric ("apiCalls" → "API calls").
func MetricName(metric string) string { return licensing.MetricDisplayName(metric) }
