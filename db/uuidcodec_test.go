package db_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/nectarcloud/nls/db/dbtest"
)

// UUIDs go to PostgreSQL as themselves, alone, in arrays and as nil.
func TestUUIDsRoundTripThroughTheBinaryEncoding(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	ids := []uuid.UUID{uuid.New(), uuid.Nil, uuid.MustParse("9b2c1a4e-0000-4000-8000-00000000ffff")}
	var one string
	var many []string
	var missing *uuid.UUID
	var isNull bool
	if err := store.Pool.QueryRow(ctx, `SELECT $1::uuid::text, $2::uuid[]::text[], $3::uuid IS NULL`, ids[2], ids, missing).
		Scan(&one, &many, &isNull); err != nil {
		t.Fatal(err)
	}
	if one != ids[2].String() || len(many) != 3 || many[0] != ids[0].String() || many[1] != ids[1].String() || !isNull {
		t.Fatalf("sent %v, PostgreSQL read %s %v (null %v)", ids, one, many, isNull)
	}
}

// UUIDs come back from PostgreSQL as themselves: alone, as pointers, in
// arrays, NULL as the zero uuid or a nil pointer, and in text format too.
func TestUUIDsAreReadFromTheBinaryEncoding(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	want := uuid.MustParse("9b2c1a4e-0000-4000-8000-00000000ffff")
	text := want.String()
	var one, null uuid.UUID
	var ptr, nilPtr *uuid.UUID
	var many []uuid.UUID
	null = uuid.New()
	if err := store.Pool.QueryRow(ctx, `SELECT $1::text::uuid, NULL::uuid, $1::text::uuid, NULL::uuid,
		ARRAY[$1::text::uuid, NULL, '00000000-0000-0000-0000-000000000001']`, text).
		Scan(&one, &null, &ptr, &nilPtr, &many); err != nil {
		t.Fatal(err)
	}
	if one != want || null != uuid.Nil || ptr == nil || *ptr != want || nilPtr != nil {
		t.Fatalf("read %v, %v, %v, %v; want %v, the zero uuid, %v and nil", one, null, ptr, nilPtr, want, want)
	}
	if len(many) != 3 || many[0] != want || many[1] != uuid.Nil || many[2] != uuid.MustParse("00000000-0000-0000-0000-000000000001") {
		t.Fatalf("array read as %v", many)
	}
	// The simple protocol answers in text: pgx's own path still reads it.
	var viaText uuid.UUID
	if err := store.Pool.QueryRow(ctx, `SELECT $1::text::uuid`, pgx.QueryExecModeSimpleProtocol, text).Scan(&viaText); err != nil {
		t.Fatal(err)
	}
	if viaText != want {
		t.Fatalf("text format read as %v", viaText)
	}
}
