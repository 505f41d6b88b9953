package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"

	"github.com/nectarcloud/nls/licensing"
)

// Store is the PostgreSQL adapter: the pool, the sqlc queries, and the
// domain operations that span several tables, each in one transaction.
type Store struct {
	Pool *pgxpool.Pool
	q    *Queries // the sqlc queries, translated (conn.go); unexported so callers outside db go through named methods

	seatsOnce sync.Once
	seats     *combiner[SeatRequest, seatResult] // seat acquisitions in batches (seats.go)
	// seatStatements counts the acquire_seats statements run.
	seatStatements atomic.Int64
	// seatRetries counts acquire_seats statements run again after a
	// duplicate deployment refused them.
	seatRetries atomic.Int64
	// seatsNotified is set while webhook endpoints were last found to want
	// new deployments' events: seat batches then open a transaction for
	// their deliveries' jobs at once, rather than first trying without.
	seatsNotified atomic.Bool
	outbox        outbox        // domain events written with each change (events.go)
	usage         usageBatching // usage reports' group commit (usage.go)
}

// NewStore wraps an open pool.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{Pool: pool, q: newQueries(pool)}
}

// ConnectOption adjusts the pool's configuration before it opens.
type ConnectOption func(*pgxpool.Config)

// WithTracer makes a span of each query, connect and acquire, as children
// of the span in the query's context. The SQL text is recorded, never its
// parameters (they carry key hashes and personal data).
func WithTracer(tp trace.TracerProvider) ConnectOption {
	return func(cfg *pgxpool.Config) {
		if tp != nil {
			cfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(tp))
		}
	}
}

// Connect opens a pool on url and checks that the server answers.
func Connect(ctx context.Context, url string, maxConns int32, opts ...ConnectOption) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	for _, o := range opts {
		o(cfg)
	}
	if after := cfg.AfterConnect; after != nil {
		cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
			if err := registerUUIDEncoding(ctx, conn); err != nil {
				return err
			}
			return after(ctx, conn)
		}
	} else {
		cfg.AfterConnect = registerUUIDEncoding
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

// inTx runs fn in one transaction, committing when it returns nil. Errors come
// back translated into licensing errors.
func (s *Store) inTx(ctx context.Context, fn func(q *Queries) error) error {
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		return fn(txQueries(tx))
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
	if unreachable(err) {
		return &licensing.Error{Code: licensing.EUNAVAILABLE, Message: "the database is unreachable; try again shortly",
			Err: fmt.Errorf("%w: %w", ErrUnreachable, err)}
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
		case "22021", "22P05": // a NUL byte or invalid UTF-8 in text or JSON; handlers refuse these first
			return &licensing.Error{Code: licensing.EINVALID, Message: "text contains a NUL byte or invalid UTF-8", Err: err}
		case "40001", "40P01":
			return &licensing.Error{Code: licensing.ECONFLICT, Message: "concurrent update, try again", Err: err}
		}
	}
	return licensing.Internal(err)
}

// ErrUnreachable marks the errors Translate turned into EUNAVAILABLE because
// PostgreSQL could not be reached: the caller answers 503 and logs the outage
// once rather than each request it fails.
var ErrUnreachable = errors.New("database unreachable")

// unreachable reports whether err says the server could not be reached or
// went away, rather than that it refused what we sent: connecting failed,
// the connection broke, the pool could not hand one out in time, or the
// server is shutting down or starting (SQLSTATE class 08, 57P01..57P03).
// A query the server refused (any other SQLSTATE) is not an outage.
func unreachable(err error) bool {
	// Any failure to open a connection, whatever the server said (starting
	// up, too many connections), leaves nothing to do but try again later.
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		// Nothing was sent: the connection was closed or broken before use.
		pgconn.SafeToRetry(err) ||
		// The wait for a connection or an answer ran out: pgxpool returns the
		// bare context error, so a pool that cannot connect and a server too
		// slow to answer look alike; both are worth a retry later.
		errors.Is(err, context.DeadlineExceeded)
}
