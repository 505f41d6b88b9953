package db

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
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
// validated from per day, and failed key checks and API authentications per
// source address and hour. The request path only increments a map entry;
// hashing and network masks are computed at flush.
type ValidationStats struct {
	store     *Store
	log       *slog.Logger
	mu        sync.Mutex
	counts    map[statKey]int64
	sightings map[sightKey]int64
	failures  map[failKey]int64
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
	return &ValidationStats{store: store, log: log, counts: map[statKey]int64{}, sightings: map[sightKey]int64{},
		failures: map[failKey]int64{}}
}

// Sight records that a deployment of license validated with fingerprint from ip.
func (v *ValidationStats) Sight(license uuid.UUID, deploymentID, fingerprint, ip string, now time.Time) {
	k := sightKey{day: now.Unix() - now.Unix()%86400, license: license, deployment: deploymentID, fingerprint: fingerprint, ip: ip}
	v.mu.Lock()
	v.sightings[k]++
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

// Flush writes the counts gathered so far; on failure they are kept for the next try.
func (v *ValidationStats) Flush(ctx context.Context) error {
	v.mu.Lock()
	batch, sights, fails := v.counts, v.sightings, v.failures
	v.counts = make(map[statKey]int64, len(batch))
	v.sightings = make(map[sightKey]int64, len(sights))
	v.failures = make(map[failKey]int64, len(fails))
	v.mu.Unlock()
	// A failure is returned like the counts' own, so that Run logs an
	// outage once, when it starts.
	insightsErr := v.flushInsights(ctx, sights, fails)
	if insightsErr != nil {
		v.mu.Lock()
		for k, n := range sights {
			v.sightings[k] += n
		}
		for k, n := range fails {
			v.failures[k] += n
		}
		v.mu.Unlock()
	}
	if len(batch) == 0 {
		return insightsErr
	}
	p := AddValidationStatsParams{}
	for _, k := range flushOrder(batch, func(a, b statKey) int {
		return cmp.Or(bytes.Compare(a.license[:], b.license[:]), cmp.Compare(a.hour, b.hour), strings.Compare(a.code, b.code))
	}) {
		n := batch[k]
		p.LicenseIds = append(p.LicenseIds, k.license)
		p.Hours = append(p.Hours, time.Unix(k.hour, 0).UTC())
		p.Codes = append(p.Codes, k.code)
		p.Counts = append(p.Counts, n)
	}
	if err := v.store.q.AddValidationStats(ctx, p); err != nil {
		v.mu.Lock()
		for k, n := range batch {
			v.counts[k] += n
		}
		v.mu.Unlock()
		return Translate(err)
	}
	return insightsErr
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
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			err := v.Flush(flushCtx)
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

// flushInsights writes sightings and failures, each in one statement.
func (v *ValidationStats) flushInsights(ctx context.Context, sights map[sightKey]int64, fails map[failKey]int64) error {
	if len(sights) > 0 {
		// Keys that differ only in the raw fingerprint or address can meet
		// after hashing and masking: add them up first.
		type row struct {
			day                          int64
			license                      uuid.UUID
			deployment, fingerprint, net string
		}
		merged := make(map[row]int64, len(sights))
		for k, n := range sights {
			merged[row{k.day, k.license, k.deployment, FingerprintDigest(k.fingerprint), NetworkOf(k.ip)}] += n
		}
		var p AddValidationSightingsParams
		for _, r := range flushOrder(merged, func(a, b row) int {
			return cmp.Or(cmp.Compare(a.day, b.day), bytes.Compare(a.license[:], b.license[:]),
				strings.Compare(a.deployment, b.deployment), strings.Compare(a.fingerprint, b.fingerprint),
				strings.Compare(a.net, b.net))
		}) {
			n := merged[r]
			p.Days = append(p.Days, time.Unix(r.day, 0).UTC())
			p.LicenseIds = append(p.LicenseIds, r.license)
			p.DeploymentIds = append(p.DeploymentIds, r.deployment)
			p.Fingerprints = append(p.Fingerprints, r.fingerprint)
			p.Networks = append(p.Networks, r.net)
			p.Counts = append(p.Counts, n)
		}
		if err := v.store.q.AddValidationSightings(ctx, p); err != nil {
			return Translate(err)
		}
	}
	if len(fails) > 0 {
		var p AddSourceFailuresParams
		for _, k := range flushOrder(fails, func(a, b failKey) int {
			return cmp.Or(cmp.Compare(a.hour, b.hour), strings.Compare(a.source, b.source),
				strings.Compare(a.kind, b.kind), bytes.Compare(a.license[:], b.license[:]))
		}) {
			n := fails[k]
			p.Hours = append(p.Hours, time.Unix(k.hour, 0).UTC())
			p.Sources = append(p.Sources, k.source)
			p.Kinds = append(p.Kinds, k.kind)
			p.LicenseIds = append(p.LicenseIds, k.license)
			p.Counts = append(p.Counts, n)
		}
		if err := v.store.q.AddSourceFailures(ctx, p); err != nil {
			return Translate(err)
		}
	}
	return nil
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
