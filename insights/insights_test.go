// Table tests of the detectors' rules and the statistics under them.

package insights

import (
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
)

var subj = Subject{LicenseID: uuid.MustParse("11111111-1111-1111-1111-111111111111"),
	CustomerID: uuid.MustParse("22222222-2222-2222-2222-222222222222"), Plan: "pro"}

func TestStatistics(t *testing.T) {
	if m := Median([]float64{5, 1, 3}); m != 3 {
		t.Errorf("median = %v", m)
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("even median = %v", m)
	}
	if m := MAD([]float64{1, 1, 2, 2, 4, 6, 9}); m != 1 {
		t.Errorf("MAD = %v", m)
	}
	rising := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	s, z, p := MannKendall(rising)
	if s != 45 || z <= 0 || p > 0.001 {
		t.Errorf("Mann-Kendall of a rising line: S=%d Z=%v p=%v", s, z, p)
	}
	if _, _, p := MannKendall([]float64{5, 3, 6, 4, 5, 3, 6, 4}); p < 0.2 {
		t.Errorf("Mann-Kendall of noise: p=%v, want no trend", p)
	}
	if sl := TheilSen([]float64{0, 2, 4, 100, 8, 10}); sl != 2 {
		t.Errorf("Theil-Sen with an outlier = %v, want 2", sl)
	}
	fit := FitLine([]float64{1, 3, 5, 7})
	if fit.Slope != 2 || fit.Intercept != 1 || fit.R2 != 1 {
		t.Errorf("fit = %+v", fit)
	}
}

func days(start time.Time, vals ...float64) []Point {
	out := make([]Point, len(vals))
	for i, v := range vals {
		out[i] = Point{At: start.AddDate(0, 0, i), V: v}
	}
	return out
}

// weekly makes n days of a weekday level of 100 and weekends at 33, with a
// little deterministic noise.
func weekly(start time.Time, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		d := start.AddDate(0, 0, i)
		v := 100.0
		if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
			v = 33
		}
		out[i] = v * (0.9 + 0.2*float64((i*37)%11)/10)
	}
	return out
}

func TestScoreDay(t *testing.T) {
	start := time.Date(2026, 9, 7, 0, 0, 0, 0, time.UTC) // a Monday
	base := weekly(start, 29)
	cases := []struct {
		name  string
		last  float64
		want  bool
		delta string
	}{
		{"an ordinary weekday", base[28], false, ""},
		{"eight times a weekday", 800, true, "spike"},
		{"a weekday at weekend level is a drop", 5, true, "drop"},
		{"half again is within the spread", 140, false, ""},
	}
	for _, c := range cases {
		vals := append(append([]float64{}, base[:28]...), c.last)
		s, ok := ScoreDay(days(start, vals...), 28)
		if !ok {
			t.Fatalf("%s: no score", c.name)
		}
		if s.Anomalous() != c.want {
			t.Errorf("%s: anomalous = %v (score %.1f, expected %.0f)", c.name, s.Anomalous(), s.Score, s.Expected)
		}
	}
	// A Saturday at the weekend level is ordinary: the weekday factor holds it.
	sat := start.AddDate(0, 0, 26) // Saturday
	vals := weekly(sat.AddDate(0, 0, -28), 29)
	if s, _ := ScoreDay(days(sat.AddDate(0, 0, -28), vals...), 28); s.Anomalous() {
		t.Errorf("an ordinary Saturday is anomalous: %+v", s)
	}
	if _, ok := ScoreDay(days(start, base[:20]...), 19); ok {
		t.Error("scored a day without 28 days of history")
	}
	f, ok := UsageAnomaly(subj, []MetricSeries{{Metric: "apiCalls", Days: days(start, append(base[:28], 900)...)}})
	if !ok || f.Kind != KindUsageAnomaly || f.Evidence.Metric != "apiCalls" || f.Subject != subj.LicenseID.String() {
		t.Errorf("UsageAnomaly = %+v, %v", f, ok)
	}
}

func TestSharing(t *testing.T) {
	cases := []struct {
		name string
		in   SharingInput
		want bool
		sev  Severity
	}{
		{"one machine per deployment", SharingInput{Seats: 3, Fingerprints: 2, Deployments: []DeploymentSightings{
			{"a", 1, []string{"10.0.0.0/24"}}, {"b", 1, []string{"10.0.1.0/24"}}}}, false, ""},
		{"one deployment id on three machines", SharingInput{Seats: 3, Fingerprints: 3, Deployments: []DeploymentSightings{
			{"a", 3, []string{"10.0.0.0/24"}}}}, true, SeverityWarning},
		{"one deployment id from four networks", SharingInput{Seats: 3, Fingerprints: 1, Deployments: []DeploymentSightings{
			{"a", 1, []string{"1.0.0.0/24", "2.0.0.0/24", "3.0.0.0/24", "4.0.0.0/24"}}}}, true, SeverityWarning},
		{"many machines on one id", SharingInput{Seats: 3, Fingerprints: 7, Deployments: []DeploymentSightings{
			{"a", 7, []string{"1.0.0.0/24"}}}}, true, SeverityCritical},
		{"more machines than seats", SharingInput{Seats: 2, Fingerprints: 3, Deployments: []DeploymentSightings{
			{"a", 1, nil}, {"b", 1, nil}, {"c", 1, nil}}}, true, SeverityWarning},
		{"unlimited seats", SharingInput{Seats: 0, Fingerprints: 9}, false, ""},
	}
	for _, c := range cases {
		c.in.Subject = subj
		f, ok := Sharing(c.in)
		if ok != c.want || ok && f.Severity != c.sev {
			t.Errorf("%s: ok=%v severity=%s", c.name, ok, f.Severity)
		}
	}
}

func TestCyclingAndAttacks(t *testing.T) {
	for _, c := range []struct {
		in   CyclingInput
		want bool
	}{
		{CyclingInput{Activations: 2, Releases: 2, Seats: 3}, false},
		{CyclingInput{Activations: 6, Releases: 6, Seats: 3}, true},
		{CyclingInput{Activations: 8, Releases: 8, Seats: 5}, false}, // fewer than twice the seats
		{CyclingInput{Activations: 5, Releases: 9, Seats: 1}, false}, // too few activations
	} {
		if _, ok := Cycling(c.in); ok != c.want {
			t.Errorf("Cycling(%+v) = %v", c.in, ok)
		}
	}
	for _, c := range []struct {
		in   SourceFailures
		want bool
	}{
		{SourceFailures{Source: "1.2.3.4", Kind: "key", Total: 3, PeakHour: 2}, false},
		{SourceFailures{Source: "1.2.3.4", Kind: "key", Total: 40, PeakHour: 40}, true},
		{SourceFailures{Source: "1.2.3.4", Kind: "key", Total: 120, PeakHour: 10}, true},
		{SourceFailures{Source: "1.2.3.4", Kind: "api_auth", Total: 25, PeakHour: 25}, true},
		{SourceFailures{Source: "1.2.3.4", Kind: "api_auth", Total: 19, PeakHour: 19}, false},
	} {
		f, ok := SourceAttack(c.in)
		if ok != c.want {
			t.Errorf("SourceAttack(%+v) = %v", c.in, ok)
		}
		if ok && (f.LicenseID != nil || f.Subject != "source:"+c.in.Kind+":1.2.3.4") {
			t.Errorf("source finding names %v / %s", f.LicenseID, f.Subject)
		}
	}
	if _, ok := Forgery(LicenseForgery{Subject: subj, Total: 9}); ok {
		t.Error("9 forged keys raised a finding")
	}
	if f, ok := Forgery(LicenseForgery{Subject: subj, Total: 120, Sources: []string{"a"}}); !ok || f.Severity != SeverityCritical {
		t.Errorf("Forgery = %+v %v", f, ok)
	}
	if _, ok := Seatless(SeatlessInput{Subject: subj}); ok {
		t.Error("no reports raised a finding")
	}
}

func cents(n int64) *int64 { return &n }

var catalogue = []Plan{
	{Code: "starter", Limits: map[string]int64{"users": 10, "workflowExecutions": 10_000}, MaxDeployments: 1, MonthlyCents: cents(4900)},
	{Code: "pro", Limits: map[string]int64{"users": 100, "workflowExecutions": 250_000}, MaxDeployments: 3, MonthlyCents: cents(29900), Stripe: true},
	{Code: "enterprise", Limits: map[string]int64{"users": 5000}, MaxDeployments: 20, MonthlyCents: cents(199900)},
}

func TestUpgrade(t *testing.T) {
	cases := []struct {
		name    string
		in      UpgradeInput
		want    bool
		suggest string
	}{
		{"comfortable", UpgradeInput{Current: catalogue[0], Metrics: []MetricUse{{Metric: "users", Limit: 10, Periods: []float64{5, 6, 5}, Projected: 5}}}, false, ""},
		{"users full two of three months", UpgradeInput{Current: catalogue[0], Metrics: []MetricUse{{Metric: "users", Limit: 10, Periods: []float64{9, 7, 10}, Projected: 10}}}, true, "pro"},
		{"one full month is not most", UpgradeInput{Current: catalogue[0], Metrics: []MetricUse{{Metric: "users", Limit: 10, Periods: []float64{5, 6, 10}, Projected: 10}}}, false, ""},
		{"pro outgrown in users goes to enterprise", UpgradeInput{Current: catalogue[1], Metrics: []MetricUse{{Metric: "users", Limit: 100, Periods: []float64{90, 95, 99}, Projected: 99}}}, true, "enterprise"},
		{"out of seats and refusing", UpgradeInput{Current: catalogue[0], SeatsUsed: 1, SeatRefused: 4}, true, "pro"},
		{"out of seats without refusals", UpgradeInput{Current: catalogue[0], SeatsUsed: 1}, false, ""},
		{"nothing holds it", UpgradeInput{Current: catalogue[2], Metrics: []MetricUse{{Metric: "users", Limit: 5000, Periods: []float64{4500, 4800, 4900}, Projected: 4900}}}, true, ""},
	}
	for _, c := range cases {
		c.in.Subject, c.in.Catalogue = subj, catalogue
		f, ok := Upgrade(c.in)
		if ok != c.want || f.Evidence.SuggestedPlan != c.suggest {
			t.Errorf("%s: ok=%v suggested %q (%s)", c.name, ok, f.Evidence.SuggestedPlan, f.Evidence.Summary)
		}
	}
}

func TestRightSizeAndChurn(t *testing.T) {
	ent := catalogue[2]
	cases := []struct {
		name    string
		in      RightSizeInput
		want    bool
		suggest string
	}{
		{"young license", RightSizeInput{Current: ent, AgeDays: 30, Peaks: map[string]float64{"users": 60}, SeatsSeen: 1}, false, ""},
		{"enterprise used like pro", RightSizeInput{Current: ent, AgeDays: 200, Peaks: map[string]float64{"users": 60}, SeatsSeen: 1}, true, "pro"},
		{"users busy", RightSizeInput{Current: ent, AgeDays: 200, Peaks: map[string]float64{"users": 3000}, SeatsSeen: 1}, false, ""},
		{"seats busy", RightSizeInput{Current: ent, AgeDays: 200, Peaks: map[string]float64{"users": 60}, SeatsSeen: 12}, false, ""},
	}
	for _, c := range cases {
		c.in.Subject, c.in.Catalogue = subj, catalogue
		f, ok := RightSize(c.in)
		if ok != c.want || f.Evidence.SuggestedPlan != c.suggest {
			t.Errorf("%s: ok=%v suggested %q", c.name, ok, f.Evidence.SuggestedPlan)
		}
	}
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	falling := make([]float64, 12)
	flat := make([]float64, 12)
	oneBad := make([]float64, 12)
	for i := range falling {
		falling[i] = 1000 - 60*float64(i) + float64((i*7)%5)*10
		flat[i] = 1000 + float64((i*7)%5)*40
		oneBad[i] = 1000 + float64((i*7)%5)*40
	}
	oneBad[11] = 300
	for _, c := range []struct {
		name string
		xs   []float64
		want bool
	}{{"steady fall", falling, true}, {"flat", flat, false}, {"one bad week", oneBad, false}} {
		ws := make([]Point, len(c.xs))
		for i, v := range c.xs {
			ws[i] = Point{At: start.AddDate(0, 0, 7*i), V: v}
		}
		if _, ok := Churn(subj, []MetricSeries{{Metric: "apiCalls", Days: ws}}); ok != c.want {
			t.Errorf("Churn(%s) = %v", c.name, ok)
		}
	}
}

func TestForecast(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	start := now.AddDate(0, 0, -60)
	mk := func(f func(i int) float64) []Point {
		out := make([]Point, 60)
		for i := range out {
			out[i] = Point{At: start.AddDate(0, 0, i), V: f(i)}
		}
		return out
	}
	cases := []struct {
		name   string
		days   []Point
		want   bool
		within [2]int // days ahead
	}{
		{"rising steadily", mk(func(i int) float64 { return 40 + 0.6*float64(i) + float64(i%3) }), true, [2]int{30, 50}},
		{"flat", mk(func(i int) float64 { return 50 + float64(i%5) }), false, [2]int{}},
		{"noisy, poor fit", mk(func(i int) float64 { return 40 + 0.1*float64(i) + 30*float64((i*7)%3) }), false, [2]int{}},
		{"rising too slowly to matter", mk(func(i int) float64 { return 20 + 0.05*float64(i) }), false, [2]int{}},
	}
	for _, c := range cases {
		f, ok := Forecast(subj, []ForecastInput{{Metric: "users", Limit: 100, Days: c.days}}, now)
		if ok != c.want {
			t.Errorf("%s: ok=%v (%s)", c.name, ok, f.Evidence.Summary)
			continue
		}
		if ok {
			ahead := f.Evidence.Numbers["daysAhead"]
			if ahead < float64(c.within[0]) || ahead > float64(c.within[1]) || f.Evidence.ForecastDate == nil {
				t.Errorf("%s: %v days ahead, date %v", c.name, ahead, f.Evidence.ForecastDate)
			}
			if r2 := f.Evidence.Numbers["r2"]; r2 < ForecastR2 || math.IsNaN(r2) {
				t.Errorf("%s: r2 %v", c.name, r2)
			}
		}
	}
}
