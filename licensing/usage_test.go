// Tests of metric kinds, names, limits, merging and periods.
package licensing

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestMetricKindOf(t *testing.T) {
	for name, want := range map[string]MetricKind{"apiCalls": Counter, "workflowExecutions": Counter, "sessions": Counter,
		"somethingNew": Counter, "users": Gauge, "storageBytes": Gauge, "integrations": Gauge} {
		t.Run(name, func(t *testing.T) {
			if got := MetricKindOf(name); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestValidMetricName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"apiCalls", true}, {"a", true}, {"a.b_c9", true}, {"A" + strings.Repeat("x", 63), true},
		{"A" + strings.Repeat("x", 64), false}, {"", false}, {"9lives", false}, {"_x", false},
		{"a-b", false}, {"a b", false}, {"é", false}, {".a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidMetricName(tt.name); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if got := metricNameRE.MatchString(tt.name); got != tt.want {
				t.Errorf("regexp: got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEvaluateLimit(t *testing.T) {
	tests := []struct {
		used, limit int64
		want        LimitUsage
	}{
		{0, 10, LimitUsage{Used: 0, Limit: 10, Remaining: 10, Exceeded: false, Blocked: false}},
		{9, 10, LimitUsage{Used: 9, Limit: 10, Remaining: 1, Exceeded: false, Blocked: false}},
		{10, 10, LimitUsage{Used: 10, Limit: 10, Remaining: 0, Exceeded: false, Blocked: false}},
		{11, 10, LimitUsage{Used: 11, Limit: 10, Remaining: 0, Exceeded: true, Blocked: true}},
		{0, 0, LimitUsage{Used: 0, Limit: 0, Remaining: 0, Exceeded: false, Blocked: false}},
		{math.MaxInt64, 1, LimitUsage{Used: math.MaxInt64, Limit: 1, Remaining: 0, Exceeded: true, Blocked: true}},
	}
	for _, tt := range tests {
		t.Run(itoa(tt.used)+"/"+itoa(tt.limit), func(t *testing.T) {
			if got := EvaluateLimit(tt.used, tt.limit); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMergeReport(t *testing.T) {
	agg := map[string]int64{"apiCalls": 10, "users": 5}
	if err := MergeReport(agg, map[string]int64{"apiCalls": 5, "users": 3, "storageBytes": 7}); err != nil {
		t.Fatal(err)
	}
	if agg["apiCalls"] != 15 || agg["users"] != 5 || agg["storageBytes"] != 7 {
		t.Errorf("got %v, want apiCalls 15, users 5, storageBytes 7", agg)
	}
	if err := MergeReport(agg, map[string]int64{"users": 9}); err != nil || agg["users"] != 9 {
		t.Errorf("gauge max: got %v %v, want 9", agg["users"], err)
	}
	before := agg["apiCalls"]
	err := MergeReport(agg, map[string]int64{"apiCalls": math.MaxInt64, "sessions": 1})
	if ErrorCode(err) != EINVALID || agg["apiCalls"] != before || agg["sessions"] != 0 {
		t.Errorf("overflow: got %v %v, want EINVALID and no change", err, agg)
	}
	if err := MergeReport(agg, map[string]int64{"bad name": 1}); ErrorCode(err) != EINVALID {
		t.Errorf("bad name: got %v, want %v", err, EINVALID)
	}
	if err := MergeMetric(agg, "apiCalls", -1); ErrorCode(err) != EINVALID {
		t.Errorf("negative: got %v, want %v", err, EINVALID)
	}
}

func TestMonthPeriod(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		in         time.Time
		start, end time.Time
	}{
		{time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 3, 1, 0, 30, 0, 0, berlin), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.in.String(), func(t *testing.T) {
			s, e := MonthPeriod(tt.in)
			if !s.Equal(tt.start) || !e.Equal(tt.end) || s.Location() != time.UTC {
				t.Errorf("got %v..%v, want %v..%v", s, e, tt.start, tt.end)
			}
		})
	}
}
