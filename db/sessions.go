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
	err := s.inTx(ctx, func(q *Queries) error {
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

// The reads and small writes handlers call. Each returns the query's rows;
// errors arrive already translated by the connection (conn.go).

func (s *Store) ClearLoginFailures(ctx context.Context, arg ClearLoginFailuresParams) error {
	return s.q.ClearLoginFailures(ctx, arg)
}

func (s *Store) CreateSession(ctx context.Context, arg CreateSessionParams) (uuid.UUID, error) {
	return s.q.CreateSession(ctx, arg)
}

func (s *Store) DeleteEndedSessions(ctx context.Context, arg DeleteEndedSessionsParams) error {
	return s.q.DeleteEndedSessions(ctx, arg)
}

func (s *Store) GetLoginFailures(ctx context.Context, arg GetLoginFailuresParams) (GetLoginFailuresRow, error) {
	return s.q.GetLoginFailures(ctx, arg)
}

func (s *Store) GetOpenSession(ctx context.Context, arg GetOpenSessionParams) (GetOpenSessionRow, error) {
	return s.q.GetOpenSession(ctx, arg)
}

func (s *Store) PruneLoginFailures(ctx context.Context, forgetBefore time.Time) error {
	return s.q.PruneLoginFailures(ctx, forgetBefore)
}

func (s *Store) RecordLoginFailure(ctx context.Context, arg RecordLoginFailureParams) error {
	return s.q.RecordLoginFailure(ctx, arg)
}

func (s *Store) RevokeSession(ctx context.Context, arg RevokeSessionParams) error {
	return s.q.RevokeSession(ctx, arg)
}

func (s *Store) TouchSession(ctx context.Context, arg TouchSessionParams) error {
	return s.q.TouchSession(ctx, arg)
}
