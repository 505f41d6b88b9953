package components

import (
	"fmt"
	"strconv"
)

// StackedBars is a bar chart of one stack per label (a day, say), each
// stack made of one segment per series. It renders as server-side SVG with
// a <title> per segment and a visually hidden table for screen readers.
type StackedBars struct {
	Title  string   // the chart's accessible name
	Labels []string // x axis, one per stack
	Series []Series
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

// Chart geometry, in SVG user units (the viewBox scales to the width).
const (
	chartW      = 640
	chartH      = 240
	chartLeft   = 48
	chartRight  = 24 // room for half the latest day's label, centred on its bar
	chartTop    = 12
	chartBottom = 36
)

type bar struct {
	X, Y, W, H string
	Fill       string
	Title      string
}

type tick struct {
	Y, Label string
}

type xLabel struct {
	X, Label string
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

// scaleMax is the y axis top: the largest stack rounded up to a round number.
func (c StackedBars) scaleMax() int64 {
	var m int64
	for i := range c.Labels {
		m = max(m, c.total(i))
	}
	if m <= 4 {
		return 4
	}
	step := int64(1)
	for step*10 < m {
		step *= 10
	}
	return (m + step - 1) / step * step
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func (c StackedBars) plotH() float64 { return chartH - chartTop - chartBottom }

func (c StackedBars) slot() float64 {
	if len(c.Labels) == 0 {
		return 0
	}
	return float64(chartW-chartLeft-chartRight) / float64(len(c.Labels))
}

func (c StackedBars) bars() []bar {
	top := float64(c.scaleMax())
	var out []bar
	slot := c.slot()
	for i, label := range c.Labels {
		y := float64(chartTop) + c.plotH()
		x := float64(chartLeft) + float64(i)*slot + slot*0.15
		for _, s := range c.Series {
			if i >= len(s.Values) || s.Values[i] == 0 {
				continue
			}
			h := float64(s.Values[i]) / top * c.plotH()
			y -= h
			out = append(out, bar{X: f1(x), Y: f1(y), W: f1(slot * 0.7), H: f1(h), Fill: s.Fill,
				Title: fmt.Sprintf("%s: %d %s", label, s.Values[i], s.Name)})
		}
	}
	return out
}

func (c StackedBars) ticks() []tick {
	top := c.scaleMax()
	out := make([]tick, 0, 5)
	for k := int64(0); k <= 4; k++ {
		v := top * k / 4
		y := float64(chartTop) + c.plotH() - float64(v)/float64(top)*c.plotH()
		out = append(out, tick{Y: f1(y), Label: strconv.FormatInt(v, 10)})
	}
	return out
}

// maxXLabels is the most x labels that fit side by side with room between
// them ("Nov 22" at 11 units is about 36 wide; the plot is 584).
const maxXLabels = 10

// xLabels labels every other stack (every n-th past 20 stacks, at most
// maxXLabels), counting back from the last (the latest day, which readers
// look for), so labels never overlap.
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
		out = append(out, xLabel{X: f1(float64(chartLeft) + float64(i)*slot + slot/2), Label: l})
	}
	return out
}

func (c StackedBars) value(s Series, i int) string {
	if i < len(s.Values) {
		return strconv.FormatInt(s.Values[i], 10)
	}
	return "0"
}

func (c StackedBars) viewBox() string { return fmt.Sprintf("0 0 %d %d", chartW, chartH) }

func chartNum(v int) string { return strconv.Itoa(v) }

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
