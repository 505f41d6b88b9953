package db_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nectarcloud/nls/db/dbtest"
)

// A license's limit for a metric is a whole number from 0 to the largest
// bigint; anything else in its JSON is no limit; a use is near it from 80 %
// on. The functions are written so that PostgreSQL inlines them: called as
// queries of their own, they cost the near-limit trigger executor runs per row.
func TestUsageLimitFunctionsAnswerAsBeforeAndInline(t *testing.T) {
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
	// Near a limit: at 80 % of it or more, with some use; never without a limit.
	for _, c := range []struct {
		used, limit *int64
		want        bool
	}{
		{i64(80), i64(100), true}, {i64(79), i64(100), false}, {i64(1), i64(0), true}, {i64(0), i64(0), false},
		{i64(5), nil, false}, {i64(0), i64(10), false}, {nil, i64(10), false},
	} {
		var got *bool
		if err := store.Pool.QueryRow(ctx, `SELECT usage_near_limit($1, $2)`, c.used, c.limit).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if (got != nil && *got) != c.want {
			t.Errorf("usage_near_limit(%v, %v) = %v, want %v", deref(c.used), deref(c.limit), deref(got), c.want)
		}
	}
	rows, err := store.Pool.Query(ctx, `EXPLAIN VERBOSE SELECT usage_near_limit(l.max_deployments, license_usage_limit(l.limits, 'users'))
		FROM licenses l`)
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
	for _, fn := range []string{"license_usage_limit", "usage_near_limit"} {
		if p := strings.Join(plan, "\n"); strings.Contains(p, fn) {
			t.Errorf("%s is called, not inlined:\n%s", fn, p)
		}
	}
}

func i64(v int64) *int64 { return &v }

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
