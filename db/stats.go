package db

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// ValidationStats counts validation answers per license, hour and code in
// memory and adds them to the database in batches, so that the validation hot
// path never waits on an extra write. Counts of several processes add up.
// At most one flush interval of counts is lost if the process is killed.
// It also keeps, the same way, what the insights detectors need and the
// counts cannot tell: which fingerprint and network each deployment
// validated from per day (each written once a day per process: see
// sightingJobs), and failed key checks and API authentications per source
// address and hour. The request path only sets a map entry; hashing and
// network masks are computed at flush.
type ValidationStats struct {
	store     *Store
	log       *slog.Logger
	mu        sync.Mutex
	counts    map[statKey]int64
	sightings map[sightKey]struct{}
	failures  map[failKey]int64
	// Sightings a failed flush left unsent, already hashed and masked.
	unsentSights map[sightRow]struct{}
	// The sightings this process wrote on recordedDay, by digest
	// (sightDigest), so that it writes each once a day. Flushes alone use
	// them, under their own lock, so that requests never wait on them.
	recordedMu  sync.Mutex
	recorded    map[[16]byte]struct{}
	recordedDay int64
}

type sightKey struct {
	day         int64 // unix seconds at the start of the UTC day
	license     uuid.UUID
	deployment  string
	fingerprint string // as sent; hashed at flush
	ip          string // masked to its network at flush
}

type failKey struct {
	hour    int64
	source  string
	kind    string    // "key" or "api_auth"
	license uuid.UUID // the license a forged key named; uuid.Nil: none
}

type statKey struct {
	license uuid.UUID // uuid.Nil: the key matched no license
	hour    int64     // unix seconds at the start of the hour
	code    string
}

// NewValidationStats returns an empty recorder.
func NewValidationStats(store *Store, log *slog.Logger) *ValidationStats {
	return &ValidationStats{store: store, log: log, counts: map[statKey]int64{}, sightings: map[sightKey]struct{}{},
		failures: map[failKey]int64{}, unsentSights: map[sightRow]struct{}{}, recorded: map[[16]byte]struct{}{}}
}

// Sight records that a deployment of license validated with fingerprint from ip.
func (v *ValidationStats) Sight(license uuid.UUID, deploymentID, fingerprint, ip string, now time.Time) {
	k := sightKey{day: now.Unix() - now.Unix()%86400, license: license, deployment: deploymentID, fingerprint: fingerprint, ip: ip}
	v.mu.Lock()
	v.sightings[k] = struct{}{}
	v.mu.Unlock()
}

// Failure records a failed key check (kind "key", with the license the key
// named if any) or a failed management-API authentication ("api_auth") from source.
func (v *ValidationStats) Failure(source, kind string, license uuid.UUID, now time.Time) {
	k := failKey{hour: now.Unix() - now.Unix()%3600, source: source, kind: kind, license: license}
	v.mu.Lock()
	v.failures[k]++
	v.mu.Unlock()
}

// Record counts one answer.
func (v *ValidationStats) Record(license uuid.UUID, code string, now time.Time) {
	k := statKey{license: license, hour: now.Unix() - now.Unix()%3600, code: code}
	v.mu.Lock()
	v.counts[k]++
	v.mu.Unlock()
}

// Flush writes the counts gathered so far, at once; on failure they are
// kept for the next try.
func (v *ValidationStats) Flush(ctx context.Context) error { return v.flush(ctx, nil, 0) }

// flush writes sightings, failures and counts, in that order, in paced
// chunks (runFlush: spread of rests at most, none once stop closes). The
// chunks written stay written; the rest are kept for the next flush.
func (v *ValidationStats) flush(ctx context.Context, stop <-chan struct{}, spread time.Duration) error {
	v.mu.Lock()
	counts, sights, fails, retry := v.counts, v.sightings, v.failures, v.unsentSights
	v.counts = make(map[statKey]int64, len(counts))
	v.sightings = make(map[sightKey]struct{}, len(sights))
	v.failures = make(map[failKey]int64, len(fails))
	v.unsentSights = map[sightRow]struct{}{}
	v.mu.Unlock()
	jobs := v.sightingJobs(ctx, sights, retry)
	jobs = append(jobs, v.failureJobs(ctx, fails)...)
	jobs = append(jobs, v.countJobs(ctx, counts)...)
	return Translate(runFlush(stop, spread, jobs))
}

// countJobs writes the answers' counts, in the order of their rows' key.
func (v *ValidationStats) countJobs(ctx context.Context, counts map[statKey]int64) []flushJob {
	keys := flushOrder(counts, func(a, b statKey) int {
		return cmp.Or(bytes.Compare(a.license[:], b.license[:]), cmp.Compare(a.hour, b.hour), strings.Compare(a.code, b.code))
	})
	return chunked(len(keys), func(from, to int) error {
		var p AddValidationStatsParams
		for _, k := range keys[from:to] {
			p.LicenseIds = append(p.LicenseIds, k.license)
			p.Hours = append(p.Hours, time.Unix(k.hour, 0).UTC())
			p.Codes = append(p.Codes, k.code)
			p.Counts = append(p.Counts, counts[k])
		}
		return v.store.q.AddValidationStats(ctx, p)
	}, func(from, to int) {
		v.mu.Lock()
		for _, k := range keys[from:to] {
			v.counts[k] += counts[k]
		}
		v.mu.Unlock()
	})
}

// Run flushes every interval until ctx ends, then flushes once more.
func (v *ValidationStats) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := 0 // flushes failed in a row: an outage is logged when it starts and when it ends
	for {
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := v.Flush(flushCtx); err != nil {
				v.log.Warn("flushing validation counts at shutdown failed", "err", err)
			}
			cancel()
			return
		case <-t.C:
			// Not cancelled by the shutdown: a statement cancelled from
			// here may still commit at the server after the error is
			// returned, and the counts, kept for the final flush, would
			// then be added twice. Bounded, so that an unanswering
			// database holds the shutdown up for no longer than this.
			// The shutdown only ends the flush's rests: its remaining
			// chunks are written at once.
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second+interval/2)
			err := v.flush(flushCtx, ctx.Done(), interval/2)
			cancel()
			switch {
			case err != nil && failing == 0:
				v.log.Warn("flushing validation counts failed; counts are kept and retried", "err", err)
			case err == nil && failing > 0:
				v.log.Info("flushing validation counts to the database works again", "failed_flushes", failing)
			}
			if err != nil {
				failing++
			} else {
				failing = 0
			}
		}
	}
}

// sightRow is a sighting as stored: its fingerprint hashed, its address
// masked to its network.
type sightRow struct {
	day                          int64
	license                      uuid.UUID
	deployment, fingerprint, net string
}

// maxRecordedSightings bounds the sightings a process remembers having
// written (16 bytes each, about 50 MB in all): past it, new ones are
// written at every flush that sees them, as stored ones are left alone.
const maxRecordedSightings = 1 << 20

// sightDigest identifies a sighting in recorded.
func sightDigest(r sightRow) [16]byte {
	h := sha256.New()
	var b [24]byte
	binary.BigEndian.PutUint64(b[:8], uint64(r.day))
	copy(b[8:], r.license[:])
	h.Write(b[:])
	for _, f := range []string{r.deployment, r.fingerprint, r.net} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	var d [16]byte
	copy(d[:], h.Sum(nil))
	return d
}

// sightingJobs writes the sightings this process has not written today,
// with those a failed flush left unsent.
func (v *ValidationStats) sightingJobs(ctx context.Context, sights map[sightKey]struct{}, retry map[sightRow]struct{}) []flushJob {
	// Keys that differ only in the raw fingerprint or address can meet
	// after hashing and masking.
	merged := retry
	for k := range sights {
		merged[sightRow{k.day, k.license, k.deployment, FingerprintDigest(k.fingerprint), NetworkOf(k.ip)}] = struct{}{}
	}
	type pending struct {
		row    sightRow
		digest [16]byte
	}
	rows := make([]pending, 0, len(merged))
	for r := range merged {
		rows = append(rows, pending{r, sightDigest(r)})
	}
	v.recordedMu.Lock()
	for _, x := range rows {
		if x.row.day > v.recordedDay {
			// A new day: what was written before it is not seen again.
			v.recorded, v.recordedDay = map[[16]byte]struct{}{}, x.row.day
		}
	}
	rows = slices.DeleteFunc(rows, func(x pending) bool {
		_, ok := v.recorded[x.digest]
		return ok
	})
	v.recordedMu.Unlock()
	slices.SortFunc(rows, func(a, b pending) int {
		return cmp.Or(cmp.Compare(a.row.day, b.row.day), bytes.Compare(a.row.license[:], b.row.license[:]),
			strings.Compare(a.row.deployment, b.row.deployment), strings.Compare(a.row.fingerprint, b.row.fingerprint),
			strings.Compare(a.row.net, b.row.net))
	})
	return chunked(len(rows), func(from, to int) error {
		var p AddValidationSightingsParams
		for _, x := range rows[from:to] {
			p.Days = append(p.Days, time.Unix(x.row.day, 0).UTC())
			p.LicenseIds = append(p.LicenseIds, x.row.license)
			p.DeploymentIds = append(p.DeploymentIds, x.row.deployment)
			p.Fingerprints = append(p.Fingerprints, x.row.fingerprint)
			p.Networks = append(p.Networks, x.row.net)
		}
		if err := v.store.q.AddValidationSightings(ctx, p); err != nil {
			return err
		}
		v.recordedMu.Lock()
		for _, x := range rows[from:to] {
			if x.row.day == v.recordedDay && len(v.recorded) < maxRecordedSightings {
				v.recorded[x.digest] = struct{}{}
			}
		}
		v.recordedMu.Unlock()
		return nil
	}, func(from, to int) {
		v.mu.Lock()
		for _, x := range rows[from:to] {
			v.unsentSights[x.row] = struct{}{}
		}
		v.mu.Unlock()
	})
}

// failureJobs writes the failed key checks and authentications.
func (v *ValidationStats) failureJobs(ctx context.Context, fails map[failKey]int64) []flushJob {
	keys := flushOrder(fails, func(a, b failKey) int {
		return cmp.Or(cmp.Compare(a.hour, b.hour), strings.Compare(a.source, b.source),
			strings.Compare(a.kind, b.kind), bytes.Compare(a.license[:], b.license[:]))
	})
	return chunked(len(keys), func(from, to int) error {
		var p AddSourceFailuresParams
		for _, k := range keys[from:to] {
			p.Hours = append(p.Hours, time.Unix(k.hour, 0).UTC())
			p.Sources = append(p.Sources, k.source)
			p.Kinds = append(p.Kinds, k.kind)
			p.LicenseIds = append(p.LicenseIds, k.license)
			p.Counts = append(p.Counts, fails[k])
		}
		return v.store.q.AddSourceFailures(ctx, p)
	}, func(from, to int) {
		v.mu.Lock()
		for _, k := range keys[from:to] {
			v.failures[k] += fails[k]
		}
		v.mu.Unlock()
	})
}

// flushOrder is m's keys in the order of the rows' unique key. Each flush
// statement upserts its rows, and checks their licenses' foreign keys, in
// the order given: every process flushing in one order, concurrent flushes
// wait for each other instead of deadlocking.
func flushOrder[K comparable, V any](m map[K]V, compare func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compare)
	return keys
}

// FingerprintDigest is the stored form of a fingerprint: the first 16 hex
// characters of its SHA-256, enough to tell machines apart; "" stays "".
func FingerprintDigest(fp string) string {
	if fp == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(fp))
	return hex.EncodeToString(sum[:8])
}

// NetworkOf is the network an address belongs to for the sharing detector:
// its /24 for IPv4, its /48 for IPv6; the text as given when it is no address.
func NetworkOf(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		if len(ip) > 64 {
			ip = ip[:64]
		}
		return ip
	}
	bits := 24
	if !a.Unmap().Is4() {
		bits = 48
	}
	p, _ := a.Unmap().Prefix(bits)
	return p.String()
}
