package app

import "runtime/debug"

// DefaultGCPercent is the garbage collector's target for the portal's
// processes when GOGC is not set: the heap may grow to five times what is
// live between collections, instead of Go's default of twice.
//
// The machine API allocates a few kilobytes per request and keeps little
// (the facts cache, pools), so at Go's default the collector ran many
// times a second under load, and its mark phase took a processor from the
// requests in flight. On 2 cores with 64 connections (make bench, 2,000
// licenses), validation answered 10–20 % more requests and its p99 fell
// from 31–36 ms to 25–27 ms at 400; 1,000 gained nothing more. The live
// heap is tens of megabytes, so the cost is a heap a few times larger. An
// operator's GOGC (or GOMEMLIMIT, which Go honours either way) takes
// precedence.
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
