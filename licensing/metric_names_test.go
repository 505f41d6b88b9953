package licensing

import (
	"strings"
	"testing"
)

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

func TestMetricLabels(t *testing.T) {
	labels := map[string]string{"apiCalls": "Requests"}
	for _, tc := range []struct{ name, want string }{{"apiCalls", "Requests"}, {"users", "Active users"}, {"reportExports", "Report exports"}} {
		if got := MetricLabel(labels, tc.name); got != tc.want {
			t.Errorf("MetricLabel(%s): got %q, want %q", tc.name, got, tc.want)
		}
	}
	spec := DefaultPlanSpec()
	spec.Code, spec.Name = "pro", "Pro"
	spec.MetricLabels = map[string]string{"apiCalls": "  Requests ", "users": " ", "bad name": "X", "seats": "two\nlines"}
	err := spec.Validate()
	var fields []string
	if le, ok := err.(*Error); ok {
		for _, d := range le.Details {
			fields = append(fields, d.Field)
		}
	}
	if got := strings.Join(fields, ","); !strings.Contains(got, "metricLabels.bad name") || !strings.Contains(got, "metricLabels.seats") || len(fields) != 2 {
		t.Fatalf("got problems on %q, want metricLabels.bad name and metricLabels.seats (err %v)", got, err)
	}
	spec.MetricLabels = map[string]string{"apiCalls": "  Requests ", "users": " "}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(spec.MetricLabels) != 1 || spec.MetricLabels["apiCalls"] != "Requests" {
		t.Errorf("labels after validation: got %v, want only apiCalls trimmed to Requests", spec.MetricLabels)
	}
}
