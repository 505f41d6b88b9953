// The outbox: domain events recorded in the transaction of the change they
// describe, and handed to the job queue in that same transaction, so that
// an event exists, and is fanned out, if and only if its change committed.

package db

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/licensing"
)

// EventQueue enqueues jobs in the caller's transaction: the fan-out of new
// events, and the sending of notices. The jobs package implements it on River.
type EventQueue interface {
	// FansOut reports whether a notice can follow from an event of the
	// type: only those events' fan-out is enqueued.
	FansOut(eventType string) bool
	EnqueueEvents(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error
	EnqueueNotifications(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error
	EnqueueWebhookDeliveries(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error
}

type outbox struct {
	off   bool // benchmarks measure the write path without events
	queue EventQueue
}

// SetEventQueue makes every recorded event enqueue its fan-out job; without
// one, events are only recorded.
func (s *Store) SetEventQueue(q EventQueue) { s.outbox.queue = q }

// SetOutbox turns event recording on (the default) or off; off exists for
// the benchmark that measures what the outbox costs on the write path.
func (s *Store) SetOutbox(on bool) { s.outbox.off = !on }

// recordEvent appends e to the outbox through q, which must be the
// transaction of the change, and enqueues its fan-out there too. A
// milestone already recorded is skipped: it reports false.
func (s *Store) recordEvent(ctx context.Context, q *Queries, e events.Event) (bool, error) {
	fanOut, added, err := s.appendEvent(ctx, q, e)
	if err != nil || !added {
		return added, err
	}
	return true, s.enqueueFanOut(ctx, q, fanOut)
}

// enqueueFanOut enqueues the fan-out of events recorded through q, in its
// transaction.
func (s *Store) enqueueFanOut(ctx context.Context, q *Queries, ids []uuid.UUID) error {
	if s.outbox.queue == nil {
		return nil
	}
	return enqueueIn(ctx, q, ids, s.outbox.queue.EnqueueEvents)
}

// enqueueIn enqueues jobs for ids with enqueue, in q's transaction.
func enqueueIn(ctx context.Context, q *Queries, ids []uuid.UUID,
	enqueue func(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error) error {
	if len(ids) == 0 {
		return nil
	}
	tx, ok := txOf(q)
	if !ok {
		return licensing.Internal(errNoTx)
	}
	if err := enqueue(ctx, tx, ids); err != nil {
		return licensing.Internal(err)
	}
	return nil
}

// appendEvent is recordEvent without the fan-out's enqueueing: it answers
// the ids to fan out (none when no job queue is set or no notice can follow
// from the event's type).
func (s *Store) appendEvent(ctx context.Context, q *Queries, e events.Event) (fanOut []uuid.UUID, added bool, err error) {
	if s.outbox.off {
		return nil, false, nil
	}
	data, err := json.Marshal(e.Data)
	if err != nil {
		return nil, false, licensing.Internal(err)
	}
	refs := e.Data.Refs()
	var key *string
	if e.MilestoneKey != "" {
		key = &e.MilestoneKey
	}
	ids, err := q.InsertEvent(ctx, InsertEventParams{Type: e.Type, OccurredAt: e.OccurredAt.UTC(),
		LicenseID: refs.LicenseID, CustomerID: refs.CustomerID, DeploymentID: refs.DeploymentID, Data: data,
		MilestoneKey: key})
	if err != nil || len(ids) == 0 {
		return nil, false, err
	}
	if e.Type == events.LicenseRenewed && refs.LicenseID != nil {
		// Renewing a license completes the customer's renewal request.
		if err := q.CompleteRenewalRequests(ctx, CompleteRenewalRequestsParams{LicenseID: *refs.LicenseID,
			Now: &e.OccurredAt}); err != nil {
			return nil, false, err
		}
	}
	for _, id := range ids {
		if err := s.recordWebhookDeliveries(ctx, q, id, e.Type, e.OccurredAt); err != nil {
			return nil, false, err
		}
	}
	if s.outbox.queue != nil && s.outbox.queue.FansOut(e.Type) {
		fanOut = ids
	}
	return fanOut, true, nil
}

type noTxError struct{}

func (noTxError) Error() string { return "events must be recorded inside a transaction" }

var errNoTx = noTxError{}

// recordLicenseChange records what a license change means to the outside:
// suspended, reactivated, revoked, renewed (expiry moved later) or else updated.
func (s *Store) recordLicenseChange(ctx context.Context, q *Queries, action string, before, after License,
	now time.Time) error {
	typ := events.LicenseUpdated
	switch {
	case after.Status == "revoked" && before.Status != "revoked":
		typ = events.LicenseRevoked
	case after.Status == "suspended" && before.Status != "suspended":
		typ = events.LicenseSuspended
	case after.Status == "active" && before.Status == "suspended":
		typ = events.LicenseReactivated
	case after.ExpiresAt != nil && before.ExpiresAt != nil && after.ExpiresAt.After(*before.ExpiresAt),
		after.ExpiresAt == nil && before.ExpiresAt != nil:
		typ = events.LicenseRenewed
	}
	_, err := s.recordEvent(ctx, q, events.Event{Type: typ, OccurredAt: now, Data: licenseData(ctx, q, action, after)})
	return err
}

// recordLicense records a license event of typ for lic as it now stands.
func (s *Store) recordLicense(ctx context.Context, q *Queries, typ, action string, lic License, now time.Time) error {
	_, err := s.recordEvent(ctx, q, events.Event{Type: typ, OccurredAt: now, Data: licenseData(ctx, q, action, lic)})
	return err
}

func licenseData(ctx context.Context, q *Queries, action string, l License) events.License {
	plan, _ := q.GetPlan(ctx, l.PlanID)
	return events.License{LicenseID: l.ID, CustomerID: l.CustomerID, Plan: plan.Code, Status: l.Status,
		ExpiresAt: utcPtr(l.ExpiresAt), SuspendedReason: l.SuspendedReason, Action: action}
}

// recordDeployment records a deployment event of typ.
func (s *Store) recordDeployment(ctx context.Context, q *Queries, typ string, customerID uuid.UUID, d Deployment,
	now time.Time) error {
	_, err := s.recordEvent(ctx, q, events.Event{Type: typ, OccurredAt: now, Data: events.Deployment{
		LicenseID: d.LicenseID, CustomerID: customerID, DeploymentID: d.ID, ClientID: d.DeploymentID,
		Hostname: d.Hostname, LastSeenAt: d.LastSeenAt.UTC()}})
	return err
}

// recordCustomer records a customer event of typ.
func (s *Store) recordCustomer(ctx context.Context, q *Queries, typ string, c Customer, now time.Time) error {
	_, err := s.recordEvent(ctx, q, events.Event{Type: typ, OccurredAt: now, Data: events.Customer{
		CustomerID: c.ID, Name: c.Name, Email: c.Email, Company: c.Company}})
	return err
}

// RecordMilestones records time-based events, each once per milestone key
// however often it is offered, in one transaction, and returns how many were new.
func (s *Store) RecordMilestones(ctx context.Context, evs []events.Event) (int, error) {
	n := 0
	err := s.inTx(ctx, func(q *Queries) error {
		n = 0
		// Their fan-out is enqueued together, as jobs of many events: a
		// scan may find thousands, and a job each bounded how fast the
		// workers went through them.
		var fanOut []uuid.UUID
		for _, e := range evs {
			ids, added, err := s.appendEvent(ctx, q, e)
			if err != nil {
				return err
			}
			if added {
				n++
			}
			fanOut = append(fanOut, ids...)
		}
		return s.enqueueFanOut(ctx, q, fanOut)
	})
	return n, err
}

// StripeCancelsAtPeriodEnd reports whether the license's Stripe subscription
// is set to cancel at the end of its period; false when Stripe never said so.
func (s *Store) StripeCancelsAtPeriodEnd(ctx context.Context, licenseID uuid.UUID) (bool, error) {
	cancel, err := s.q.GetStripeCancelAtPeriodEnd(ctx, licenseID)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return cancel, err
}

// The reads the milestone job calls. Each returns the query's rows; errors
// arrive already translated by the connection (conn.go).

func (s *Store) ListLicensesForMilestones(ctx context.Context, arg ListLicensesForMilestonesParams) ([]ListLicensesForMilestonesRow, error) {
	return s.q.ListLicensesForMilestones(ctx, arg)
}

func (s *Store) ListStaleDeploymentsForMilestones(ctx context.Context, arg ListStaleDeploymentsForMilestonesParams) ([]ListStaleDeploymentsForMilestonesRow, error) {
	return s.q.ListStaleDeploymentsForMilestones(ctx, arg)
}

func (s *Store) ListUsageNearLimitsForMilestones(ctx context.Context, now time.Time) ([]ListUsageNearLimitsForMilestonesRow, error) {
	return s.q.ListUsageNearLimitsForMilestones(ctx, now)
}
