// The Stripe events as the admin pages and the management API list them.
package db

import "context"

// The reads and small writes handlers call. Each returns the query's rows;
// errors arrive already translated by the connection (conn.go).

func (s *Store) GetStripeEventForAdmin(ctx context.Context, id string) (GetStripeEventForAdminRow, error) {
	return s.q.GetStripeEventForAdmin(ctx, id)
}

func (s *Store) ListStripeEventsForAdmin(ctx context.Context, arg ListStripeEventsForAdminParams) ([]ListStripeEventsForAdminRow, error) {
	return s.q.ListStripeEventsForAdmin(ctx, arg)
}

func (s *Store) ListStripeEventsNeedingAttention(ctx context.Context, maxRows int32) ([]ListStripeEventsNeedingAttentionRow, error) {
	return s.q.ListStripeEventsNeedingAttention(ctx, maxRows)
}

func (s *Store) ListStripeEvents(ctx context.Context, arg ListStripeEventsParams) ([]StripeEvent, error) {
	return s.q.ListStripeEvents(ctx, arg)
}

func (s *Store) GetStripeEvent(ctx context.Context, id string) (StripeEvent, error) {
	return s.q.GetStripeEvent(ctx, id)
}
