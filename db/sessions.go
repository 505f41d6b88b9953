package db

// Ending a user's sign-in sessions on request ("sign out everywhere"), with
// its audit row. Single sessions are created, checked and revoked by the
// handlers through the generated queries.

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/licensing"
)

// SignOutEverywhere revokes every open session of a user and reports how
// many there were.
func (s *Store) SignOutEverywhere(ctx context.Context, actor licensing.Actor, userID uuid.UUID, now time.Time) (int64, error) {
	var n int64
	err := s.InTx(ctx, func(q *Queries) error {
		u, err := q.GetUserForUpdate(ctx, userID)
		if err != nil {
			return notFoundAs(err, "user not found")
		}
		if n, err = q.RevokeUserSessions(ctx, RevokeUserSessionsParams{UserID: userID, Now: &now}); err != nil {
			return err
		}
		return Audit(ctx, q, actor, AuditEntry{Action: "user.sign_out_everywhere", EntityType: "user",
			EntityID: userID.String(), CustomerID: u.CustomerID, After: map[string]any{"sessionsEnded": n}}, now)
	})
	return n, err
}
