package app

import (
	"context"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// CPUs shared with PostgreSQL. When the database runs on the portal's own
// machine (the managed PostgreSQL of portal serve, a sidecar, a single-host
// install), Go's default runs the portal's code on every CPU, and under load
// PostgreSQL's backends then wait for a CPU the portal holds. Their queries
// are on the critical path of every write: a seat batch is one backend's
// statement, and every request of the batch waits for it. On 2 CPUs shared
// with PostgreSQL, make bench measured the portal on one CPU against two,
// alternating (3,000 licenses): new deployments 3,529 against 2,655 req/s,
// and a third less CPU per request on both sides (the portal's and
// PostgreSQL's threads no longer preempting each other mid-request).

// LeaveCPUForDatabase runs the process's Go code on one CPU fewer than it
// may (GOMAXPROCS), at least one, when the database at url runs on this
// machine, so that PostgreSQL always finds a CPU the portal does not hold.
// An explicit GOMAXPROCS in the environment is left as set. It answers the
// CPUs before and after (equal when nothing changed) and what restores
// Go's default.
func LeaveCPUForDatabase(ctx context.Context, url string) (from, to int, restore func()) {
	from = runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") != "" || from < 2 || !LocalDatabase(ctx, url) {
		return from, from, func() {}
	}
	runtime.GOMAXPROCS(from - 1)
	return from, from - 1, runtime.SetDefaultGOMAXPROCS
}

// LocalDatabase reports whether the database at url runs on this machine:
// reached through a Unix socket, or at a host every address of which is a
// loopback address or one of this machine's own. A host that does not
// resolve within two seconds counts as another machine.
func LocalDatabase(ctx context.Context, url string) bool {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return false
	}
	hosts := []string{cfg.Host}
	for _, f := range cfg.Fallbacks {
		hosts = append(hosts, f.Host)
	}
	own := ownAddresses()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for _, h := range hosts {
		if strings.HasPrefix(h, "/") {
			continue // a Unix socket's directory
		}
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, h)
		if err != nil || len(addrs) == 0 {
			return false
		}
		for _, a := range addrs {
			if !a.IP.IsLoopback() && !own[a.IP.String()] {
				return false
			}
		}
	}
	return true
}

// ownAddresses are the IP addresses of this machine's interfaces.
func ownAddresses() map[string]bool {
	own := map[string]bool{}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return own
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			own[n.IP.String()] = true
		}
	}
	return own
}
