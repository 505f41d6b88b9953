// UUIDs encoded and decoded as PostgreSQL's binary uuid, not through
// database/sql.
package db

import (
	"context"
	"fmt"

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
//
// It also reads a binary uuid into a uuid.UUID by copying its 16 bytes.
// pgx's codec does not know the type either, so it went through
// uuid.UUID's Scan: the value formatted as a string, then parsed — two
// allocations a column, most of what loading a license's deployments for
// the facts cache allocated.
func registerUUIDEncoding(_ context.Context, conn *pgx.Conn) error {
	m := conn.TypeMap()
	m.TryWrapEncodePlanFuncs = append([]pgtype.TryWrapEncodePlanFunc{tryWrapUUID}, m.TryWrapEncodePlanFuncs...)
	t := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}}
	m.RegisterType(t)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: t}})
	return nil
}

// uuidCodec is pgx's, with a direct plan for reading into a uuid.UUID.
type uuidCodec struct{ pgtype.UUIDCodec }

func (c uuidCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok && format == pgtype.BinaryFormatCode {
		return scanUUIDBinary{}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

// scanUUIDBinary copies a binary uuid; NULL leaves the zero uuid, as
// uuid.UUID's Scan did.
type scanUUIDBinary struct{}

func (scanUUIDBinary) Scan(src []byte, dst any) error {
	u := dst.(*uuid.UUID)
	switch len(src) {
	case 16:
		copy(u[:], src)
		return nil
	case 0:
		if src == nil {
			*u = uuid.UUID{}
			return nil
		}
	}
	return fmt.Errorf("invalid length for uuid: %d", len(src))
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
