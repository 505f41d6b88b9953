// Tests of the effective-status table, boundaries included.
package licensing

import (
	"testing"
	"time"
)

func TestEffectiveStatus(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	exp := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	graceEnd := exp.AddDate(0, 0, 7)
	pastDue := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	dunningEnd := pastDue.AddDate(0, 0, 14)
	base := LicenseFacts{Status: StatusActive, StartsAt: start, ExpiresAt: &exp, GraceDays: 7, DunningDays: 14}
	with := func(mod func(f *LicenseFacts)) LicenseFacts {
		f := base
		mod(&f)
		return f
	}
	due := func(f *LicenseFacts) { f.PastDue, f.PastDueSince = true, &pastDue }
	tests := []struct {
		name       string
		facts      LicenseFacts
		now        time.Time
		want       State
		graceEnd   *time.Time
		dunningEnd *time.Time
	}{
		{"active", base, start.AddDate(0, 1, 0), StateActive, nil, nil},
		{"active at start", base, start, StateActive, nil, nil},
		{"not yet valid", base, start.Add(-time.Nanosecond), StateNotYetValid, nil, nil},
		{"active exactly at expiry", base, exp, StateActive, nil, nil},
		{"grace 1ns after expiry", base, exp.Add(time.Nanosecond), StateGrace, &graceEnd, nil},
		{"grace exactly at grace end", base, graceEnd, StateGrace, &graceEnd, nil},
		{"expired 1ns after grace end", base, graceEnd.Add(time.Nanosecond), StateExpired, &graceEnd, nil},
		{"expired 1s after grace end", base, graceEnd.Add(time.Second), StateExpired, &graceEnd, nil},
		{"no grace: expired 1ns after expiry", with(func(f *LicenseFacts) { f.GraceDays = 0 }), exp.Add(time.Nanosecond), StateExpired, &exp, nil},
		{"perpetual far future", with(func(f *LicenseFacts) { f.ExpiresAt = nil }), start.AddDate(100, 0, 0), StateActive, nil, nil},
		{"suspended", with(func(f *LicenseFacts) { f.Status = StatusSuspended }), start.AddDate(0, 1, 0), StateSuspended, nil, nil},
		{"revoked", with(func(f *LicenseFacts) { f.Status = StatusRevoked }), start.AddDate(0, 1, 0), StateRevoked, nil, nil},
		{"past due inside dunning", with(due), pastDue.AddDate(0, 0, 3), StatePastDue, nil, &dunningEnd},
		{"past due exactly at dunning end", with(due), dunningEnd, StatePastDue, nil, &dunningEnd},
		{"past due beyond dunning: suspended", with(due), dunningEnd.Add(time.Nanosecond), StateSuspended, nil, &dunningEnd},
		{"past due without date counts from now", with(func(f *LicenseFacts) { f.PastDue = true }), start.AddDate(0, 1, 0), StatePastDue, nil, ptr(start.AddDate(0, 1, 14))},
		{"zero dunning days: suspended after", with(func(f *LicenseFacts) { due(f); f.DunningDays = 0 }), pastDue.Add(time.Second), StateSuspended, nil, &pastDue},
		{"revoked beats expired", with(func(f *LicenseFacts) { f.Status = StatusRevoked }), graceEnd.AddDate(1, 0, 0), StateRevoked, nil, nil},
		{"suspended beats not yet valid", with(func(f *LicenseFacts) { f.Status = StatusSuspended }), start.Add(-time.Hour), StateSuspended, nil, nil},
		{"dunning-suspended beats expired", with(due), graceEnd.Add(time.Hour), StateSuspended, nil, &dunningEnd},
		{"grace beats past due", with(func(f *LicenseFacts) { f.PastDue, f.PastDueSince = true, ptr(exp) }), exp.Add(time.Hour), StateGrace, &graceEnd, nil},
		{"not yet valid beats expired", with(func(f *LicenseFacts) { f.StartsAt = graceEnd.AddDate(1, 0, 0) }), graceEnd.Add(time.Hour), StateNotYetValid, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EffectiveStatus(tt.facts, tt.now)
			if got.State != tt.want || got.Valid != tt.want.Valid() {
				t.Fatalf("got %v (valid %v), want %v (valid %v)", got.State, got.Valid, tt.want, tt.want.Valid())
			}
			if !sameTime(got.GraceEndsAt, tt.graceEnd) {
				t.Errorf("graceEndsAt: got %v, want %v", got.GraceEndsAt, tt.graceEnd)
			}
			if !sameTime(got.DunningEndsAt, tt.dunningEnd) {
				t.Errorf("dunningEndsAt: got %v, want %v", got.DunningEndsAt, tt.dunningEnd)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
