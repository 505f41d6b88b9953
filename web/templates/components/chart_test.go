package components_test

// The server-drawn chart: labels that never overlap, round y ticks that
// reach past the data and the limit, a limit line, a tooltip per day, text
// that does not scale with the chart's width, and the numbers as a table.

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/internal/viewtest"
)

// Two weeks of days: every other day is labelled (a month's or a quarter's:
// every n-th, at most 8), the latest always, and no two labels sit on
// neighbouring bars, where they would overlap. On a phone at most four
// are shown, the latest among them.
func TestStackedBarChartXLabels(t *testing.T) {
	for _, days := range []int{5, 14, 15, 30, 90} {
		t.Run(strconv.Itoa(days), func(t *testing.T) {
			c := components.StackedBars{Title: "Validations per day", Series: []components.Series{
				{Name: "valid", Fill: components.ChartFillGood, Values: make([]int64, days)}}}
			for i := range days {
				c.Labels = append(c.Labels, fmt.Sprintf("11-%02d", i+1))
				c.Series[0].Values[i] = int64(i)
			}
			doc, _ := viewtest.MustRender(t, components.StackedBarChart(c))
			var xs []float64
			var last, lastClass string
			narrow := 0
			doc.Find(`[data-testid=chart-x-label]`).Each(func(_ int, s *goquery.Selection) {
				x, err := strconv.ParseFloat(strings.TrimSuffix(s.AttrOr("x", ""), "%"), 64)
				if err != nil || !strings.HasSuffix(s.AttrOr("x", ""), "%") {
					t.Fatalf("label x %q: want a percentage of the width (%v)", s.AttrOr("x", ""), err)
				}
				xs = append(xs, x)
				last, lastClass = s.Text(), s.AttrOr("class", "")
				if !strings.Contains(lastClass, "max-sm:hidden") {
					narrow++
				}
			})
			if last != c.Labels[days-1] || strings.Contains(lastClass, "hidden") {
				t.Errorf("last label %q (class %q), want the latest day %q shown at every width", last, lastClass, c.Labels[days-1])
			}
			want := days
			switch {
			case days > 20: // a month or a quarter: every n-th, at most 8
				step := (days + 7) / 8
				want = (days + step - 1) / step
			case days > 8:
				want = (days + 1) / 2
			}
			if len(xs) != want {
				t.Errorf("got %d labels, want %d", len(xs), want)
			}
			k := (want + 3) / 4 // at most 4 on a phone
			wantNarrow := (want + k - 1) / k
			if narrow != wantNarrow {
				t.Errorf("got %d labels on a phone, want %d", narrow, wantNarrow)
			}
			slot := xs[len(xs)-1] - xs[len(xs)-2]
			for i := 1; i < len(xs); i++ {
				if gap := xs[i] - xs[i-1]; gap < slot-0.01 || gap > slot+0.01 {
					t.Errorf("labels %d and %d are %.2f%% apart, the others %.2f%%", i-1, i, gap, slot)
				}
			}
			if rows := doc.Find(`[data-testid=chart-table] tbody tr`).Length(); rows != days {
				t.Errorf("data table has %d rows, want %d", rows, days)
			}
			if n := doc.Find(`[data-testid=chart-column] title`).Length(); n != days {
				t.Errorf("got %d tooltips, want one per day (%d)", n, days)
			}
		})
	}
}

// The y axis runs in round steps (1, 2 or 5 times a power of ten) from 0 to
// past the largest stack and the limit; the limit gets a dashed line with
// its amount; amounts are written for people (separators, bytes in units).
func TestStackedBarChartScale(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []int64
		limit  int64
		metric string
		ticks  string
		limit1 string
	}{
		{"small counts", []int64{1, 3, 2}, 0, "", "0|1|2|3", ""},
		{"usage far below a big limit", []int64{1, 3, 2}, 1_000_000, "apiCalls",
			"0|500,000|1,000,000|1,500,000", "Limit 1,000,000"},
		{"usage over its limit", []int64{10, 400, 1200}, 1000, "apiCalls", "0|500|1,000|1,500", "Limit 1,000"},
		{"limit of 25", []int64{3, 30}, 25, "users", "0|10|20|30", "Limit 25"},
		{"bytes", []int64{1_200_000_000, 2_400_000_000}, 0, "storageBytes", "0 B|1 GB|2 GB|3 GB", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := components.StackedBars{Title: "Usage", Metric: tc.metric, Limit: tc.limit,
				Series: []components.Series{{Name: "Used", Fill: components.ChartFillNeutral, Values: tc.values}}}
			for i := range tc.values {
				c.Labels = append(c.Labels, fmt.Sprintf("Nov %d", i+1))
			}
			doc, _ := viewtest.MustRender(t, components.StackedBarChart(c))
			var ticks []string
			doc.Find(`[data-testid=chart-y-label]`).Each(func(_ int, s *goquery.Selection) { ticks = append(ticks, s.Text()) })
			if got := strings.Join(ticks, "|"); got != tc.ticks {
				t.Errorf("y ticks: got %s, want %s", got, tc.ticks)
			}
			if got := doc.Find(`[data-testid=chart-limit-label]`).Text(); got != tc.limit1 {
				t.Errorf("limit label: got %q, want %q", got, tc.limit1)
			}
			if tc.limit > 0 {
				lineY, _ := strconv.ParseFloat(doc.Find(`[data-testid=chart-limit]`).AttrOr("y1", ""), 64)
				var topBar float64 = 1e9
				doc.Find(`[data-testid=chart-bar]`).Each(func(_ int, s *goquery.Selection) {
					y, _ := strconv.ParseFloat(s.AttrOr("y", ""), 64)
					topBar = min(topBar, y)
				})
				over := slicesMax(tc.values) > tc.limit
				if over != (topBar < lineY) {
					t.Errorf("highest bar top at %.1f px, limit line at %.1f px: want the bar above the line = %v", topBar, lineY, over)
				}
			}
			for _, svg := range []string{`[data-testid=chart-svg]`, `[data-testid=chart-y-axis]`} {
				s := doc.Find(svg)
				if _, scaled := s.Attr("viewBox"); scaled || s.AttrOr("height", "") == "" {
					t.Errorf("%s: want a fixed pixel height and no viewBox, so text keeps its size", svg)
				}
			}
		})
	}
}

func slicesMax(v []int64) int64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
