// Migration 00021 moves the release dates of app_releases into the
// distribution's releases, which validation reads from then on.
package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
)

func TestReleaseDatesMigrateIntoReleases(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	type rel struct {
		product, version, channel string
		published                 time.Time
	}
	cases := []struct {
		name     string
		products []string
		want     []rel
	}{
		{"no product yet: one is made", nil, []rel{
			{"app", "1.0.0", "stable", at}, {"app", "1.1.0-rc.1", "rc", at.Add(time.Hour)}, {"app", "2.0.0", "stable", at.Add(2 * time.Hour)}}},
		{"every product gets the dates, an existing release keeps its own", []string{"api", "web"}, []rel{
			{"api", "1.0.0", "stable", at}, {"api", "1.1.0-rc.1", "rc", at.Add(time.Hour)}, {"api", "2.0.0", "stable", at.Add(2 * time.Hour)},
			{"web", "1.0.0", "stable", at.Add(-time.Hour)}, {"web", "1.1.0-rc.1", "rc", at.Add(time.Hour)}, {"web", "2.0.0", "stable", at.Add(2 * time.Hour)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			pool := dbtest.NewPool(t)
			if err := db.MigrateDownTo(ctx, pool, 20); err != nil {
				t.Fatal(err)
			}
			exec := func(sql string, args ...any) {
				t.Helper()
				if _, err := pool.Exec(ctx, sql, args...); err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
			}
			for _, p := range tc.products {
				exec(`INSERT INTO products (code, name, repository) VALUES ($1, $1, 'acme/' || $1)`, p)
			}
			if len(tc.products) > 1 {
				// Already released through the distribution: its date stands.
				exec(`INSERT INTO releases (product_id, version, channel, published_at)
					SELECT id, '1.0.0', 'stable', $1 FROM products WHERE code = 'web'`, at.Add(-time.Hour))
			}
			exec(`INSERT INTO app_releases (version, released_at) VALUES ('v1.0.0', $1), ('1.1.0-rc.1', $2), ('2.0.0', $3)`,
				at, at.Add(time.Hour), at.Add(2*time.Hour))
			if _, err := db.Migrate(ctx, pool); err != nil {
				t.Fatal(err)
			}
			rows, err := pool.Query(ctx, `SELECT p.code, r.version, r.channel, r.published_at FROM releases r
				JOIN products p ON p.id = r.product_id ORDER BY p.code, r.version`)
			if err != nil {
				t.Fatal(err)
			}
			var got []rel
			for rows.Next() {
				var r rel
				if err := rows.Scan(&r.product, &r.version, &r.channel, &r.published); err != nil {
					t.Fatal(err)
				}
				r.published = r.published.UTC()
				got = append(got, r)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("release %d: got %v, want %v", i, got[i], tc.want[i])
				}
			}
			var left bool
			if err := pool.QueryRow(ctx, `SELECT to_regclass('app_releases') IS NOT NULL`).Scan(&left); err != nil || left {
				t.Errorf("app_releases still there (%v)", err)
			}
		})
	}
}
