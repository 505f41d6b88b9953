package app

import (
	"context"
	"net"
	"runtime"
	"testing"
)

func TestLocalDatabaseIsOnlyThisMachine(t *testing.T) {
	cases := []struct {
		url   string
		local bool
	}{
		{"postgres://nls:pw@127.0.0.1:5432/nls", true},
		{"postgres://nls:pw@localhost/nls", true},
		{"postgres://nls:pw@[::1]:5432/nls", true},
		{"postgres://nls:pw@/nls?host=/var/run/postgresql", true},
		// 192.0.2.0/24 is for documentation: never this machine's.
		{"postgres://nls:pw@192.0.2.10:5432/nls", false},
		{"postgres://nls:pw@127.0.0.1:5432,192.0.2.10:5432/nls", false},
		{"postgres://nls:pw@nls-no-such-host.invalid/nls", false},
		{"mysql://nls@127.0.0.1/nls", false},
	}
	// One of this machine's own addresses, not a loopback one, when it has one.
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
				cases = append(cases, struct {
					url   string
					local bool
				}{"postgres://nls:pw@" + n.IP.String() + ":5432/nls", true})
				break
			}
		}
	}
	for _, c := range cases {
		if got := LocalDatabase(context.Background(), c.url); got != c.local {
			t.Errorf("LocalDatabase(%s) = %v, want %v", c.url, got, c.local)
		}
	}
}

func TestLeaveCPUForDatabaseOnlyBesideALocalOne(t *testing.T) {
	orig := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(orig) })
	t.Setenv("GOMAXPROCS", "")
	runtime.SetDefaultGOMAXPROCS()
	ctx := context.Background()
	before := runtime.GOMAXPROCS(0)

	from, to, restore := LeaveCPUForDatabase(ctx, "postgres://nls:pw@192.0.2.10:5432/nls")
	restore()
	if from != before || to != before || runtime.GOMAXPROCS(0) != before {
		t.Fatalf("a database elsewhere: %d → %d CPUs, GOMAXPROCS %d; want %d unchanged", from, to, runtime.GOMAXPROCS(0), before)
	}

	want := before
	if before > 1 {
		want = before - 1
	}
	from, to, restore = LeaveCPUForDatabase(ctx, "postgres://nls:pw@127.0.0.1:5432/nls")
	got := runtime.GOMAXPROCS(0)
	restore()
	if from != before || to != want || got != want {
		t.Fatalf("a local database: %d → %d CPUs, GOMAXPROCS %d; want %d → %d", from, to, got, before, want)
	}
	if now := runtime.GOMAXPROCS(0); now != before {
		t.Fatalf("restored GOMAXPROCS %d, want Go's default %d", now, before)
	}

	t.Setenv("GOMAXPROCS", "2")
	_, to, restore = LeaveCPUForDatabase(ctx, "postgres://nls:pw@127.0.0.1:5432/nls")
	restore()
	if to != before || runtime.GOMAXPROCS(0) != before {
		t.Fatalf("with GOMAXPROCS set: %d CPUs, GOMAXPROCS %d; want it left at %d", to, runtime.GOMAXPROCS(0), before)
	}
}
