// Package dbtest gives each test its own PostgreSQL database, cloned from a
// template that is migrated once per migrations version. It uses the server
// at TEST_DATABASE_URL (make test starts one), or else starts a throwaway
// cluster for the test binary. When neither is possible the test fails if CI
// is set, and is skipped otherwise.
//
// Packages that use it declare:
//
//	func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/pgcluster"
)

var (
	setupOnce sync.Once
	setupErr  error
	serverURL string // the maintenance database of the server in use
	template  string
	cluster   *pgcluster.Cluster
)

// Main runs the tests and then stops the cluster that this binary started, if any.
func Main(m *testing.M) int {
	code := m.Run()
	if cluster != nil {
		_ = cluster.Stop()
		_ = os.RemoveAll(clusterDir)
	}
	return code
}

var clusterDir string

func setup() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	serverURL = os.Getenv("TEST_DATABASE_URL")
	if serverURL == "" {
		dir, err := os.MkdirTemp("", "nls-dbtest-")
		if err != nil {
			setupErr = err
			return
		}
		clusterDir = dir
		cluster, err = pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Database: "postgres", Fast: true})
		if err != nil {
			setupErr = fmt.Errorf("no TEST_DATABASE_URL and no throwaway cluster: %w", err)
			return
		}
		serverURL = cluster.URL()
	}
	template, setupErr = ensureTemplate(ctx)
}

// ensureTemplate builds nls_tmpl_<hash of the migrations> once; concurrent
// test binaries serialise on an advisory lock.
func ensureTemplate(ctx context.Context) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(db.MigrationsFS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(db.MigrationsFS(), path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	if err != nil {
		return "", err
	}
	// River's tables are migrated with ours: a newer River makes a new template.
	fmt.Fprintf(h, "river:%d", db.RiverMigrationVersion())
	name := "nls_tmpl_" + hex.EncodeToString(h.Sum(nil))[:16]
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("connecting to the test server: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7231150199)"); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(7231150199)")
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_build"
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return "", err
	}
	pool, err := pgxpool.New(ctx, withDB(serverURL, building))
	if err != nil {
		return "", err
	}
	_, err = db.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+building+" RENAME TO "+name); err != nil {
		return "", err
	}
	return name, nil
}

func withDB(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

func requireServer(tb testing.TB) {
	tb.Helper()
	setupOnce.Do(setup)
	if setupErr != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("PostgreSQL is required: %v", setupErr)
		}
		tb.Skipf("PostgreSQL not available: %v", setupErr)
	}
}

// NewURL creates a fresh, migrated database for this test and returns its URL.
// The database is dropped when the test ends.
func NewURL(tb testing.TB) string {
	tb.Helper()
	requireServer(tb)
	ctx := context.Background()
	buf := make([]byte, 6)
	_, _ = rand.Read(buf)
	name := "nls_test_" + hex.EncodeToString(buf)
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		tb.Fatalf("connecting to the test server: %v", err)
	}
	defer conn.Close(ctx)
	// CREATE DATABASE ... TEMPLATE fails if anyone else is connected to the
	// template; retry briefly while another binary finishes building it.
	for i := 0; ; i++ {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+template)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		tb.Fatalf("creating test database: %v", err)
	}
	tb.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), serverURL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return withDB(serverURL, name)
}

// NewPool returns a pool on a fresh, migrated database, closed when the test ends.
func NewPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool, err := db.Connect(context.Background(), NewURL(tb), 20)
	if err != nil {
		tb.Fatalf("connecting to test database: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// NewStore returns a store on a fresh, migrated database.
func NewStore(tb testing.TB) *db.Store {
	tb.Helper()
	return db.NewStore(NewPool(tb))
}
