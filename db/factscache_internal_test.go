// The facts cache's bookkeeping of fills and changes, without a database.
package db

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestAFillIsKeptUnlessItsOwnLicenseChanged(t *testing.T) {
	c := NewFactsCache(nil, nil, 0)
	c.setLive(true)
	mine, other := uuid.New(), uuid.New()
	entry := func(id uuid.UUID) *cachedLicense {
		e := &cachedLicense{deps: map[string]Deployment{}}
		e.row.ID = id
		return e
	}
	begin := func() uint64 { c.mu.Lock(); defer c.mu.Unlock(); return c.gen }

	gen := begin()
	c.seated(other, Deployment{LicenseID: other, DeploymentID: "x"})
	c.invalidate(other.String())
	if !c.keep(gen, [32]byte{1}, entry(mine)) {
		t.Fatal("a fill was dropped because another license changed while it read")
	}
	gen = begin()
	c.seated(mine, Deployment{LicenseID: mine, DeploymentID: "y"})
	if c.keep(gen, [32]byte{1}, entry(mine)) {
		t.Fatal("a fill begun before its license took a seat was kept")
	}
	gen = begin()
	c.invalidate(mine.String())
	if c.keep(gen, [32]byte{1}, entry(mine)) {
		t.Fatal("a fill begun before its license changed was kept")
	}
	gen = begin()
	c.invalidate("*")
	if c.keep(gen, [32]byte{2}, entry(other)) {
		t.Fatal("a fill begun before everything was dropped was kept")
	}
	if !c.keep(begin(), [32]byte{2}, entry(other)) {
		t.Fatal("a fill begun after the changes was dropped")
	}
}

func TestSeatsTakenAfterALoadAreCountedOnce(t *testing.T) {
	c := NewFactsCache(nil, nil, time.Hour)
	c.setLive(true)
	lic, now := uuid.New(), time.Now()
	var row GetValidationContextRow
	row.ID, row.HeartbeatWindowHours = lic, 24
	// Loaded: one holding its seat, one lapsed (seen 2 days ago).
	lapsedID := uuid.New()
	e := newCachedLicense(row, []Deployment{
		{ID: uuid.New(), DeploymentID: "held", Status: "active", LastSeenAt: now},
		{ID: lapsedID, DeploymentID: "lapsed", Status: "active", LastSeenAt: now.Add(-48 * time.Hour)},
	}, now)
	if got := e.rowFor("held", now).SeatsInUse; got != 1 {
		t.Fatalf("as loaded: %d counted in use, want 1", got)
	}
	key := [32]byte{9}
	if !c.keep(c.gen, key, e) {
		t.Fatal("entry not kept")
	}
	// The lapsed one takes its seat again, then 40 new ones: more than an
	// entry collects beside its list before merging.
	c.seated(lic, Deployment{ID: lapsedID, DeploymentID: "lapsed", Status: "active", LastSeenAt: now})
	for i := 0; i < 40; i++ {
		c.seated(lic, Deployment{ID: uuid.New(), DeploymentID: fmt.Sprint("new-", i), Status: "active", LastSeenAt: now})
		got := c.byKey[key]
		if want := int32(i + 3); got.rowFor("held", now).SeatsInUse != want {
			t.Fatalf("after %d new seats: %d counted in use, want %d", i+1, got.rowFor("held", now).SeatsInUse, want)
		}
	}
	got := c.byKey[key]
	for _, id := range []string{"held", "lapsed", "new-0", "new-39"} {
		if r := got.rowFor(id, now); r.DeploymentStatus == nil || r.DeploymentLastSeenAt.Before(now) {
			t.Errorf("%s: not found as held by the entry", id)
		}
	}
}

// An entry lives for the TTL, or half its license's heartbeat window when
// that is shorter, so that the cached last-seen times stay inside the
// window.
func TestAnEntryLivesForTheTTLOrHalfItsWindow(t *testing.T) {
	c := NewFactsCache(nil, nil, FactsTTL)
	loaded := time.Now()
	for _, tc := range []struct {
		windowHours int32
		lives       time.Duration
	}{{72, FactsTTL}, {4, FactsTTL}, {1, 30 * time.Minute}} {
		e := &cachedLicense{loaded: loaded}
		e.row.HeartbeatWindowHours = tc.windowHours
		if !c.fresh(e, loaded) || !c.fresh(e, loaded.Add(tc.lives-time.Second)) {
			t.Errorf("window %dh: not served within %v of its load", tc.windowHours, tc.lives)
		}
		if c.fresh(e, loaded.Add(tc.lives)) {
			t.Errorf("window %dh: still served %v after its load", tc.windowHours, tc.lives)
		}
		if c.fresh(e, loaded.Add(-time.Second)) {
			t.Errorf("window %dh: served before its load (a clock that went back)", tc.windowHours)
		}
	}
}

// The entry counts seats by the times their deployments' seats end; after
// any sequence of loads and seats taken, at any time, that count is the seat
// rule's over the entry's deployments.
func TestCachedSeatCountsFollowTheSeatRule(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ago := func() time.Time { return base.Add(-time.Duration(rng.IntN(96)) * time.Hour / 2) }
	random := func(id string) Deployment {
		d := Deployment{ID: uuid.New(), DeploymentID: id, Status: "active", LastSeenAt: ago()}
		if rng.IntN(4) == 0 {
			d.Status = "deactivated"
		}
		if rng.IntN(3) == 0 {
			until := base.Add(time.Duration(rng.IntN(96)-48) * time.Hour / 2)
			d.OfflineUntil = &until
		}
		return d
	}
	for round := range 50 {
		var row GetValidationContextRow
		row.HeartbeatWindowHours = int32(1 + rng.IntN(48))
		window := time.Duration(row.HeartbeatWindowHours) * time.Hour
		want := map[string]Deployment{}
		var loaded []Deployment
		for i := range rng.IntN(20) {
			d := random(fmt.Sprint("d", i))
			loaded = append(loaded, d)
			want[d.DeploymentID] = d
		}
		e := newCachedLicense(row, loaded, base)
		for step := range 80 {
			// Seats taken by new deployments and by loaded ones again, past
			// the point where newer is merged into the list.
			d := random(fmt.Sprint("d", rng.IntN(60)))
			e = e.with(d)
			want[d.DeploymentID] = d
			if e.size != len(want) {
				t.Fatalf("round %d step %d: entry holds %d deployments, want %d", round, step, e.size, len(want))
			}
			for _, now := range []time.Time{base, base.Add(-25 * time.Hour), base.Add(7 * time.Hour), base.Add(30 * time.Hour)} {
				var n int32
				for _, x := range want {
					if HoldsSeat(x.Status, x.LastSeenAt, x.OfflineUntil, window, now) {
						n++
					}
				}
				if got := e.seatsAt(now); got != n {
					t.Fatalf("round %d step %d at %v: %d seats counted, the rule gives %d", round, step, now, got, n)
				}
			}
			for id, x := range want {
				if got, ok := e.deployment(id); !ok || got.ID != x.ID {
					t.Fatalf("round %d step %d: %s is not the latest seated", round, step, id)
				}
			}
		}
	}
}
