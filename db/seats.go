// Seat acquisition in batches: concurrent requests' new deployments taking
// seats, written by one acquire_seats statement (migration 00024).
package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/licensing"
)

// SeatRequest is one deployment asking for a seat of its license.
type SeatRequest struct {
	LicenseID uuid.UUID
	// Limit admits at most this many holders (nil: no limit).
	Limit *int32
	// CountFrom is how many seats the others may hold before the answer's
	// count must be exact (the plan's seats, nil: never): below it the
	// seat is granted on the license's tally alone, and InUse is -1.
	CountFrom *int32
	Window    time.Duration
	Info      DeploymentInfo
	Now       time.Time

	origin string // the facts cache that learns of the seat itself (factsPayload)
}

// SeatAnswer is what a SeatRequest ended in: the deployment (when held or
// deactivated), and the seats in use afterwards, or -1 when they were not
// counted.
type SeatAnswer struct {
	Deployment Deployment
	Outcome    SeatOutcome
	InUse      int
}

// Batches: up to seatBatchMax requests each, seatBatchParallel at once.
// Batches running side by side lock licenses that others hold (a batch of
// 64 licenses among thousands shares some with the next), and so queue on
// each other in PostgreSQL: on 2 cores make bench measured one at a time
// best (p99 69 ms against 122–364 ms for 2–8 at once; 16 per batch halved
// the throughput).
const (
	seatBatchMax      = 64
	seatBatchParallel = 1
)

type seatResult struct {
	answer  SeatAnswer
	eventID *uuid.UUID
	err     error // this request's own failure (its license is gone)
}

// AcquireSeats asks for a seat through the combiner: alone when nothing
// else is asking, in one statement with the requests queued meanwhile when
// others are.
func (s *Store) AcquireSeats(ctx context.Context, r SeatRequest) (SeatAnswer, error) {
	res, err := s.seatCombiner().do(ctx, r)
	if err == nil {
		err = res.err
	}
	return res.answer, err
}

func (s *Store) seatCombiner() *combiner[SeatRequest, seatResult] {
	s.seatsOnce.Do(func() { s.seats = newCombiner(seatBatchMax, seatBatchParallel, s.runSeats) })
	return s.seats
}

// runSeats runs a batch: in rounds that hold one request per license (the
// statement locks each license once; two requests of one license are
// decided one after the other, as they would be alone), then tells every
// process's facts cache, after the commit, of the seats taken.
func (s *Store) runSeats(ctx context.Context, batch []SeatRequest) ([]seatResult, error) {
	out := make([]seatResult, len(batch))
	pending := make([]int, len(batch))
	for i := range pending {
		pending[i] = i
	}
	var payloads []string
	for len(pending) > 0 {
		seen := make(map[uuid.UUID]bool, len(pending))
		var round, rest []int
		for _, i := range pending {
			if seen[batch[i].LicenseID] {
				rest = append(rest, i)
				continue
			}
			seen[batch[i].LicenseID] = true
			round = append(round, i)
		}
		if err := s.acquireRound(ctx, batch, round, out); err != nil {
			return nil, err
		}
		for _, i := range round {
			if out[i].answer.Outcome == SeatHeld {
				payloads = append(payloads, factsPayload(batch[i].LicenseID, batch[i].origin))
			}
		}
		pending = rest
	}
	if len(payloads) > 0 {
		// In a transaction of its own (see migration 00023 for why), and
		// beside the answers rather than before them, so that the next
		// batch does not wait for it. Should this fail, the seats stand and
		// other caches' entries expire in time.
		go func() { _ = s.q.NotifyLicenseFactsMany(context.WithoutCancel(ctx), payloads) }()
	}
	return out, nil
}

// acquireSeatsSQL is written here rather than generated: sqlc cannot type
// the columns of a function returning a set of records.
const acquireSeatsSQL = `SELECT ord, outcome, in_use, event_id, id, license_id, deployment_id, status, fingerprint,
    hostname, ip, app_version, coalesce(offline, false), deactivated_at, deactivated_by, first_seen_at, last_seen_at,
    offline_until, fingerprint_components
FROM acquire_seats($1::uuid[], $2::text[], $3::int[], $4::int[], $5::int[], $6::uuid[], $7::text[], $8::text[],
    $9::text[], $10::text[], $11::boolean[], $12::timestamptz[], $13::text, $14::jsonb[])`

// acquireSeatsAloneSQL is acquireSeatsSQL in a statement of its own, for a
// batch whose events need no job: it takes no seat (acquire_seats is not
// called: a false one-time filter gates its scan) and answers one row, its
// first column true, when an enabled webhook endpoint wants the events, as
// those deliveries' jobs must be enqueued in the seats' transaction.
// Otherwise its first column is false and the statement commits on its own,
// in one round trip, where a transaction takes four (begin, statement,
// deliveries, commit): on 2 busy cores each round trip kept the batch
// leader waiting 1–2 ms, a third of a batch's time.
var acquireSeatsAloneSQL = `WITH wanted AS MATERIALIZED (
    SELECT EXISTS (SELECT 1 FROM webhook_endpoints e
        WHERE e.enabled AND ($13::text = ANY (e.event_types) OR '*' = ANY (e.event_types))) AS w
), s AS MATERIALIZED (` + acquireSeatsSQL + `
    WHERE NOT (SELECT w FROM wanted)
)
SELECT (SELECT w FROM wanted), s.* FROM (SELECT) AS one LEFT JOIN s ON true ORDER BY s.ord`

// acquireRound runs one acquire_seats statement for the requests at idx
// (of distinct licenses), with the fan-out of their events enqueued in the
// same transaction when events fan out through a job queue.
func (s *Store) acquireRound(ctx context.Context, batch []SeatRequest, idx []int, out []seatResult) error {
	n := len(idx)
	lics, deps := make([]uuid.UUID, n), make([]string, n)
	limits, countFrom, hours := make([]int32, n), make([]int32, n), make([]int32, n)
	ids, fps, hosts, ips, vers := make([]uuid.UUID, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	offline, nows, data := make([]bool, n), make([]time.Time, n), make([]string, n)
	var eventType *string
	if !s.outbox.off {
		t := events.DeploymentActivated
		eventType = &t
	}
	for k, i := range idx {
		r := batch[i]
		lics[k], deps[k], hours[k], ids[k] = r.LicenseID, r.Info.DeploymentID, windowHours(r.Window), uuid.New()
		limits[k], countFrom[k] = orNone(r.Limit), orNone(r.CountFrom)
		fps[k], hosts[k], ips[k], vers[k], offline[k], nows[k] = r.Info.Fingerprint, r.Info.Hostname, r.Info.IP,
			r.Info.AppVersion, r.Info.Offline, r.Now
		data[k] = "{}"
		if eventType != nil {
			// The event as recordDeployment writes it; the statement adds
			// the customer, read from the locked license row. Times are
			// stored to the microsecond, as the deployment's last_seen_at is.
			b, err := json.Marshal(events.Deployment{LicenseID: r.LicenseID, DeploymentID: ids[k],
				ClientID: r.Info.DeploymentID, Hostname: r.Info.Hostname, LastSeenAt: r.Now.Truncate(time.Microsecond).UTC()})
			if err != nil {
				return licensing.Internal(err)
			}
			data[k] = string(b)
		}
	}
	args := []any{lics, deps, limits, countFrom, hours, ids, fps, hosts, ips, vers, offline, nows, eventType, data}
	// query runs the statement (alone: acquireSeatsAloneSQL) and answers
	// the events recorded, or wanted when it stood back for a transaction.
	query := func(ctx context.Context, q interface {
		Query(context.Context, string, ...any) (pgx.Rows, error)
	}, alone bool) (evs []uuid.UUID, wanted bool, err error) {
		sql := acquireSeatsSQL
		if alone {
			sql = acquireSeatsAloneSQL
		}
		rows, err := q.Query(ctx, sql, args...)
		if err != nil {
			return nil, false, err
		}
		defer rows.Close()
		answered := 0
		// One set of destinations for every row: NULL-aware values rather
		// than pointers, so that a row allocates only its strings.
		var ord, inUse pgtype.Int4
		var outcome pgtype.Text // NULL, as ord, in the row of a statement that stood back
		var eventID, id, licenseID pgtype.UUID
		var deploymentID, status, fingerprint, hostname, ip, appVersion, deactivatedBy pgtype.Text
		var offlineFlag pgtype.Bool
		var deactivatedAt, firstSeen, lastSeen, offlineUntil pgtype.Timestamptz
		var components []byte
		dest := []any{&ord, &outcome, &inUse, &eventID, &id, &licenseID, &deploymentID, &status, &fingerprint,
			&hostname, &ip, &appVersion, &offlineFlag, &deactivatedAt, &deactivatedBy, &firstSeen, &lastSeen,
			&offlineUntil, &components}
		if alone {
			dest = append([]any{&wanted}, dest...)
		}
		for rows.Next() {
			components = nil
			if err := rows.Scan(dest...); err != nil {
				return nil, false, err
			}
			if wanted {
				return nil, true, rows.Err()
			}
			if !ord.Valid || ord.Int32 < 1 || int(ord.Int32) > n || !outcome.Valid {
				return nil, false, fmt.Errorf("acquire_seats answered item %v of %d", ord, n)
			}
			a := SeatAnswer{InUse: -1, Deployment: Deployment{ID: id.Bytes, LicenseID: licenseID.Bytes,
				DeploymentID: deploymentID.String, Status: status.String, Fingerprint: fingerprint.String,
				Hostname: hostname.String, Ip: ip.String, AppVersion: appVersion.String, Offline: offlineFlag.Bool,
				DeactivatedAt: timeOrNil(deactivatedAt), DeactivatedBy: textOrNil(deactivatedBy), FirstSeenAt: firstSeen.Time,
				LastSeenAt: lastSeen.Time, OfflineUntil: timeOrNil(offlineUntil), FingerprintComponents: components}}
			if inUse.Valid {
				a.InUse = int(inUse.Int32)
			}
			switch outcome.String {
			case "held":
				a.Outcome = SeatHeld
			case "deactivated":
				a.Outcome = SeatDeactivated
			case "full":
				a.Outcome, a.Deployment = SeatsFull, Deployment{}
			}
			var eventIDp *uuid.UUID
			if eventID.Valid {
				e := uuid.UUID(eventID.Bytes)
				eventIDp = &e
			}
			res := seatResult{answer: a, eventID: eventIDp}
			switch outcome.String {
			case "held", "deactivated", "full":
			case "no_license":
				res = seatResult{err: licensing.Errorf(licensing.ENOTFOUND, "license not found")}
			default:
				return nil, false, fmt.Errorf("acquire_seats answered %q", outcome.String)
			}
			answered++
			out[idx[ord.Int32-1]] = res
			if eventIDp != nil {
				evs = append(evs, *eventIDp)
			}
		}
		if err := rows.Err(); err != nil {
			return nil, false, err
		}
		if answered != n {
			return nil, false, fmt.Errorf("acquire_seats answered %d of %d items", answered, n)
		}
		return evs, false, nil
	}
	run := func() error {
		if s.outbox.off {
			s.seatStatements.Add(1)
			_, _, err := query(ctx, s.Pool, false)
			return err
		}
		fansOut := s.outbox.queue != nil && s.outbox.queue.FansOut(events.DeploymentActivated)
		if !fansOut && !s.seatsNotified.Load() {
			_, wanted, err := query(ctx, s.Pool, true)
			if err != nil || !wanted {
				if err == nil {
					s.seatStatements.Add(1)
				}
				return err
			}
			s.seatsNotified.Store(true)
		}
		// The activations' webhook deliveries, and their fan-out when
		// notices can follow from them, in the seats' transaction, as
		// recordEvent makes them for every other event.
		s.seatStatements.Add(1)
		return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
			evs, _, err := query(ctx, tx, false)
			if err != nil || len(evs) == 0 {
				return err
			}
			q := txQueries(tx)
			deliveries, err := q.InsertWebhookDeliveriesForEvents(ctx, evs)
			if err != nil {
				return err
			}
			// No delivery: no endpoint wants these events (any longer), and
			// the next batch tries its statement alone again.
			s.seatsNotified.Store(len(deliveries) > 0)
			if err := s.enqueueWebhookDeliveries(ctx, q, deliveries); err != nil {
				return err
			}
			if s.outbox.queue == nil || !s.outbox.queue.FansOut(events.DeploymentActivated) {
				return nil
			}
			return s.outbox.queue.EnqueueEvents(ctx, tx, evs)
		})
	}
	err := run()
	if isUniqueViolation(err) {
		// acquire_seats inserts new deployments without ON CONFLICT (every
		// writer locks the license first, migration 00031); a row that
		// appeared anyway failed the statement whole, and the next one's
		// snapshot holds it.
		s.seatRetries.Add(1)
		err = run()
	}
	return Translate(err)
}

// isUniqueViolation reports whether PostgreSQL refused err's statement for
// a duplicate key.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// orNone is a limit as acquire_seats takes it: -1 for none.
func orNone(p *int32) int32 {
	if p == nil {
		return -1
	}
	return *p
}

// timeOrNil is a nullable timestamp as the models hold it.
func timeOrNil(t pgtype.Timestamptz) *time.Time {
	if !t.Valid {
		return nil
	}
	return &t.Time
}

// textOrNil is a nullable text as the models hold it.
func textOrNil(t pgtype.Text) *string {
	if !t.Valid {
		return nil
	}
	return &t.String
}
