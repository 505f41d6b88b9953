package licensing

import "testing"

func TestMetricDisplayName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"apiCalls", "API calls"},
		{"workflowExecutions", "Workflow executions"},
		{"users", "Active users"},
		{"storageBytes", "Storage"},
		{"reportExports", "Report exports"},
		{"gpu_hours", "Gpu hours"},
		{"x", "X"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := MetricDisplayName(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	for _, m := range KnownMetrics() {
		if _, ok := metricNames[m]; !ok {
			t.Errorf("KnownMetrics lists %q, which has no display name", m)
		}
	}
}
