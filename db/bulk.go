package db

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/nectarcloud/nls/licensing"
)

// BulkSeed fills a database with a large, realistic data set for load tests
// and benchmarks of the portal (portal seed --large): customers, licenses
// with real signed keys, deployments, daily usage and validation counts.
// Rows go in with COPY, so the per-row audit trail is replaced by one audit
// row that records the seeding itself.
type BulkSeed struct {
	Customers int
	Licenses  int
	UsageDays int // days of usage history per license
	Plans     []string
}

// Run performs the seed. issuer signs each license's key; sealer seals its copy.
func (b BulkSeed) Run(ctx context.Context, s *Store, issuer KeyIssuer, sealer *licensing.Sealer, now time.Time,
	progress func(string)) error {
	if b.Customers < 1 || b.Licenses < 1 || len(b.Plans) == 0 {
		return licensing.Invalid("a bulk seed needs customers, licenses and plans")
	}
	plans := make([]Plan, 0, len(b.Plans))
	for _, code := range b.Plans {
		p, err := s.q.GetPlanByCode(ctx, code)
		if err != nil {
			return notFound(err, "plan "+code)
		}
		plans = append(plans, p)
	}
	rng := rand.New(rand.NewPCG(42, uint64(now.Unix())))
	progress(fmt.Sprintf("customers: %d", b.Customers))
	customers := make([]uuid.UUID, b.Customers)
	rows := make([][]any, b.Customers)
	for i := range customers {
		customers[i] = uuid.New()
		created := now.Add(-time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
		rows[i] = []any{customers[i], fmt.Sprintf("Customer %06d", i), fmt.Sprintf("ops%06d@customer%d.example", i, i),
			fmt.Sprintf("Company %06d Ltd", i), []byte("{}"), created, created}
	}
	if _, err := s.Pool.CopyFrom(ctx, pgx.Identifier{"customers"},
		[]string{"id", "name", "email", "company", "metadata", "created_at", "updated_at"}, pgx.CopyFromRows(rows)); err != nil {
		return Translate(err)
	}

	progress(fmt.Sprintf("licenses and keys: %d", b.Licenses))
	licRows := make([][]any, b.Licenses)
	keyRows := make([][]any, b.Licenses)
	for i := 0; i < b.Licenses; i++ {
		p := plans[i%len(plans)]
		id, keyID, cust := uuid.New(), uuid.New(), customers[rng.IntN(len(customers))]
		created := now.Add(-time.Duration(rng.Int64N(int64(400 * 24 * time.Hour))))
		starts := created
		var expires *time.Time
		if p.DurationDays != nil {
			e := starts.AddDate(0, 0, int(*p.DurationDays))
			expires = &e
		}
		st := licensing.License{Status: licensing.StatusActive}
		if i%50 == 7 {
			_ = st.Suspend("seeded suspension", licensing.SuspendedByAdmin)
		}
		if i%97 == 3 {
			_ = st.Revoke(created)
		}
		status, reason, source, revoked := string(st.Status), st.SuspendedReason, (*string)(st.SuspensionSource), st.RevokedAt
		licRows[i] = []any{id, cust, p.ID, status, reason, source, p.Features, p.Limits, p.MaxDeployments, starts, expires,
			p.GraceDays, p.OfflineDays, p.HeartbeatWindowHours, p.DunningDays, "", revoked, created, created}
		key, kid, err := issuer.IssueLicenseKey(LicenseKeyFacts{LicenseID: id, KeyID: keyID, CustomerID: cust, Plan: p.Code,
			Features: p.Features, Limits: DecodeLimits(p.Limits), MaxDeployments: p.MaxDeployments, StartsAt: starts,
			ExpiresAt: expires}, now)
		if err != nil {
			return licensing.Internal(err)
		}
		sealed, err := sealer.Seal([]byte(key), id[:])
		if err != nil {
			return licensing.Internal(err)
		}
		hash := licensing.KeyHash(key)
		keyRows[i] = []any{keyID, id, hash[:], licensing.KeyPrefix(key), key[len(key)-8:], sealed, kid, created}
	}
	err := s.inTx(ctx, func(q *Queries) error {
		tx := pgxTx(q)
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"licenses"}, []string{"id", "customer_id", "plan_id", "status",
			"suspended_reason", "suspension_source", "features", "limits", "max_deployments", "starts_at", "expires_at",
			"grace_days", "offline_days", "heartbeat_window_hours", "dunning_days", "notes", "revoked_at", "created_at",
			"updated_at"}, pgx.CopyFromRows(licRows)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"license_keys"}, []string{"id", "license_id", "key_hash", "key_prefix",
			"key_suffix", "key_sealed", "kid", "created_at"}, pgx.CopyFromRows(keyRows)); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}

	progress("deployments")
	if _, err := s.Pool.Exec(ctx, bulkDeploymentsSQL, now); err != nil {
		return Translate(err)
	}
	progress("validation sightings and failed key checks")
	if _, err := s.Pool.Exec(ctx, bulkSightingsSQL, now); err != nil {
		return Translate(err)
	}
	progress(fmt.Sprintf("daily usage: %d days", b.UsageDays))
	// Row by row, the usage rollup triggers (migration 00007) would take
	// most of the seed's time: they are off for this transaction, and the
	// rollups are rebuilt from the rows in one pass at its end.
	err = s.inTx(ctx, func(q *Queries) error {
		tx := pgxTx(q)
		if _, err := tx.Exec(ctx, "SET LOCAL nls.usage_rollups = 'off'"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, bulkUsageSQL, now, b.UsageDays); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "SELECT usage_rollups_rebuild()")
		return err
	})
	if err != nil {
		return err
	}
	progress("validation counts")
	if _, err := s.Pool.Exec(ctx, bulkValidationsSQL, now); err != nil {
		return Translate(err)
	}
	if _, err := s.Pool.Exec(ctx, "ANALYZE"); err != nil {
		return Translate(err)
	}
	return s.inTx(ctx, func(q *Queries) error {
		return Audit(ctx, q, licensing.SystemActor("seed"), AuditEntry{Action: "system.bulk_seed", EntityType: "system",
			After: map[string]any{"customers": b.Customers, "licenses": b.Licenses, "usageDays": b.UsageDays}}, now)
	})
}

// One or two deployments per license, most seen recently, some stale.
const bulkDeploymentsSQL = `
INSERT INTO deployments (license_id, deployment_id, hostname, app_version, first_seen_at, last_seen_at)
SELECT l.id, 'host-' || n, 'node' || n || '.' || left(l.id::text, 8) || '.internal', '4.' || (n % 7) || '.0',
       $1::timestamptz - interval '90 days',
       $1::timestamptz - (CASE WHEN (hashtext(l.id::text) + n) % 10 = 0 THEN interval '10 days' ELSE interval '5 minutes' END)
FROM licenses l CROSS JOIN generate_series(1, 2) AS n
WHERE l.status = 'active' AND (n = 1 OR hashtext(l.id::text) % 3 = 0)
ON CONFLICT (license_id, deployment_id) DO NOTHING`

// What the insights detectors read besides usage: a week of sightings, each
// deployment from its own machine and network (a few in a hundred shared
// from several), and a day of failed key checks from a thousand addresses
// (a few of them bursts).
const bulkSightingsSQL = `
WITH s AS (
    INSERT INTO validation_sightings (day, license_id, deployment_id, fingerprint, network, count)
    SELECT (date_trunc('day', $1::timestamptz) - make_interval(days => g))::date, d.license_id, d.deployment_id,
           left(md5(d.id::text || CASE WHEN abs(hashtext(d.license_id::text)) % 100 = 0 THEN (g % 4)::text ELSE '' END), 16),
           '10.' || abs(hashtext(d.id::text)) % 250 || '.' || (abs(hashtext(d.id::text || 'n')) + CASE WHEN abs(hashtext(d.license_id::text)) % 100 = 0 THEN g ELSE 0 END) % 250 || '.0/24',
           20 + abs(hashtext(d.id::text || g::text)) % 40
    FROM deployments d CROSS JOIN generate_series(0, 6) AS g
    ON CONFLICT DO NOTHING
)
INSERT INTO source_failures (hour, source, kind, license_id, count)
SELECT date_trunc('hour', $1::timestamptz) - make_interval(hours => abs(hashtext(n::text)) % 24),
       '198.18.' || n / 250 || '.' || n % 250, CASE WHEN n % 3 = 0 THEN 'api_auth' ELSE 'key' END, NULL,
       CASE WHEN n % 200 = 0 THEN 400 ELSE 1 + n % 5 END
FROM generate_series(1, 1000) AS n
ON CONFLICT DO NOTHING`

// Daily usage per license for the last $2 days: apiCalls and
// workflowExecutions (counters), users (a gauge); and the current month's
// totals for limit checks.
const bulkUsageSQL = `
WITH days AS (
    SELECT (date_trunc('day', $1::timestamptz) - make_interval(days => d))::date AS day
    FROM generate_series(0, $2::int - 1) AS d
), daily AS (
    INSERT INTO usage_daily (license_id, customer_id, metric, day, kind, value)
    SELECT l.id, l.customer_id, m.metric, days.day, m.kind,
           (abs(hashtext(l.id::text || days.day::text || m.metric)) % m.spread)::bigint
    FROM licenses l
    CROSS JOIN days
    CROSS JOIN (VALUES ('apiCalls', 'counter', 5000), ('workflowExecutions', 'counter', 400), ('users', 'gauge', 120))
        AS m(metric, kind, spread)
    WHERE l.status <> 'revoked'
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

// Validation answers per hour for 14 days, by code, across all licenses.
const bulkValidationsSQL = `
INSERT INTO validation_stats (license_id, hour, code, count)
SELECT NULL, date_trunc('hour', $1::timestamptz) - make_interval(hours => h), c.code,
       (c.weight * (50 + abs(hashtext(h::text || c.code)) % 50))::bigint
FROM generate_series(0, 14 * 24 - 1) AS h
CROSS JOIN (VALUES ('VALID', 40), ('GRACE_PERIOD', 2), ('PAYMENT_OVERDUE', 1), ('EXPIRED', 3),
    ('TOO_MANY_DEPLOYMENTS', 1), ('INVALID_KEY', 1)) AS c(code, weight)
ON CONFLICT (license_id, hour, code) DO UPDATE SET count = validation_stats.count + excluded.count`
