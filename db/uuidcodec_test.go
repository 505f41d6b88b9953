package db_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

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
