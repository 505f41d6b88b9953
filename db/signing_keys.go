package db

import (
	"context"
	"time"

	"github.com/nectarcloud/nls/licensing"
)

// SyncSigningKeys records the keyring's keys: new kids are added and audited,
// and the current key is marked, audited when it changed.
func (s *Store) SyncSigningKeys(ctx context.Context, actor licensing.Actor, keys []licensing.KeyInfo, now time.Time) error {
	return s.inTx(ctx, func(q *Queries) error {
		rows, err := q.ListSigningKeys(ctx)
		if err != nil {
			return err
		}
		known := map[string]SigningKey{}
		for _, r := range rows {
			known[r.Kid] = r
		}
		for _, k := range keys {
			if _, ok := known[k.Kid]; !ok {
				if err := q.InsertSigningKey(ctx, InsertSigningKeyParams{Kid: k.Kid, Alg: string(k.Alg),
					Fingerprint: k.Fingerprint, CreatedAt: k.Created}); err != nil {
					return err
				}
				if err := Audit(ctx, q, actor, AuditEntry{Action: "signing_key.add", EntityType: "signing_key",
					EntityID: k.Kid, After: map[string]any{"kid": k.Kid, "alg": k.Alg, "fingerprint": k.Fingerprint}}, now); err != nil {
					return err
				}
			}
			if k.Current && !known[k.Kid].IsCurrent {
				if err := q.ClearCurrentSigningKey(ctx, ClearCurrentSigningKeyParams{Kid: k.Kid, RetiredAt: &now}); err != nil {
					return err
				}
				if err := q.SetCurrentSigningKey(ctx, k.Kid); err != nil {
					return err
				}
				if err := Audit(ctx, q, actor, AuditEntry{Action: "signing_key.make_current", EntityType: "signing_key",
					EntityID: k.Kid, After: map[string]any{"kid": k.Kid, "alg": k.Alg}}, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
