package components

// Sparkline: a small server-rendered SVG line of one series (a finding's
// evidence), with an optional dashed limit line and the first and last
// labels under it. No script: the CSP allows none inline.

import (
	"fmt"
	"strings"
)

// Spark is one series to draw.
type Spark struct {
	Title  string    // the chart's accessible name
	Values []float64 // in order
	First  string    // label under the first point (a date)
	Last   string    // label under the last point
	Limit  *float64  // drawn as a dashed line when set
}

const (
	sparkW = 320
	sparkH = 80
	sparkP = 4
)

func (s Spark) scale() (lo, hi float64) {
	for i, v := range s.Values {
		if i == 0 || v < lo {
			lo = v
		}
		if i == 0 || v > hi {
			hi = v
		}
	}
	if s.Limit != nil {
		lo, hi = min(lo, *s.Limit), max(hi, *s.Limit)
	}
	lo = min(lo, 0)
	if hi == lo {
		hi = lo + 1
	}
	return lo, hi
}

func (s Spark) y(v, lo, hi float64) float64 {
	return sparkP + (sparkH-2*sparkP)*(1-(v-lo)/(hi-lo))
}

// Points is the polyline's points attribute.
func (s Spark) Points() string {
	lo, hi := s.scale()
	n := len(s.Values)
	var b strings.Builder
	for i, v := range s.Values {
		x := float64(sparkP)
		if n > 1 {
			x += float64(sparkW-2*sparkP) * float64(i) / float64(n-1)
		}
		fmt.Fprintf(&b, "%.1f,%.1f ", x, s.y(v, lo, hi))
	}
	return strings.TrimSpace(b.String())
}

// LimitY is the y of the limit line.
func (s Spark) LimitY() string {
	if s.Limit == nil {
		return ""
	}
	lo, hi := s.scale()
	return fmt.Sprintf("%.1f", s.y(*s.Limit, lo, hi))
}

// Range says the lowest and highest value in words, for screen readers.
func (s Spark) Range() string {
	if len(s.Values) == 0 {
		return ""
	}
	lo, hi := s.Values[0], s.Values[0]
	for _, v := range s.Values {
		lo, hi = min(lo, v), max(hi, v)
	}
	out := fmt.Sprintf("%d values from %s to %s, between %s and %s", len(s.Values), s.First, s.Last,
		FormatFloat(lo), FormatFloat(hi))
	if s.Limit != nil {
		out += "; limit " + FormatFloat(*s.Limit)
	}
	return out
}

// FormatFloat shows a value as a whole number when it is one.
func FormatFloat(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

// Dims are the SVG's width and height.
func (Spark) Dims() (string, string) { return fmt.Sprint(sparkW), fmt.Sprint(sparkH) }

// ViewBox is the SVG's viewBox.
func (Spark) ViewBox() string { return fmt.Sprintf("0 0 %d %d", sparkW, sparkH) }
