package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nectarcloud/nls/licensing"
)

// Store is the PostgreSQL adapter: the pool, the sqlc queries, and the
// domain operations that span several tables, each in one transaction.
type Store struct {
	Pool *pgxpool.Pool
	Q    *Queries

	outbox outbox // domain events written with each change (events.go)
}

// NewStore wraps an open pool.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{Pool: pool, Q: New(pool)}
}

// Connect opens a pool on url and checks that the server answers.
func Connect(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "nls"
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	return pool, nil
}

// InTx runs fn in one transaction, committing when it returns nil. Errors come
// back translated into licensing errors.
func (s *Store) InTx(ctx context.Context, fn func(q *Queries) error) error {
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		return fn(s.Q.WithTx(tx))
	})
	return Translate(err)
}

// Translate turns driver errors into licensing errors: no rows → not found,
// unique violation → conflict, foreign key / check violation → invalid.
// Anything else stays an internal error whose cause is only logged.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	var le *licensing.Error
	if errors.As(err, &le) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &licensing.Error{Code: licensing.ENOTFOUND, Message: "not found", Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return &licensing.Error{Code: licensing.EUNAVAILABLE, Message: "request cancelled", Err: err}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return &licensing.Error{Code: licensing.ECONFLICT, Message: "already exists", Err: err}
		case "23503":
			return &licensing.Error{Code: licensing.EINVALID, Message: "refers to something that does not exist", Err: err}
		case "23514", "23502", "22001", "22P02", "22003":
			return &licensing.Error{Code: licensing.EINVALID, Message: "value refused by the database", Err: err}
		case "40001", "40P01":
			return &licensing.Error{Code: licensing.ECONFLICT, Message: "concurrent update, try again", Err: err}
		}
	}
	return licensing.Internal(err)
}
