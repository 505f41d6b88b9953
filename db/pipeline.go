// Several sqlc reads sent in one round trip (a pgx batch), scanned by the
// code sqlc generated for each.
package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pipelined runs fn's queries in one round trip. fn is called twice: first
// its queries are only recorded (each answers errRecording), then they are
// sent together and fn runs again, each query answered in turn from the
// batch. So fn must make the same queries whatever they answer.
func (s *Store) pipelined(ctx context.Context, fn func(q *Queries) error) error {
	rec := &recorder{}
	_ = fn(New(rec))
	br := s.Pool.SendBatch(ctx, &rec.batch)
	err := fn(newQueries(&replay{br: br, sqls: rec.sqls}))
	if cerr := br.Close(); err == nil {
		err = Translate(cerr)
	}
	return err
}

var errRecording = errors.New("query recorded, not sent yet")

type recorder struct {
	batch pgx.Batch
	sqls  []string
}

func (r *recorder) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	r.add(sql, args)
	return pgconn.CommandTag{}, errRecording
}

func (r *recorder) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	r.add(sql, args)
	return nil, errRecording
}

func (r *recorder) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	r.add(sql, args)
	return errRow{errRecording}
}

func (r *recorder) add(sql string, args []any) {
	r.batch.Queue(sql, args...)
	r.sqls = append(r.sqls, sql)
}

// replay answers the recorded queries from the batch's results, in order.
type replay struct {
	br   pgx.BatchResults
	sqls []string
	next int
}

func (r *replay) check(sql string) error {
	if r.next >= len(r.sqls) || r.sqls[r.next] != sql {
		return fmt.Errorf("pipelined: query %d is not the one recorded", r.next)
	}
	r.next++
	return nil
}

func (r *replay) Exec(_ context.Context, sql string, _ ...any) (pgconn.CommandTag, error) {
	if err := r.check(sql); err != nil {
		return pgconn.CommandTag{}, err
	}
	return r.br.Exec()
}

func (r *replay) Query(_ context.Context, sql string, _ ...any) (pgx.Rows, error) {
	if err := r.check(sql); err != nil {
		return nil, err
	}
	return r.br.Query()
}

func (r *replay) QueryRow(_ context.Context, sql string, _ ...any) pgx.Row {
	if err := r.check(sql); err != nil {
		return errRow{err}
	}
	return r.br.QueryRow()
}

type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }
