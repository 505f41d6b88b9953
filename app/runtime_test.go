package app_test

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"

	"github.com/nectarcloud/nls/app"
)

// The portal raises the collector's target unless the operator chose one.
func TestTuneGCKeepsTheOperatorsGOGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	if got := app.TuneGC(func(string) string { return "" }); got != app.DefaultGCPercent {
		t.Errorf("without GOGC: %d, want %d", got, app.DefaultGCPercent)
	}
	if now := debug.SetGCPercent(150); now != app.DefaultGCPercent {
		t.Errorf("without GOGC the runtime runs at %d, want %d", now, app.DefaultGCPercent)
	}
	env := func(k string) string {
		if k == "GOGC" {
			return "150"
		}
		return ""
	}
	if got := app.TuneGC(env); got != 150 {
		t.Errorf("with GOGC=150 (already applied by the runtime): %d, want 150", got)
	}
}

// Under a container's memory limit the heap's soft limit is 90 % of it, so
// the raised collector target cannot grow the heap past the container; an
// operator's GOMEMLIMIT wins.
func TestLimitMemoryFollowsTheContainersLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	for _, k := range []string{"GOMEMLIMIT", "AUTOMEMLIMIT"} {
		if v, ok := os.LookupEnv(k); ok {
			os.Unsetenv(k)
			t.Cleanup(func() { os.Setenv(k, v) })
		}
	}
	const container = 500 << 20
	if got, want := app.LimitMemory(memlimit.WithProvider(memlimit.Limit(container))), int64(float64(container)*app.MemoryLimitRatio); got != want {
		t.Errorf("under a 500 MiB limit: GOMEMLIMIT %d, want %d", got, want)
	}
	if now := debug.SetMemoryLimit(-1); now != int64(float64(container)*app.MemoryLimitRatio) {
		t.Errorf("the runtime's soft limit is %d", now)
	}
	t.Setenv("GOMEMLIMIT", "300MiB")
	debug.SetMemoryLimit(300 << 20)
	if got := app.LimitMemory(memlimit.WithProvider(memlimit.Limit(container))); got != 300<<20 {
		t.Errorf("with GOMEMLIMIT=300MiB: %d, want it kept", got)
	}
}
