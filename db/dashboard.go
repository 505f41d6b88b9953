// The counts and series the dashboards and license pages show.
package db

import (
	"context"
	"time"
)

// The reads and small writes handlers call. Each returns the query's rows;
// errors arrive already translated by the connection (conn.go).

func (s *Store) CountExpiringBetween(ctx context.Context, arg CountExpiringBetweenParams) (int64, error) {
	return s.Q.CountExpiringBetween(ctx, arg)
}

func (s *Store) CountLicensesByEffectiveStatus(ctx context.Context, now time.Time) ([]CountLicensesByEffectiveStatusRow, error) {
	return s.Q.CountLicensesByEffectiveStatus(ctx, now)
}

func (s *Store) ValidationsByCodeSince(ctx context.Context, since time.Time) ([]ValidationsByCodeSinceRow, error) {
	return s.Q.ValidationsByCodeSince(ctx, since)
}

func (s *Store) ValidationsForLicense(ctx context.Context, arg ValidationsForLicenseParams) ([]ValidationsForLicenseRow, error) {
	return s.Q.ValidationsForLicense(ctx, arg)
}

func (s *Store) ValidationsPerDay(ctx context.Context, since time.Time) ([]ValidationsPerDayRow, error) {
	return s.Q.ValidationsPerDay(ctx, since)
}
