// Tests of heartbeats whose last-seen write waits for the next batch
// (db.LastSeen) and of those that must still write at once.
package handlers_test

import (
	"context"
	"testing"
	"time"
)

func TestHeartbeatLastSeenWaitsForTheBatchUnlessNearTheWindowEnd(t *testing.T) {
	f := newFixture(t)
	id, key := f.issue(map[string]any{"plan": "pro"}) // 24 h heartbeat window
	validate(t, f.testEnv, key, "a", nil)
	ctx := context.Background()
	setSeen := func(ago time.Duration) time.Time {
		t.Helper()
		var at time.Time
		if err := f.store.Pool.QueryRow(ctx, `UPDATE deployments SET last_seen_at = now() - make_interval(secs => $1),
			first_seen_at = now() - interval '30 hours' WHERE deployment_id = 'a' RETURNING last_seen_at`, ago.Seconds()).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	stored := func() time.Time {
		t.Helper()
		var at time.Time
		if err := f.store.Pool.QueryRow(ctx, `SELECT last_seen_at FROM deployments WHERE deployment_id = 'a'`).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	heartbeat := func() time.Time {
		t.Helper()
		r := f.do("POST", "/api/validation/heartbeat", "", map[string]any{"licenseKey": key, "deploymentId": "a",
			"hostname": "host-a", "appVersion": "1.2.3"})
		m := r.JSON(t)
		if r.Status != 200 || m["code"] != "VALID" {
			t.Fatalf("heartbeat: got %d %s, want 200 VALID", r.Status, r.Body)
		}
		at, err := time.Parse(time.RFC3339Nano, m["deployment"].(map[string]any)["lastSeenAt"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return at
	}

	// Seen a heartbeat interval ago: the answer says seen now, the row is
	// written with the next batch — here, before the deployments list.
	before := setSeen(15 * time.Minute)
	start := time.Now()
	if got := heartbeat(); got.Before(start.Add(-time.Second)) {
		t.Fatalf("answer's lastSeenAt: got %v, want about %v", got, start)
	}
	if got := stored(); !got.Equal(before) {
		t.Fatalf("stored last-seen right after the heartbeat: got %v, want still %v (the write waits for the batch)", got, before)
	}
	if r := f.do("GET", "/api/licenses/"+id+"/deployments", f.admin, nil); r.Status != 200 {
		t.Fatalf("deployments: %d %s", r.Status, r.Body)
	}
	if got := stored(); got.Before(start.Add(-time.Second)) {
		t.Fatalf("stored last-seen after the list: got %v, want about %v (flushed before the list)", got, start)
	}

	// Seen so long ago that a pending time could be what keeps the seat:
	// written at once, so every seat count sees it.
	setSeen(24*time.Hour - 5*time.Minute)
	start = time.Now()
	heartbeat()
	if got := stored(); got.Before(start.Add(-time.Second)) {
		t.Fatalf("stored last-seen near the window's end: got %v, want about %v at once", got, start)
	}
}
