// The validation read: one indexed query that the machine API's use cases
// start from, with its errors already translated.
package db

import (
	"context"
	"time"
)

// ValidationContext reads, by key hash, the key, its license and plan, the
// deployment if known and the seats in use, in one query. No such key is
// ENOTFOUND.
func (s *Store) ValidationContext(ctx context.Context, keyHash [32]byte, deploymentID string,
	now time.Time) (GetValidationContextRow, error) {
	row, err := s.q.GetValidationContext(ctx, GetValidationContextParams{KeyHash: keyHash[:],
		DeploymentID: deploymentID, Now: now})
	return row, Translate(err)
}
