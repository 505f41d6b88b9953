package components

import (
	"fmt"
	"strconv"
	"strings"
)

// StackedBars is a bar chart of one stack per label (a day, say), each
// stack made of one segment per series, with an optional limit drawn as a
// line. It renders as server-side SVG (no script, so it reads the same
// without JavaScript and after an htmx swap) with a tooltip per stack and a
// visually hidden table for screen readers.
//
// The SVG has no viewBox: its height is fixed in CSS pixels and horizontal
// positions are percentages of its width, so the bars stretch with the page
// while text keeps its size (12 px on a phone as on a desktop).
type StackedBars struct {
	Title  string   // the chart's accessible name
	Labels []string // x axis, one per stack
	Series []Series
	Metric string // values are amounts of this metric (bytes in kB, MB...); "" for plain counts
	Limit  int64  // drawn as a line when above 0
}

// Series is one segment kind of every stack.
type Series struct {
	Name   string
	Fill   string // ChartFillGood, ChartFillBad or ChartFillNeutral
	Values []int64
}

// Chart fills, spelled out so Tailwind keeps them.
const (
	ChartFillGood    = "fill-emerald-500"
	ChartFillBad     = "fill-rose-500"
	ChartFillNeutral = "fill-slate-400"
)

// Chart geometry in CSS pixels: the plot's height and the room above it
// (for the limit's label) and below it (for the x labels). Widths are
// percentages of the plot.
const (
	chartPlotTop = 16
	chartPlotH   = 192
	chartH       = chartPlotTop + chartPlotH + 28
	chartYAxisW  = 64 // the y labels' column: "1,000,000" or "2.4 GB" at 12 px
	chartTicks   = 4  // about this many intervals on the y axis
)

type bar struct {
	X, Y, W, H string
	Fill       string
}

type column struct {
	X, W, Title string
}

type tick struct {
	Y, Label string
}

type xLabel struct {
	X, Label string
	Wide     bool // shown only where there is room for every other label
}

func (c StackedBars) total(i int) int64 {
	var t int64
	for _, s := range c.Series {
		if i < len(s.Values) {
			t += s.Values[i]
		}
	}
	return t
}

// format writes an amount as the chart's metric is read.
func (c StackedBars) format(v int64) string {
	if c.Metric == "" {
		return Number(v)
	}
	return MetricValue(c.Metric, v)
}

// niceStep is the tick interval for a scale reaching top: 1, 2 or 5 times
// a power of ten, so that about chartTicks intervals cover it.
func niceStep(top int64) int64 {
	if top <= chartTicks {
		return 1
	}
	raw := float64(top) / chartTicks
	p := int64(1)
	for float64(p)*10 <= raw {
		p *= 10
	}
	for _, m := range []int64{1, 2, 5} {
		if float64(m*p) >= raw {
			return m * p
		}
	}
	return 10 * p
}

// scale is the y axis: its top (a multiple of the step, at or above the
// largest stack, above the limit) and the step between ticks.
func (c StackedBars) scale() (top, step int64) {
	m := c.Limit
	for i := range c.Labels {
		m = max(m, c.total(i))
	}
	if m <= 0 {
		return chartTicks, 1
	}
	step = niceStep(m)
	top = (m + step - 1) / step * step
	if c.Limit > 0 && top == c.Limit {
		top += step // the limit line and its label sit inside the plot
	}
	return top, step
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// pct writes a percentage of the plot's width.
func pct(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) + "%" }

// yOf is the pixel height of value v on a scale reaching top.
func yOf(v, top int64) float64 {
	return chartPlotTop + chartPlotH - float64(v)/float64(top)*chartPlotH
}

func (c StackedBars) slot() float64 {
	if len(c.Labels) == 0 {
		return 0
	}
	return 100 / float64(len(c.Labels))
}

func (c StackedBars) bars() []bar {
	top, _ := c.scale()
	var out []bar
	slot := c.slot()
	for i := range c.Labels {
		var under int64
		for _, s := range c.Series {
			if i >= len(s.Values) || s.Values[i] <= 0 {
				continue
			}
			y0, y1 := yOf(under, top), yOf(under+s.Values[i], top)
			under += s.Values[i]
			// At least a pixel high, so that a small amount is still seen.
			out = append(out, bar{X: pct(float64(i)*slot + slot*0.15), W: pct(slot * 0.7), Y: f1(min(y1, y0-1)),
				H: f1(max(y0-y1, 1)), Fill: s.Fill})
		}
	}
	return out
}

// columns are the hover areas, one a stack's slot wide and the plot's
// height, whose tooltip names the day and every series' amount.
func (c StackedBars) columns() []column {
	slot := c.slot()
	out := make([]column, 0, len(c.Labels))
	for i, l := range c.Labels {
		parts := make([]string, 0, len(c.Series))
		for _, s := range c.Series {
			parts = append(parts, s.Name+" "+c.cell(s, i))
		}
		t := l + ": " + strings.Join(parts, ", ")
		if c.Limit > 0 {
			t += " (limit " + c.format(c.Limit) + ")"
		}
		out = append(out, column{X: pct(float64(i) * slot), W: pct(slot), Title: t})
	}
	return out
}

func (c StackedBars) ticks() []tick {
	top, step := c.scale()
	out := make([]tick, 0, chartTicks+2)
	for v := int64(0); v <= top; v += step {
		out = append(out, tick{Y: f1(yOf(v, top)), Label: c.format(v)})
	}
	return out
}

func (c StackedBars) limitY() string {
	top, _ := c.scale()
	return f1(yOf(c.Limit, top))
}

func (c StackedBars) limitLabelY() string {
	top, _ := c.scale()
	return f1(yOf(c.Limit, top) - 5)
}

func (c StackedBars) limitLabel() string { return "Limit " + c.format(c.Limit) }

// maxXLabels is the most x labels shown side by side on a wide chart: "Nov
// 22" at 12 px is about 44 px wide, and a chart in a third of a desktop
// page is about 500 px.
const maxXLabels = 8

// maxNarrowXLabels is the most x labels that fit side by side on a phone.
const maxNarrowXLabels = 4

// xLabels labels every n-th stack (at most maxXLabels), counting back from
// the last (the latest day, which readers look for). Past maxNarrowXLabels,
// all but every k-th label, counting back from the last, are Wide: hidden
// on a phone, so that labels do not crowd there either. The chart's right
// padding leaves room for half the latest label, centred on its bar.
func (c StackedBars) xLabels() []xLabel {
	var out []xLabel
	slot := c.slot()
	last := len(c.Labels) - 1
	step := 1
	if len(c.Labels) > 8 {
		step = max(2, (len(c.Labels)+maxXLabels-1)/maxXLabels)
	}
	for i, l := range c.Labels {
		if (last-i)%step != 0 {
			continue
		}
		out = append(out, xLabel{X: pct(float64(i)*slot + slot/2), Label: l})
	}
	k := (len(out) + maxNarrowXLabels - 1) / maxNarrowXLabels
	for i := range out {
		out[i].Wide = (len(out)-1-i)%k != 0
	}
	return out
}

// xLabelClass hides the Wide labels below Tailwind's sm breakpoint.
func xLabelClass(l xLabel) string {
	if l.Wide {
		return "fill-slate-600 text-xs max-sm:hidden"
	}
	return "fill-slate-600 text-xs"
}

func (c StackedBars) value(s Series, i int) int64 {
	if i < len(s.Values) {
		return s.Values[i]
	}
	return 0
}

// cell is one amount as the table and tooltips write it.
func (c StackedBars) cell(s Series, i int) string { return c.format(c.value(s, i)) }

func chartNum(v int) string { return strconv.Itoa(v) }

// chartTitle is the chart's accessible name, its limit included.
func chartTitle(c StackedBars) string {
	if c.Limit > 0 {
		return fmt.Sprintf("%s (limit %s)", c.Title, c.format(c.Limit))
	}
	return c.Title
}

// legendFill names a fill for the legend swatch (bg- twin of the fill).
func legendFill(fill string) string {
	switch fill {
	case ChartFillGood:
		return "inline-block h-3 w-3 rounded-sm bg-emerald-500"
	case ChartFillBad:
		return "inline-block h-3 w-3 rounded-sm bg-rose-500"
	}
	return "inline-block h-3 w-3 rounded-sm bg-slate-400"
}
