// Package insights holds the rules that turn NLS's records (usage rollups,
// validation sightings, failed key checks, deployment churn) into findings:
// typed, evidenced observations on a license or a source address. Pure: no
// SQL, no clock reads (time is a parameter). The db package reads the
// aggregates each rule needs in set-based queries, the jobs package runs the
// rules and stores what they find.
package insights

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Kind is what a finding says.
type Kind string

const (
	KindSharing      Kind = "sharing_suspected"
	KindCycling      Kind = "seat_cycling"
	KindKeyAttack    Kind = "key_attack"
	KindUsageAnomaly Kind = "usage_anomaly"
	KindSeatless     Kind = "seatless_usage"
	KindUpgrade      Kind = "upgrade_opportunity"
	KindRightSizing  Kind = "right_sizing"
	KindChurn        Kind = "churn_risk"
	KindForecast     Kind = "forecast"
)

// KindSpec describes a kind for the pages and the API.
type KindSpec struct {
	Kind  Kind
	Label string
	// Customer: the customer portal shows it (worded for the customer).
	Customer bool
}

// Kinds is every kind, in the order the pages list them.
var Kinds = []KindSpec{
	{KindSharing, "Sharing suspected", false},
	{KindCycling, "Seat cycling", false},
	{KindKeyAttack, "Attack on keys", false},
	{KindUsageAnomaly, "Usage anomaly", false},
	{KindSeatless, "Usage from released deployments", false},
	{KindUpgrade, "Upgrade opportunity", true},
	{KindRightSizing, "Over-provisioned", false},
	{KindChurn, "Churn risk", false},
	{KindForecast, "Limit forecast", true},
}

// LookupKind returns a kind's spec.
func LookupKind(k string) (KindSpec, bool) {
	for _, s := range Kinds {
		if string(s.Kind) == k {
			return s, true
		}
	}
	return KindSpec{}, false
}

// Severity orders findings: info < warning < critical.
type Severity string

const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Severities lists them from least to most severe.
var Severities = []Severity{SeverityInfo, SeverityWarning, SeverityCritical}

// Rank is the severity's place in Severities (-1: unknown).
func (s Severity) Rank() int { return slices.Index(Severities, s) }

// Finding is what a rule reports about one subject.
type Finding struct {
	Kind       Kind
	Subject    string // the license id, or "source:<address>"
	LicenseID  *uuid.UUID
	CustomerID *uuid.UUID
	Severity   Severity
	Title      string
	Evidence   Evidence
	// RevenueCents is the monthly revenue at stake, when the plan has a price.
	RevenueCents *int64
}

// Evidence is what a finding shows: numbers, the deployments and addresses
// involved, and a series for its chart.
type Evidence struct {
	Summary       string             `json:"summary"`
	Method        string             `json:"method,omitempty"`
	Metric        string             `json:"metric,omitempty"`
	Numbers       map[string]float64 `json:"numbers,omitempty"`
	Deployments   []string           `json:"deployments,omitempty"`
	IPs           []string           `json:"ips,omitempty"`
	Series        []Point            `json:"series,omitempty"`
	Limit         *float64           `json:"limit,omitempty"`
	Plan          string             `json:"plan,omitempty"`
	SuggestedPlan string             `json:"suggestedPlan,omitempty"`
	ForecastDate  *time.Time         `json:"forecastDate,omitempty"`
	ChartURL      string             `json:"chartUrl,omitempty"`
}

// Point is one value of a series.
type Point struct {
	At time.Time `json:"t"`
	V  float64   `json:"v"`
}

// Subject names what a finding is about.
type Subject struct {
	LicenseID  uuid.UUID
	CustomerID uuid.UUID
	Plan       string
}

func (s Subject) finding(k Kind, sev Severity, title string, ev Evidence) Finding {
	l, c := s.LicenseID, s.CustomerID
	ev.Plan = s.Plan
	return Finding{Kind: k, Subject: l.String(), LicenseID: &l, CustomerID: &c, Severity: sev, Title: title, Evidence: ev}
}

// ---- Sharing suspected ----

// Sharing thresholds, over SharingWindow.
const (
	SharingWindow          = 7 * 24 * time.Hour
	SharingFingerprintsMin = 3 // distinct machines behind one deployment id
	SharingNetworksMin     = 4 // distinct /24 (or /48) networks behind one deployment id
)

// DeploymentSightings is what one deployment id validated from in the window.
type DeploymentSightings struct {
	DeploymentID string
	Fingerprints int
	Networks     []string
}

// SharingInput is one license's sightings over the window.
type SharingInput struct {
	Subject
	Seats        int // max deployments; 0: unlimited
	Deployments  []DeploymentSightings
	Fingerprints int // distinct fingerprints across the license
}

// Sharing reports one deployment id used from several machines or networks,
// or more distinct machines than the license has seats.
func Sharing(in SharingInput) (Finding, bool) {
	var deps, nets []string
	worst := 0
	for _, d := range in.Deployments {
		if d.Fingerprints >= SharingFingerprintsMin || len(d.Networks) >= SharingNetworksMin {
			deps = append(deps, d.DeploymentID)
			nets = append(nets, d.Networks...)
			worst = max(worst, d.Fingerprints)
		}
	}
	overSeats := in.Seats > 0 && in.Fingerprints > in.Seats
	if len(deps) == 0 && !overSeats {
		return Finding{}, false
	}
	sev := SeverityWarning
	if len(deps) > 0 && (worst >= 2*SharingFingerprintsMin || len(nets) >= 2*SharingNetworksMin) {
		sev = SeverityCritical
	}
	slices.Sort(nets)
	nets = slices.Compact(nets)
	ev := Evidence{Deployments: deps, IPs: nets, Method: "distinct fingerprints and networks per deployment id over 7 days",
		Numbers: map[string]float64{"fingerprints": float64(in.Fingerprints), "seats": float64(in.Seats),
			"sharedDeployments": float64(len(deps)), "maxFingerprintsPerDeployment": float64(worst)}}
	if len(deps) > 0 {
		ev.Summary = fmt.Sprintf("%d deployment id(s) validated from up to %d machines and %d networks in 7 days",
			len(deps), worst, len(nets))
	} else {
		ev.Summary = fmt.Sprintf("%d distinct machines validated in 7 days for %d seats", in.Fingerprints, in.Seats)
	}
	return in.finding(KindSharing, sev, "Sharing suspected", ev), true
}

// ---- Seat cycling ----

// Cycling thresholds, over CyclingWindow.
const (
	CyclingWindow      = 7 * 24 * time.Hour
	CyclingMinReleases = 6 // releases in the window, and as many activations
)

// CyclingInput counts a license's seat activations and releases in the window.
type CyclingInput struct {
	Subject
	Activations, Releases int
	Seats                 int
	Deployments           []string
}

// Cycling reports seats released and taken again far above what moving
// installations needs: at least CyclingMinReleases of each, and at least
// twice as many releases as seats.
func Cycling(in CyclingInput) (Finding, bool) {
	seats := max(in.Seats, 1)
	if in.Releases < CyclingMinReleases || in.Activations < CyclingMinReleases || in.Releases < 2*seats {
		return Finding{}, false
	}
	sev := SeverityWarning
	if in.Releases >= 5*seats && in.Releases >= 3*CyclingMinReleases {
		sev = SeverityCritical
	}
	return in.finding(KindCycling, sev, "Seat cycling", Evidence{
		Summary:     fmt.Sprintf("%d releases and %d activations in 7 days for %d seats", in.Releases, in.Activations, in.Seats),
		Method:      "releases and activations per 7 days against the seats",
		Deployments: in.Deployments,
		Numbers: map[string]float64{"releases": float64(in.Releases), "activations": float64(in.Activations),
			"seats": float64(in.Seats), "perDay": float64(in.Releases+in.Activations) / 7}}), true
}

// ---- Attack on keys ----

// Burst thresholds over the last AttackWindow.
const (
	AttackWindow       = 24 * time.Hour
	KeyBurstPerHour    = 30  // failed key checks from one source in one hour
	KeyBurstPerWindow  = 100 // or in the window
	AuthBurstPerHour   = 20  // failed API authentications from one source in one hour
	AuthBurstPerWindow = 60
	ForgedPerLicense   = 10 // forged keys naming one license in the window
)

// SourceFailures is one source's failures of one kind in the window.
type SourceFailures struct {
	Source   string
	Kind     string // "key" or "api_auth"
	Total    int64
	PeakHour int64
	Hours    int
	// Licenses named by the forged keys, when they could be read.
	Licenses []string
	Series   []Point
}

// SourceAttack reports a burst of failed key checks or API authentications
// from one address.
func SourceAttack(in SourceFailures) (Finding, bool) {
	perHour, perWindow, what := int64(KeyBurstPerHour), int64(KeyBurstPerWindow), "failed key checks (INVALID_KEY, INVALID_SIGNATURE)"
	if in.Kind == "api_auth" {
		perHour, perWindow, what = AuthBurstPerHour, AuthBurstPerWindow, "failed management API authentications (401)"
	}
	if in.PeakHour < perHour && in.Total < perWindow {
		return Finding{}, false
	}
	sev := SeverityWarning
	if in.PeakHour >= 10*perHour || in.Total >= 10*perWindow {
		sev = SeverityCritical
	}
	title := "Key forging from " + in.Source
	if in.Kind == "api_auth" {
		title = "API key guessing from " + in.Source
	}
	return Finding{Kind: KindKeyAttack, Subject: "source:" + in.Kind + ":" + in.Source, Severity: sev, Title: title,
		Evidence: Evidence{Summary: fmt.Sprintf("%d %s from %s in 24 hours, up to %d in one hour", in.Total, what, in.Source, in.PeakHour),
			Method: "failures per source and hour over 24 hours", IPs: []string{in.Source}, Deployments: in.Licenses,
			Series:  in.Series,
			Numbers: map[string]float64{"total": float64(in.Total), "peakHour": float64(in.PeakHour), "hours": float64(in.Hours)}}}, true
}

// LicenseForgery is the forged keys naming one license in the window.
type LicenseForgery struct {
	Subject
	Total   int64
	Sources []string
}

// Forgery reports keys forged for one license id (a valid-looking key for
// that license with a bad signature), wherever they came from.
func Forgery(in LicenseForgery) (Finding, bool) {
	if in.Total < ForgedPerLicense {
		return Finding{}, false
	}
	sev := SeverityWarning
	if in.Total >= 10*ForgedPerLicense {
		sev = SeverityCritical
	}
	return in.finding(KindKeyAttack, sev, "Keys forged for this license", Evidence{
		Summary: fmt.Sprintf("%d keys naming this license failed their signature check in 24 hours, from %d address(es)", in.Total, len(in.Sources)),
		Method:  "INVALID_SIGNATURE answers per license id named by the key", IPs: in.Sources,
		Numbers: map[string]float64{"total": float64(in.Total), "sources": float64(len(in.Sources))}}), true
}

// ---- Usage anomaly ----

// Anomaly method parameters.
const (
	AnomalyHistoryDays = 28  // trailing days the test day is compared with
	AnomalyScore       = 6.0 // robust z-score (MAD-scaled) beyond which a day is anomalous
	AnomalyMinChange   = 0.5 // and at least this relative change from the expected value
	AnomalyMinLevel    = 10  // expected values below this are too small to judge
	AnomalyTestDays    = 3   // the last complete days tested; the finding lasts while one is anomalous
)

// AnomalyMethod says in words how a day is judged.
const AnomalyMethod = "robust z-score against the trailing 28 days: each day divided by its weekday's factor " +
	"(the weekday's median over the overall median), then (value − median) / (1.4826 × MAD); anomalous beyond ±6 " +
	"with at least a 50 % change from the expected value"

// DayScore is the judgement of one day.
type DayScore struct {
	Day      time.Time
	Value    float64
	Expected float64 // the median, put back into the day's weekday
	Score    float64
}

// ScoreDay judges series[i] (days in order, one value per day, no gaps)
// against the AnomalyHistoryDays before it. ok is false without enough history.
func ScoreDay(series []Point, i int) (DayScore, bool) {
	if i < AnomalyHistoryDays || i >= len(series) {
		return DayScore{}, false
	}
	hist := series[i-AnomalyHistoryDays : i]
	all := make([]float64, len(hist))
	byDay := map[time.Weekday][]float64{}
	for j, p := range hist {
		all[j] = p.V
		byDay[p.At.Weekday()] = append(byDay[p.At.Weekday()], p.V)
	}
	overall := Median(all)
	factor := func(w time.Weekday) float64 {
		if overall <= 0 || len(byDay[w]) == 0 {
			return 1
		}
		f := Median(byDay[w]) / overall
		if f <= 0 {
			return 1
		}
		return f
	}
	adj := make([]float64, len(hist))
	for j, p := range hist {
		adj[j] = p.V / factor(p.At.Weekday())
	}
	m := Median(adj)
	scale := madScale * MAD(adj)
	// A very steady history would make any change infinite: count at least
	// 5 % of the level (and 1) as ordinary spread.
	scale = math.Max(scale, math.Max(0.05*m, 1))
	d := series[i]
	f := factor(d.At.Weekday())
	return DayScore{Day: d.At, Value: d.V, Expected: m * f, Score: (d.V/f - m) / scale}, true
}

// Anomalous reports whether a scored day is an anomaly.
func (d DayScore) Anomalous() bool {
	if d.Expected < AnomalyMinLevel {
		return false
	}
	return math.Abs(d.Score) >= AnomalyScore && math.Abs(d.Value-d.Expected) >= AnomalyMinChange*d.Expected
}

// MetricSeries is one metric's daily values of a license, oldest first,
// ending with the last complete day.
type MetricSeries struct {
	Metric string
	Days   []Point
}

// UsageAnomaly tests the last AnomalyTestDays of each series and reports
// the most extreme anomalous day.
func UsageAnomaly(s Subject, series []MetricSeries) (Finding, bool) {
	var best DayScore
	var metric string
	var chart []Point
	for _, ms := range series {
		for i := max(len(ms.Days)-AnomalyTestDays, 0); i < len(ms.Days); i++ {
			d, ok := ScoreDay(ms.Days, i)
			if ok && d.Anomalous() && math.Abs(d.Score) > math.Abs(best.Score) {
				best, metric, chart = d, ms.Metric, ms.Days
			}
		}
	}
	if metric == "" {
		return Finding{}, false
	}
	dir := "spike"
	if best.Value < best.Expected {
		dir = "drop"
	}
	sev := SeverityWarning
	if math.Abs(best.Score) >= 3*AnomalyScore && dir == "spike" {
		sev = SeverityCritical
	}
	return s.finding(KindUsageAnomaly, sev, fmt.Sprintf("Usage %s in %s", dir, metric), Evidence{
		Summary: fmt.Sprintf("%s on %s: %.0f against an expected %.0f (score %.1f)", metric,
			best.Day.Format("2 Jan"), best.Value, best.Expected, best.Score),
		Method: AnomalyMethod, Metric: metric, Series: tail(chart, 35),
		Numbers: map[string]float64{"value": best.Value, "expected": best.Expected, "score": round1(best.Score)}}), true
}

// SeatlessInput is usage reported in the window by deployments that had been
// released at least a day before the report arrived.
type SeatlessInput struct {
	Subject
	Reports     int
	Deployments []string
}

// Seatless reports usage from installations that hold no seat.
func Seatless(in SeatlessInput) (Finding, bool) {
	if in.Reports < 1 {
		return Finding{}, false
	}
	return in.finding(KindSeatless, SeverityWarning, "Usage from released deployments", Evidence{
		Summary:     fmt.Sprintf("%d usage report(s) in 7 days from %d deployment(s) released more than a day earlier", in.Reports, len(in.Deployments)),
		Method:      "usage reports received more than 24 hours after their deployment was released",
		Deployments: in.Deployments, Numbers: map[string]float64{"reports": float64(in.Reports)}}), true
}

func tail(p []Point, n int) []Point {
	if len(p) > n {
		return p[len(p)-n:]
	}
	return p
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
