// Time-based milestones, found from the effective-status rule at the
// injected now: renewal reminders, grace, expiry, dunning, stale
// installations and usage limits. Each carries a key naming its license (or
// deployment) and instant, so the outbox records it once however often,
// however late and on however many processes the scan runs.

package jobs

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/licensing"
)

// lookback is how long after a past milestone (an expiry, a grace end, an
// installation going silent) the scan still reports it: long enough to
// catch up after downtime, short enough that turning notices on does not
// email about licenses that ended years ago.
const lookback = 14 * 24 * time.Hour

// graceEndingNotice is how long before a grace period ends the customer is
// warned (for grace periods longer than that).
const graceEndingNotice = 3 * 24 * time.Hour

// Milestones lists the time-based events due at now.
func Milestones(ctx context.Context, store *db.Store, now time.Time, reminderDays []int) ([]events.Event, error) {
	now = now.UTC()
	offsets := slices.Clone(reminderDays)
	slices.Sort(offsets)
	maxOffset := 0
	if len(offsets) > 0 {
		maxOffset = offsets[len(offsets)-1]
	}
	since := now.Add(-lookback)
	lics, err := store.ListLicensesForMilestones(ctx, db.ListLicensesForMilestonesParams{
		Horizon: now.AddDate(0, 0, maxOffset+1), Since: since})
	if err != nil {
		return nil, err
	}
	var out []events.Event
	add := func(typ, key string, at time.Time, data events.Data) {
		out = append(out, events.Event{Type: typ, OccurredAt: at, Data: data, MilestoneKey: key})
	}
	for _, l := range lics {
		f := licensing.LicenseFacts{Status: licensing.StoredStatus(l.Status), StartsAt: l.StartsAt, ExpiresAt: l.ExpiresAt,
			GraceDays: int(l.GraceDays), PastDue: l.PaymentState == "past_due", PastDueSince: l.PastDueSince,
			DunningDays: int(l.DunningDays)}
		eff := licensing.EffectiveStatus(f, now)
		d := events.Milestone{LicenseID: l.ID, CustomerID: l.CustomerID, Plan: l.Plan, ExpiresAt: utc(l.ExpiresAt),
			GraceEndsAt: utc(eff.GraceEndsAt), PastDueSince: utc(l.PastDueSince), DunningEndsAt: utc(eff.DunningEndsAt),
			Stripe: l.StripeSubscriptionID != nil}
		lk := "license:" + l.ID.String() + ":"
		var expKey string
		if l.ExpiresAt != nil {
			expKey = fmt.Sprint(l.ExpiresAt.Unix())
		}
		switch eff.State {
		case licensing.StateActive, licensing.StatePastDue:
			// A Stripe subscription renews itself: remind only when it is set to cancel.
			if l.ExpiresAt != nil && now.Before(*l.ExpiresAt) && (l.StripeSubscriptionID == nil || l.CancelAtPeriodEnd) {
				left := l.ExpiresAt.Sub(now)
				for _, days := range offsets {
					if left <= time.Duration(days)*24*time.Hour {
						dd := d
						dd.DaysBefore = &days
						add(events.LicenseExpiringSoon, fmt.Sprintf("%sexpiring_soon:%d:%s", lk, days, expKey),
							l.ExpiresAt.AddDate(0, 0, -days), dd)
						break
					}
				}
			}
		case licensing.StateGrace:
			add(events.LicenseGraceStarted, lk+"grace_started:"+expKey, *l.ExpiresAt, d)
			if l.GraceDays > 3 && eff.GraceEndsAt != nil && eff.GraceEndsAt.Sub(now) <= graceEndingNotice {
				add(events.LicenseGraceEnding, lk+"grace_ending:"+expKey, eff.GraceEndsAt.Add(-graceEndingNotice), d)
			}
		case licensing.StateExpired:
			if end := l.ExpiresAt.AddDate(0, 0, int(l.GraceDays)); now.Sub(end) <= lookback {
				d.GraceEndsAt = &end
				add(events.LicenseExpired, lk+"expired:"+expKey, end, d)
			}
		}
		if l.PaymentState == "past_due" && l.Status == "active" {
			sinceKey := "unknown"
			at := now
			if l.PastDueSince != nil {
				sinceKey, at = fmt.Sprint(l.PastDueSince.Unix()), *l.PastDueSince
			}
			switch {
			case eff.State == licensing.StateSuspended && eff.DunningEndsAt != nil:
				if now.Sub(*eff.DunningEndsAt) <= lookback {
					add(events.LicenseDunningSuspended, lk+"dunning_suspended:"+sinceKey, *eff.DunningEndsAt, d)
				}
			case eff.State == licensing.StatePastDue:
				add(events.LicensePaymentOverdue, lk+"payment_overdue:"+sinceKey, at, d)
			}
		}
	}

	stale, err := store.ListStaleDeploymentsForMilestones(ctx, db.ListStaleDeploymentsForMilestonesParams{Now: now, Since: since})
	if err != nil {
		return nil, err
	}
	for _, s := range stale {
		add(events.DeploymentStale, fmt.Sprintf("deployment:%s:stale:%d", s.ID, s.LastSeenAt.Unix()), now,
			events.Deployment{LicenseID: s.LicenseID, CustomerID: s.CustomerID, DeploymentID: s.ID,
				ClientID: s.DeploymentID, Hostname: s.Hostname, LastSeenAt: s.LastSeenAt.UTC()})
	}

	near, err := store.ListUsageNearLimitsForMilestones(ctx, now)
	if err != nil {
		return nil, err
	}
	for _, u := range near {
		typ, level := events.UsageLimitNear, "near"
		if u.UsageLimit == 0 || u.Used >= u.UsageLimit {
			typ, level = events.UsageLimitReached, "reached"
		}
		add(typ, fmt.Sprintf("license:%s:usage:%s:%d:%s", u.LicenseID, u.Metric, u.PeriodStart.Unix(), level), now,
			events.UsageLimit{LicenseID: u.LicenseID, CustomerID: u.CustomerID, Metric: u.Metric, Used: u.Used,
				Limit: u.UsageLimit, PeriodStart: u.PeriodStart.UTC(), PeriodEnd: u.PeriodEnd.UTC()})
	}
	return out, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Upcoming is one future milestone of a license, for its admin page.
type Upcoming struct {
	What string
	At   time.Time
}

// UpcomingMilestones lists a license's next renewal reminder, its expiry and
// its grace end, as far as they lie after now.
func UpcomingMilestones(expiresAt *time.Time, graceDays int, stripe, cancelAtPeriodEnd bool, now time.Time,
	reminderDays []int) []Upcoming {
	if expiresAt == nil {
		return nil
	}
	var out []Upcoming
	if !stripe || cancelAtPeriodEnd {
		offsets := slices.Clone(reminderDays)
		slices.Sort(offsets)
		slices.Reverse(offsets)
		for _, d := range offsets {
			if at := expiresAt.AddDate(0, 0, -d); at.After(now) {
				out = append(out, Upcoming{What: fmt.Sprintf("Renewal reminder (%d days before expiry)", d), At: at})
				break
			}
		}
	}
	if expiresAt.After(now) {
		out = append(out, Upcoming{What: "Expiry", At: *expiresAt})
	}
	if end := expiresAt.AddDate(0, 0, graceDays); graceDays > 0 && end.After(now) {
		out = append(out, Upcoming{What: "Grace period ends", At: end})
	}
	return out
}
