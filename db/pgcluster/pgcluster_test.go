package pgcluster_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/nectarcloud/nls/db/pgcluster"
)

func requireBinaries(t *testing.T) {
	t.Helper()
	if _, err := pgcluster.FindBinaries(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

func TestManagedClusterInitialisesReusesAndKeepsData(t *testing.T) {
	requireBinaries(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "pg")
	var logs []string
	opts := pgcluster.Options{Dir: dir, Fast: true, Log: func(msg string, _ ...any) { logs = append(logs, msg) }}

	c, err := pgcluster.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	if !contains(logs, "initialising a PostgreSQL cluster") {
		t.Fatalf("first start did not initialise: %v", logs)
	}
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	// A second start while it runs reuses the running server and must not stop it.
	again, err := pgcluster.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Started() {
		t.Fatal("second start launched a new server, want the running one reused")
	}

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	logs = nil
	c2, err := pgcluster.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c2.Stop() })
	if contains(logs, "initialising a PostgreSQL cluster") {
		t.Fatal("restart initialised again, want the existing data reused")
	}
	conn, err = pgx.Connect(ctx, c2.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != "survives" {
		t.Fatalf("got %q, %v after restart, want the row kept", v, err)
	}
}

func TestMissingBinariesSayWhatToInstall(t *testing.T) {
	empty := t.TempDir()
	_, err := pgcluster.FindBinariesFrom([]string{empty}, filepath.Join(empty, "*", "bin"))
	if err != pgcluster.ErrNoBinaries {
		t.Fatalf("got %v, want ErrNoBinaries", err)
	}
	for _, want := range []string{"apt-get install postgresql", "DATABASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("got %q, want it to mention %q", err, want)
		}
	}
	// Found under a versioned folder, newest first.
	for _, v := range []string{"13", "15"} {
		bin := filepath.Join(empty, v, "bin")
		_ = os.MkdirAll(bin, 0o755)
		for _, p := range []string{"initdb", "pg_ctl"} {
			_ = os.WriteFile(filepath.Join(bin, p), nil, 0o755)
		}
	}
	got, err := pgcluster.FindBinariesFrom(nil, filepath.Join(empty, "*", "bin"))
	if err != nil || got != filepath.Join(empty, "15", "bin") {
		t.Fatalf("got %q, %v, want the version 15 folder", got, err)
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
