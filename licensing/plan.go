package licensing

import (
	"regexp"
	"strings"
)

var planCodeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
var featureRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_.:-]{0,63}$`)

// Quantity targets: what a Stripe subscription's quantity sets on a license.
const (
	QuantitySetsDeployments = "deployments"
	QuantitySetsUsers       = "users"
)

// PlanSpec is everything a plan says, as validated before it is stored.
type PlanSpec struct {
	Code                 string
	Name                 string
	Description          string
	Features             []string
	Limits               map[string]int64
	MetricLabels         map[string]string // the plan's own words for metrics ("apiCalls": "Requests")
	MaxDeployments       *int32            // nil: unlimited
	DurationDays         *int32            // nil: perpetual
	GraceDays            int32
	OfflineDays          int32
	HeartbeatWindowHours int32
	DunningDays          int32
	StripePriceIDs       []string
	QuantitySets         *string
	// Policy holds the licensing policies; the zero value reads as
	// DefaultPolicy.
	Policy Policy
}

// DefaultPlanSpec has the documented defaults.
func DefaultPlanSpec() PlanSpec {
	return PlanSpec{GraceDays: 7, OfflineDays: 30, HeartbeatWindowHours: 72, DunningDays: 14,
		Features: []string{}, Limits: map[string]int64{}, MetricLabels: map[string]string{}, StripePriceIDs: []string{},
		Policy: DefaultPolicy()}
}

// Validate checks every field and reports all problems at once.
func (p *PlanSpec) Validate() error {
	var pr Problems
	p.Code = strings.TrimSpace(p.Code)
	p.Name = strings.TrimSpace(p.Name)
	if !planCodeRE.MatchString(p.Code) {
		pr.Add("code", "must be a slug: lowercase letters, digits, - and _, starting with a letter or digit (at most 63)")
	}
	pr.CheckText("name", p.Name, true, 200)
	pr.CheckText("description", p.Description, false, 2000)
	p.Features = checkFeatures(&pr, "features", p.Features)
	checkLimits(&pr, "limits", p.Limits)
	p.MetricLabels = checkMetricLabels(&pr, "metricLabels", p.MetricLabels)
	if p.MaxDeployments != nil && (*p.MaxDeployments < 1 || *p.MaxDeployments > 1_000_000) {
		pr.Add("maxDeployments", "must be from 1 to 1000000, or null for unlimited")
	}
	if p.DurationDays != nil && (*p.DurationDays < 1 || *p.DurationDays > 36500) {
		pr.Add("durationDays", "must be from 1 to 36500, or null for perpetual")
	}
	checkRange(&pr, "graceDays", p.GraceDays, 0, 365)
	checkRange(&pr, "offlineDays", p.OfflineDays, 1, 365)
	checkRange(&pr, "heartbeatWindowHours", p.HeartbeatWindowHours, 1, 8760)
	checkRange(&pr, "dunningDays", p.DunningDays, 0, 365)
	seen := map[string]bool{}
	prices := make([]string, 0, len(p.StripePriceIDs))
	for _, id := range p.StripePriceIDs {
		id = strings.TrimSpace(id)
		if id == "" || len(id) > 255 || strings.ContainsAny(id, " \t\r\n") {
			pr.Add("stripePriceIds", "each must be a Stripe price id such as price_123")
			continue
		}
		if !seen[id] {
			seen[id] = true
			prices = append(prices, id)
		}
	}
	p.StripePriceIDs = prices
	if p.QuantitySets != nil && *p.QuantitySets != QuantitySetsDeployments && *p.QuantitySets != QuantitySetsUsers {
		pr.Add("quantitySets", "must be deployments, users or null")
	}
	p.Policy.Validate(&pr)
	return pr.Err()
}

func checkRange(pr *Problems, field string, v, min, max int32) {
	if v < min || v > max {
		pr.Add(field, "must be from "+itoa(int64(min))+" to "+itoa(int64(max)))
	}
}

// checkFeatures validates and de-duplicates a feature list, keeping order.
func checkFeatures(pr *Problems, field string, features []string) []string {
	out := make([]string, 0, len(features))
	seen := map[string]bool{}
	if len(features) > 200 {
		pr.Add(field, "at most 200 features")
		return out
	}
	for _, f := range features {
		f = strings.TrimSpace(f)
		if !featureRE.MatchString(f) {
			pr.Add(field, "feature names start with a letter and use letters, digits, _ . : - (at most 64): "+truncateText(f, 70))
			continue
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

func checkLimits(pr *Problems, field string, limits map[string]int64) {
	if len(limits) > 100 {
		pr.Add(field, "at most 100 limits")
	}
	for name, v := range limits {
		if !validMetricNameForLimit(name) {
			pr.Add(field+"."+truncateText(name, 70), "limit names follow metric names: [a-zA-Z][a-zA-Z0-9_.]{0,63}")
		}
		if v < 0 {
			pr.Add(field+"."+truncateText(name, 70), "must be a non-negative integer")
		}
	}
}

// CheckFeatures validates a feature list for a license override.
func CheckFeatures(pr *Problems, field string, features []string) []string {
	return checkFeatures(pr, field, features)
}

// CheckLimits validates limits for a license override.
func CheckLimits(pr *Problems, field string, limits map[string]int64) { checkLimits(pr, field, limits) }

var metricNameRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_.]{0,63}$`)

func validMetricNameForLimit(s string) bool { return metricNameRE.MatchString(s) }

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
