// Plan changes on a live license (upgrade or downgrade) and the true-up
// report: the rules for which of a license's terms follow the new plan, who
// loses a seat when there are fewer, and what was used over entitlement.

package licensing

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// Terms are what a license holds of its plan: copied when it is created,
// then possibly overridden by an admin, the API or billing.
type Terms struct {
	Features             []string
	Limits               map[string]int64
	MaxDeployments       *int32 // nil: unlimited
	GraceDays            int32
	OfflineDays          int32
	HeartbeatWindowHours int32
	DunningDays          int32
	Overrides            PolicyOverrides
}

// Terms are the terms a new license of the plan starts with.
func (p PlanSpec) Terms() Terms {
	return Terms{Features: slices.Clone(p.Features), Limits: maps.Clone(p.Limits), MaxDeployments: clone32(p.MaxDeployments),
		GraceDays: p.GraceDays, OfflineDays: p.OfflineDays, HeartbeatWindowHours: p.HeartbeatWindowHours,
		DunningDays: p.DunningDays}
}

// OverrideMode says what a plan change does with the license's overrides.
type OverrideMode string

// Override modes; a plan change must name one.
const (
	// OverridesKeep: a term that differs from the old plan's (an override)
	// stays; a term equal to the old plan's follows the new plan. Policy
	// overrides stay.
	OverridesKeep OverrideMode = "keep"
	// OverridesReset: every term becomes the new plan's; policy overrides
	// are cleared.
	OverridesReset OverrideMode = "reset"
)

// ChangePlan moves a license's terms from plan from to plan to. An unknown
// mode is EINVALID: keeping or resetting overrides is always a decision.
// Deployments beyond the new seat count are not released here: they lose
// their seat at their next check, newest first (see DeploymentFacts.SeatRank),
// and keep the lease they hold until it ends.
func ChangePlan(cur Terms, from, to PlanSpec, mode OverrideMode) (Terms, error) {
	switch mode {
	case OverridesReset:
		return to.Terms(), nil
	case OverridesKeep:
	default:
		return cur, Invalid("overrides must be keep or reset", ErrorDetail{Field: "overrides", Message: "must be keep or reset"})
	}
	next := to.Terms()
	if !slices.Equal(sortedCopy(cur.Features), sortedCopy(from.Features)) {
		next.Features = slices.Clone(cur.Features)
	}
	if !maps.Equal(cur.Limits, from.Limits) && !(len(cur.Limits) == 0 && len(from.Limits) == 0) {
		next.Limits = maps.Clone(cur.Limits)
	}
	if !equal32(cur.MaxDeployments, from.MaxDeployments) {
		next.MaxDeployments = clone32(cur.MaxDeployments)
	}
	keep := func(c, f int32, n *int32) {
		if c != f {
			*n = c
		}
	}
	keep(cur.GraceDays, from.GraceDays, &next.GraceDays)
	keep(cur.OfflineDays, from.OfflineDays, &next.OfflineDays)
	keep(cur.HeartbeatWindowHours, from.HeartbeatWindowHours, &next.HeartbeatWindowHours)
	keep(cur.DunningDays, from.DunningDays, &next.DunningDays)
	next.Overrides = cur.Overrides
	return next, nil
}

// SeatsLost is how many of holders seat-holding deployments lose their seat
// under an allowance (0: unlimited): the newest ones, at their next check.
func SeatsLost(holders, allowance int) int {
	if allowance <= 0 || holders <= allowance {
		return 0
	}
	return holders - allowance
}

// SeatHolder is a deployment holding a seat, as the seat rank orders it:
// by activation time, then by Key (the stored row id) for equal times, as
// the SQL rank (CountOlderSeatHolders) compares (first_seen_at, id).
type SeatHolder struct {
	Key         string
	FirstSeenAt time.Time
}

// LosingSeats lists the positions in holders of the seat holders that lose
// their seat under allowance (0: unlimited): those whose rank reaches it,
// newest first. They are refused at their next check; the oldest keep
// running. Pages use it to preview a downgrade and to mark the deployments
// that lost their seat.
func LosingSeats(holders []SeatHolder, allowance int) []int {
	if allowance <= 0 || len(holders) <= allowance {
		return nil
	}
	order := make([]int, len(holders))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		x, y := holders[order[a]], holders[order[b]]
		if !x.FirstSeenAt.Equal(y.FirstSeenAt) {
			return x.FirstSeenAt.Before(y.FirstSeenAt)
		}
		return strings.Compare(x.Key, y.Key) < 0
	})
	lost := slices.Clone(order[allowance:])
	slices.Reverse(lost)
	return lost
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

func clone32(p *int32) *int32 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func equal32(a, b *int32) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

// TrueUpSeats is the metric name of the seat line of a true-up.
const TrueUpSeats = "deployments"

// TrueUpLine is one entitlement of a true-up: seats (metric "deployments",
// Used the period's peak of seats held) or a limited usage metric.
type TrueUpLine struct {
	Metric      string      `json:"metric"`
	Entitled    int64       `json:"entitled"`
	Used        int64       `json:"used"`
	Over        int64       `json:"over"` // max(0, Used-Entitled): what to invoice
	Enforcement Enforcement `json:"enforcement"`
}

// TrueUp lists, for one period, the seats (when the license has a seat
// limit) and each limited metric against its entitlement, seats first then
// metrics by name. Metrics without a limit are not listed: nothing is over.
func TrueUp(maxDeployments int, peakSeats int64, limits, used map[string]int64, p Policy) []TrueUpLine {
	var out []TrueUpLine
	if maxDeployments > 0 {
		enf := EnforceHard
		if p.SeatOverage != OverageNone && p.SeatOverage != "" {
			enf = EnforceSoft
		}
		out = append(out, trueUpLine(TrueUpSeats, int64(maxDeployments), peakSeats, enf))
	}
	names := slices.Sorted(maps.Keys(limits))
	for _, name := range names {
		out = append(out, trueUpLine(name, limits[name], used[name], p.Enforcement(name)))
	}
	return out
}

func trueUpLine(metric string, entitled, used int64, enf Enforcement) TrueUpLine {
	return TrueUpLine{Metric: metric, Entitled: entitled, Used: used, Over: max(0, used-entitled), Enforcement: enf}
}

// EvaluateLimitPolicy is EvaluateLimit with the metric's enforcement: a
// soft limit is reported exceeded but does not block.
func EvaluateLimitPolicy(used, limit int64, enf Enforcement) LimitUsage {
	u := EvaluateLimit(used, limit)
	u.Enforcement = enf
	u.Blocked = u.Exceeded && enf != EnforceSoft
	return u
}
