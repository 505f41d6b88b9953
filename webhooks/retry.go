// When a failed delivery is tried again: a fixed schedule of growing delays
// spread by jitter, over about three days.

package webhooks

import (
	"encoding/binary"
	"hash/fnv"
	"time"
)

// DefaultSchedule is the delay before each retry: 5 s, 5 min, 30 min, 2 h,
// 5 h, then every 10 h, 11 retries and about 2.8 days in all.
var DefaultSchedule = Schedule{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Schedule lists the delays before each retry; its length is the number of
// retries.
type Schedule []time.Duration

// MaxAttempts is the first attempt and every retry.
func (s Schedule) MaxAttempts() int { return len(s) + 1 }

// Delay is the wait after failed attempt number attempt (1 for the first)
// before the next, with up to ±10 % of jitter so that the deliveries failed
// by one outage do not all come back at the same instant. The jitter is
// drawn from seed and attempt, not at random: the worker that records "next
// retry at" and the job engine that schedules it compute the same time.
func (s Schedule) Delay(attempt int, seed int64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	i := min(max(attempt-1, 0), len(s)-1)
	base := s[i]
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(seed))
	binary.LittleEndian.PutUint64(b[8:], uint64(attempt))
	h.Write(b[:])
	frac := float64(h.Sum64()%2001)/10000 - 0.1 // -0.1 .. +0.1
	return base + time.Duration(float64(base)*frac)
}
