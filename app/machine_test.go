// Tests of the validation use case's seat logic: which decision the stored
// facts allow, when a seat is refreshed or taken, and how the outcome of the
// seat changes the final answer. The store is a fake of the small interface;
// keys are real, signed by a real keyring.
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

// fakeStore answers the validation read with row and the seat calls with
// the outcomes set, and counts the calls.
type fakeStore struct {
	row                  db.GetValidationContextRow
	refreshHolds         bool
	acquireOutcome       db.SeatOutcome
	acquireInUse         int
	refreshes, acquires  int
	releases, recordings int
}

// The policy methods: the rows these tests use set no policy, so none of
// them is reached; each counts as a recording if it were.
func (f *fakeStore) Releases(context.Context, uuid.UUID) ([]licensing.AppRelease, error) {
	return nil, nil
}
func (f *fakeStore) SeatRank(context.Context, uuid.UUID, uuid.UUID, time.Time, time.Duration, time.Time) (int, error) {
	f.recordings++
	return 0, nil
}
func (f *fakeStore) RecordSeatOverage(context.Context, uuid.UUID, time.Time, time.Time, int, int, time.Time) error {
	f.recordings++
	return nil
}
func (f *fakeStore) SetDeploymentFingerprint(context.Context, licensing.Actor, uuid.UUID, uuid.UUID, uuid.UUID, string,
	licensing.Fingerprint, licensing.Fingerprint, bool, time.Time) error {
	f.recordings++
	return nil
}
func (f *fakeStore) AuditFingerprintRefused(context.Context, licensing.Actor, uuid.UUID, uuid.UUID, string,
	licensing.Fingerprint, licensing.Fingerprint, time.Time) error {
	f.recordings++
	return nil
}

func (f *fakeStore) ValidationContext(context.Context, [32]byte, string, time.Time) (db.GetValidationContextRow, error) {
	return f.row, nil
}

func (f *fakeStore) RefreshSeat(_ context.Context, id uuid.UUID, _ time.Duration, info db.DeploymentInfo, now time.Time) (db.Deployment, bool, error) {
	f.refreshes++
	if !f.refreshHolds {
		return db.Deployment{}, false, nil
	}
	return db.Deployment{ID: id, DeploymentID: info.DeploymentID, Status: "active", FirstSeenAt: now.Add(-time.Hour), LastSeenAt: now}, true, nil
}

func (f *fakeStore) AcquireSeats(_ context.Context, r db.SeatRequest) (db.SeatAnswer, error) {
	licenseID, info, now := r.LicenseID, r.Info, r.Now
	f.acquires++
	d := db.Deployment{ID: uuid.New(), LicenseID: licenseID, DeploymentID: info.DeploymentID, FirstSeenAt: now, LastSeenAt: now}
	switch f.acquireOutcome {
	case db.SeatHeld:
		d.Status = "active"
	case db.SeatDeactivated:
		d.Status = "deactivated"
	default:
		d = db.Deployment{}
	}
	return db.SeatAnswer{Deployment: d, Outcome: f.acquireOutcome, InUse: f.acquireInUse}, nil
}

func (f *fakeStore) ReleaseDeployment(context.Context, licensing.Actor, uuid.UUID, uuid.UUID, string, string, time.Time) (db.Deployment, error) {
	f.releases++
	return db.Deployment{}, nil
}

func (f *fakeStore) ReportUsage(context.Context, db.UsageLicense, *uuid.UUID, []db.UsageReportIn, time.Time) (db.UsageRecorded, error) {
	f.recordings++
	return db.UsageRecorded{}, nil
}

type counts map[string]int

func (c counts) Record(_ uuid.UUID, code string, _ time.Time) { c[code]++ }

func TestValidateSettlesTheSeatBetweenTwoDecisions(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	ring, _, err := licensing.LoadOrInitKeyring(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	keys := app.NewKeyService(ring, "nls-test")
	licenseID, customerID := uuid.New(), uuid.New()
	max := int32(2)
	key, _, err := keys.IssueLicenseKey(db.LicenseKeyFacts{LicenseID: licenseID, KeyID: uuid.New(), CustomerID: customerID,
		Plan: "pro", Features: []string{"sso"}, MaxDeployments: &max, StartsAt: now.AddDate(0, -1, 0)}, now)
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	at := func(t time.Time) *time.Time { return &t }
	license := func(status licensing.StoredStatus, seatsInUse int32) db.GetValidationContextRow {
		return db.GetValidationContextRow{ID: licenseID, CustomerID: customerID, Status: string(status),
			Features: []string{"sso"}, Limits: []byte(`{}`), MaxDeployments: &max, StartsAt: now.AddDate(0, -1, 0),
			OfflineDays: 7, HeartbeatWindowHours: 72, PaymentState: "ok", PlanCode: "pro", SeatsInUse: seatsInUse}
	}
	// known adds the asking deployment to the row, last seen at seen.
	known := func(r db.GetValidationContextRow, status licensing.DeploymentStatus, seen time.Time) db.GetValidationContextRow {
		pk := uuid.New()
		r.DeploymentPk, r.DeploymentStatus = &pk, str(string(status))
		r.DeploymentFingerprint, r.DeploymentHostname, r.DeploymentIp, r.DeploymentAppVersion = str(""), str("host"), str("10.0.0.1"), str("1.0")
		r.DeploymentFirstSeenAt, r.DeploymentLastSeenAt = at(now.AddDate(0, 0, -10)), at(seen)
		return r
	}
	tests := []struct {
		name           string
		store          fakeStore
		features       []string
		wantCode       licensing.ValidationCode
		wantRefreshes  int
		wantAcquires   int
		wantDeployment string // state shown; "" when no deployment block
		wantSeats      int
	}{
		{name: "a new deployment takes a free seat", store: fakeStore{row: license(licensing.StatusActive, 1), acquireOutcome: db.SeatHeld, acquireInUse: 2},
			wantCode: licensing.CodeValid, wantAcquires: 1, wantDeployment: "active", wantSeats: 2},
		{name: "a new deployment finds the seats taken under the lock", store: fakeStore{row: license(licensing.StatusActive, 1), acquireOutcome: db.SeatsFull, acquireInUse: 2},
			wantCode: licensing.CodeTooManyDeployments, wantAcquires: 1, wantSeats: 1},
		{name: "a holder seen a moment ago with the same facts writes nothing", store: fakeStore{row: known(license(licensing.StatusActive, 2), licensing.DeploymentStoredActive, now.Add(-10*time.Second))},
			wantCode: licensing.CodeValid, wantDeployment: "active", wantSeats: 2},
		{name: "a holder seen minutes ago is seen again in the next batch, not now", store: fakeStore{row: known(license(licensing.StatusActive, 2), licensing.DeploymentStoredActive, now.Add(-15*time.Minute))},
			wantCode: licensing.CodeValid, wantDeployment: "active", wantSeats: 2},
		{name: "a holder near its window's end refreshes its seat at once", store: fakeStore{row: known(license(licensing.StatusActive, 2), licensing.DeploymentStoredActive, now.Add(-72*time.Hour+5*time.Minute)), refreshHolds: true},
			wantCode: licensing.CodeValid, wantRefreshes: 1, wantDeployment: "active", wantSeats: 2},
		{name: "a holder released after the read asks for a seat and is refused as deactivated", store: fakeStore{row: known(license(licensing.StatusActive, 2), licensing.DeploymentStoredActive, now.Add(-72*time.Hour+5*time.Minute)), acquireOutcome: db.SeatDeactivated, acquireInUse: 1},
			wantCode: licensing.CodeDeploymentDeactivated, wantRefreshes: 1, wantAcquires: 1, wantSeats: 2},
		{name: "a stale holder revives through the seat check", store: fakeStore{row: known(license(licensing.StatusActive, 1), licensing.DeploymentStoredActive, now.Add(-100*time.Hour)), acquireOutcome: db.SeatHeld, acquireInUse: 2},
			wantCode: licensing.CodeValid, wantAcquires: 1, wantDeployment: "active", wantSeats: 2},
		{name: "a suspended license touches no seat and shows the deployment as stored", store: fakeStore{row: known(license(licensing.StatusSuspended, 2), licensing.DeploymentStoredActive, now.Add(-10*time.Minute))},
			wantCode: licensing.CodeSuspended, wantDeployment: "active", wantSeats: 2},
		{name: "a deployment released before the read is refused without a write", store: fakeStore{row: known(license(licensing.StatusActive, 1), licensing.DeploymentDeactivated, now.Add(-time.Hour))},
			wantCode: licensing.CodeDeploymentDeactivated, wantDeployment: "deactivated", wantSeats: 1},
		{name: "a missing feature still takes the seat", store: fakeStore{row: license(licensing.StatusActive, 0), acquireOutcome: db.SeatHeld, acquireInUse: 1},
			features: []string{"audit"}, wantCode: licensing.CodeFeatureNotEntitled, wantAcquires: 1, wantDeployment: "active", wantSeats: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, stats := tc.store, counts{}
			m := app.NewMachine(&st, keys, stats, db.NewLastSeen(nil, nil), func() time.Time { return now })
			ans, err := m.Validate(t.Context(), app.ValidateRequest{Credentials: app.Credentials{Key: key, DeploymentID: "dep-1"},
				Hostname: "host", IP: "10.0.0.1", AppVersion: "1.0", Features: tc.features})
			if err != nil {
				t.Fatal(err)
			}
			if ans.Code != string(tc.wantCode) {
				t.Errorf("code: got %s, want %s (%s)", ans.Code, tc.wantCode, ans.Detail)
			}
			if st.refreshes != tc.wantRefreshes || st.acquires != tc.wantAcquires {
				t.Errorf("seat calls: got %d refreshes and %d acquires, want %d and %d", st.refreshes, st.acquires, tc.wantRefreshes, tc.wantAcquires)
			}
			gotDep := ""
			if ans.Deployment != nil {
				gotDep = ans.Deployment.Status
			}
			if gotDep != tc.wantDeployment {
				t.Errorf("deployment: got %q, want %q", gotDep, tc.wantDeployment)
			}
			if ans.License == nil || ans.License.ActiveDeployments != tc.wantSeats {
				t.Errorf("license block: got %+v, want %d seats in use", ans.License, tc.wantSeats)
			}
			if valid := tc.wantCode.Valid(); ans.Valid != valid || (ans.Lease != nil) != valid {
				t.Errorf("valid %v with lease %v, want valid and a lease iff the code is valid (%v)", ans.Valid, ans.Lease != nil, valid)
			}
			if stats[ans.Code] != 1 || len(stats) != 1 {
				t.Errorf("counted %v, want one %s", stats, ans.Code)
			}
		})
	}
}

func TestReleaseAndUsageRefuseAReplacedKey(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	ring, _, err := licensing.LoadOrInitKeyring(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	keys := app.NewKeyService(ring, "nls-test")
	id := uuid.New()
	key, _, err := keys.IssueLicenseKey(db.LicenseKeyFacts{LicenseID: id, KeyID: uuid.New(), CustomerID: uuid.New(), StartsAt: now}, now)
	if err != nil {
		t.Fatal(err)
	}
	st := &fakeStore{row: db.GetValidationContextRow{ID: id, KeyReplacedAt: &now}}
	m := app.NewMachine(st, keys, counts{}, db.NewLastSeen(nil, nil), func() time.Time { return now })
	cr := app.Credentials{Key: key, DeploymentID: "dep-1"}
	if _, err := m.Deactivate(t.Context(), cr, licensing.Actor{}); licensing.ErrorCode(err) != licensing.EUNAUTHORIZED {
		t.Errorf("deactivate: got %v, want EUNAUTHORIZED", err)
	}
	if _, err := m.ReportUsage(t.Context(), cr, nil); licensing.ErrorCode(err) != licensing.EUNAUTHORIZED {
		t.Errorf("usage: got %v, want EUNAUTHORIZED", err)
	}
	if st.releases != 0 || st.recordings != 0 {
		t.Errorf("a replaced key wrote: %d releases, %d recordings", st.releases, st.recordings)
	}
}
