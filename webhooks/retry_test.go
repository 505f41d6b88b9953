package webhooks_test

import (
	"testing"
	"time"

	"github.com/nectarcloud/nls/webhooks"
)

func TestDefaultScheduleSpansAboutThreeDays(t *testing.T) {
	s := webhooks.DefaultSchedule
	want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour}
	var total time.Duration
	for i := range s {
		d := s.Delay(i+1, 42)
		base := s[i]
		if i < len(want) && base != want[i] {
			t.Errorf("retry %d after %v, want %v", i+1, base, want[i])
		}
		if d < base*9/10 || d > base*11/10 {
			t.Errorf("retry %d: %v is more than 10%% off %v", i+1, d, base)
		}
		if d != s.Delay(i+1, 42) {
			t.Errorf("retry %d: the jitter is not the same twice", i+1)
		}
		total += base
	}
	if total < 60*time.Hour || total > 80*time.Hour {
		t.Errorf("retries span %v, want about three days", total)
	}
	if s.MaxAttempts() != len(s)+1 {
		t.Errorf("MaxAttempts %d", s.MaxAttempts())
	}
	spread := map[time.Duration]bool{}
	for seed := range int64(20) {
		spread[s.Delay(2, seed)] = true
	}
	if len(spread) < 10 {
		t.Errorf("jitter gives %d different delays for 20 jobs", len(spread))
	}
}
