// Tests of the license actions' own rule: the validation code an offline
// license file's lease carries, which must match what a live validation of
// the license would answer.
package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

// offlineStore signs the lease of lic as db.Store.ActivateOffline does once
// the seat is taken; every other method is absent.
type offlineStore struct {
	app.LicenseStore
	lic db.License
}

func (f offlineStore) ActivateOffline(_ context.Context, _ licensing.Actor, _ db.OfflineActivation, sign db.LeaseSigner,
	_ time.Time) (db.Deployment, string, time.Time, error) {
	lease, exp, err := sign(f.lic, "pro")
	return db.Deployment{}, lease, exp, err
}

func TestOfflineLeaseCarriesTheLiveValidationCode(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	ring, _, err := licensing.LoadOrInitKeyring(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	keys := app.NewKeyService(ring, "nls-test")
	at := func(t time.Time) *time.Time { return &t }
	base := db.License{ID: uuid.New(), CustomerID: uuid.New(), Status: string(licensing.StatusActive), Limits: []byte(`{}`),
		StartsAt: now.AddDate(-1, 0, 0), GraceDays: 14, OfflineDays: 30, HeartbeatWindowHours: 72, DunningDays: 10,
		PaymentState: "ok"}
	tests := []struct {
		name     string
		edit     func(l *db.License)
		wantCode licensing.ValidationCode
		maxDays  int // the lease ends no later than now + maxDays
	}{
		{"active", func(*db.License) {}, licensing.CodeValid, 30},
		{"in its grace period, the lease ends with the grace", func(l *db.License) { l.ExpiresAt = at(now.AddDate(0, 0, -10)) },
			licensing.CodeGracePeriod, 4},
		{"past due, the lease ends with the dunning", func(l *db.License) {
			l.PaymentState, l.PastDueSince = string(licensing.PaymentPastDue), at(now.AddDate(0, 0, -3))
		}, licensing.CodePaymentOverdue, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lic := base
			tc.edit(&lic)
			ls := app.NewLicenses(offlineStore{lic: lic}, keys, nil, func() time.Time { return now })
			off, err := ls.ActivateOffline(t.Context(), licensing.Actor{}, db.OfflineActivation{LicenseID: lic.ID, DeploymentID: "air-gapped-1"})
			if err != nil {
				t.Fatal(err)
			}
			claims, err := ring.VerifyLease(off.Lease, "air-gapped-1", now)
			if err != nil {
				t.Fatal(err)
			}
			if claims.Code != tc.wantCode {
				t.Errorf("code: got %s, want %s", claims.Code, tc.wantCode)
			}
			if limit := now.AddDate(0, 0, tc.maxDays); off.ExpiresAt.After(limit) || !off.IssuedAt.Equal(now) {
				t.Errorf("lease from %v to %v, want from %v to no later than %v", off.IssuedAt, off.ExpiresAt, now, limit)
			}
		})
	}
}
