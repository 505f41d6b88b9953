package db

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/licensing"
)

// AuditEntry is one change to record: what happened to which entity.
type AuditEntry struct {
	Action     string // e.g. "license.suspend"
	EntityType string // e.g. "license"
	EntityID   string
	CustomerID *uuid.UUID // lets customers see entries about their own things
	Before     any
	After      any
}

// Audit appends one row to the hash-chained log through q, which should be
// the transaction of the change itself, so that the change and its record
// commit or roll back together.
func Audit(ctx context.Context, q *Queries, actor licensing.Actor, e AuditEntry, now time.Time) error {
	before, err := jsonOrNil(e.Before)
	if err != nil {
		return licensing.Internal(err)
	}
	after, err := jsonOrNil(e.After)
	if err != nil {
		return licensing.Internal(err)
	}
	_, err = q.AppendAudit(ctx, AppendAuditParams{
		OccurredAt: now,
		ActorType:  actor.Type,
		ActorID:    actor.ID,
		ActorLabel: actor.Label,
		Action:     e.Action,
		EntityType: e.EntityType,
		EntityID:   e.EntityID,
		CustomerID: e.CustomerID,
		Before:     before,
		After:      after,
		Ip:         actor.IP,
		UserAgent:  truncate(actor.UserAgent, 512),
		RequestID:  actor.RequestID,
	})
	return Translate(err)
}

func jsonOrNil(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	if b, ok := v.([]byte); ok {
		return b, nil
	}
	return json.Marshal(v)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// AuditVerification is the outcome of walking the chain.
type AuditVerification struct {
	Rows     int64
	OK       bool
	BrokenID int64  // the first row found changed, or following a removal
	Problem  string // what is wrong with it
}

// VerifyAudit walks the whole chain in order and reports the first row whose
// content no longer matches its hash, or whose predecessor is missing.
func (s *Store) VerifyAudit(ctx context.Context) (AuditVerification, error) {
	var res AuditVerification
	prev := make([]byte, 32)
	var lastSeq int64
	for {
		rows, err := s.q.ListAuditChain(ctx, ListAuditChainParams{AfterSeq: lastSeq, MaxRows: 5000})
		if err != nil {
			return res, Translate(err)
		}
		for _, r := range rows {
			res.Rows++
			switch {
			case r.Seq != lastSeq+1:
				res.BrokenID, res.Problem = r.ID, fmt.Sprintf("rows %d to %d of the chain are missing", lastSeq+1, r.Seq-1)
			case !bytes.Equal(r.PrevHash, prev):
				res.BrokenID, res.Problem = r.ID, "its link to the previous row is broken (a row before it was changed or removed)"
			case !bytes.Equal(r.Computed, r.Hash):
				res.BrokenID, res.Problem = r.ID, "its content does not match its hash (it was edited)"
			}
			if res.Problem != "" {
				return res, nil
			}
			prev, lastSeq = r.Hash, r.Seq
		}
		if len(rows) < 5000 {
			res.OK = true
			return res, nil
		}
	}
}

// The reads and small writes handlers call. Each returns the query's rows;
// errors arrive already translated by the connection (conn.go).

func (s *Store) ListAudit(ctx context.Context, arg ListAuditParams) ([]AuditLog, error) {
	return s.q.ListAudit(ctx, arg)
}

func (s *Store) CountAudit(ctx context.Context) (int64, error) { return s.q.CountAudit(ctx) }
