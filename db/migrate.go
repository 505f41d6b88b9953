package db

import (
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// MigrationsFS is the embedded migrations folder (tests hash it to name their template).
func MigrationsFS() embed.FS { return migrations }

func newProvider(pool *pgxpool.Pool) (*goose.Provider, func() error, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, nil, err
	}
	// Several portal processes may start at once against one database: a
	// session lock lets one of them migrate while the others wait.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, nil, err
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, sub,
		goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(locker))
	if err != nil {
		sqlDB.Close()
		return nil, nil, err
	}
	return p, sqlDB.Close, nil
}

// Migrate applies every pending migration and returns how many ran.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	p, closeDB, err := newProvider(pool)
	if err != nil {
		return 0, err
	}
	defer closeDB()
	results, err := p.Up(ctx)
	if err != nil {
		return len(results), fmt.Errorf("applying migrations: %w", err)
	}
	n, err := migrateRiver(ctx, pool)
	if err != nil {
		return len(results) + n, fmt.Errorf("applying the job queue's migrations: %w", err)
	}
	return len(results) + n, nil
}

// riverLockKey serialises River's migrations across portal processes, as
// goose's session lock does ours.
const riverLockKey = 7231150200

// migrateRiver brings River's own tables (the job queue) up to the version
// this build of River needs.
func migrateRiver(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return 0, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(riverLockKey)); err != nil {
		return 0, err
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", int64(riverLockKey))
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return 0, err
	}
	return len(res.Versions), nil
}

// RiverMigrationVersion is the newest River schema version this build
// applies (tests fold it into their template's name).
func RiverMigrationVersion() int {
	m, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return 0
	}
	all := m.AllVersions()
	return all[len(all)-1].Version
}

// MigrationStatus writes one line per migration: version, name, applied time or "pending".
func MigrationStatus(ctx context.Context, pool *pgxpool.Pool, w io.Writer) error {
	p, closeDB, err := newProvider(pool)
	if err != nil {
		return err
	}
	defer closeDB()
	statuses, err := p.Status(ctx)
	if err != nil {
		return err
	}
	for _, s := range statuses {
		applied := "pending"
		if s.State == goose.StateApplied {
			applied = "applied " + s.AppliedAt.UTC().Format("2006-01-02T15:04:05Z")
		}
		fmt.Fprintf(w, "%05d  %-30s  %s\n", s.Source.Version, s.Source.Path, applied)
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return err
	}
	have, err := m.ExistingVersions(ctx)
	if err != nil {
		return err
	}
	current := 0
	if len(have) > 0 {
		current = have[len(have)-1].Version
	}
	fmt.Fprintf(w, "river  job queue schema version %d of %d\n", current, RiverMigrationVersion())
	return nil
}
