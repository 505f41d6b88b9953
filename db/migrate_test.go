package db_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/licensing"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func TestMigrationsAreIdempotentAndReported(t *testing.T) {
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	// The template is already migrated: a second run applies nothing.
	n, err := db.Migrate(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("second migrate applied %d migrations, want 0", n)
	}
	var out bytes.Buffer
	if err := db.MigrationStatus(ctx, pool, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "00001_domain.sql") || !strings.Contains(out.String(), "applied") {
		t.Fatalf("status output %q does not report the applied migration", out.String())
	}
	if strings.Contains(out.String(), "pending") {
		t.Fatalf("status output %q reports a pending migration", out.String())
	}
	// The job queue's tables come with ours.
	want := fmt.Sprintf("job queue schema version %d of %d", db.RiverMigrationVersion(), db.RiverMigrationVersion())
	if !strings.Contains(out.String(), want) {
		t.Fatalf("status output %q does not say %q", out.String(), want)
	}
	var jobs int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM river_job").Scan(&jobs); err != nil {
		t.Fatalf("the job queue's table is missing: %v", err)
	}
}

func TestMigrationsApplyToEmptyDatabase(t *testing.T) {
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"); err != nil {
		t.Fatal(err)
	}
	n, err := db.Migrate(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if n < 1 {
		t.Fatalf("migrate on an empty database applied %d migrations, want at least 1", n)
	}
	var tables int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema='public' AND table_name IN ('customers','users','plans','licenses','deployments','usage_reports','audit_log','api_keys','signing_keys','stripe_events')").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 10 {
		t.Fatalf("got %d domain tables, want 10", tables)
	}
}

func TestConstraintsRefuseInconsistentRows(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	mustExec := func(sql string, args ...any) {
		t.Helper()
		if _, err := store.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	mustExec(`INSERT INTO customers (id, name, email) VALUES ('00000000-0000-0000-0000-0000000000c1', 'Acme', 'ops@acme.test')`)
	mustExec(`INSERT INTO plans (id, code, name) VALUES ('00000000-0000-0000-0000-0000000000a1', 'pro', 'Pro')`)
	mustExec(`INSERT INTO licenses (id, customer_id, plan_id, starts_at, grace_days, offline_days, heartbeat_window_hours, dunning_days)
		VALUES ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-0000000000c1', '00000000-0000-0000-0000-0000000000a1', now(), 7, 30, 72, 14)`)
	mustExec(`INSERT INTO license_keys (license_id, key_hash, key_prefix, key_suffix, key_sealed, kid)
		VALUES ('00000000-0000-0000-0000-0000000000b1', decode(repeat('ab', 32), 'hex'), 'NLS-eyJhbGci', '0123abcd', '\x01', 'k1')`)

	cases := []struct {
		name string
		sql  string
		want string
	}{
		{"license without customer", `INSERT INTO licenses (customer_id, plan_id, starts_at, grace_days, offline_days, heartbeat_window_hours, dunning_days)
			VALUES ('00000000-0000-0000-0000-00000000dead', '00000000-0000-0000-0000-0000000000a1', now(), 7, 30, 72, 14)`, licensing.EINVALID},
		{"license with null customer", `INSERT INTO licenses (customer_id, plan_id, starts_at, grace_days, offline_days, heartbeat_window_hours, dunning_days)
			VALUES (NULL, '00000000-0000-0000-0000-0000000000a1', now(), 7, 30, 72, 14)`, licensing.EINVALID},
		{"negative max deployments", `INSERT INTO licenses (customer_id, plan_id, starts_at, grace_days, offline_days, heartbeat_window_hours, dunning_days, max_deployments)
			VALUES ('00000000-0000-0000-0000-0000000000c1', '00000000-0000-0000-0000-0000000000a1', now(), 7, 30, 72, 14, -1)`, licensing.EINVALID},
		{"duplicate key hash", `INSERT INTO license_keys (license_id, key_hash, key_prefix, key_suffix, key_sealed, kid)
			VALUES ('00000000-0000-0000-0000-0000000000b1', decode(repeat('ab', 32), 'hex'), 'NLS-eyJhbGci', '0123abcd', '\x01', 'k1')`, licensing.ECONFLICT},
		{"expiry before start", `INSERT INTO licenses (customer_id, plan_id, starts_at, expires_at, grace_days, offline_days, heartbeat_window_hours, dunning_days)
			VALUES ('00000000-0000-0000-0000-0000000000c1', '00000000-0000-0000-0000-0000000000a1', now(), now() - interval '1 day', 7, 30, 72, 14)`, licensing.EINVALID},
		{"suspended without reason", `UPDATE licenses SET status = 'suspended' WHERE id = '00000000-0000-0000-0000-0000000000b1'`, licensing.EINVALID},
		{"unknown status", `UPDATE licenses SET status = 'paused' WHERE id = '00000000-0000-0000-0000-0000000000b1'`, licensing.EINVALID},
		{"past due without since", `UPDATE licenses SET payment_state = 'past_due' WHERE id = '00000000-0000-0000-0000-0000000000b1'`, licensing.EINVALID},
		{"admin with a customer", `INSERT INTO users (email, role, customer_id) VALUES ('a@x.test', 'admin', '00000000-0000-0000-0000-0000000000c1')`, licensing.EINVALID},
		{"customer user without customer", `INSERT INTO users (email, role) VALUES ('b@x.test', 'customer')`, licensing.EINVALID},
		{"duplicate plan code", `INSERT INTO plans (code, name) VALUES ('pro', 'Pro again')`, licensing.ECONFLICT},
		{"bad plan code", `INSERT INTO plans (code, name) VALUES ('Pro Plan', 'Pro')`, licensing.EINVALID},
		{"unknown api key scope", `INSERT INTO api_keys (name, prefix, secret_hash, scopes) VALUES ('x', 'nls_abcdefgh', decode(repeat('cd', 32), 'hex'), '{root}')`, licensing.EINVALID},
		{"second current key", `INSERT INTO license_keys (license_id, key_hash, key_prefix, key_suffix, key_sealed, kid)
			VALUES ('00000000-0000-0000-0000-0000000000b1', decode(repeat('ef', 32), 'hex'), 'NLS-eyJhbGci', '0123abcd', '\x01', 'k1')`, licensing.ECONFLICT},
		{"deployment on unknown license", `INSERT INTO deployments (license_id, deployment_id) VALUES ('00000000-0000-0000-0000-00000000dead', 'd1')`, licensing.EINVALID},
		{"negative usage", `INSERT INTO usage_periods (license_id, metric, period_start, period_end, kind, value)
			VALUES ('00000000-0000-0000-0000-0000000000b1', 'users', now(), now() + interval '1 month', 'gauge', -5)`, licensing.EINVALID},
		{"bad metric name", `INSERT INTO usage_periods (license_id, metric, period_start, period_end, kind, value)
			VALUES ('00000000-0000-0000-0000-0000000000b1', '1users', now(), now() + interval '1 month', 'gauge', 5)`, licensing.EINVALID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := store.Pool.Exec(ctx, tc.sql)
			if err == nil {
				t.Fatalf("row accepted, want it refused")
			}
			if got := licensing.ErrorCode(db.Translate(err)); got != tc.want {
				t.Fatalf("got %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}
