package db_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/licensing"
)

// The SQL function deployment_holds_seat (used by every query that counts
// seats) must agree with licensing's seat rule on every combination, including the
// exact edges of the heartbeat window and of an offline file's window.
func TestSeatRuleSQLAgreesWithGo(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	ptr := func(t time.Time) *time.Time { return &t }
	window := 24 * time.Hour
	seen := []time.Time{now, now.Add(-time.Hour), now.Add(-window + time.Microsecond), now.Add(-window),
		now.Add(-window - time.Microsecond), now.Add(-30 * 24 * time.Hour)}
	offline := []*time.Time{nil, ptr(now.Add(time.Hour)), ptr(now.Add(time.Microsecond)), ptr(now),
		ptr(now.Add(-time.Microsecond)), ptr(now.Add(-10 * 24 * time.Hour))}
	n, held := 0, 0
	for _, status := range []string{"active", "deactivated"} {
		for _, s := range seen {
			for _, off := range offline {
				want := licensing.Deployment{Status: licensing.DeploymentStatus(status), LastSeenAt: s,
					OfflineUntil: off}.HoldsSeat(window, now)
				got, err := store.Raw().DeploymentHoldsSeatAt(ctx, db.DeploymentHoldsSeatAtParams{Status: status, LastSeenAt: s,
					OfflineUntil: off, WindowHours: 24, At: now})
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s seen %v ago, offline until %v: SQL says %v, Go says %v", status, now.Sub(s), off, got, want)
				}
				n++
				if want {
					held++
				}
			}
		}
	}
	if n != 72 || held == 0 || held == n {
		t.Fatalf("checked %d combinations, %d holding a seat", n, held)
	}
}

// seatFixture is a license of maxDeployments seats for one customer, and a
// second customer.
type seatFixture struct {
	store          *db.Store
	license, other uuid.UUID
	customer       uuid.UUID
	otherCustomer  uuid.UUID
}

func newSeatFixture(t *testing.T, maxDeployments int32) seatFixture {
	t.Helper()
	store := dbtest.NewStore(t)
	ctx, now := context.Background(), time.Now()
	spec := licensing.DefaultPlanSpec()
	spec.Code, spec.Name, spec.MaxDeployments, spec.HeartbeatWindowHours = "seats", "Seats", &maxDeployments, 24
	if _, err := store.CreatePlan(ctx, licensing.SystemActor("test"), spec, now); err != nil {
		t.Fatal(err)
	}
	ring, _, err := licensing.LoadOrInitKeyring(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := licensing.NewSealer("portal-test-seal-key-0123456789abcdefgh")
	f := seatFixture{store: store}
	for i, dst := range []*uuid.UUID{&f.customer, &f.otherCustomer} {
		cu, err := store.CreateCustomer(ctx, licensing.SystemActor("test"), db.CustomerInput{Name: fmt.Sprint("C", i),
			Email: fmt.Sprintf("c%d@example.com", i)}, now)
		if err != nil {
			t.Fatal(err)
		}
		*dst = cu.ID
	}
	for _, pair := range []struct {
		cust uuid.UUID
		dst  *uuid.UUID
	}{{f.customer, &f.license}, {f.otherCustomer, &f.other}} {
		l, _, err := store.CreateLicense(ctx, licensing.SystemActor("test"), ringIssuer{ring}, sealer,
			db.LicenseInput{CustomerID: pair.cust, Plan: "seats"}, now)
		if err != nil {
			t.Fatal(err)
		}
		*pair.dst = l.ID
	}
	return f
}

func fakeLease(l db.License, _ string) (string, time.Time, error) {
	return "lease-for-" + l.ID.String(), time.Now().Add(time.Duration(l.OfflineDays) * 24 * time.Hour), nil
}

// Online activations and offline files racing for the last seats never
// admit more than the license allows.
func TestOfflineActivationsAndValidationsShareTheSeats(t *testing.T) {
	f := newSeatFixture(t, 3)
	ctx := context.Background()
	max := int32(3)
	var wg sync.WaitGroup
	var mu sync.Mutex
	held := 0
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			now := time.Now()
			ok := false
			if i%2 == 0 {
				_, outcome, _, err := f.store.AcquireSeat(ctx, f.license, &max, 24*time.Hour,
					db.DeploymentInfo{DeploymentID: fmt.Sprint("online-", i)}, now)
				if err != nil {
					t.Error(err)
				}
				ok = outcome == db.SeatHeld
			} else {
				_, _, _, err := f.store.ActivateOffline(ctx, licensing.SystemActor("test"), db.OfflineActivation{
					CustomerID: f.customer, LicenseID: f.license, DeploymentID: fmt.Sprint("offline-", i)}, fakeLease, now)
				if err != nil && licensing.ErrorCode(err) != licensing.ECONFLICT {
					t.Error(err)
				}
				ok = err == nil
			}
			if ok {
				mu.Lock()
				held++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	inUse, err := f.store.Raw().CountSeatsInUse(ctx, db.CountSeatsInUseParams{LicenseID: f.license, WindowHours: 24, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if held != 3 || inUse != 3 {
		t.Fatalf("%d activations succeeded and %d seats are held, want 3 and 3", held, inUse)
	}
}

// Store operations of the portal take the customer: another customer's
// license is not found and nothing changes.
func TestPortalStoreOperationsAreScopedToTheCustomer(t *testing.T) {
	f := newSeatFixture(t, 2)
	ctx, now := context.Background(), time.Now()
	actor := licensing.Actor{Type: licensing.ActorCustomerUser, ID: "u1", Label: "u1@example.com"}
	max := int32(2)
	if _, outcome, _, err := f.store.AcquireSeat(ctx, f.other, &max, 24*time.Hour, db.DeploymentInfo{DeploymentID: "theirs"}, now); err != nil || outcome != db.SeatHeld {
		t.Fatal(outcome, err)
	}
	count := func() (n int) {
		_ = f.store.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM audit_log) + (SELECT count(*) FROM deployments WHERE status = 'active')`).Scan(&n)
		return n
	}
	before := count()
	sealer, _ := licensing.NewSealer("portal-test-seal-key-0123456789abcdefgh")
	checks := map[string]error{}
	_, checks["CustomerLicense"] = f.store.CustomerLicense(ctx, f.customer, f.other, now)
	_, checks["RevealCustomerKey"] = f.store.RevealCustomerKey(ctx, actor, sealer, f.customer, f.other, now)
	_, checks["ReleaseCustomerDeployment"] = f.store.ReleaseCustomerDeployment(ctx, actor, f.customer, f.other, "theirs", now)
	_, _, _, checks["ActivateOffline"] = f.store.ActivateOffline(ctx, actor, db.OfflineActivation{CustomerID: f.customer,
		LicenseID: f.other, DeploymentID: "mine"}, fakeLease, now)
	for name, err := range checks {
		if licensing.ErrorCode(err) != licensing.ENOTFOUND {
			t.Errorf("%s of another customer's license: got %v, want not found", name, err)
		}
	}
	if after := count(); after != before {
		t.Errorf("rows changed from %d to %d", before, after)
	}
}
