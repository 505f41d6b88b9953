package main

import (
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The in-server p99 is read from the portal's histogram per route, and a
// route's share is what it added between two reads.
func TestServedQuantileOfOneRoute(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "nls_http_request_duration_seconds",
		Buckets: []float64{.001, .005, .025}}, []string{"route", "method"})
	reg.MustRegister(h)
	route := h.WithLabelValues("/api/validation/heartbeat", "POST")
	for range 50 {
		route.Observe(0.02) // before the round: not the round's
	}
	before, err := served(reg, "/api/validation/heartbeat")
	if err != nil {
		t.Fatal(err)
	}
	for range 990 {
		route.Observe(0.0005)
	}
	for range 10 {
		route.Observe(0.003)
	}
	h.WithLabelValues("/other", "POST").Observe(1)
	after, err := served(reg, "/api/validation/heartbeat")
	if err != nil {
		t.Fatal(err)
	}
	round := after.minus(before)
	if round.total != 1000 {
		t.Fatalf("the round counted %d requests, want 1000", round.total)
	}
	if got := round.quantileBound(0.99); got != "≤1ms" {
		t.Errorf("p99 of the round: %s, want ≤1ms", got)
	}
	if got := round.quantileBound(0.999); got != "≤5ms" {
		t.Errorf("p99.9 of the round: %s, want ≤5ms", got)
	}
	if got := after.quantileBound(0.99); got != "≤25ms" {
		t.Errorf("p99 over everything: %s, want ≤25ms", got)
	}
	if got := (histogram{}).quantileBound(0.99); got != "" {
		t.Errorf("no requests: %q, want nothing", got)
	}
}

func TestProcStatReadsThisProcess(t *testing.T) {
	f, ok := procStat(os.Getpid())
	if !ok {
		t.Fatal("/proc/self/stat could not be read")
	}
	if f.ppid != os.Getppid() {
		t.Errorf("parent %d, want %d", f.ppid, os.Getppid())
	}
	before := cpuClock{}.read()
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	if self, _ := (cpuClock{}).read().since(before); self < 20*time.Millisecond {
		t.Errorf("50 ms of busy loop read as %v of CPU", self)
	}
}

// A process gone between two reads counts for nothing rather than less
// than nothing; one that appeared counts whole.
func TestCPUReadingsCountProcessesThatCameAndWent(t *testing.T) {
	before := cpuReading{pg: map[int]int64{10: 500, 11: 40}}
	after := cpuReading{pg: map[int]int64{10: 530, 12: 7}}
	if _, pg := after.since(before); pg != 370*time.Millisecond {
		t.Errorf("PostgreSQL's CPU between the reads: %v, want 370ms (30 ticks of 10, 7 of the new 12)", pg)
	}
}
