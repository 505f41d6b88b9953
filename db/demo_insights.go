package db

// The insights part of the demo data: several months of deterministic
// synthetic usage, sightings, failed key checks and seat churn for a set of
// licenses, ordinary ones with noise and planted cases each detector must
// find. `portal seed` (and so `make run`) writes it after the demo
// licenses; a test runs the detectors on it and measures precision and recall.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Planted cases: what a demo license is made to look like.
const (
	CaseOrdinary        = ""
	CaseShared          = "shared"          // one deployment id used from many machines and networks
	CaseCycling         = "cycling"         // seats released and taken again many times a week
	CaseForging         = "forging"         // keys forged for it from one address (and API keys guessed)
	CaseSpike           = "spike"           // yesterday's apiCalls eight times the usual
	CaseUpgrade         = "upgrade"         // at 90 % of its users and executions for months
	CaseOverProvisioned = "overprovisioned" // an enterprise license used like a small one
	CaseTrending        = "trending"        // users rising steadily toward the limit
	CaseChurn           = "churn"           // usage falling week after week
	CaseSeatless        = "seatless"        // usage reported by a released installation
)

// Addresses the planted attacks come from (documentation ranges, RFC 5737).
const (
	DemoForgingSource = "203.0.113.66"
	DemoGuessSource   = "198.51.100.23"
)

// InsightsDemoLicense is one license of the insights history.
type InsightsDemoLicense struct {
	ID   uuid.UUID
	Case string
	Fill float64 // ordinary use as a share of the limits
}

const insightsDemoDays = 120

// SeedInsightsHistory writes the insights history of the given licenses,
// ending with the last complete day before now, deterministically (the
// noise of each license comes from its position in lics). Calendar-month
// usage periods are rebuilt from the daily values of every license, so the
// demo's earlier history has past periods too.
func (s *Store) SeedInsightsHistory(ctx context.Context, now time.Time, lics []InsightsDemoLicense) error {
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL nls.usage_rollups = 'off'"); err != nil {
			return err
		}
		var daily, deps, sights, fails, evs, reports [][]any
		for i, l := range lics {
			var customer uuid.UUID
			var limitsJSON []byte
			var maxDeps *int32
			if err := tx.QueryRow(ctx, `SELECT customer_id, limits, max_deployments FROM licenses WHERE id = $1`, l.ID).
				Scan(&customer, &limitsJSON, &maxDeps); err != nil {
				return err
			}
			limits := map[string]int64{}
			if err := json.Unmarshal(limitsJSON, &limits); err != nil {
				return err
			}
			if _, ok := limits["apiCalls"]; !ok {
				limits["apiCalls"] = 600_000 // reported, not limited
			}
			g := demoGen{rng: rand.New(rand.NewPCG(uint64(i)+1, 0x5eed)), l: l, customer: customer, today: today, now: now}
			daily = append(daily, g.usage(limits)...)
			seats := 3
			if maxDeps != nil {
				seats = int(*maxDeps)
			}
			d, sg := g.deployments(seats)
			deps, sights = append(deps, d...), append(sights, sg...)
			fails = append(fails, g.failures()...)
			evs = append(evs, g.churnEvents()...)
			reports = append(reports, g.reports()...)
		}
		for _, c := range []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"usage_daily", []string{"license_id", "customer_id", "metric", "day", "kind", "value"}, daily},
			{"deployments", []string{"id", "license_id", "deployment_id", "status", "fingerprint", "hostname", "ip", "app_version",
				"deactivated_at", "deactivated_by", "first_seen_at", "last_seen_at"}, deps},
			{"validation_sightings", []string{"day", "license_id", "deployment_id", "fingerprint", "network", "count"}, sights},
			{"source_failures", []string{"hour", "source", "kind", "license_id", "count"}, fails},
			{"events", []string{"type", "occurred_at", "license_id", "customer_id", "deployment_id", "data"}, evs},
			{"usage_reports", []string{"license_id", "report_id", "deployment_id", "period_start", "period_end", "metrics", "received_at"}, reports},
		} {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
				return fmt.Errorf("seeding %s: %w", c.table, err)
			}
		}
		// Calendar-month periods from the daily values (counters summed,
		// gauges the peak) for every month that has none yet.
		if _, err := tx.Exec(ctx, `
INSERT INTO usage_periods (license_id, metric, period_start, period_end, kind, value)
SELECT license_id, metric, date_trunc('month', day)::timestamptz, date_trunc('month', day)::timestamptz + interval '1 month', kind,
       CASE WHEN kind = 'gauge' THEN max(value) ELSE sum(value) END
FROM usage_daily GROUP BY license_id, metric, date_trunc('month', day), kind
ON CONFLICT (license_id, metric, period_start) DO NOTHING`); err != nil {
			return err
		}
		// Validations per hour for the 90 days the demo's charts show.
		ids := make([]uuid.UUID, len(lics))
		codes := make([]string, len(lics))
		for i, l := range lics {
			ids[i], codes[i] = l.ID, "VALID"
		}
		if _, err := tx.Exec(ctx, demoValidationsSQL, now, 90, ids, codes); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "SELECT usage_rollups_rebuild()")
		return err
	})
	return Translate(err)
}

// SetDemoPlanPrices gives the demo plans monthly list prices.
func (s *Store) SetDemoPlanPrices(ctx context.Context, prices map[string]int64, now time.Time) error {
	for code, cents := range prices {
		if err := s.SetPlanPrice(ctx, code, cents, now); err != nil {
			return err
		}
	}
	return nil
}

type demoGen struct {
	rng        *rand.Rand
	l          InsightsDemoLicense
	customer   uuid.UUID
	today, now time.Time
}

func (g demoGen) noise(spread float64) float64 { return 1 - spread + 2*spread*g.rng.Float64() }

func gaugeMetric(m string) bool { return m == "users" || m == "storageBytes" || m == "integrations" }

// usage makes insightsDemoDays of daily values per metric, ending yesterday.
func (g demoGen) usage(limits map[string]int64) [][]any {
	var rows [][]any
	for _, m := range sortedKeys(limits) {
		lim := float64(limits[m])
		gauge := gaugeMetric(m)
		for d := insightsDemoDays; d >= 1; d-- {
			day := g.today.AddDate(0, 0, -d)
			weekend := day.Weekday() == time.Saturday || day.Weekday() == time.Sunday
			pos := float64(insightsDemoDays-d) / float64(insightsDemoDays-1) // 0 at the first day, 1 yesterday
			fill := g.l.Fill
			switch g.l.Case {
			case CaseUpgrade:
				fill = 0.92
			case CaseOverProvisioned:
				fill = 0.012
			case CaseTrending:
				if m == "users" {
					fill = 0.35 + 0.43*pos
				}
			case CaseChurn:
				// Flat for the first weeks, then a steady fall to a fifth.
				if !gauge && pos > 0.3 {
					fill = g.l.Fill * (1 - 0.8*(pos-0.3)/0.7)
				}
			}
			var v float64
			if gauge {
				v = lim * fill * g.noise(0.04)
				if weekend {
					v *= 0.95
				}
				if g.l.Case == CaseTrending && m == "users" {
					v = lim * fill * g.noise(0.015)
				}
			} else {
				// A month of weekdays at 1 and weekend days at a third sums to
				// about 24.3 weekday units.
				v = lim * fill / 24.3 * g.noise(0.15)
				if weekend {
					v *= 0.33
				}
				if g.l.Case == CaseSpike && m == "apiCalls" && d == 1 {
					v *= 8
				}
			}
			kind := "counter"
			if gauge {
				kind = "gauge"
			}
			rows = append(rows, []any{g.l.ID, g.customer, m, day, kind, int64(math.Max(0, math.Round(v)))})
		}
	}
	return rows
}

// deployments makes the license's installations and 14 days of sightings:
// each installation from its own machine and network.
func (g demoGen) deployments(seats int) (deps, sights [][]any) {
	n := max(1, min(seats, 1+g.rng.IntN(3)))
	if g.l.Case == CaseOverProvisioned {
		n = 1
	}
	first := g.now.AddDate(0, 0, -insightsDemoDays)
	tag := g.l.ID.String()[:8]
	for i := 1; i <= n; i++ {
		dep := fmt.Sprintf("prod-%d", i)
		fp := fmt.Sprintf("fp-%s-%d", tag, i)
		ip := fmt.Sprintf("10.%d.%d.%d", g.rng.IntN(250), g.rng.IntN(250), 10+i)
		deps = append(deps, []any{uuid.New(), g.l.ID, dep, "active", fp, "app" + fmt.Sprint(i) + ".prod.internal", ip, "4.2.0",
			nil, nil, first, g.now.Add(-time.Duration(2+3*i) * time.Minute)})
		for d := 13; d >= 0; d-- {
			day := g.today.AddDate(0, 0, -d)
			sights = append(sights, []any{day, g.l.ID, dep, FingerprintDigest(fp), NetworkOf(ip), int64(20 + g.rng.IntN(40))})
			// Now and then a laptop on another network, as people travel.
			if i == 1 && g.rng.IntN(10) == 0 {
				sights = append(sights, []any{day, g.l.ID, dep, FingerprintDigest(fp), NetworkOf("192.168.7.20"), int64(3)})
			}
		}
		if g.l.Case == CaseShared && i == 1 {
			// The same deployment id from five machines in five networks.
			for k := 1; k <= 5; k++ {
				other := fmt.Sprintf("fp-%s-copy-%d", tag, k)
				for d := 6; d >= 0; d -= 1 + k%2 {
					sights = append(sights, []any{g.today.AddDate(0, 0, -d), g.l.ID, dep, FingerprintDigest(other),
						NetworkOf(fmt.Sprintf("172.%d.%d.9", 16+k, 3*k)), int64(15 + k)})
				}
			}
		}
	}
	if g.l.Case == CaseSeatless {
		released := g.now.AddDate(0, 0, -10)
		deps = append(deps, []any{g.oldLaptop(), g.l.ID, "old-laptop", "deactivated", "fp-" + tag + "-old", "old-laptop.local",
			"10.9.9.9", "4.1.0", released, "customer", first, released})
	}
	return deps, sights
}

// failures are a few mistyped keys from ordinary offices, and for the
// forging case a burst of forged keys naming the license plus a burst of
// guessed API keys.
func (g demoGen) failures() [][]any {
	var rows [][]any
	hour := g.now.Truncate(time.Hour)
	if g.rng.IntN(4) == 0 {
		rows = append(rows, []any{hour.Add(-time.Duration(1+g.rng.IntN(20)) * time.Hour),
			fmt.Sprintf("10.%d.%d.%d", g.rng.IntN(250), g.rng.IntN(250), 1+g.rng.IntN(250)), "key", nil, int64(1 + g.rng.IntN(4))})
	}
	if g.l.Case == CaseForging {
		for h := 1; h <= 5; h++ {
			rows = append(rows, []any{hour.Add(-time.Duration(h) * time.Hour), DemoForgingSource, "key", g.l.ID, int64(50 + 7*h)})
		}
		for h := 2; h <= 3; h++ {
			rows = append(rows, []any{hour.Add(-time.Duration(h) * time.Hour), DemoGuessSource, "api_auth", nil, int64(40 + h)})
		}
	}
	return rows
}

// churnEvents are seat activations and releases in the last week: now and
// then one for an ordinary license, many for the cycling case.
func (g demoGen) churnEvents() [][]any {
	n := 0
	if g.rng.IntN(5) == 0 {
		n = 1
	}
	if g.l.Case == CaseCycling {
		n = 11
	}
	var rows [][]any
	for i := 0; i < n; i++ {
		at := g.now.Add(-time.Duration(6*24-i*12) * time.Hour)
		dep := uuid.New()
		client := fmt.Sprintf("ci-runner-%d", i%4)
		for j, typ := range []string{"deployment.activated", "deployment.released"} {
			data, _ := json.Marshal(map[string]any{"licenseId": g.l.ID, "customerId": g.customer, "deploymentId": dep,
				"clientDeploymentId": client, "hostname": client + ".ci", "lastSeenAt": at})
			rows = append(rows, []any{typ, at.Add(time.Duration(j) * 5 * time.Hour), g.l.ID, g.customer, dep, data})
		}
	}
	return rows
}

// reports are usage reports from the released installation of the seatless case.
func (g demoGen) reports() [][]any {
	if g.l.Case != CaseSeatless {
		return nil
	}
	var rows [][]any
	for d := 5; d >= 1; d -= 2 {
		at := g.now.AddDate(0, 0, -d)
		rows = append(rows, []any{g.l.ID, uuid.New(), g.oldLaptop(), at.Add(-time.Hour), at, []byte(`{"apiCalls": 1200}`), at})
	}
	return rows
}

// oldLaptop is the row id of the seatless case's released installation.
func (g demoGen) oldLaptop() uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(g.l.ID.String()+"/old-laptop"))
}

func sortedKeys(m map[string]int64) []string { return slices.Sorted(maps.Keys(m)) }
