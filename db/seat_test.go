// Seat acquisition in one statement (acquire_seat): each outcome, and the
// deployment.activated event with its webhook deliveries written with a new
// seat (and no fan-out job: no notice follows from it).
package db_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/jobs"
	"github.com/nectarcloud/nls/licensing"
)

func TestAcquireSeatOutcomesAndActivationEvent(t *testing.T) {
	f := newSeatFixture(t, 1)
	if _, err := jobs.New(f.store.Pool, f.store, jobs.Config{}); err != nil { // enqueue only: no workers run
		t.Fatal(err)
	}
	ctx, now := context.Background(), time.Now()
	hook, err := f.store.CreateWebhookEndpoint(ctx, licensing.Actor{Type: "system", Label: "test"}, uuid.New(),
		db.WebhookEndpointInput{URL: "https://hooks.example.com/", Events: []string{events.DeploymentActivated}, Enabled: true},
		[]byte("sealed"), now)
	if err != nil {
		t.Fatal(err)
	}
	one := int32(1)
	activations := func() (evs []json.RawMessage, queued int) {
		t.Helper()
		rows, err := f.store.Pool.Query(ctx, `SELECT data FROM events WHERE type = 'deployment.activated' AND license_id = $1`, f.license)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var d json.RawMessage
			if err := rows.Scan(&d); err != nil {
				t.Fatal(err)
			}
			evs = append(evs, d)
		}
		var fanOuts int
		if err := f.store.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind LIKE 'event_fanout%'`).Scan(&fanOuts); err != nil {
			t.Fatal(err)
		}
		if fanOuts != 0 {
			t.Fatalf("%d fan-out jobs for activations, which no notice follows from", fanOuts)
		}
		// Each activation's delivery to the endpoint, enqueued with it.
		if err := f.store.Pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries d
			JOIN events ev ON ev.id = d.event_id AND ev.type = 'deployment.activated' AND ev.license_id = $1
			JOIN river_job j ON j.kind = 'webhook_delivery' AND (j.args->>'deliveryId')::uuid = d.id
			WHERE d.endpoint_id = $2 AND d.event_type = 'deployment.activated'`, f.license, hook.ID).Scan(&queued); err != nil {
			t.Fatal(err)
		}
		return evs, queued
	}

	dep, outcome, inUse, err := f.store.AcquireSeat(ctx, f.license, &one, 24*time.Hour,
		db.DeploymentInfo{DeploymentID: "a", Hostname: "host-a", AppVersion: "1.0.0", IP: "10.0.0.1"}, now)
	if err != nil || outcome != db.SeatHeld || inUse != 1 {
		t.Fatalf("first seat: got %v %d %v, want held, 1 in use", outcome, inUse, err)
	}
	if dep.DeploymentID != "a" || dep.Status != "active" || dep.Hostname != "host-a" || dep.LicenseID != f.license ||
		!dep.LastSeenAt.Equal(now.Truncate(time.Microsecond)) {
		t.Fatalf("first seat: got deployment %+v", dep)
	}
	evs, queued := activations()
	if len(evs) != 1 || queued != 1 {
		t.Fatalf("after a new seat: %d deployment.activated events and %d webhook deliveries queued, want 1 and 1", len(evs), queued)
	}
	var got events.Deployment
	if err := json.Unmarshal(evs[0], &got); err != nil {
		t.Fatal(err)
	}
	want := events.Deployment{LicenseID: f.license, CustomerID: f.customer, DeploymentID: dep.ID, ClientID: "a",
		Hostname: "host-a", LastSeenAt: dep.LastSeenAt.UTC()}
	if got != want {
		t.Fatalf("event data: got %+v, want %+v", got, want)
	}
	var keys map[string]any
	_ = json.Unmarshal(evs[0], &keys)
	if len(keys) != 6 {
		t.Fatalf("event data has keys %v, want exactly the six of events.Deployment", keys)
	}

	// Another deployment while the only seat is held: refused, nothing written.
	if _, outcome, inUse, err := f.store.AcquireSeat(ctx, f.license, &one, 24*time.Hour,
		db.DeploymentInfo{DeploymentID: "b"}, now); err != nil || outcome != db.SeatsFull || inUse != 1 {
		t.Fatalf("second deployment: got %v %d %v, want full with 1 in use", outcome, inUse, err)
	}
	if _, err := f.store.Raw().GetDeployment(ctx, db.GetDeploymentParams{LicenseID: f.license, DeploymentID: "b"}); err == nil {
		t.Fatal("a refused deployment was stored")
	}

	// A's seat lapses; B takes it; A, back, is refused, then revived once B
	// is released — a revival is not a first activation: no new event.
	if _, err := f.store.Pool.Exec(ctx, `UPDATE deployments SET first_seen_at = $2, last_seen_at = $2 WHERE id = $1`, dep.ID,
		now.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, outcome, _, err := f.store.AcquireSeat(ctx, f.license, &one, 24*time.Hour,
		db.DeploymentInfo{DeploymentID: "b"}, now); err != nil || outcome != db.SeatHeld {
		t.Fatalf("b after a lapsed: got %v %v, want held", outcome, err)
	}
	if _, err := f.store.ReleaseDeployment(ctx, licensing.SystemActor("test"), f.license, f.customer, "b", "admin", now); err != nil {
		t.Fatal(err)
	}
	revived, outcome, inUse, err := f.store.AcquireSeat(ctx, f.license, &one, 24*time.Hour,
		db.DeploymentInfo{DeploymentID: "a", Hostname: "host-a2"}, now)
	if err != nil || outcome != db.SeatHeld || inUse != 1 || revived.ID != dep.ID || revived.Hostname != "host-a2" {
		t.Fatalf("a revived: got %v %d %v %+v, want held, 1 in use, same row, new hostname", outcome, inUse, err, revived)
	}
	if evs, queued := activations(); len(evs) != 2 || queued != 2 {
		t.Fatalf("after a and b: %d activation events and %d webhook deliveries, want 2 and 2 (a revival records none)", len(evs), queued)
	}

	// A released deployment asks again: it stays released.
	rel, outcome, _, err := f.store.AcquireSeat(ctx, f.license, &one, 24*time.Hour, db.DeploymentInfo{DeploymentID: "b"}, now)
	if err != nil || outcome != db.SeatDeactivated || rel.Status != "deactivated" || rel.DeactivatedAt == nil {
		t.Fatalf("released b: got %v %v %+v, want deactivated", outcome, err, rel)
	}

	if _, _, _, err := f.store.AcquireSeat(ctx, uuid.New(), &one, 24*time.Hour, db.DeploymentInfo{DeploymentID: "x"},
		now); licensing.ErrorCode(err) != licensing.ENOTFOUND {
		t.Fatalf("unknown license: got %v, want not found", err)
	}
}

// A seat batch commits in one statement while no endpoint wants new
// deployments' events, and in a transaction that enqueues the deliveries'
// jobs while one does: an endpoint added, switched off, switched back on or
// widened between two batches gets exactly the activations of the batches
// after it, each with its job.
func TestSeatDeliveriesFollowEndpointsAsTheyChange(t *testing.T) {
	f := newSeatFixture(t, 100)
	if _, err := jobs.New(f.store.Pool, f.store, jobs.Config{}); err != nil { // enqueue only: no workers run
		t.Fatal(err)
	}
	ctx, now := context.Background(), time.Now()
	actor := licensing.Actor{Type: "system", Label: "test"}
	// seat takes a seat for a new deployment and answers how many deliveries
	// its activation got, and how many of those have their job queued.
	seat := func(id string) (deliveries, queued int) {
		t.Helper()
		_, outcome, _, err := f.store.AcquireSeat(ctx, f.license, nil, 24*time.Hour, db.DeploymentInfo{DeploymentID: id}, now)
		if err != nil || outcome != db.SeatHeld {
			t.Fatalf("seat %s: %v %v", id, outcome, err)
		}
		if err := f.store.Pool.QueryRow(ctx, `SELECT count(d.id), count(j.id) FROM events ev
			JOIN deployments dep ON dep.id = ev.deployment_id AND dep.license_id = $1 AND dep.deployment_id = $2
			LEFT JOIN webhook_deliveries d ON d.event_id = ev.id
			LEFT JOIN river_job j ON j.kind = 'webhook_delivery' AND (j.args->>'deliveryId')::uuid = d.id
			WHERE ev.type = 'deployment.activated'`, f.license, id).Scan(&deliveries, &queued); err != nil {
			t.Fatal(err)
		}
		return deliveries, queued
	}
	expect := func(id string, want int) {
		t.Helper()
		if d, q := seat(id); d != want || q != want {
			t.Fatalf("seat %s: %d deliveries, %d of them queued; want %d and %d", id, d, q, want, want)
		}
	}
	setEnabled := func(id uuid.UUID, on bool, types ...string) {
		t.Helper()
		if _, err := f.store.UpdateWebhookEndpoint(ctx, actor, id, func(in *db.WebhookEndpointInput) error {
			in.Enabled = on
			if types != nil {
				in.Events = types
			}
			return nil
		}, now); err != nil {
			t.Fatal(err)
		}
	}

	expect("before-any-endpoint", 0)
	other, err := f.store.CreateWebhookEndpoint(ctx, actor, uuid.New(), db.WebhookEndpointInput{
		URL: "https://hooks.example.com/other", Events: []string{events.LicenseSuspended}, Enabled: true}, []byte("sealed"), now)
	if err != nil {
		t.Fatal(err)
	}
	expect("endpoint-for-other-events", 0)
	hook, err := f.store.CreateWebhookEndpoint(ctx, actor, uuid.New(), db.WebhookEndpointInput{
		URL: "https://hooks.example.com/", Events: []string{events.DeploymentActivated}, Enabled: true}, []byte("sealed"), now)
	if err != nil {
		t.Fatal(err)
	}
	expect("endpoint-added", 1)
	expect("endpoint-still-there", 1)
	setEnabled(hook.ID, false)
	expect("endpoint-off", 0)
	expect("endpoint-still-off", 0)
	setEnabled(hook.ID, true)
	expect("endpoint-on-again", 1)
	setEnabled(other.ID, true, "*")
	expect("two-endpoints", 2)
}
