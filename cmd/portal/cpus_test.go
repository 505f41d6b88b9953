package main

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/nectarcloud/nls/db/dbtest"
)

// portal serve beside a PostgreSQL on this machine runs Go code on one CPU
// fewer, says so, and gives them back when it stops; told not to, or with
// GOMAXPROCS set, it uses them all.
func TestServeLeavesACPUToALocalDatabase(t *testing.T) {
	if os.Getenv("GOMAXPROCS") != "" {
		t.Fatalf("GOMAXPROCS=%s is set for the tests: serve must leave it as set, so this test cannot see its default",
			os.Getenv("GOMAXPROCS"))
	}
	all := runtime.GOMAXPROCS(0)
	want := max(all-1, 1)
	url := dbtest.NewURL(t)
	for _, leave := range []string{"true", "false"} {
		t.Run("NLS_LEAVE_CPU_FOR_DB="+leave, func(t *testing.T) {
			p := startServe(t, map[string]string{"DATABASE_URL": url, "NLS_DATA_DIR": t.TempDir(), "NLS_SEED": "false",
				"NLS_LOG_LEVEL": "info", "NLS_LEAVE_CPU_FOR_DB": leave}, "")
			said := strings.Contains(p.stderr.String(), "PostgreSQL runs on this machine")
			got := runtime.GOMAXPROCS(0)
			switch {
			case leave == "true" && all > 1 && (got != want || !said):
				t.Fatalf("serving beside a local database: Go on %d of %d CPUs (said so: %v), want %d and a word at start:\n%s",
					got, all, said, want, p.stderr.String())
			case leave == "false" && (got != all || said):
				t.Fatalf("NLS_LEAVE_CPU_FOR_DB=false: Go on %d of %d CPUs (said so: %v), want all", got, all, said)
			}
		})
		if got := runtime.GOMAXPROCS(0); got != all {
			t.Fatalf("after serve stopped: Go on %d CPUs, want %d again", got, all)
		}
	}
}
