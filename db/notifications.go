// Email notices made from events: fan-out to recipients (once per
// milestone and recipient), delivery state, opt-outs, unsubscribe links,
// customer contacts and renewal requests.

package db

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/nectarcloud/nls/licensing"
)

// FanOutRule says whether an event type is emailed to a contact of a role
// (customer, billing, technical, user), and under which opt-out category.
type FanOutRule func(eventType, role string) (category string, ok bool)

// FanOutEvent makes the notices of one event, one per recipient, and
// enqueues their sending in the same transaction. A recipient who opted out
// of the category gets a suppressed notice, visible on the admin page.
// Running it again for the same event (or milestone) adds nothing.
func (s *Store) FanOutEvent(ctx context.Context, eventID uuid.UUID, rule FanOutRule, now time.Time) (int, error) {
	made := 0
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := txQueries(tx)
		made = 0
		ev, err := q.GetEvent(ctx, eventID)
		if err != nil {
			return notFound(err, "event")
		}
		if ev.CustomerID == nil {
			return nil
		}
		contacts, err := q.ListNoticeRecipients(ctx, *ev.CustomerID)
		if err != nil {
			return err
		}
		key := eventID.String()
		if ev.MilestoneKey != nil {
			key = *ev.MilestoneKey
		}
		seen := map[string]bool{}
		var queued []uuid.UUID
		for _, c := range contacts {
			category, ok := rule(ev.Type, c.Role)
			addr := strings.ToLower(c.Email)
			if !ok || seen[addr] {
				continue
			}
			seen[addr] = true
			status := "queued"
			out, err := q.IsOptedOut(ctx, IsOptedOutParams{Email: addr, Category: category})
			if err != nil {
				return err
			}
			if out {
				status = "suppressed"
			}
			ids, err := q.InsertNotification(ctx, InsertNotificationParams{EventID: &ev.ID, EventType: ev.Type,
				Category: category, Recipient: addr, LicenseID: ev.LicenseID, CustomerID: ev.CustomerID,
				DedupeKey: key + "|" + addr, Status: status, Now: now})
			if err != nil {
				return err
			}
			made += len(ids)
			if status == "queued" {
				queued = append(queued, ids...)
			}
		}
		return s.enqueueNotifications(ctx, tx, queued)
	})
	return made, Translate(err)
}

func (s *Store) enqueueNotifications(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error {
	if len(ids) == 0 || s.outbox.queue == nil {
		return nil
	}
	if err := s.outbox.queue.EnqueueNotifications(ctx, tx, ids); err != nil {
		return licensing.Internal(err)
	}
	return nil
}

// QueueDigest makes the staff digest of one day for each address, once per
// address and day, and enqueues its sending.
func (s *Store) QueueDigest(ctx context.Context, day time.Time, staff []string, now time.Time) (int, error) {
	made := 0
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := txQueries(tx)
		made = 0
		var queued []uuid.UUID
		for _, addr := range staff {
			addr = strings.ToLower(strings.TrimSpace(addr))
			ids, err := q.InsertNotification(ctx, InsertNotificationParams{EventType: "staff.digest", Category: "digest",
				Recipient: addr, DedupeKey: "digest|" + day.UTC().Format("2006-01-02") + "|" + addr, Status: "queued", Now: now})
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

// Notice is a notification with what sending it needs.
type Notice struct {
	Notification
	Event        *Event // nil for the staff digest
	CustomerName string
	OptedOut     bool
}

// GetNotice loads a notification for sending.
func (s *Store) GetNotice(ctx context.Context, id uuid.UUID) (Notice, error) {
	var n Notice
	var err error
	if n.Notification, err = s.q.GetNotification(ctx, id); err != nil {
		return n, notFound(err, "notification")
	}
	if n.EventID != nil {
		ev, err := s.q.GetEvent(ctx, *n.EventID)
		if err != nil {
			return n, Translate(err)
		}
		n.Event = &ev
	}
	if n.CustomerID != nil {
		c, err := s.q.GetCustomer(ctx, *n.CustomerID)
		if err != nil {
			return n, Translate(err)
		}
		n.CustomerName = c.Name
	}
	if n.Category != "digest" {
		if n.OptedOut, err = s.q.IsOptedOut(ctx, IsOptedOutParams{Email: n.Recipient, Category: n.Category}); err != nil {
			return n, Translate(err)
		}
	}
	return n, nil
}

// MarkNoticeSent records a delivery.
func (s *Store) MarkNoticeSent(ctx context.Context, id uuid.UUID, subject string, now time.Time) error {
	return Translate(s.q.MarkNotificationSent(ctx, MarkNotificationSentParams{ID: id, Subject: subject, Now: &now}))
}

// MarkNoticeAttemptFailed records a failed attempt: retrying while attempts
// remain, failed after the last.
func (s *Store) MarkNoticeAttemptFailed(ctx context.Context, id uuid.UUID, final bool, cause string, now time.Time) error {
	status := "retrying"
	if final {
		status = "failed"
	}
	return Translate(s.q.MarkNotificationFailedAttempt(ctx, MarkNotificationFailedAttemptParams{ID: id, Status: status,
		LastError: cause, Now: now}))
}

// MarkNoticeSuppressed records that the notice was not sent, and why (the
// recipient opted out, or email is not configured).
func (s *Store) MarkNoticeSuppressed(ctx context.Context, id uuid.UUID, reason string, now time.Time) error {
	return Translate(s.q.MarkNotificationSuppressed(ctx, MarkNotificationSuppressedParams{ID: id, Reason: reason, Now: now}))
}

// ResendNotice puts a notice back in the queue ("send again" on the admin
// page) and enqueues its sending, both in one transaction.
func (s *Store) ResendNotice(ctx context.Context, actor licensing.Actor, id uuid.UUID, now time.Time) (Notification, error) {
	var n Notification
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q := txQueries(tx)
		before, err := q.GetNotificationForUpdate(ctx, id)
		if err != nil {
			return notFound(err, "notification")
		}
		if before.Status == "queued" {
			n = before
			return nil
		}
		if n, err = q.RequeueNotification(ctx, RequeueNotificationParams{ID: id, Now: now}); err != nil {
			return err
		}
		if err := s.enqueueNotifications(ctx, tx, []uuid.UUID{id}); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "notification.resend", EntityType: "notification",
			EntityID: id.String(), CustomerID: n.CustomerID,
			Before: map[string]any{"status": before.Status, "recipient": before.Recipient, "event": before.EventType},
			After:  map[string]any{"status": n.Status}}, now)
	})
	return n, Translate(err)
}

// UseUnsubscribeLink applies the link of one notice: its recipient stops
// receiving that notice's category. It works once; a second use reports
// ok false.
func (s *Store) UseUnsubscribeLink(ctx context.Context, id uuid.UUID, now time.Time) (recipient, category string, ok bool, err error) {
	err = s.inTx(ctx, func(q *Queries) error {
		row, err := q.UseUnsubscribeLink(ctx, UseUnsubscribeLinkParams{ID: id, Now: &now})
		if err != nil {
			if licensing.ErrorCode(Translate(err)) == licensing.ENOTFOUND {
				return nil
			}
			return err
		}
		recipient, category, ok = row.Recipient, row.Category, true
		if category == "digest" {
			return nil
		}
		return q.AddOptOut(ctx, AddOptOutParams{Email: recipient, Category: category, Now: now})
	})
	return recipient, category, ok, err
}

// OptOuts lists the categories an address opted out of.
func (s *Store) OptOuts(ctx context.Context, email string) ([]string, error) {
	out, err := s.q.ListOptOuts(ctx, email)
	return out, Translate(err)
}

// SetOptOuts replaces an address's opt-outs among categories by those in out.
func (s *Store) SetOptOuts(ctx context.Context, email string, categories, out []string, now time.Time) error {
	return s.inTx(ctx, func(q *Queries) error {
		off := map[string]bool{}
		for _, c := range out {
			off[c] = true
		}
		for _, c := range categories {
			var err error
			if off[c] {
				err = q.AddOptOut(ctx, AddOptOutParams{Email: email, Category: c, Now: now})
			} else {
				err = q.RemoveOptOut(ctx, RemoveOptOutParams{Email: email, Category: c})
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// NotificationFilter selects notices for the admin page.
type NotificationFilter struct {
	Status    string
	EventType string
	Recipient string
	LicenseID *uuid.UUID
	Before    *Notification // keyset cursor: the last row of the previous page
	Limit     int32
}

// ListNotifications lists notices newest first.
func (s *Store) ListNotifications(ctx context.Context, f NotificationFilter) ([]Notification, error) {
	p := ListNotificationsParams{Status: emptyAsNil(f.Status), EventType: emptyAsNil(f.EventType),
		Recipient: emptyAsNil(f.Recipient), LicenseID: f.LicenseID, MaxRows: f.Limit}
	if f.Before != nil {
		p.BeforeCreated, p.BeforeID = &f.Before.CreatedAt, &f.Before.ID
	}
	rows, err := s.q.ListNotifications(ctx, p)
	return rows, Translate(err)
}

func emptyAsNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// RequestRenewal records a customer's request to renew a license (one open
// request per license: asking again updates its message) and audits it.
func (s *Store) RequestRenewal(ctx context.Context, actor licensing.Actor, licenseID, customerID uuid.UUID,
	userID *uuid.UUID, message string, now time.Time) (RenewalRequest, error) {
	var r RenewalRequest
	if len([]rune(message)) > 2000 {
		return r, licensing.Invalid("the message is too long", licensing.ErrorDetail{Field: "message", Message: "at most 2000 characters"})
	}
	err := s.inTx(ctx, func(q *Queries) error {
		var err error
		if r, err = q.CreateRenewalRequest(ctx, CreateRenewalRequestParams{LicenseID: licenseID, CustomerID: customerID,
			RequestedBy: userID, Message: message, Now: now}); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "license.renewal_request", EntityType: "license",
			EntityID: licenseID.String(), CustomerID: &customerID, After: map[string]any{"message": message}}, now)
	})
	return r, err
}

// OpenRenewalRequest is the license's open renewal request, if any.
func (s *Store) OpenRenewalRequest(ctx context.Context, licenseID uuid.UUID) (*RenewalRequest, error) {
	r, err := s.q.GetOpenRenewalRequest(ctx, licenseID)
	if err != nil {
		if licensing.ErrorCode(Translate(err)) == licensing.ENOTFOUND {
			return nil, nil
		}
		return nil, Translate(err)
	}
	return &r, nil
}

// The reads handlers and jobs call. Each returns the query's rows; errors
// arrive already translated by the connection (conn.go).

func (s *Store) GetNotification(ctx context.Context, id uuid.UUID) (Notification, error) {
	return s.q.GetNotification(ctx, id)
}

func (s *Store) CountNotificationsByStatus(ctx context.Context) ([]CountNotificationsByStatusRow, error) {
	return s.q.CountNotificationsByStatus(ctx)
}

func (s *Store) CountFailedNotificationsSince(ctx context.Context, since time.Time) (int64, error) {
	return s.q.CountFailedNotificationsSince(ctx, since)
}

func (s *Store) DigestExpiringLicenses(ctx context.Context, now time.Time) ([]DigestExpiringLicensesRow, error) {
	return s.q.DigestExpiringLicenses(ctx, now)
}

func (s *Store) DigestPastDueLicenses(ctx context.Context) ([]DigestPastDueLicensesRow, error) {
	return s.q.DigestPastDueLicenses(ctx)
}

func (s *Store) DigestStripeEventsNeedingAttention(ctx context.Context) (int64, error) {
	return s.q.DigestStripeEventsNeedingAttention(ctx)
}
