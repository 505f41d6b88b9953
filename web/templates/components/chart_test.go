package components_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/internal/viewtest"
)

// Two weeks of days: every other day is labelled (a month's or a quarter's:
// every n-th, at most 10), the latest always, and no two labels sit on
// neighbouring bars, where they would overlap.
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
			var last string
			doc.Find(`[data-testid=chart-x-label]`).Each(func(_ int, s *goquery.Selection) {
				x, err := strconv.ParseFloat(s.AttrOr("x", ""), 64)
				if err != nil {
					t.Fatalf("label x %q: %v", s.AttrOr("x", ""), err)
				}
				xs = append(xs, x)
				last = s.Text()
			})
			if last != c.Labels[days-1] {
				t.Errorf("last label %q, want the latest day %q", last, c.Labels[days-1])
			}
			want := days
			switch {
			case days > 20: // a month or a quarter: every n-th, at most 10
				step := (days + 9) / 10
				want = (days + step - 1) / step
			case days > 8:
				want = (days + 1) / 2
			}
			if len(xs) != want {
				t.Errorf("got %d labels, want %d", len(xs), want)
			}
			slot := xs[len(xs)-1] - xs[len(xs)-2]
			for i := 1; i < len(xs); i++ {
				if gap := xs[i] - xs[i-1]; gap < slot-0.5 || gap > slot+0.5 {
					t.Errorf("labels %d and %d are %.1f apart, the others %.1f", i-1, i, gap, slot)
				}
			}
			if rows := doc.Find(`[data-testid=chart-table] tbody tr`).Length(); rows != days {
				t.Errorf("data table has %d rows, want %d", rows, days)
			}
		})
	}
}
