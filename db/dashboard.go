// The counts and series the dashboards and license pages show.
package db

import (
	"context"
	"time"
)

// The reads and small writes handlers call. Each returns the query's rows;
// errors arrive already translated by the connection (conn.go).

func (s *Store) CountExpiringBetween(ctx context.Context, arg CountExpiringBetweenParams) (int64, error) {
	return s.q.CountExpiringBetween(ctx, arg)
}

func (s *Store) CountLicensesByEffectiveStatus(ctx context.Context, now time.Time) ([]CountLicensesByEffectiveStatusRow, error) {
	return s.q.CountLicensesByEffectiveStatus(ctx, now)
}

func (s *Store) ValidationsByCodeSince(ctx context.Context, since time.Time) ([]ValidationsByCodeSinceRow, error) {
	return s.q.ValidationsByCodeSince(ctx, since)
}

func (s *Store) ValidationsForLicense(ctx context.Context, arg ValidationsForLicenseParams) ([]ValidationsForLicenseRow, error) {
	return s.q.ValidationsForLicense(ctx, arg)
}

func (s *Store) ValidationsPerDay(ctx context.Context, since time.Time) ([]ValidationsPerDayRow, error) {
	return s.q.ValidationsPerDay(ctx, since)
}
