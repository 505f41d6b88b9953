// Tests of the one error translation: what the database refuses becomes the
// error a caller can act on, never an internal error.
package db_test

import (
	"testing"
	"time"

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
