package e2e

// The charts as people see them in Chromium (the customer's and the admin's
// license page, the dashboard, the usage page), at desktop (1280 px) and
// phone (390 px) width: bars for the data, y labels in round steps, x labels that
// neither overlap nor leave the chart, text at the same 12 px at both widths,
// the limit line on usage charts, and no console error.

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nectarcloud/nls/db/dbtest"
)

// chartMeasure is what chartMeasureJS reads of every chart on the page.
type chartMeasure struct {
	Bars, Columns     int
	YLabels, XLabels  []string  // the x labels shown at this width
	FontSizes         []string  // computed font size of every label shown
	Heights           []float64 // rendered height of every label shown, in CSS px (a viewBox would scale it)
	Overlaps, Outside int       // x labels less than 8 px from the next one; labels past the chart's edges
	Limit             string    // the limit line's label, "" without one
	LimitOnPlot       bool      // the limit line lies within the plot's height
	Tooltip           string    // the latest day's tooltip
}

const chartMeasureJS = `JSON.stringify([...document.querySelectorAll("[data-testid=chart]")].map((fig) => {
  const shown = (el) => getComputedStyle(el).display !== "none" && el.getBoundingClientRect().width > 0;
  const fr = fig.getBoundingClientRect();
  const xs = [...fig.querySelectorAll("[data-testid=chart-x-label]")].filter(shown);
  const ys = [...fig.querySelectorAll("[data-testid=chart-y-label]")].filter(shown);
  let overlaps = 0, outside = 0;
  xs.forEach((el, i) => {
    const r = el.getBoundingClientRect();
    if (i > 0 && xs[i - 1].getBoundingClientRect().right + 8 > r.left) overlaps++;
    if (r.left < fr.left - 1 || r.right > fr.right + 1) outside++;
  });
  ys.forEach((el) => { const r = el.getBoundingClientRect(); if (r.left < fr.left - 1) outside++; });
  const bars = [...fig.querySelectorAll("[data-testid=chart-bar]")].filter((b) => b.getBoundingClientRect().height >= 1);
  const plot = fig.querySelector("[data-testid=chart-svg]").getBoundingClientRect();
  const limit = fig.querySelector("[data-testid=chart-limit]");
  const lr = limit ? limit.getBoundingClientRect() : null;
  const cols = fig.querySelectorAll("[data-testid=chart-column] title");
  return {
    Bars: bars.length, Columns: cols.length,
    YLabels: ys.map((e) => e.textContent), XLabels: xs.map((e) => e.textContent),
    FontSizes: [...xs, ...ys].map((e) => getComputedStyle(e).fontSize),
    Heights: [...xs, ...ys].map((e) => e.getBoundingClientRect().height),
    Overlaps: overlaps, Outside: outside,
    Limit: (fig.querySelector("[data-testid=chart-limit-label]") || {}).textContent || "",
    LimitOnPlot: !!lr && lr.top >= plot.top && lr.bottom <= plot.bottom,
    Tooltip: cols.length ? cols[cols.length - 1].textContent : "",
  };
}))`

func (f *flow) measureCharts(where string) []chartMeasure {
	f.t.Helper()
	s := run(f, "measure the charts on "+where, chromedp.Evaluate[string](chartMeasureJS))
	var out []chartMeasure
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		f.t.Fatalf("%s: %v (%s)", where, err, s)
	}
	return out
}

func TestChartsReadableAtEveryWidth(t *testing.T) {
	shots := screenshotDir(t)
	requireChromium(t)
	dbURL := dbtest.NewURL(t)
	p := newPortal(t, dbURL)
	p.createAdmin(t)
	p.serve(t)
	setup := setUpPortal(t, p, dbURL) // a license with limits users 25 and apiCalls 5,000; usage 18 and 5,600 today
	out := p.run(t, "", nil, "user", "invite", "--customer", setup.customerID, "--email", portalUserEmail, "--name", "Dana")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	link := strings.TrimSpace(lines[len(lines)-1])

	f := newFlow(t, p, shots, 4*time.Minute)
	type chartPage struct {
		name, path, ready string
		charts            int
		limits            []string // each chart's limit label, in page order
	}
	check := func(pages []chartPage) {
		t.Helper()
		for _, pg := range pages {
			fonts := map[string]bool{}
			minH, maxH := 1e9, 0.0
			for _, w := range []int{1280, 390} {
				f.do(fmt.Sprintf("%d px viewport", w), chromedp.EmulateViewport(int64(w), 900))
				f.open(pg.path, pg.ready)
				where := fmt.Sprintf("%s at %d px", pg.path, w)
				ms := f.measureCharts(where)
				if len(ms) != pg.charts {
					t.Fatalf("%s: got %d charts, want %d", where, len(ms), pg.charts)
				}
				for i, m := range ms {
					if m.Bars == 0 || m.Columns == 0 || !strings.Contains(m.Tooltip, ": ") {
						t.Errorf("%s chart %d: %d bars, %d tooltips (latest %q): want the data drawn", where, i, m.Bars, m.Columns, m.Tooltip)
					}
					if len(m.YLabels) < 3 || m.YLabels[0] != "0" && m.YLabels[0] != "0 B" {
						t.Errorf("%s chart %d: y labels %v, want at least three from 0", where, i, m.YLabels)
					}
					if len(m.XLabels) < min(2, m.Columns) || m.Overlaps != 0 || m.Outside != 0 {
						t.Errorf("%s chart %d: x labels %v, %d closer than 8 px to the next, %d past the chart's edge", where, i, m.XLabels, m.Overlaps, m.Outside)
					}
					for _, fs := range m.FontSizes {
						fonts[fs] = true
					}
					for _, h := range m.Heights {
						minH, maxH = min(minH, h), max(maxH, h)
					}
					if pg.limits != nil && (m.Limit != pg.limits[i] || !m.LimitOnPlot) {
						t.Errorf("%s chart %d: limit label %q (on the plot: %v), want %q on the plot", where, i, m.Limit, m.LimitOnPlot, pg.limits[i])
					}
				}
				f.noOverflow(pg.path, w)
				f.screenshot(fmt.Sprintf("chart-%s-%d", pg.name, w))
				f.noConsoleErrors(where)
			}
			if len(fonts) != 1 || !fonts["12px"] {
				t.Errorf("%s: chart text font sizes %v at 1280 and 390 px, want 12px at both", pg.path, fonts)
			}
			// What is drawn, not only what is asked for: 12 px text stands
			// about 14 to 18 px tall, the same at both widths.
			if minH < 12 || maxH-minH > 2 {
				t.Errorf("%s: chart labels drawn %.1f to %.1f px tall at 1280 and 390 px, want at least 12 and the same at both", pg.path, minH, maxH)
			}
		}
	}

	f.do("open the invitation", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`[data-testid=invite-form]`)))
	f.do("set the password",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=new-password]`), portalUserPassword),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=confirm-password]`), portalUserPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=invite-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=license-card]`)))
	// Charts are sorted by metric: apiCalls, then users.
	check([]chartPage{{"portal-license", "/portal/licenses/" + setup.licenseID, `[data-testid=usage-charts]`, 2,
		[]string{"Limit 5,000", "Limit 25"}}})

	f.do("sign out", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(p.URL+"/portal"),
		chromedp.Click(chromedp.CSS(`aside [data-testid=sign-out] [type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)))
	f.do("the admin signs in",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=login-email]`), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=status-card]`)))
	check([]chartPage{
		{"dashboard", "/admin", `[data-testid=chart-svg]`, 1, nil},
		{"admin-license", "/admin/licenses/" + setup.licenseID, `[data-testid=usage-charts]`, 2,
			[]string{"Limit 5,000", "Limit 25"}},
		{"usage", "/admin/usage?metric=apiCalls", `[data-testid=chart-svg]`, 1, nil},
	})
}
