package app

import (
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// DefaultGCPercent is the garbage collector's target for the portal's
// processes when GOGC is not set: the heap may grow to five times what is
// live between collections, instead of Go's default of twice.
//
// The machine API allocates a few kilobytes per request and keeps little
// (the facts cache, pools), so at Go's default the collector ran many
// times a second under load, and its mark phase took a processor from the
// requests in flight. On 2 cores with 64 connections (make bench, 2,000
// licenses), validation answered 10–20 % more requests and its p99 fell
// from 31–37 ms to 25–27 ms at 400; 1,000 gained nothing more. The cost
// is memory: make bench's process at 10,000 licenses kept 70–90 MB live
// and let its heap reach about 400 MB between collections. An operator's
// GOGC (or GOMEMLIMIT, which Go honours either way) takes precedence.
const DefaultGCPercent = 400

// TuneGC sets DefaultGCPercent unless the environment sets GOGC; it
// answers the percentage in force.
func TuneGC(getenv func(string) string) int {
	if getenv("GOGC") != "" {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(DefaultGCPercent)
	return DefaultGCPercent
}

// MemoryLimitRatio is the share of the container's memory limit given to
// the Go heap as its soft limit (GOMEMLIMIT), the rest being left to
// stacks, the runtime and the kernel's accounting.
const MemoryLimitRatio = 0.9

// LimitMemory sets the heap's soft limit to MemoryLimitRatio of the
// memory limit the process runs under (its cgroup's, as in a Kubernetes
// pod with resources.limits.memory), so that the larger collector target
// of TuneGC never grows the heap past what the container may use: near
// the limit the collector runs as often as needed, whatever GOGC says.
// Without a limit it changes nothing. GOMEMLIMIT set by the operator, or
// AUTOMEMLIMIT=off, takes precedence. It answers the limit in force
// (math.MaxInt64 for none).
func LimitMemory(opts ...memlimit.Option) int64 {
	limit, _ := memlimit.Set(append([]memlimit.Option{memlimit.WithRatio(MemoryLimitRatio)}, opts...)...)
	return limit
}
