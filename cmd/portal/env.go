package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/pgcluster"
)

// cmdEnv is what every sub-command shares: configuration, logs and the terminal.
type cmdEnv struct {
	cfg    Config
	log    *slog.Logger
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string // for settings read by libraries (OTEL_*)
	// tracer, when set (serve with tracing on), traces the pool's queries.
	tracer trace.TracerProvider
}

// openDB connects to DATABASE_URL, or starts the managed PostgreSQL under
// the data dir when it is unset. The returned close stops what it started.
func (e *cmdEnv) openDB(ctx context.Context) (*pgxpool.Pool, func(), error) {
	url := e.cfg.DatabaseURL
	var cluster *pgcluster.Cluster
	if url == "" {
		var err error
		cluster, err = pgcluster.Start(ctx, pgcluster.Options{
			Dir: filepath.Join(e.cfg.DataDir, "postgres"),
			Log: func(msg string, args ...any) { e.log.Info(msg, args...) },
		})
		if err != nil {
			return nil, nil, err
		}
		url = cluster.URL()
	}
	pool, err := db.Connect(ctx, url, e.cfg.DBMaxConns, db.WithTracer(e.tracer))
	if err != nil {
		if cluster != nil {
			_ = cluster.Stop()
		}
		return nil, nil, err
	}
	closeFn := func() {
		pool.Close()
		if cluster != nil && cluster.Started() {
			e.log.Info("stopping the managed PostgreSQL")
			if err := cluster.Stop(); err != nil {
				e.log.Error("stopping the managed PostgreSQL failed", "err", err)
			}
		}
	}
	return pool, closeFn, nil
}

// openStore is openDB plus migrations.
func (e *cmdEnv) openStore(ctx context.Context) (*db.Store, func(), error) {
	pool, closeFn, err := e.openDB(ctx)
	if err != nil {
		return nil, nil, err
	}
	n, err := db.Migrate(ctx, pool)
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	if n > 0 {
		e.log.Info("applied migrations", "count", n)
	}
	return db.NewStore(pool), closeFn, nil
}

// dataSecret returns the configured secret, or one generated once and kept
// in the data dir (readable by us only), so restarts keep sessions and sealed
// keys readable. Several processes must share the configured value instead.
func (e *cmdEnv) dataSecret(configured, file string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	path := filepath.Join(e.cfg.DataDir, file)
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); len(s) >= 32 {
			return s, nil
		}
	}
	if err := os.MkdirAll(e.cfg.DataDir, 0o700); err != nil {
		return "", err
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	s := hex.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keeping a generated secret in %s: %w", path, err)
	}
	e.log.Info("generated a secret in the data dir; set it in the environment when running several processes", "file", path)
	return s, nil
}
