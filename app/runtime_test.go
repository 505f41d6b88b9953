package app_test

import (
	"runtime/debug"
	"testing"

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
