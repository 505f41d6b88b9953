// UUIDs encoded as PostgreSQL's binary uuid, not through database/sql.
package db

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// registerUUIDEncoding makes pgx write a uuid.UUID as the 16 bytes it is.
// Without it pgx finds no codec for the type (its uuid codec takes
// pgtype.UUID and [16]byte, and it does not look beneath a type that has
// a Value method), so it calls uuid.UUID.Value for each one — a string —
// and parses that string back into bytes: in arrays of report or
// deployment ids, the largest part of encoding a request's parameters.
func registerUUIDEncoding(_ context.Context, conn *pgx.Conn) error {
	m := conn.TypeMap()
	m.TryWrapEncodePlanFuncs = append([]pgtype.TryWrapEncodePlanFunc{tryWrapUUID}, m.TryWrapEncodePlanFuncs...)
	return nil
}

func tryWrapUUID(value any) (pgtype.WrappedEncodePlanNextSetter, any, bool) {
	if v, ok := value.(uuid.UUID); ok {
		return &uuidEncodePlan{}, pgtype.UUID{Bytes: v, Valid: true}, true
	}
	return nil, nil, false
}

type uuidEncodePlan struct{ next pgtype.EncodePlan }

func (p *uuidEncodePlan) SetNext(next pgtype.EncodePlan) { p.next = next }

func (p *uuidEncodePlan) Encode(value any, buf []byte) ([]byte, error) {
	return p.next.Encode(pgtype.UUID{Bytes: value.(uuid.UUID), Valid: true}, buf)
}
