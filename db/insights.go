// Findings: the store side of the insights detectors. The reads each
// detector needs (set-based, queries/insights.sql), storing a detector's
// findings of one kind (opened, updated, resolved, with their events in the
// same transaction), the lists the pages and the API show, status changes
// by staff, and staff alert preferences.

package db

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/insights"
	"github.com/nectarcloud/nls/licensing"
)

// The detectors' reads; each returns the query's rows.

func (s *Store) InsightSharing(ctx context.Context, arg InsightSharingParams) ([]InsightSharingRow, error) {
	return s.q.InsightSharing(ctx, arg)
}

func (s *Store) InsightCycling(ctx context.Context, arg InsightCyclingParams) ([]InsightCyclingRow, error) {
	return s.q.InsightCycling(ctx, arg)
}

func (s *Store) InsightSourceFailures(ctx context.Context, arg InsightSourceFailuresParams) ([]InsightSourceFailuresRow, error) {
	return s.q.InsightSourceFailures(ctx, arg)
}

func (s *Store) InsightForgery(ctx context.Context, arg InsightForgeryParams) ([]InsightForgeryRow, error) {
	return s.q.InsightForgery(ctx, arg)
}

func (s *Store) InsightAnomalyCandidates(ctx context.Context, arg InsightAnomalyCandidatesParams) ([]InsightAnomalyCandidatesRow, error) {
	return s.q.InsightAnomalyCandidates(ctx, arg)
}

func (s *Store) InsightDailySeries(ctx context.Context, arg InsightDailySeriesParams) ([]InsightDailySeriesRow, error) {
	return s.q.InsightDailySeries(ctx, arg)
}

func (s *Store) InsightLicenseRefs(ctx context.Context, ids []uuid.UUID) ([]InsightLicenseRefsRow, error) {
	return s.q.InsightLicenseRefs(ctx, ids)
}

func (s *Store) InsightSeatless(ctx context.Context, since time.Time) ([]InsightSeatlessRow, error) {
	return s.q.InsightSeatless(ctx, since)
}

func (s *Store) InsightUpgradeCandidates(ctx context.Context, arg InsightUpgradeCandidatesParams) ([]InsightUpgradeCandidatesRow, error) {
	return s.q.InsightUpgradeCandidates(ctx, arg)
}

func (s *Store) InsightRightSizeCandidates(ctx context.Context, arg InsightRightSizeCandidatesParams) ([]InsightRightSizeCandidatesRow, error) {
	return s.q.InsightRightSizeCandidates(ctx, arg)
}

func (s *Store) InsightChurnCandidates(ctx context.Context, arg InsightChurnCandidatesParams) ([]InsightChurnCandidatesRow, error) {
	return s.q.InsightChurnCandidates(ctx, arg)
}

func (s *Store) InsightForecastCandidates(ctx context.Context, arg InsightForecastCandidatesParams) ([]InsightForecastCandidatesRow, error) {
	return s.q.InsightForecastCandidates(ctx, arg)
}

// InsightPlans is the plan catalogue as the rules see it.
func (s *Store) InsightPlans(ctx context.Context) ([]insights.Plan, error) {
	rows, err := s.q.ListInsightPlans(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]insights.Plan, 0, len(rows))
	for _, r := range rows {
		p := insights.Plan{Code: r.Code, MaxDeployments: int(r.MaxDeployments), MonthlyCents: r.MonthlyCents, Stripe: r.Stripe}
		if err := json.Unmarshal(r.Limits, &p.Limits); err != nil {
			return nil, licensing.Internal(err)
		}
		out = append(out, p)
	}
	return out, nil
}

// SetPlanPrice sets a plan's monthly list price.
func (s *Store) SetPlanPrice(ctx context.Context, code string, monthlyCents int64, now time.Time) error {
	return s.q.SetPlanPrice(ctx, SetPlanPriceParams{Code: code, MonthlyCents: monthlyCents, Now: now})
}

// PruneInsightRecords drops sightings and failures older than the detectors look.
func (s *Store) PruneInsightRecords(ctx context.Context, sightingsBefore, failuresBefore time.Time) error {
	return s.q.PruneInsightRecords(ctx, PruneInsightRecordsParams{SightingsBefore: sightingsBefore, FailuresBefore: failuresBefore})
}

// FindingChanges counts what storing one kind's findings changed.
type FindingChanges struct {
	Opened, Updated, Resolved int
}

// ApplyFindings stores a detector's complete answer for kind at now: a
// finding per subject is opened, or the one not resolved is updated with the
// new evidence; the findings of kind not resolved whose subject is not in
// found are resolved (their condition went away). finding.opened and
// .resolved are recorded in the same transaction.
func (s *Store) ApplyFindings(ctx context.Context, kind insights.Kind, found []insights.Finding, now time.Time) (FindingChanges, error) {
	var ch FindingChanges
	now = now.UTC().Truncate(time.Microsecond)
	p := UpsertFindingsParams{Kind: string(kind), Now: now}
	seen := map[string]bool{}
	for _, f := range found {
		if seen[f.Subject] {
			continue // one finding per subject and kind
		}
		seen[f.Subject] = true
		ev, err := json.Marshal(f.Evidence)
		if err != nil {
			return ch, licensing.Internal(err)
		}
		rev := int64(-1)
		if f.RevenueCents != nil {
			rev = *f.RevenueCents
		}
		p.Subjects = append(p.Subjects, f.Subject)
		p.LicenseIds = append(p.LicenseIds, idOrNil(f.LicenseID))
		p.CustomerIds = append(p.CustomerIds, idOrNil(f.CustomerID))
		p.Severities = append(p.Severities, string(f.Severity))
		p.Titles = append(p.Titles, f.Title)
		p.Evidences = append(p.Evidences, ev)
		p.Revenues = append(p.Revenues, rev)
	}
	err := s.inTx(ctx, func(q *Queries) error {
		ch = FindingChanges{}
		if len(p.Subjects) > 0 {
			rows, err := q.UpsertFindings(ctx, p)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if !r.Inserted {
					ch.Updated++
					continue
				}
				ch.Opened++
				if err := s.recordFinding(ctx, q, events.FindingOpened, r.ID, r.Kind, r.Severity, r.Subject, r.Title,
					r.LicenseID, r.CustomerID, r.FirstSeenAt, now); err != nil {
					return err
				}
			}
		}
		subjects := p.Subjects
		if subjects == nil {
			subjects = []string{}
		}
		gone, err := q.ResolveFindingsExcept(ctx, ResolveFindingsExceptParams{Kind: string(kind), Subjects: subjects, Now: now})
		if err != nil {
			return err
		}
		for _, r := range gone {
			ch.Resolved++
			if err := s.recordFinding(ctx, q, events.FindingResolved, r.ID, r.Kind, r.Severity, r.Subject, r.Title,
				r.LicenseID, r.CustomerID, r.FirstSeenAt, now); err != nil {
				return err
			}
		}
		return nil
	})
	return ch, err
}

func (s *Store) recordFinding(ctx context.Context, q *Queries, typ string, id uuid.UUID, kind, severity, subject, title string,
	licenseID, customerID *uuid.UUID, firstSeen, now time.Time) error {
	what := "opened"
	if typ == events.FindingResolved {
		what = "resolved"
	}
	_, err := s.recordEvent(ctx, q, events.Event{Type: typ, OccurredAt: now, MilestoneKey: "finding:" + id.String() + ":" + what,
		Data: events.Finding{FindingID: id, Kind: kind, Severity: severity, Subject: subject, LicenseID: licenseID,
			CustomerID: customerID, Title: title, FirstSeenAt: firstSeen.UTC()}})
	return err
}

func idOrNil(id *uuid.UUID) uuid.UUID {
	if id == nil {
		return uuid.Nil
	}
	return *id
}

// FindingFilter selects findings for a list. Status "active" means open or
// acknowledged.
type FindingFilter struct {
	Kind, Severity, Status *string
	LicenseID, CustomerID  *uuid.UUID
	Kinds                  []string // only these kinds (the customer portal's)
	ByRevenue              bool     // order by revenue at stake, then newest
	After                  *FindingCursor
	MaxRows                int32
}

// FindingCursor is where the next page of findings starts.
type FindingCursor struct {
	Revenue int64
	Time    time.Time
	ID      uuid.UUID
}

// FindingRow is a finding with its customer's name and its license's plan.
type FindingRow = ListFindingsRow

// ListFindings lists findings by the filter, newest first (or by revenue at stake).
func (s *Store) ListFindings(ctx context.Context, f FindingFilter) ([]FindingRow, error) {
	if f.ByRevenue {
		p := ListFindingsByRevenueParams{Kind: f.Kind, Severity: f.Severity, Status: f.Status, LicenseID: f.LicenseID,
			CustomerID: f.CustomerID, Kinds: f.Kinds, MaxRows: f.MaxRows}
		if f.After != nil {
			p.AfterRevenue, p.AfterTime, p.AfterID = &f.After.Revenue, &f.After.Time, &f.After.ID
		}
		rows, err := s.q.ListFindingsByRevenue(ctx, p)
		out := make([]FindingRow, len(rows))
		for i, r := range rows {
			out[i] = FindingRow(r)
		}
		return out, err
	}
	p := ListFindingsParams{Kind: f.Kind, Severity: f.Severity, Status: f.Status, LicenseID: f.LicenseID,
		CustomerID: f.CustomerID, MaxRows: f.MaxRows}
	p.Kinds = f.Kinds
	if f.After != nil {
		p.AfterTime, p.AfterID = &f.After.Time, &f.After.ID
	}
	return s.q.ListFindings(ctx, p)
}

// GetFinding reads one finding.
func (s *Store) GetFinding(ctx context.Context, id uuid.UUID) (Finding, error) {
	f, err := s.q.GetFinding(ctx, id)
	return f, notFound(err, "finding")
}

// SetFindingStatus acknowledges a finding, dismisses it (a reason is
// required) or opens it again, and audits the change. A resolved finding
// cannot change: its condition is gone.
func (s *Store) SetFindingStatus(ctx context.Context, actor licensing.Actor, id uuid.UUID, status, reason string, now time.Time) (Finding, error) {
	var out Finding
	switch status {
	case "acknowledged", "open":
	case "dismissed":
		if reason == "" {
			return out, licensing.Invalid("a reason is required to dismiss a finding",
				licensing.ErrorDetail{Field: "reason", Message: "required"})
		}
		if len(reason) > 1000 {
			return out, licensing.Invalid("the reason is too long", licensing.ErrorDetail{Field: "reason", Message: "at most 1000 characters"})
		}
	default:
		return out, licensing.Invalid("unknown status "+status, licensing.ErrorDetail{Field: "status",
			Message: "acknowledged, dismissed or open"})
	}
	err := s.inTx(ctx, func(q *Queries) error {
		before, err := q.GetFinding(ctx, id)
		if err != nil {
			return notFound(err, "finding")
		}
		if before.Status == "resolved" {
			return licensing.Errorf(licensing.ECONFLICT, "this finding was resolved: its condition went away")
		}
		var r *string
		if status == "dismissed" {
			r = &reason
		}
		if out, err = q.SetFindingStatus(ctx, SetFindingStatusParams{ID: id, Status: status, DismissReason: r,
			StatusBy: actor.Label, Now: &now}); err != nil {
			return notFound(err, "finding")
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "finding." + status, EntityType: "finding", EntityID: id.String(),
			CustomerID: before.CustomerID, Before: map[string]any{"status": before.Status, "kind": before.Kind},
			After: map[string]any{"status": out.Status, "reason": reason}}, now)
	})
	return out, err
}

// CountActiveFindings counts open and acknowledged findings per severity.
func (s *Store) CountActiveFindings(ctx context.Context) (map[string]int64, error) {
	rows, err := s.q.CountActiveFindings(ctx)
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Severity] = r.Count
	}
	return out, err
}

// FindingAlertPrefs is an admin's choice of which findings notify them and how.
type FindingAlertPrefs struct {
	Kinds       []string // none: every kind
	MinSeverity string
	Delivery    string // off, immediate or digest
}

// GetFindingAlertPrefs reads an admin's preferences; the default is off.
func (s *Store) GetFindingAlertPrefs(ctx context.Context, userID uuid.UUID) (FindingAlertPrefs, error) {
	p, err := s.q.GetFindingAlertPrefs(ctx, userID)
	if err != nil {
		if licensing.ErrorCode(err) == licensing.ENOTFOUND {
			return FindingAlertPrefs{Kinds: []string{}, MinSeverity: "warning", Delivery: "off"}, nil
		}
		return FindingAlertPrefs{}, err
	}
	return FindingAlertPrefs{Kinds: p.Kinds, MinSeverity: p.MinSeverity, Delivery: p.Delivery}, nil
}

// SetFindingAlertPrefs stores an admin's preferences after checking them.
func (s *Store) SetFindingAlertPrefs(ctx context.Context, userID uuid.UUID, p FindingAlertPrefs, now time.Time) error {
	var pr licensing.Problems
	for _, k := range p.Kinds {
		if _, ok := insights.LookupKind(k); !ok {
			pr.Add("kinds", "unknown kind "+k)
		}
	}
	if insights.Severity(p.MinSeverity).Rank() < 0 {
		pr.Add("minSeverity", "info, warning or critical")
	}
	if p.Delivery != "off" && p.Delivery != "immediate" && p.Delivery != "digest" {
		pr.Add("delivery", "off, immediate or digest")
	}
	if err := pr.Err(); err != nil {
		return err
	}
	if p.Kinds == nil {
		p.Kinds = []string{}
	}
	return s.q.SetFindingAlertPrefs(ctx, SetFindingAlertPrefsParams{UserID: userID, Kinds: p.Kinds,
		MinSeverity: p.MinSeverity, Delivery: p.Delivery, Now: now})
}

// FanOutFindingAlert makes the immediate staff alerts of a finding.opened
// event: one notice per admin whose preferences take its kind and severity,
// enqueued in the same transaction. Running it again adds nothing.
func (s *Store) FanOutFindingAlert(ctx context.Context, eventID uuid.UUID, now time.Time) (int, error) {
	made := 0
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := txQueries(tx)
		made = 0
		ev, err := q.GetEvent(ctx, eventID)
		if err != nil {
			return notFound(err, "event")
		}
		if ev.Type != events.FindingOpened {
			return nil
		}
		var d events.Finding
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return licensing.Internal(err)
		}
		to, err := q.ListFindingAlertRecipients(ctx, ListFindingAlertRecipientsParams{Delivery: "immediate", Kind: d.Kind, Severity: d.Severity})
		if err != nil {
			return err
		}
		var queued []uuid.UUID
		for _, r := range to {
			ids, err := q.InsertNotification(ctx, InsertNotificationParams{EventID: &ev.ID, EventType: ev.Type,
				Category: "insights", Recipient: r.Email, LicenseID: ev.LicenseID, CustomerID: ev.CustomerID,
				DedupeKey: "staff|" + eventID.String() + "|" + r.Email, Status: "queued", Now: now})
			if err != nil {
				return err
			}
			made += len(ids)
			queued = append(queued, ids...)
		}
		return s.enqueueNotifications(ctx, tx, queued)
	})
	return made, Translate(err)
}

// DigestFindingRecipients lists the admins who take findings in the digest.
func (s *Store) DigestFindingRecipients(ctx context.Context) ([]ListDigestFindingRecipientsRow, error) {
	return s.q.ListDigestFindingRecipients(ctx)
}

// FindingsOpenedSince lists the findings opened since a time that are still open.
func (s *Store) FindingsOpenedSince(ctx context.Context, since time.Time) ([]ListFindingsOpenedSinceRow, error) {
	return s.q.ListFindingsOpenedSince(ctx, since)
}
