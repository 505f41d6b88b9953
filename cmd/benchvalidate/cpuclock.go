package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// clockPG is set when PostgreSQL's CPU time can be read (it runs here).
var clockPG bool

// cpuClock reads the CPU time used so far by this process (the server) and
// by the PostgreSQL server, when that runs on this machine: its postmaster
// and the postmaster's children (backends, writers, autovacuum), found
// from a backend's parent in /proc.
type cpuClock struct{ postmaster int }

// cpuReading is one read of the clock: this process's CPU time, and each
// PostgreSQL process's, in /proc's ticks.
type cpuReading struct {
	self time.Duration
	pg   map[int]int64
}

func newCPUClock(ctx context.Context, pool *pgxpool.Pool) (cpuClock, error) {
	var backend int
	if err := pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return cpuClock{}, err
	}
	c := cpuClock{}
	if f, ok := procStat(backend); ok && f.comm == "postgres" {
		if p, ok := procStat(f.ppid); ok && p.comm == "postgres" {
			c.postmaster = f.ppid
			clockPG = true
		}
	}
	return c, nil
}

// userHz is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const userHz = 100

func (c cpuClock) read() cpuReading {
	var r cpuReading
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		r.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if c.postmaster == 0 {
		return r
	}
	r.pg = map[int]int64{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if f, ok := procStat(pid); ok && (pid == c.postmaster || f.ppid == c.postmaster) {
			r.pg[pid] = f.ticks
		}
	}
	return r
}

// since is the CPU time used between two reads. A PostgreSQL process that
// started between them counts whole; one that exited takes the time it
// used since the first read with it (an autovacuum worker, say), as /proc
// no longer shows it.
func (r cpuReading) since(before cpuReading) (self, pg time.Duration) {
	var ticks int64
	for pid, t := range r.pg {
		ticks += max(0, t-before.pg[pid])
	}
	return r.self - before.self, time.Duration(ticks) * time.Second / userHz
}

type statFields struct {
	comm  string
	ppid  int
	ticks int64 // user and system time
}

// procStat reads /proc/PID/stat: the command sits in parentheses, and the
// fields after it start at the state (field 3 of proc(5)).
func procStat(pid int) (statFields, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return statFields{}, false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return statFields{}, false
	}
	rest := strings.Fields(s[end+1:])
	if len(rest) < 13 {
		return statFields{}, false
	}
	ppid, _ := strconv.Atoi(rest[1])
	utime, _ := strconv.ParseInt(rest[11], 10, 64)
	stime, _ := strconv.ParseInt(rest[12], 10, 64)
	return statFields{comm: s[open+1 : end], ppid: ppid, ticks: utime + stime}, true
}

// machineTicks is the machine's CPU time in /proc/stat's first line, in
// ticks summed over its CPUs: all of it, and the part stolen (time the
// hypervisor ran something else while this machine's CPUs were ready).
type machineTicks struct{ total, steal int64 }

func readMachineTicks() machineTicks {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineTicks{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return machineTicks{}
	}
	var m machineTicks
	// user nice system idle iowait irq softirq steal: guest time is
	// already inside user and nice.
	for i, v := range f[1:9] {
		n, _ := strconv.ParseInt(v, 10, 64)
		m.total += n
		if i == 7 {
			m.steal = n
		}
	}
	return m
}

// minus is the ticks between two reads.
func (m machineTicks) minus(before machineTicks) machineTicks {
	return machineTicks{total: m.total - before.total, steal: m.steal - before.steal}
}

// stolen is the share of the CPU time that was stolen, "" when unknown.
func (m machineTicks) stolen() string {
	if m.total <= 0 {
		return ""
	}
	return fmt.Sprintf("%.0f%%", 100*float64(m.steal)/float64(m.total))
}
