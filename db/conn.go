// The connection every sqlc query runs on: it translates each driver error
// into a licensing.Error as it happens, so no caller can forget to.
package db

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// translating wraps the pool or a transaction. Translate keeps the driver
// error as the cause, so errors.Is(err, pgx.ErrNoRows) and errors.As into a
// *pgconn.PgError still work inside db.
type translating struct{ db DBTX }

func (t translating) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := t.db.Exec(ctx, sql, args...)
	return tag, Translate(err)
}

func (t translating) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := t.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, Translate(err)
	}
	return translatingRows{rows}, nil
}

func (t translating) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return translatingRow{t.db.QueryRow(ctx, sql, args...)}
}

type translatingRow struct{ row pgx.Row }

func (r translatingRow) Scan(dest ...any) error { return Translate(r.row.Scan(dest...)) }

type translatingRows struct{ pgx.Rows }

func (r translatingRows) Scan(dest ...any) error { return Translate(r.Rows.Scan(dest...)) }
func (r translatingRows) Err() error             { return Translate(r.Rows.Err()) }

// newQueries returns the sqlc queries over db with every error translated.
func newQueries(db DBTX) *Queries { return New(translating{db}) }

// txQueries is Queries.WithTx with translation: sqlc's WithTx would hand the
// bare transaction to the queries.
func txQueries(tx pgx.Tx) *Queries { return newQueries(tx) }

// pgxTx gives bulk loads the transaction under q, for CopyFrom, which sqlc
// does not wrap.
func pgxTx(q *Queries) pgx.Tx {
	tx, _ := txOf(q)
	return tx
}

// txOf is the transaction q runs in, if it runs in one (the outbox enqueues
// its jobs there); false for queries on the pool.
func txOf(q *Queries) (pgx.Tx, bool) {
	db := q.db
	if t, ok := db.(translating); ok {
		db = t.db
	}
	tx, ok := db.(pgx.Tx)
	return tx, ok
}
