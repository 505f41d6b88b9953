// Tests of the one error translation: what the database refuses becomes the
// error a caller can act on, never an internal error.
package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/licensing"
)

// TestTextPostgresCannotStoreIsInvalid: a NUL byte or invalid UTF-8 that
// got past the handlers (SQLSTATE 22021 in text, 22P05 in jsonb) is the
// caller's mistake (invalid), not the server's (internal).
func TestTextPostgresCannotStoreIsInvalid(t *testing.T) {
	store := dbtest.NewStore(t)
	actor := licensing.SystemActor("test")
	for _, tc := range []struct {
		name string
		in   db.CustomerInput
	}{
		{"NUL in a text column", db.CustomerInput{Name: "Acme\x00Corp", Email: "a@acme.example"}},
		{"invalid UTF-8 in a text column", db.CustomerInput{Name: "Acme \xff\xfe", Email: "b@acme.example"}},
		{"NUL in a jsonb value", db.CustomerInput{Name: "Acme", Email: "c@acme.example", Metadata: map[string]any{"k": "a\x00b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := store.CreateCustomer(t.Context(), actor, tc.in, time.Now())
			if got := licensing.ErrorCode(err); got != licensing.EINVALID {
				t.Fatalf("got %v (%v), want %s", got, err, licensing.EINVALID)
			}
		})
	}
}

// TestQueriesReturnTranslatedErrors: every sqlc query, on the pool or in a
// transaction, already returns a *licensing.Error, so no caller of db has
// to remember to translate.
func TestQueriesReturnTranslatedErrors(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := t.Context()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	check := func(t *testing.T, err error, want string) {
		t.Helper()
		var le *licensing.Error
		if !errors.As(err, &le) || err != error(le) {
			t.Fatalf("got %T (%v), want a *licensing.Error", err, err)
		}
		if le.Code != want {
			t.Fatalf("got %s (%v), want %s", le.Code, err, want)
		}
	}
	t.Run("QueryRow: no rows is not found", func(t *testing.T) {
		_, err := store.Raw().GetCustomer(ctx, uuid.New())
		check(t, err, licensing.ENOTFOUND)
		if !errors.Is(err, pgx.ErrNoRows) {
			t.Fatalf("got %v, want the driver's cause kept", err)
		}
	})
	t.Run("Exec: a foreign key is invalid", func(t *testing.T) {
		err := store.Raw().AddPlanPrice(ctx, db.AddPlanPriceParams{PriceID: "price_x", PlanID: uuid.New()})
		check(t, err, licensing.EINVALID)
	})
	t.Run("Query: a cancelled request is unavailable", func(t *testing.T) {
		_, err := store.Raw().ListCustomers(cancelled, db.ListCustomersParams{MaxRows: 10})
		check(t, err, licensing.EUNAVAILABLE)
	})
	t.Run("in a transaction too", func(t *testing.T) {
		var inside error
		err := store.InTx(ctx, func(q *db.Queries) error {
			_, inside = q.GetCustomer(ctx, uuid.New())
			return inside
		})
		check(t, inside, licensing.ENOTFOUND)
		check(t, err, licensing.ENOTFOUND)
	})
}
