// Table tests of License's transitions, GraceEnd and the deployment seat
// rule and state, at their boundaries.

package licensing

import (
	"testing"
	"time"
)

func TestLicenseTransitions(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	earlier := now.Add(-time.Hour)
	reason := "fraud check"
	admin, payment := SuspendedByAdmin, SuspendedByPayment
	active := License{Status: StatusActive}
	suspended := License{Status: StatusSuspended, SuspendedReason: &reason, SuspensionSource: &payment}
	revoked := License{Status: StatusRevoked, RevokedAt: &earlier}
	tests := []struct {
		name     string
		from     License
		do       func(*License) error
		wantCode string // "" for success
		want     License
	}{
		{"suspend active", active, func(l *License) error { return l.Suspend(reason, SuspendedByAdmin) }, "",
			License{Status: StatusSuspended, SuspendedReason: &reason, SuspensionSource: &admin}},
		{"suspend suspended replaces source", suspended, func(l *License) error { return l.Suspend(reason, SuspendedByAdmin) }, "",
			License{Status: StatusSuspended, SuspendedReason: &reason, SuspensionSource: &admin}},
		{"suspend revoked", revoked, func(l *License) error { return l.Suspend(reason, SuspendedByAdmin) }, ECONFLICT, revoked},
		{"reactivate suspended", suspended, (*License).Reactivate, "", License{Status: StatusActive}},
		{"reactivate active is a no-op", active, (*License).Reactivate, "", active},
		{"reactivate revoked", revoked, (*License).Reactivate, ECONFLICT, revoked},
		{"revoke active", active, func(l *License) error { return l.Revoke(now) }, "", License{Status: StatusRevoked, RevokedAt: &now}},
		{"revoke suspended clears suspension", suspended, func(l *License) error { return l.Revoke(now) }, "",
			License{Status: StatusRevoked, RevokedAt: &now}},
		{"revoke twice keeps first instant", revoked, func(l *License) error { return l.Revoke(now) }, "", revoked},
		{"rekey active", active, func(l *License) error { return l.Rekey() }, "", active},
		{"rekey suspended", suspended, func(l *License) error { return l.Rekey() }, "", suspended},
		{"rekey revoked", revoked, func(l *License) error { return l.Rekey() }, ECONFLICT, revoked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.from
			err := tc.do(&l)
			if got := ErrorCode(err); err != nil && got != tc.wantCode || err == nil && tc.wantCode != "" {
				t.Fatalf("error %v (code %q), want code %q", err, got, tc.wantCode)
			}
			if l.Status != tc.want.Status || !eqStr(l.SuspendedReason, tc.want.SuspendedReason) ||
				!eqSrc(l.SuspensionSource, tc.want.SuspensionSource) || !eqTime(l.RevokedAt, tc.want.RevokedAt) {
				t.Errorf("got %+v, want %+v", l, tc.want)
			}
		})
	}
}

func TestLicenseRenew(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	day := 24 * time.Hour
	tests := []struct {
		name      string
		status    StoredStatus
		expiresAt *time.Time // current
		to        *time.Time
		days      int
		wantCode  string
		want      *time.Time
	}{
		{"days from a future expiry", StatusActive, at(10 * day), nil, 30, "", at(40 * day)},
		{"days from now when expired", StatusActive, at(-10 * day), nil, 30, "", at(30 * day)},
		{"days from now at the expiry instant", StatusActive, at(0), nil, 1, "", at(day)},
		{"days make a perpetual license expire", StatusActive, nil, nil, 7, "", at(7 * day)},
		{"suspended renews", StatusSuspended, at(day), nil, 1, "", at(2 * day)},
		{"fewest days", StatusActive, at(0), nil, MinRenewDays, "", at(day)},
		{"most days", StatusActive, at(0), nil, MaxRenewDays, "", ptrTime(now.AddDate(0, 0, MaxRenewDays))},
		{"zero days", StatusActive, at(day), nil, 0, EINVALID, at(day)},
		{"too many days", StatusActive, at(day), nil, MaxRenewDays + 1, EINVALID, at(day)},
		{"to a future instant", StatusActive, at(day), at(time.Second), 0, "", at(time.Second)},
		{"to now is refused", StatusActive, at(day), at(0), 0, EINVALID, at(day)},
		{"to the past is refused", StatusActive, at(day), at(-time.Second), 0, EINVALID, at(day)},
		{"revoked", StatusRevoked, at(day), nil, 30, ECONFLICT, at(day)},
		{"revoked, to an instant", StatusRevoked, at(day), at(day * 2), 0, ECONFLICT, at(day)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := License{Status: tc.status, ExpiresAt: tc.expiresAt}
			err := l.Renew(tc.to, tc.days, now)
			if got := ErrorCode(err); err != nil && got != tc.wantCode || err == nil && tc.wantCode != "" {
				t.Fatalf("error %v (code %q), want code %q", err, got, tc.wantCode)
			}
			if !eqTime(l.ExpiresAt, tc.want) {
				t.Errorf("expires %v, want %v", l.ExpiresAt, tc.want)
			}
		})
	}
}

func TestGraceEnd(t *testing.T) {
	exp := time.Date(2026, 2, 28, 23, 30, 0, 0, time.UTC)
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		name      string
		expiresAt *time.Time
		days      int
		want      *time.Time
	}{
		{"perpetual", nil, 7, nil},
		{"no grace", &exp, 0, &exp},
		{"calendar days across month end", &exp, 1, ptrTime(time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC))},
		{"a year", &exp, 365, ptrTime(time.Date(2027, 2, 28, 23, 30, 0, 0, time.UTC))},
		// Days are counted in UTC, as license_grace_ends_at counts them,
		// whatever zone the expiry was read in.
		{"counted in UTC", ptrTime(exp.In(berlin)), 1, ptrTime(time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := License{ExpiresAt: tc.expiresAt, GraceDays: tc.days}.GraceEnd()
			if !eqTime(got, tc.want) || got != nil && got.Location() != time.UTC {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	// The effective status turns expired exactly after the grace end.
	l := License{Status: StatusActive, StartsAt: exp.AddDate(-1, 0, 0), ExpiresAt: &exp, GraceDays: 7}
	end := *l.GraceEnd()
	if s := l.Effective(end).State; s != StateGrace {
		t.Errorf("at the grace end: %s, want grace", s)
	}
	if s := l.Effective(end.Add(time.Nanosecond)).State; s != StateExpired {
		t.Errorf("after the grace end: %s, want expired", s)
	}
}

func TestDeploymentSeatAndState(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	window := 24 * time.Hour
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	tests := []struct {
		name      string
		d         Deployment
		wantSeat  bool
		wantState DeploymentState
		wantAPI   DeploymentState
	}{
		{"active, just seen", Deployment{Status: DeploymentStoredActive, LastSeenAt: now}, true, DeploymentActive, DeploymentActive},
		{"active, inside the window", Deployment{Status: DeploymentStoredActive, LastSeenAt: now.Add(-window + time.Nanosecond)},
			true, DeploymentActive, DeploymentActive},
		{"active, at the window's edge", Deployment{Status: DeploymentStoredActive, LastSeenAt: now.Add(-window)},
			false, DeploymentStale, DeploymentStale},
		{"active, long gone", Deployment{Status: DeploymentStoredActive, LastSeenAt: now.Add(-30 * window)},
			false, DeploymentStale, DeploymentStale},
		{"offline file valid, never checks in",
			Deployment{Status: DeploymentStoredActive, LastSeenAt: now.Add(-30 * window), Offline: true, OfflineUntil: at(time.Nanosecond)},
			true, DeploymentOffline, DeploymentActive},
		{"offline file ends now",
			Deployment{Status: DeploymentStoredActive, LastSeenAt: now.Add(-30 * window), Offline: true, OfflineUntil: at(0)},
			false, DeploymentStale, DeploymentStale},
		{"offline file ended, checking in",
			Deployment{Status: DeploymentStoredActive, LastSeenAt: now, Offline: true, OfflineUntil: at(-time.Hour)},
			true, DeploymentActive, DeploymentActive},
		{"live deployment with a valid file",
			Deployment{Status: DeploymentStoredActive, LastSeenAt: now.Add(-30 * window), OfflineUntil: at(time.Hour)},
			true, DeploymentActive, DeploymentActive},
		{"released", Deployment{Status: DeploymentDeactivated, LastSeenAt: now}, false, DeploymentReleased, DeploymentReleased},
		{"released, its offline file still holds the seat",
			Deployment{Status: DeploymentDeactivated, LastSeenAt: now, Offline: true, OfflineUntil: at(time.Hour)},
			true, DeploymentReleased, DeploymentReleased},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.d.HoldsSeat(window, now); got != tc.wantSeat {
				t.Errorf("holds seat %v, want %v", got, tc.wantSeat)
			}
			st := tc.d.State(window, now)
			if st != tc.wantState {
				t.Errorf("state %s, want %s", st, tc.wantState)
			}
			if got := st.APIState(); got != tc.wantAPI {
				t.Errorf("API state %s, want %s", got, tc.wantAPI)
			}
		})
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

func eqTime(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }

func eqStr(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func eqSrc(a, b *SuspensionSource) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
