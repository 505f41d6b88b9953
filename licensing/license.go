// A license's standing (stored status, suspension, expiry, payment) and the
// transitions admins, the API and billing apply to it. db maps rows to and
// from License; the rules live here only.

package licensing

import "time"

// SuspensionSource says who suspended a license, and so who may lift it:
// payment lifts only what payment caused; an admin's suspension waits for an
// admin.
type SuspensionSource string

// Suspension sources, as licenses.suspension_source stores them.
const (
	SuspendedByAdmin   SuspensionSource = "admin"
	SuspendedByPayment SuspensionSource = "payment"
	SuspendedByDispute SuspensionSource = "dispute"
)

// PaymentState is the license's billing standing.
type PaymentState string

// Payment states, as licenses.payment_state stores them.
const (
	PaymentOK      PaymentState = "ok"
	PaymentPastDue PaymentState = "past_due"
)

// Renewal bounds in days, for every surface that renews.
const (
	MinRenewDays = 1
	MaxRenewDays = 36500
)

// License is a license's standing: the stored facts its effective status is
// computed from, with who suspended it and why.
type License struct {
	Status           StoredStatus
	SuspendedReason  *string
	SuspensionSource *SuspensionSource
	RevokedAt        *time.Time
	StartsAt         time.Time
	ExpiresAt        *time.Time // nil: perpetual
	GraceDays        int
	PaymentState     PaymentState
	PastDueSince     *time.Time
	DunningDays      int
}

// Facts are the stored facts EffectiveStatus reads.
func (l License) Facts() LicenseFacts {
	return LicenseFacts{Status: l.Status, StartsAt: l.StartsAt, ExpiresAt: l.ExpiresAt, GraceDays: l.GraceDays,
		PastDue: l.PaymentState == PaymentPastDue, PastDueSince: l.PastDueSince, DunningDays: l.DunningDays}
}

// Effective is the license's effective status at now.
func (l License) Effective(now time.Time) Effective { return EffectiveStatus(l.Facts(), now) }

// GraceEnd is when the license stops validating: expiry plus its grace days,
// nil for a perpetual license. The SQL function license_grace_ends_at is the
// same rule for queries, pinned by db's agreement test.
func (l License) GraceEnd() *time.Time { return GraceEnd(l.ExpiresAt, l.GraceDays) }

// GraceEnd is expiresAt plus graceDays calendar days (as the portal shows
// them) in UTC; nil when expiresAt is nil.
func GraceEnd(expiresAt *time.Time, graceDays int) *time.Time {
	t, ok := graceEnd(expiresAt, graceDays)
	if !ok {
		return nil
	}
	return &t
}

// graceEnd is GraceEnd without allocating, for Decide's hot path.
func graceEnd(expiresAt *time.Time, graceDays int) (time.Time, bool) {
	if expiresAt == nil {
		return time.Time{}, false
	}
	return expiresAt.UTC().AddDate(0, 0, graceDays), true
}

// SuspendedBy reports whether the license is suspended by src.
func (l License) SuspendedBy(src SuspensionSource) bool {
	return l.Status == StatusSuspended && l.SuspensionSource != nil && *l.SuspensionSource == src
}

// Suspend marks the license suspended with a reason and its source. A
// revoked license stays revoked.
func (l *License) Suspend(reason string, src SuspensionSource) error {
	if l.Status == StatusRevoked {
		return Errorf(ECONFLICT, "a revoked license cannot be suspended")
	}
	l.Status, l.SuspendedReason, l.SuspensionSource = StatusSuspended, &reason, &src
	return nil
}

// Reactivate lifts a suspension of any source; an active license is left as
// it is.
func (l *License) Reactivate() error {
	switch l.Status {
	case StatusRevoked:
		return Errorf(ECONFLICT, "a revoked license cannot be reactivated")
	case StatusActive:
		return nil
	}
	l.Status, l.SuspendedReason, l.SuspensionSource = StatusActive, nil, nil
	return nil
}

// Revoke ends the license for good. Revoking twice keeps the first instant.
func (l *License) Revoke(now time.Time) error {
	if l.Status == StatusRevoked {
		return nil
	}
	l.Status, l.SuspendedReason, l.SuspensionSource, l.RevokedAt = StatusRevoked, nil, nil, &now
	return nil
}

// Renew sets a new expiry: expiresAt when given (it must lie after now),
// else days added to the current expiry, or to now when that is past (or
// the license is perpetual).
func (l *License) Renew(expiresAt *time.Time, days int, now time.Time) error {
	if l.Status == StatusRevoked {
		return Errorf(ECONFLICT, "a revoked license cannot be renewed")
	}
	if expiresAt != nil {
		if !expiresAt.After(now) {
			return Invalid("expiresAt must be in the future", ErrorDetail{Field: "expiresAt", Message: "in the past"})
		}
		t := *expiresAt
		l.ExpiresAt = &t
		return nil
	}
	if days < MinRenewDays || days > MaxRenewDays {
		return Invalid("days must be from 1 to 36500", ErrorDetail{Field: "days", Message: "out of range"})
	}
	from := now
	if l.ExpiresAt != nil && l.ExpiresAt.After(now) {
		from = *l.ExpiresAt
	}
	t := from.AddDate(0, 0, days)
	l.ExpiresAt = &t
	return nil
}

// Rekey checks that the license may be given a new key.
func (l License) Rekey() error {
	if l.Status == StatusRevoked {
		return Errorf(ECONFLICT, "a revoked license cannot be re-keyed")
	}
	return nil
}
