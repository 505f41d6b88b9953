// Tests of NLS_MIGRATE_ON_START=false: replicas leave migrating to one
// "portal migrate" and refuse a schema older than their code.
package main

import (
	"bytes"
	"context"
	"fmt"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nectarcloud/nls/db/dbtest"
)

func TestServeWithoutMigrateOnStartRefusesPendingMigrationsUntilMigrated(t *testing.T) {
	ctx := context.Background()
	url := emptyDatabase(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	hasSchema := func() bool {
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT to_regclass('licenses') IS NOT NULL`).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	env := envOf(map[string]string{
		"DATABASE_URL": url, "NLS_MIGRATE_ON_START": "false", "NLS_SEED": "false",
		"LISTEN_ADDR": "127.0.0.1:0", "NLS_DATA_DIR": t.TempDir(), "NLS_LOG_LEVEL": "error",
	})

	var stdout, stderr bytes.Buffer
	// A serve that does start is stopped after a while, so the test fails rather than hangs.
	serveCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if code := run(serveCtx, []string{"serve"}, env, nil, &stdout, &stderr); code == 0 {
		t.Fatalf("serve exited 0 on an unmigrated database, want a refusal")
	}
	if !strings.Contains(stderr.String(), "pending") || !strings.Contains(stderr.String(), "portal migrate") {
		t.Fatalf("got %q, want a message saying migrations are pending and to run portal migrate", stderr.String())
	}
	if hasSchema() {
		t.Fatalf("serve migrated the database with NLS_MIGRATE_ON_START=false")
	}

	stderr.Reset()
	if code := run(ctx, []string{"migrate"}, env, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, stderr.String())
	}
	if !hasSchema() {
		t.Fatalf("portal migrate left no licenses table")
	}
	stderr.Reset()
	if code := run(ctx, []string{"audit", "verify"}, env, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("a command on an up-to-date schema: exit %d: %s", code, stderr.String())
	}
}

// emptyDatabase creates a database with no schema on the test server,
// dropped when the test ends.
func emptyDatabase(t *testing.T) string {
	t.Helper()
	server := dbtest.NewURL(t) // fails under CI, skips elsewhere, when there is no server
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("nls_empty_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), server)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := neturl.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
