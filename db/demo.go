package db

// The demo data's history: what `make run`'s first start adds after the
// seed has issued its licenses through the use cases, so that every chart
// and list has something to show. Days follow a weekly rhythm (weekends
// quieter), deterministic per license so two runs look alike.

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// DemoLicense is one seeded license's part in the history.
type DemoLicense struct {
	ID   uuid.UUID
	Fill float64 // how close its usage runs to its limits, 0..1
	Code string  // the validation answer its installations mostly get
	// Deployments it has: active ones seen minutes ago, stale ones last
	// seen ten days ago.
	Active, Stale int
}

// SeedDemoHistory writes days of daily usage, hourly validation counts and
// deployments for the given licenses, ending at now.
func (s *Store) SeedDemoHistory(ctx context.Context, now time.Time, days int, lics []DemoLicense) error {
	ids := make([]uuid.UUID, len(lics))
	fills := make([]float64, len(lics))
	codes := make([]string, len(lics))
	active := make([]int32, len(lics))
	stale := make([]int32, len(lics))
	for i, l := range lics {
		ids[i], fills[i], codes[i], active[i], stale[i] = l.ID, l.Fill, l.Code, int32(l.Active), int32(l.Stale)
	}
	return s.inTx(ctx, func(q *Queries) error {
		if _, err := q.db.Exec(ctx, demoDeploymentsSQL, now, ids, active, stale); err != nil {
			return err
		}
		if _, err := q.db.Exec(ctx, "SET LOCAL nls.usage_rollups = 'off'"); err != nil {
			return err
		}
		if _, err := q.db.Exec(ctx, demoUsageSQL, now, days, ids, fills); err != nil {
			return err
		}
		if _, err := q.db.Exec(ctx, "SELECT usage_rollups_rebuild()"); err != nil {
			return err
		}
		_, err := q.db.Exec(ctx, demoValidationsSQL, now, days, ids, codes)
		return err
	})
}

const demoDeploymentsSQL = `
WITH l AS (SELECT * FROM unnest($2::uuid[], $3::int[], $4::int[]) AS x(id, active, stale))
INSERT INTO deployments (license_id, deployment_id, hostname, app_version, first_seen_at, last_seen_at)
SELECT l.id, CASE WHEN n <= l.active THEN 'prod-' || n ELSE 'old-' || (n - l.active) END,
       CASE WHEN n <= l.active THEN 'app' || n || '.prod.internal' ELSE 'legacy' || (n - l.active) || '.internal' END,
       CASE WHEN n <= l.active THEN '4.2.' || n ELSE '3.9.0' END,
       $1::timestamptz - interval '80 days',
       $1::timestamptz - CASE WHEN n <= l.active THEN make_interval(mins => 2 + n * 3) ELSE interval '10 days' END
FROM l CROSS JOIN LATERAL generate_series(1, l.active + l.stale) AS n
ON CONFLICT (license_id, deployment_id) DO NOTHING`

// Usage per day for each limited metric (and apiCalls), scaled to the
// license's limits by its fill: counters spread a month's share over the
// days, gauges hover near fill × limit. Weekends run at a third.
const demoUsageSQL = `
WITH l AS (SELECT * FROM unnest($3::uuid[], $4::float8[]) AS x(id, fill)),
days AS (
    SELECT (date_trunc('day', $1::timestamptz) - make_interval(days => d))::date AS day
    FROM generate_series(0, $2::int - 1) AS d
),
metrics AS (
    SELECT lic.id, lic.customer_id, l.fill, m.key AS metric, m.value::bigint AS lim
    FROM licenses lic JOIN l ON l.id = lic.id, jsonb_each_text(lic.limits) AS m
    UNION ALL
    SELECT lic.id, lic.customer_id, l.fill, 'apiCalls', 600000
    FROM licenses lic JOIN l ON l.id = lic.id WHERE NOT lic.limits ? 'apiCalls'
),
daily AS (
    INSERT INTO usage_daily (license_id, customer_id, metric, day, kind, value)
    SELECT m.id, m.customer_id, m.metric, days.day,
           CASE WHEN m.metric IN ('users', 'storageBytes', 'integrations') THEN 'gauge' ELSE 'counter' END,
           greatest(0, round(
             CASE WHEN m.metric IN ('users', 'storageBytes', 'integrations')
                  THEN m.lim * m.fill * (0.85 + 0.15 * (abs(hashtext(m.id::text || days.day::text)) % 100) / 100.0)
                       * CASE WHEN extract(isodow FROM days.day) >= 6 THEN 0.9 ELSE 1 END
                  ELSE m.lim * m.fill / 24.0 * (0.8 + 0.4 * (abs(hashtext(m.id::text || days.day::text || m.metric)) % 100) / 100.0)
                       * CASE WHEN extract(isodow FROM days.day) >= 6 THEN 0.33 ELSE 1 END
             END))::bigint
    FROM metrics m CROSS JOIN days
    ON CONFLICT (license_id, metric, day) DO NOTHING
    RETURNING license_id, metric, day, kind, value
)
INSERT INTO usage_periods (license_id, metric, period_start, period_end, kind, value)
SELECT license_id, metric, date_trunc('month', $1::timestamptz), date_trunc('month', $1::timestamptz) + interval '1 month',
       kind, CASE WHEN kind = 'gauge' THEN max(value) ELSE sum(value) END
FROM daily
WHERE day >= date_trunc('month', $1::timestamptz)
GROUP BY license_id, metric, kind
ON CONFLICT (license_id, metric, period_start) DO NOTHING`

// Validations per hour: busier on weekdays and in working hours, mostly the
// license's own code with the odd INVALID_KEY from a mistyped key.
const demoValidationsSQL = `
WITH l AS (SELECT * FROM unnest($3::uuid[], $4::text[]) AS x(id, code)),
hours AS (
    SELECT date_trunc('hour', $1::timestamptz) - make_interval(hours => h) AS hour
    FROM generate_series(0, $2::int * 24 - 1) AS h
)
INSERT INTO validation_stats (license_id, hour, code, count)
SELECT l.id, hours.hour, CASE WHEN abs(hashtext(l.id::text || hours.hour::text)) % 97 = 0 THEN 'INVALID_KEY' ELSE l.code END,
       (2 + abs(hashtext(hours.hour::text || l.id::text)) % 4)
         * CASE WHEN extract(isodow FROM hours.hour) >= 6 THEN 1 ELSE 4 END
         * CASE WHEN extract(hour FROM hours.hour) BETWEEN 8 AND 18 THEN 3 ELSE 1 END
FROM l CROSS JOIN hours
ON CONFLICT (license_id, hour, code) DO UPDATE SET count = validation_stats.count + excluded.count`
