// The insights job: reads the aggregates each detector needs from the store
// (one set-based query per kind, and the series of the few candidates a
// query picks out), runs the rules of package insights on them at the
// injected now, and stores each kind's complete answer, which opens,
// updates and resolves findings.

package jobs

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/insights"
)

// Retention of the detectors' own records.
const (
	sightingsKept = 35 * 24 * time.Hour
	failuresKept  = 14 * 24 * time.Hour
)

// InsightsArgs runs the detectors (periodic).
type InsightsArgs struct{}

// Kind names the job.
func (InsightsArgs) Kind() string { return "insights_scan" }

type insightsWorker struct {
	river.WorkerDefaults[InsightsArgs]
	r *Runner
}

// Timeout: over a hundred thousand licenses the detectors take longer than
// River's default minute.
func (w *insightsWorker) Timeout(*river.Job[InsightsArgs]) time.Duration { return 30 * time.Minute }

func (w *insightsWorker) Work(ctx context.Context, _ *river.Job[InsightsArgs]) error {
	_, err := w.r.RunInsights(ctx)
	return err
}

// RunInsights runs every detector now and stores the findings (portal jobs
// run-now, tests).
func (r *Runner) RunInsights(ctx context.Context) (map[insights.Kind]db.FindingChanges, error) {
	return RunInsights(ctx, r.store, r.cfg.Now())
}

// RunInsights runs every detector at now and stores each kind's findings.
func RunInsights(ctx context.Context, store *db.Store, now time.Time) (map[insights.Kind]db.FindingChanges, error) {
	rep, err := RunInsightsReport(ctx, store, now)
	return rep.Changes, err
}

// InsightsReport is what one run changed and how long each part took.
type InsightsReport struct {
	Changes map[insights.Kind]db.FindingChanges
	Timings []Timing // each detector's reads and rules, then each kind's store
}

// Timing is the duration of one part of a run.
type Timing struct {
	Part string
	Took time.Duration
}

// RunInsightsReport is RunInsights with the time each part took.
func RunInsightsReport(ctx context.Context, store *db.Store, now time.Time) (InsightsReport, error) {
	rep := InsightsReport{Changes: map[insights.Kind]db.FindingChanges{}}
	found, timings, err := detect(ctx, store, now)
	rep.Timings = timings
	if err != nil {
		return rep, err
	}
	for _, k := range insights.Kinds {
		start := time.Now()
		ch, err := store.ApplyFindings(ctx, k.Kind, found[k.Kind], now)
		if err != nil {
			return rep, err
		}
		rep.Changes[k.Kind] = ch
		rep.Timings = append(rep.Timings, Timing{"store " + string(k.Kind), time.Since(start)})
	}
	now = now.UTC()
	if err := store.PruneInsightRecords(ctx, now.Add(-sightingsKept), now.Add(-failuresKept)); err != nil {
		return rep, err
	}
	return rep, nil
}

// Detect runs every detector at now and returns what each found.
func Detect(ctx context.Context, store *db.Store, now time.Time) (map[insights.Kind][]insights.Finding, error) {
	found, _, err := detect(ctx, store, now)
	return found, err
}

func detect(ctx context.Context, store *db.Store, now time.Time) (map[insights.Kind][]insights.Finding, []Timing, error) {
	now = now.UTC()
	d := detector{store: store, now: now, lastDay: time.Date(now.Year(), now.Month(), now.Day()-1, 0, 0, 0, 0, time.UTC),
		out: map[insights.Kind][]insights.Finding{}}
	var err error
	if d.plans, err = store.InsightPlans(ctx); err != nil {
		return nil, nil, err
	}
	var timings []Timing
	for _, step := range []struct {
		name string
		run  func(context.Context) error
	}{{"sharing", d.sharing}, {"cycling", d.cycling}, {"attacks", d.attacks}, {"anomalies", d.anomalies},
		{"seatless", d.seatless}, {"upgrades", d.upgrades}, {"right-sizing", d.rightSizing}, {"churn", d.churn},
		{"forecasts", d.forecasts}} {
		start := time.Now()
		if err := step.run(ctx); err != nil {
			return nil, timings, err
		}
		timings = append(timings, Timing{"detect " + step.name, time.Since(start)})
	}
	for k, fs := range d.out {
		for i := range fs {
			d.finish(&fs[i])
		}
		d.out[k] = fs
	}
	return d.out, timings, nil
}

type detector struct {
	store   *db.Store
	now     time.Time
	lastDay time.Time // the last complete UTC day
	plans   []insights.Plan
	out     map[insights.Kind][]insights.Finding
}

func (d *detector) add(f insights.Finding, ok bool) {
	if ok {
		d.out[f.Kind] = append(d.out[f.Kind], f)
	}
}

func (d *detector) plan(code string) insights.Plan {
	for _, p := range d.plans {
		if p.Code == code {
			return p
		}
	}
	return insights.Plan{Code: code}
}

// finish links the chart and, where the rule did not, puts the plan's
// monthly price at stake when the plan is sold through Stripe.
func (d *detector) finish(f *insights.Finding) {
	if f.LicenseID != nil {
		f.Evidence.ChartURL = "/admin/licenses/" + f.LicenseID.String() + "#insights"
	} else {
		f.Evidence.ChartURL = "/admin/insights?kind=" + string(f.Kind)
	}
	if f.RevenueCents == nil && f.LicenseID != nil && f.Kind != insights.KindForecast {
		if p := d.plan(f.Evidence.Plan); p.Stripe && p.MonthlyCents != nil {
			c := *p.MonthlyCents
			f.RevenueCents = &c
		}
	}
}

func subject(license, customer uuid.UUID, plan string) insights.Subject {
	return insights.Subject{LicenseID: license, CustomerID: customer, Plan: plan}
}

func (d *detector) sharing(ctx context.Context) error {
	rows, err := d.store.InsightSharing(ctx, db.InsightSharingParams{Since: d.now.Add(-insights.SharingWindow), Now: d.now,
		MinFingerprints: insights.SharingFingerprintsMin, MinNetworks: insights.SharingNetworksMin})
	if err != nil {
		return err
	}
	var cur *insights.SharingInput
	flush := func() {
		if cur != nil {
			d.add(insights.Sharing(*cur))
		}
	}
	for _, r := range rows {
		if cur == nil || cur.LicenseID != r.LicenseID {
			flush()
			cur = &insights.SharingInput{Subject: subject(r.LicenseID, r.CustomerID, r.Plan), Seats: int(r.Seats),
				Fingerprints: int(r.LicenseFingerprints)}
		}
		cur.Deployments = append(cur.Deployments, insights.DeploymentSightings{DeploymentID: r.DeploymentID,
			Fingerprints: int(r.Fingerprints), Networks: r.Networks})
	}
	flush()
	return nil
}

func (d *detector) cycling(ctx context.Context) error {
	rows, err := d.store.InsightCycling(ctx, db.InsightCyclingParams{Since: d.now.Add(-insights.CyclingWindow),
		MinEach: insights.CyclingMinReleases})
	if err != nil {
		return err
	}
	for _, r := range rows {
		d.add(insights.Cycling(insights.CyclingInput{Subject: subject(r.LicenseID, r.CustomerID, r.Plan),
			Activations: int(r.Activations), Releases: int(r.Releases), Seats: int(r.Seats), Deployments: r.Deployments}))
	}
	return nil
}

func (d *detector) attacks(ctx context.Context) error {
	since := d.now.Add(-insights.AttackWindow)
	rows, err := d.store.InsightSourceFailures(ctx, db.InsightSourceFailuresParams{Since: since,
		MinPerHour: min(insights.KeyBurstPerHour, insights.AuthBurstPerHour),
		MinTotal:   min(insights.KeyBurstPerWindow, insights.AuthBurstPerWindow)})
	if err != nil {
		return err
	}
	for _, r := range rows {
		in := insights.SourceFailures{Source: r.Source, Kind: r.Kind, Total: r.Total, PeakHour: r.PeakHour,
			Hours: int(r.Hours), Licenses: r.Licenses}
		for i, h := range r.SeriesHours {
			in.Series = append(in.Series, insights.Point{At: h.UTC(), V: float64(r.SeriesCounts[i])})
		}
		d.add(insights.SourceAttack(in))
	}
	forged, err := d.store.InsightForgery(ctx, db.InsightForgeryParams{Since: since, MinTotal: insights.ForgedPerLicense})
	if err != nil {
		return err
	}
	for _, r := range forged {
		f, ok := insights.Forgery(insights.LicenseForgery{Subject: subject(r.LicenseID, r.CustomerID, r.Plan),
			Total: r.Total, Sources: r.Sources})
		// A license's forgery and a source's burst are both attacks on
		// keys; they differ in subject, so both may be open.
		d.add(f, ok)
	}
	return nil
}

// series reads daily values of pairs over [from, to], grouped per license.
func (d *detector) series(ctx context.Context, lics []uuid.UUID, metrics []string, from, to time.Time) (map[uuid.UUID][]insights.MetricSeries, error) {
	out := map[uuid.UUID][]insights.MetricSeries{}
	if len(lics) == 0 {
		return out, nil
	}
	rows, err := d.store.InsightDailySeries(ctx, db.InsightDailySeriesParams{LicenseIds: lics, Metrics: metrics, FromDay: from, ToDay: to})
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		ms := out[r.LicenseID]
		if len(ms) == 0 || ms[len(ms)-1].Metric != r.Metric {
			ms = append(ms, insights.MetricSeries{Metric: r.Metric})
		}
		ms[len(ms)-1].Days = append(ms[len(ms)-1].Days, insights.Point{At: r.Day.UTC(), V: float64(r.Value)})
		out[r.LicenseID] = ms
	}
	return out, nil
}

func (d *detector) refs(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]insights.Subject, error) {
	out := map[uuid.UUID]insights.Subject{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := d.store.InsightLicenseRefs(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.ID] = subject(r.ID, r.CustomerID, r.Plan)
	}
	return out, nil
}

func pairs[T any](rows []T, get func(T) (uuid.UUID, string)) (lics []uuid.UUID, metrics []string, ids []uuid.UUID) {
	seen := map[uuid.UUID]bool{}
	for _, r := range rows {
		l, m := get(r)
		lics, metrics = append(lics, l), append(metrics, m)
		if !seen[l] {
			seen[l] = true
			ids = append(ids, l)
		}
	}
	return lics, metrics, ids
}

func (d *detector) anomalies(ctx context.Context) error {
	test := make([]time.Time, insights.AnomalyTestDays)
	for i := range test {
		test[i] = d.lastDay.AddDate(0, 0, -i)
	}
	cands, err := d.store.InsightAnomalyCandidates(ctx, db.InsightAnomalyCandidatesParams{Days: test, Now: d.now})
	if err != nil {
		return err
	}
	from := d.lastDay.AddDate(0, 0, -(insights.AnomalyHistoryDays + insights.AnomalyTestDays - 1))
	// In chunks: noisy data can make many candidates, and each brings a
	// month of days; memory stays bounded by the chunk.
	for len(cands) > 0 {
		n := min(len(cands), seriesChunk)
		// Keep a license's metrics in one chunk.
		for n < len(cands) && cands[n].LicenseID == cands[n-1].LicenseID {
			n++
		}
		chunk := cands[:n]
		cands = cands[n:]
		lics, metrics, ids := pairs(chunk, func(r db.InsightAnomalyCandidatesRow) (uuid.UUID, string) { return r.LicenseID, r.Metric })
		series, err := d.series(ctx, lics, metrics, from, d.lastDay)
		if err != nil {
			return err
		}
		refs, err := d.refs(ctx, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			d.add(insights.UsageAnomaly(refs[id], series[id]))
		}
	}
	return nil
}

// seriesChunk is how many (license, metric) series one read brings.
const seriesChunk = 5000

func (d *detector) seatless(ctx context.Context) error {
	rows, err := d.store.InsightSeatless(ctx, d.now.Add(-7*24*time.Hour))
	if err != nil {
		return err
	}
	for _, r := range rows {
		d.add(insights.Seatless(insights.SeatlessInput{Subject: subject(r.LicenseID, r.CustomerID, r.Plan),
			Reports: int(r.Reports), Deployments: r.Deployments}))
	}
	return nil
}

// projected is a period's value at its end: a counter's pace so far carried
// to the end (once five days have passed), a gauge's peak as it is.
func projected(kind string, value int64, start, end, now time.Time) float64 {
	v := float64(value)
	if kind != "counter" || !now.Before(end) || now.Sub(start) < 5*24*time.Hour {
		return v
	}
	return v * float64(end.Sub(start)) / float64(now.Sub(start))
}

func (d *detector) upgrades(ctx context.Context) error {
	rows, err := d.store.InsightUpgradeCandidates(ctx, db.InsightUpgradeCandidatesParams{Now: d.now,
		Since: d.now.AddDate(0, 0, -95), RefusedSince: d.now.AddDate(0, 0, -30), Fill: insights.UpgradeFill})
	if err != nil {
		return err
	}
	var cur *insights.UpgradeInput
	flush := func() {
		if cur != nil {
			d.add(insights.Upgrade(*cur))
		}
	}
	for _, r := range rows {
		if cur == nil || cur.LicenseID != r.LicenseID {
			flush()
			p := d.plan(r.Plan)
			p.MaxDeployments = int(r.Seats) // the license's own seats, overrides included
			cur = &insights.UpgradeInput{Subject: subject(r.LicenseID, r.CustomerID, r.Plan), Current: p,
				SeatsUsed: int(r.SeatsUsed), SeatRefused: int(r.Refused), Catalogue: d.plans}
		}
		if r.Metric == "" || r.PeriodStart == nil || r.PeriodEnd == nil {
			continue
		}
		n := len(cur.Metrics)
		if n == 0 || cur.Metrics[n-1].Metric != r.Metric {
			cur.Metrics = append(cur.Metrics, insights.MetricUse{Metric: r.Metric, Limit: r.MetricLimit, Gauge: r.Kind == "gauge"})
			n++
		}
		m := &cur.Metrics[n-1]
		v := projected(r.Kind, r.Value, *r.PeriodStart, *r.PeriodEnd, d.now)
		m.Periods = append(m.Periods, v)
		m.Projected = v
	}
	flush()
	return nil
}

func (d *detector) rightSizing(ctx context.Context) error {
	since := d.now.AddDate(0, 0, -insights.RightSizeDays)
	rows, err := d.store.InsightRightSizeCandidates(ctx, db.InsightRightSizeCandidatesParams{Since: since, Now: d.now,
		Share: insights.RightSizeUse})
	if err != nil {
		return err
	}
	var cur *insights.RightSizeInput
	flush := func() {
		if cur != nil {
			d.add(insights.RightSize(*cur))
		}
	}
	for _, r := range rows {
		if cur == nil || cur.LicenseID != r.LicenseID {
			flush()
			p := d.plan(r.Plan)
			p.MaxDeployments = int(r.Seats)
			p.Limits = map[string]int64{}
			cur = &insights.RightSizeInput{Subject: subject(r.LicenseID, r.CustomerID, r.Plan), Current: p,
				AgeDays: insights.RightSizeDays, Peaks: map[string]float64{}, SeatsSeen: int(r.SeatsSeen), Catalogue: d.plans}
		}
		cur.Current.Limits[r.Metric] = r.MetricLimit
		cur.Peaks[r.Metric] = float64(r.Peak)
	}
	flush()
	return nil
}

func (d *detector) churn(ctx context.Context) error {
	// The last ChurnWeeks complete weeks, Monday to Sunday.
	today := d.lastDay.AddDate(0, 0, 1)
	monday := today.AddDate(0, 0, -((int(today.Weekday()) + 6) % 7))
	from := monday.AddDate(0, 0, -7*insights.ChurnWeeks)
	cands, err := d.store.InsightChurnCandidates(ctx, db.InsightChurnCandidatesParams{FromWeek: from, Now: d.now, Ratio: 1 - insights.ChurnDecline/2})
	if err != nil {
		return err
	}
	lics, metrics, ids := pairs(cands, func(r db.InsightChurnCandidatesRow) (uuid.UUID, string) { return r.LicenseID, r.Metric })
	series, err := d.series(ctx, lics, metrics, from, monday.AddDate(0, 0, -1))
	if err != nil {
		return err
	}
	refs, err := d.refs(ctx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		var weekly []insights.MetricSeries
		for _, ms := range series[id] {
			w := insights.MetricSeries{Metric: ms.Metric}
			for i, p := range ms.Days {
				if i%7 == 0 {
					w.Days = append(w.Days, insights.Point{At: p.At})
				}
				w.Days[len(w.Days)-1].V += p.V
			}
			weekly = append(weekly, w)
		}
		d.add(insights.Churn(refs[id], weekly))
	}
	return nil
}

func (d *detector) forecasts(ctx context.Context) error {
	cands, err := d.store.InsightForecastCandidates(ctx, db.InsightForecastCandidatesParams{LastDay: d.lastDay, Now: d.now, Share: 0.5})
	if err != nil {
		return err
	}
	lics, metrics, ids := pairs(cands, func(r db.InsightForecastCandidatesRow) (uuid.UUID, string) { return r.LicenseID, r.Metric })
	series, err := d.series(ctx, lics, metrics, d.lastDay.AddDate(0, 0, -(insights.ForecastDays-1)), d.lastDay)
	if err != nil {
		return err
	}
	refs, err := d.refs(ctx, ids)
	if err != nil {
		return err
	}
	limits := map[uuid.UUID]map[string]int64{}
	for _, c := range cands {
		if limits[c.LicenseID] == nil {
			limits[c.LicenseID] = map[string]int64{}
		}
		limits[c.LicenseID][c.Metric] = c.MetricLimit
	}
	for _, id := range ids {
		var in []insights.ForecastInput
		for _, ms := range series[id] {
			in = append(in, insights.ForecastInput{Metric: ms.Metric, Limit: limits[id][ms.Metric], Days: ms.Days})
		}
		slices.SortFunc(in, func(a, b insights.ForecastInput) int {
			if a.Metric < b.Metric {
				return -1
			}
			return 1
		})
		d.add(insights.Forecast(refs[id], in, d.now))
	}
	return nil
}
