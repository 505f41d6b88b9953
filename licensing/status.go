// Effective status: the pure rule turning a license's stored facts and an
// instant into the state validation answers from.

package licensing

import "time"

// StoredStatus is what an admin (or billing) set on the license.
type StoredStatus string

// Stored statuses.
const (
	StatusActive    StoredStatus = "active"
	StatusSuspended StoredStatus = "suspended"
	StatusRevoked   StoredStatus = "revoked"
)

// State is the effective state of a license at an instant.
type State string

// Effective states, in the order EffectiveStatus checks them.
const (
	StateRevoked     State = "revoked"
	StateSuspended   State = "suspended"
	StateNotYetValid State = "not_yet_valid"
	StateExpired     State = "expired"
	StateGrace       State = "grace"
	StatePastDue     State = "past_due"
	StateActive      State = "active"
)

// ListedStates are the effective states in the order lists and dashboards
// show them: valid ones first, then why a license does not validate.
var ListedStates = []State{StateActive, StateGrace, StatePastDue, StateExpired, StateSuspended, StateNotYetValid,
	StateRevoked}

// Valid reports whether licenses in state s validate.
func (s State) Valid() bool { return s == StateActive || s == StateGrace || s == StatePastDue }

// LicenseFacts are the stored facts the effective status is computed from.
type LicenseFacts struct {
	Status       StoredStatus
	StartsAt     time.Time
	ExpiresAt    *time.Time // nil: perpetual
	GraceDays    int
	PastDue      bool       // payment state past_due
	PastDueSince *time.Time // when payment first failed; PastDue without it counts from now
	DunningDays  int
}

// Effective is a license's effective state at an instant.
type Effective struct {
	State         State
	Valid         bool
	GraceEndsAt   *time.Time // set in grace (and when expired, for messages)
	DunningEndsAt *time.Time // set when past due (and when suspended by dunning)
}

// effective is Effective without pointers, so Decide can hold it without
// allocating.
type effective struct {
	state      State
	graceEnd   time.Time // zero for perpetual licenses
	dunningEnd time.Time // zero unless past due
}

// graceEnd is GraceEnd, as a value.
func (f *LicenseFacts) graceEnd() (time.Time, bool) { return graceEnd(f.ExpiresAt, f.GraceDays) }

// dunningEnd is when a past-due license becomes suspended. A past-due flag
// without a date is treated as starting now (the safe reading: the full
// dunning period still lies ahead, no surprise suspension).
func (f *LicenseFacts) dunningEnd(now time.Time) (time.Time, bool) {
	if !f.PastDue {
		return time.Time{}, false
	}
	since := now
	if f.PastDueSince != nil {
		since = *f.PastDueSince
	}
	return since.AddDate(0, 0, f.DunningDays), true
}

// The single conditions, shared by evaluate and Decide's trace.
func (f *LicenseFacts) revoked() bool { return f.Status == StatusRevoked }

func (f *LicenseFacts) suspended(now time.Time) bool {
	if f.Status == StatusSuspended {
		return true
	}
	end, ok := f.dunningEnd(now)
	return ok && now.After(end)
}

func (f *LicenseFacts) notYetValid(now time.Time) bool { return now.Before(f.StartsAt) }

// expired means strictly after the grace end: at the grace end itself the
// license is still in grace, and at its expiry instant it is still active.
func (f *LicenseFacts) expired(now time.Time) bool {
	end, ok := f.graceEnd()
	return ok && now.After(end)
}

func evaluate(f *LicenseFacts, now time.Time) effective {
	var e effective
	e.graceEnd, _ = f.graceEnd()
	switch {
	case f.revoked():
		e.state = StateRevoked
	case f.suspended(now):
		e.state = StateSuspended
		if f.Status != StatusSuspended {
			e.dunningEnd, _ = f.dunningEnd(now)
		}
	case f.notYetValid(now):
		e.state = StateNotYetValid
	case f.expired(now):
		e.state = StateExpired
	case f.ExpiresAt != nil && now.After(*f.ExpiresAt):
		// Grace is checked before past due: a license in grace that is also
		// past due reports grace, per the table order.
		e.state = StateGrace
	default:
		if end, ok := f.dunningEnd(now); ok {
			e.state, e.dunningEnd = StatePastDue, end
		} else {
			e.state = StateActive
		}
	}
	return e
}

func (e effective) public() Effective {
	out := Effective{State: e.state, Valid: e.state.Valid()}
	if !e.graceEnd.IsZero() && (e.state == StateGrace || e.state == StateExpired) {
		t := e.graceEnd.UTC()
		out.GraceEndsAt = &t
	}
	if !e.dunningEnd.IsZero() {
		t := e.dunningEnd.UTC()
		out.DunningEndsAt = &t
	}
	return out
}

// EffectiveStatus is the effective state of a license at now. Checked in
// order: revoked; suspended (stored, or past due beyond the dunning days);
// not yet valid (now < starts); expired (now > expiry + grace days); grace
// (expiry < now <= grace end); past due (now <= past-due-since + dunning
// days); else active.
func EffectiveStatus(f LicenseFacts, now time.Time) Effective {
	return evaluate(&f, now).public()
}
