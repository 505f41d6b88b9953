package db_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nectarcloud/nls/db/dbtest"
)

// A license's limit for a metric is a whole number from 0 to the largest
// bigint; anything else in its JSON is no limit. The function is written so
// that PostgreSQL inlines it: called as a query of its own, it cost the
// near-limit trigger two executor runs per row.
func TestLicenseUsageLimitReadsWholeNonNegativeNumbersInline(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	for _, c := range []struct {
		json string
		want string
	}{
		{`1`, "1"}, {`0`, "0"}, {`2.0`, "2"}, {`1e3`, "1000"}, {`9223372036854775807`, "9223372036854775807"},
		{`-1`, "none"}, {`1.5`, "none"}, {`"7"`, "none"}, {`9223372036854775808`, "none"}, {`null`, "none"},
		{`{"n": 1}`, "none"}, {`[1]`, "none"}, {`true`, "none"},
	} {
		var got string
		if err := store.Pool.QueryRow(ctx, `SELECT coalesce(license_usage_limit(jsonb_build_object('m', $1::jsonb), 'm')::text, 'none')`,
			c.json).Scan(&got); err != nil {
			t.Fatalf("%s: %v", c.json, err)
		}
		if got != c.want {
			t.Errorf("limit %s reads as %s, want %s", c.json, got, c.want)
		}
	}
	var absent string
	if err := store.Pool.QueryRow(ctx, `SELECT coalesce(license_usage_limit('{}', 'm')::text, 'none')`).Scan(&absent); err != nil || absent != "none" {
		t.Errorf("no limit reads as %s (%v), want none", absent, err)
	}
	rows, err := store.Pool.Query(ctx, `EXPLAIN VERBOSE SELECT license_usage_limit(l.limits, 'users') FROM licenses l`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if p := strings.Join(plan, "\n"); strings.Contains(p, "license_usage_limit") {
		t.Errorf("license_usage_limit is called, not inlined:\n%s", p)
	}
}
