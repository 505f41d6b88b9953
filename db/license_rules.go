package db

import (
	"time"

	"github.com/nectarcloud/nls/licensing"
)

// Suspension sources: who may lift a suspension. Payment lifts only what
// payment caused; an admin's suspension waits for an admin.
const (
	SuspendedByAdmin   = "admin"
	SuspendedByPayment = "payment"
	SuspendedByDispute = "dispute"
)

// Facts are the stored facts licensing's effective-status rule reads.
func (l License) FactsForStatus() licensing.LicenseFacts {
	return licensing.LicenseFacts{
		Status:       licensing.StoredStatus(l.Status),
		StartsAt:     l.StartsAt,
		ExpiresAt:    l.ExpiresAt,
		GraceDays:    int(l.GraceDays),
		PastDue:      l.PaymentState == "past_due",
		PastDueSince: l.PastDueSince,
		DunningDays:  int(l.DunningDays),
	}
}

// Effective is the license's effective status at now.
func (l License) Effective(now time.Time) licensing.Effective {
	return licensing.EffectiveStatus(l.FactsForStatus(), now)
}

// Suspend marks the license suspended with a reason and its source.
func Suspend(l *License, reason, source string) error {
	if l.Status == "revoked" {
		return licensing.Errorf(licensing.ECONFLICT, "a revoked license cannot be suspended")
	}
	l.Status, l.SuspendedReason, l.SuspensionSource = "suspended", &reason, &source
	return nil
}

// Reactivate lifts a suspension of any source.
func Reactivate(l *License) error {
	switch l.Status {
	case "revoked":
		return licensing.Errorf(licensing.ECONFLICT, "a revoked license cannot be reactivated")
	case "active":
		return nil
	}
	l.Status, l.SuspendedReason, l.SuspensionSource = "active", nil, nil
	return nil
}

// Revoke ends the license for good.
func Revoke(l *License, now time.Time) error {
	if l.Status == "revoked" {
		return nil
	}
	l.Status, l.SuspendedReason, l.SuspensionSource, l.RevokedAt = "revoked", nil, nil, &now
	return nil
}
