package components

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestNumbersForPeople(t *testing.T) {
	for _, tc := range []struct {
		metric string
		n      int64
		want   string
	}{
		{"apiCalls", 0, "0"},
		{"apiCalls", 999, "999"},
		{"apiCalls", 1000, "1,000"},
		{"apiCalls", 1_000_000, "1,000,000"},
		{"apiCalls", -1234567, "-1,234,567"},
		{"storageBytes", 950, "950 B"},
		{"storageBytes", 2_400_000_000, "2.4 GB"},
		{"storageBytes", 2_000_000_000, "2 GB"},
		{"storageBytes", 150_000_000_000, "150 GB"},
		{"storageBytes", 12_000_000_000_000, "12 TB"},
	} {
		if got := MetricValue(tc.metric, tc.n); got != tc.want {
			t.Errorf("MetricValue(%s, %d): got %q, want %q", tc.metric, tc.n, got, tc.want)
		}
	}
	if got := MetricName("apiCalls"); got != "API calls" {
		t.Errorf("MetricName(apiCalls): got %q, want API calls", got)
	}
}

func TestTimeIsMarkedForTheViewersZone(t *testing.T) {
	var b strings.Builder
	at := time.Date(2026, 12, 1, 23, 45, 0, 0, time.FixedZone("CET", 3600))
	if err := Time(at, TimeRelative).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	want := `<time datetime="2026-12-01T22:45:00Z" data-time="relative" title="2026-12-01 22:45 UTC">2026-12-01 22:45 UTC</time>`
	if got := b.String(); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
