package db

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/nectarcloud/nls/licensing"
)

// FactsCache answers the validation read from memory: per license key, the
// license, its plan and its deployments as last read. Every change to those
// rows (other than a last-seen time) is notified on channel
// nls_license_facts by triggers (migration 00016), and a listener drops the
// license's entries when the notification arrives, so a suspension reaches
// every process within moments of its commit. Entries also expire after a
// TTL (FactsTTL in portal serve), so the stored last-seen times the seat
// counts use are at most that old. While the listener is not connected
// nothing is served from memory.
//
// A cached answer can only be more cautious than the database's: a
// deployment another process saw more recently may look lapsed here (it then
// takes the seat path, which locks and counts in the database), never the
// reverse, because every other change is notified.
type FactsCache struct {
	store *Store
	log   *slog.Logger
	ttl   time.Duration

	origin string // tags the notifications of this cache's own seat acquisitions

	mu        sync.Mutex
	byKey     map[[32]byte]*cachedLicense
	byLicense map[uuid.UUID][][32]byte
	live      bool                 // the listener is connected: entries may be served
	gen       uint64               // bumped by each change: a fill begun before a change of its license is not kept
	floor     uint64               // a fill begun before this is not kept (everything was dropped)
	changed   map[uuid.UUID]uint64 // the gen of each license's latest change

	hits, loads, invalidations atomic.Int64
}

type cachedLicense struct {
	row  GetValidationContextRow // the key, license and plan; no deployment
	deps map[string]Deployment
	// newer holds the deployments that took seats since the load, newest
	// first (they replace deps' entries of the same id), so that a seat adds
	// one node rather than copying the license's whole list: at thousands of
	// new deployments a second, copying a license's hundred was tens of MB/s.
	// Nodes are shared by the entries that follow, never changed.
	newer  *seatedDeployment
	nNewer int
	// size is how many deployments the entry holds, each id once.
	size int
	// ends holds, in ascending order, the time until which each deployment
	// holds its seat (seatEnd), so that the seats held at a time are counted
	// by a binary search rather than by the seat rule over every deployment
	// on every validation.
	ends   []time.Time
	loaded time.Time
}

type seatedDeployment struct {
	d    Deployment
	next *seatedDeployment
}

// newCachedLicense is the entry of a license and its deployments as loaded.
func newCachedLicense(row GetValidationContextRow, deps []Deployment, loaded time.Time) *cachedLicense {
	e := &cachedLicense{row: row, deps: make(map[string]Deployment, len(deps)), loaded: loaded}
	for _, d := range deps {
		e.deps[d.DeploymentID] = d
	}
	window := e.window()
	e.ends = make([]time.Time, 0, len(e.deps))
	for _, d := range e.deps {
		e.ends = append(e.ends, seatEnd(d, window))
	}
	slices.SortFunc(e.ends, time.Time.Compare)
	e.size = len(e.deps)
	return e
}

func (e *cachedLicense) window() time.Duration {
	return time.Duration(e.row.HeartbeatWindowHours) * time.Hour
}

// seatEnd is the time until which d holds its seat (exclusive): by the seat
// rule (HoldsSeat) it holds it at now exactly when now is before this time.
// One that holds it at no time gets the zero time.
func seatEnd(d Deployment, window time.Duration) time.Time {
	var end time.Time
	if d.Status == string(licensing.DeploymentStoredActive) {
		end = d.LastSeenAt.Add(window)
	}
	if d.OfflineUntil != nil && d.OfflineUntil.After(end) {
		end = *d.OfflineUntil
	}
	return end
}

// FactsTTL is how long portal serve's cached facts are served before a
// reload, at most. Changes reach the cache by notification, so the TTL only
// bounds how old the stored last-seen times it counts seats with may be. It
// is many times the clients' default heartbeat interval (15 minutes), so
// that an installation heartbeating at that interval is answered from
// memory, as make bench measures it, and reloads its license once in eight
// heartbeats rather than every time.
const FactsTTL = 2 * time.Hour

// fresh reports whether e may still be served at now: younger than the TTL
// and than half its license's heartbeat window. The cached last-seen times
// then lag the stored ones by at most that plus a heartbeat interval (45
// minutes for the shortest window, an hour, and the clients' interval),
// which keeps a deployment heartbeating elsewhere inside its window less
// the margin at which its seat is refreshed in the database (SeenMargin):
// its seat is judged here as the database would. (One whose cached time
// did lapse only takes the seat path, which counts in the database.)
func (c *FactsCache) fresh(e *cachedLicense, now time.Time) bool {
	age := now.Sub(e.loaded)
	return age >= 0 && age < min(c.ttl, time.Duration(e.row.HeartbeatWindowHours)*time.Hour/2)
}

// maxNewer is how many seats an entry collects beside its list before they
// are merged into a new list.
const maxNewer = 32

// deployment is the entry's deployment of that id.
func (e *cachedLicense) deployment(id string) (Deployment, bool) {
	for n := e.newer; n != nil; n = n.next {
		if n.d.DeploymentID == id {
			return n.d, true
		}
	}
	d, ok := e.deps[id]
	return d, ok
}

// seatsAt is how many of the entry's deployments hold their seats at now.
func (e *cachedLicense) seatsAt(now time.Time) int32 {
	i, _ := slices.BinarySearchFunc(e.ends, now, func(end, now time.Time) int {
		if end.After(now) {
			return 1
		}
		return -1
	})
	return int32(len(e.ends) - i)
}

// with is the entry after d took its seat: d added to newer, or replacing
// the deployment of its id, and the deployments merged into a new list when
// newer grows past maxNewer.
func (e *cachedLicense) with(d Deployment) *cachedLicense {
	window := e.window()
	n := &cachedLicense{row: e.row, deps: e.deps, newer: &seatedDeployment{d: d, next: e.newer}, nNewer: e.nNewer + 1,
		size: e.size, loaded: e.loaded}
	n.ends = make([]time.Time, len(e.ends), len(e.ends)+1)
	copy(n.ends, e.ends)
	if prev, ok := e.deployment(d.DeploymentID); ok {
		end := seatEnd(prev, window)
		if i, found := slices.BinarySearchFunc(n.ends, end, time.Time.Compare); found {
			n.ends = slices.Delete(n.ends, i, i+1)
		}
	} else {
		n.size++
	}
	end := seatEnd(d, window)
	i, _ := slices.BinarySearchFunc(n.ends, end, time.Time.Compare)
	n.ends = slices.Insert(n.ends, i, end)
	if n.nNewer > maxNewer {
		merged := make(map[string]Deployment, n.size)
		for id, x := range n.deps {
			merged[id] = x
		}
		var list []Deployment
		for x := n.newer; x != nil; x = x.next {
			list = append(list, x.d)
		}
		for _, x := range slices.Backward(list) { // oldest first: the newest of an id is kept
			merged[x.DeploymentID] = x
		}
		n.deps, n.newer, n.nNewer = merged, nil, 0
	}
	return n
}

// maxCachedDeployments bounds what one entry holds: a license with more
// deployments is read from the database every time.
const maxCachedDeployments = 2000

// NewFactsCache returns an empty cache; Run must be running for it to serve.
func NewFactsCache(store *Store, log *slog.Logger, ttl time.Duration) *FactsCache {
	return &FactsCache{store: store, log: log, ttl: ttl, origin: uuid.NewString(), byKey: map[[32]byte]*cachedLicense{},
		byLicense: map[uuid.UUID][][32]byte{}, changed: map[uuid.UUID]uint64{}}
}

// Stats reports the reads answered from memory and those that loaded an entry.
func (c *FactsCache) Stats() (hits, loads int64) { return c.hits.Load(), c.loads.Load() }

// ValidationContext is Store.ValidationContext, from memory when it can be.
func (c *FactsCache) ValidationContext(ctx context.Context, keyHash [32]byte, deploymentID string,
	now time.Time) (GetValidationContextRow, error) {
	c.mu.Lock()
	e := c.byKey[keyHash]
	live, gen := c.live, c.gen
	c.mu.Unlock()
	if !live {
		return c.store.ValidationContext(ctx, keyHash, deploymentID, now)
	}
	if e != nil && c.fresh(e, now) {
		c.hits.Add(1)
		return e.rowFor(deploymentID, now), nil
	}
	return c.load(ctx, keyHash, deploymentID, now, gen)
}

// load reads an entry (apart from ValidationContext, so that a hit does not
// pay for the key hash the reads capture).
func (c *FactsCache) load(ctx context.Context, keyHash [32]byte, deploymentID string, now time.Time,
	gen uint64) (GetValidationContextRow, error) {
	c.loads.Add(1)
	// The license and its deployments, in one round trip.
	var row GetValidationContextRow
	var deps []Deployment
	err := c.store.pipelined(ctx, func(q *Queries) error {
		var rowErr, depsErr error
		row, rowErr = q.GetValidationContext(ctx, GetValidationContextParams{KeyHash: keyHash[:], Now: now})
		deps, depsErr = q.ListDeploymentsByKeyHash(ctx, ListDeploymentsByKeyHashParams{KeyHash: keyHash[:],
			Max: maxCachedDeployments + 1})
		if rowErr != nil {
			return rowErr
		}
		return depsErr
	})
	if err != nil {
		return row, err
	}
	if len(deps) > maxCachedDeployments {
		return c.store.ValidationContext(ctx, keyHash, deploymentID, now)
	}
	e := newCachedLicense(row, deps, now)
	c.keep(gen, keyHash, e)
	return e.rowFor(deploymentID, now), nil
}

// keep stores an entry filled from reads begun at gen, unless its license
// changed (or everything was dropped) since then: a fill that began before
// a change may have read the rows before it. Other licenses' changes do not
// matter, so that steady activations elsewhere do not keep an entry from
// ever being kept. It reports whether the entry was kept.
func (c *FactsCache) keep(gen uint64, keyHash [32]byte, e *cachedLicense) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || gen < c.floor || c.changed[e.row.ID] > gen {
		return false
	}
	if _, ok := c.byKey[keyHash]; !ok {
		c.byLicense[e.row.ID] = append(c.byLicense[e.row.ID], keyHash)
	}
	c.byKey[keyHash] = e
	return true
}

// rowFor is the validation row for one deployment, with the seats held at now
// counted by the seat rule (the SQL twin's, deployment_holds_seat).
func (e *cachedLicense) rowFor(deploymentID string, now time.Time) GetValidationContextRow {
	r := e.row
	r.SeatsInUse = e.seatsAt(now)
	if d, ok := e.deployment(deploymentID); ok {
		r.DeploymentPk, r.DeploymentStatus = &d.ID, &d.Status
		r.DeploymentFingerprint, r.DeploymentHostname, r.DeploymentIp, r.DeploymentAppVersion =
			&d.Fingerprint, &d.Hostname, &d.Ip, &d.AppVersion
		r.DeploymentFirstSeenAt, r.DeploymentLastSeenAt, r.DeploymentOfflineUntil = &d.FirstSeenAt, &d.LastSeenAt, d.OfflineUntil
		// The components policy compares them: without them every heartbeat
		// would look like a changed machine.
		r.DeploymentFingerprintComponents = d.FingerprintComponents
	}
	return r
}

// Invalidations counts the change notifications received.
func (c *FactsCache) Invalidations() int64 { return c.invalidations.Load() }

// factsPayload is a notification that the license's deployments changed,
// tagged with the facts cache (origin) that already knows, if any.
func factsPayload(licenseID uuid.UUID, origin string) string {
	if origin == "" {
		return licenseID.String()
	}
	return licenseID.String() + " " + origin
}

// invalidate drops one license's entries, or all of them for "*"; a
// notification of this cache's own seat acquisition changes nothing, as
// seated has updated the entries already.
func (c *FactsCache) invalidate(payload string) {
	defer c.invalidations.Add(1)
	if id, origin, ok := strings.Cut(payload, " "); ok {
		if origin == c.origin {
			return
		}
		payload = id
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	id, err := uuid.Parse(payload)
	if payload == "*" || err != nil {
		c.dropAll()
		return
	}
	c.touch(id)
	for _, k := range c.byLicense[id] {
		delete(c.byKey, k)
	}
	delete(c.byLicense, id)
}

func (c *FactsCache) setLive(live bool) {
	c.mu.Lock()
	c.live = live
	c.dropAll()
	c.mu.Unlock()
}

// dropAll empties the cache, and no fill begun before is kept; c.mu is held.
func (c *FactsCache) dropAll() {
	c.gen++
	c.floor = c.gen
	c.byKey = map[[32]byte]*cachedLicense{}
	c.byLicense = map[uuid.UUID][][32]byte{}
	c.changed = map[uuid.UUID]uint64{}
}

// maxTracked bounds the per-license change marks: past it they are
// forgotten and, to stay safe, no fill already begun is kept.
const maxTracked = 100_000

// touch marks a change of one license; c.mu is held.
func (c *FactsCache) touch(id uuid.UUID) {
	c.gen++
	if len(c.changed) >= maxTracked {
		c.floor = c.gen
		c.changed = map[uuid.UUID]uint64{}
	}
	c.changed[id] = c.gen
}

// Run listens for changes until ctx ends, reconnecting after a failure; the
// cache serves only while it listens.
func (c *FactsCache) Run(ctx context.Context) {
	for ctx.Err() == nil {
		err := c.listen(ctx)
		c.setLive(false)
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("license facts listener stopped; validations read the database until it is back", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (c *FactsCache) listen(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, c.store.Pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN nls_license_facts"); err != nil {
		return err
	}
	c.setLive(true)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		c.invalidate(n.Payload)
	}
}

// seated puts a deployment that just took its seat into the license's
// entries, as a reload would find it, without reloading. Fills begun before
// the seat's commit are not kept (gen), as an invalidation would ensure.
// Entries are replaced, never changed, since readers use them unlocked.
func (c *FactsCache) seated(licenseID uuid.UUID, d Deployment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touch(licenseID)
	for _, k := range c.byLicense[licenseID] {
		old := c.byKey[k]
		if old == nil {
			continue
		}
		e := old.with(d)
		if e.size > maxCachedDeployments {
			delete(c.byKey, k)
			continue
		}
		c.byKey[k] = e
	}
}

// FactsStore is the store with its validation read answered by a FactsCache.
type FactsStore struct {
	*Store
	Facts *FactsCache
}

// AcquireSeats is Store.AcquireSeats keeping this process's cached facts of
// the license current, where other processes drop theirs on the
// notification it sends.
func (s FactsStore) AcquireSeats(ctx context.Context, r SeatRequest) (SeatAnswer, error) {
	r.origin = s.Facts.origin
	a, err := s.Store.AcquireSeats(ctx, r)
	if err == nil && a.Outcome == SeatHeld {
		s.Facts.seated(r.LicenseID, a.Deployment)
	}
	return a, err
}

// ValidationContext reads through the cache.
func (s FactsStore) ValidationContext(ctx context.Context, keyHash [32]byte, deploymentID string,
	now time.Time) (GetValidationContextRow, error) {
	return s.Facts.ValidationContext(ctx, keyHash, deploymentID, now)
}

// Live reports whether the listener is connected (and the cache serving).
func (c *FactsCache) Live() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}
