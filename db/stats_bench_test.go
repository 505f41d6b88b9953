package db

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
)

// What the insights records add to a validation on the request path: one
// map increment beside the count's (hashing and masking wait for the flush).
func BenchmarkValidationRecord(b *testing.B) {
	lics := make([]uuid.UUID, 1000)
	for i := range lics {
		lics[i] = uuid.New()
	}
	now := time.Now()
	for _, withSight := range []bool{false, true} {
		b.Run(fmt.Sprintf("sightings=%v", withSight), func(b *testing.B) {
			v := NewValidationStats(nil, nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					l := lics[i%len(lics)]
					v.Record(l, "VALID", now)
					if withSight {
						v.Sight(l, "prod-1", "3f1c9a0e2b7d4c15a8e6f0b9d2c4e7a1", "203.0.113.17", now)
					}
					i++
				}
			})
		})
	}
}
