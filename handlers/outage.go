// Database outages, logged once each: a warning when the first request fails
// because PostgreSQL cannot be reached, and a note with the count of failed
// requests when a background probe finds it again. Between the two, requests
// answer 503 without a log line each, so an outage cannot flood the log.
package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// outageLog tracks whether the database is known to be unreachable.
type outageLog struct {
	log   *slog.Logger
	probe func(context.Context) error // answers nil once the database is back
	every time.Duration               // how often the probe runs during an outage

	mu     sync.Mutex
	down   bool
	since  time.Time
	failed int
	stop   chan struct{}
	closed bool
}

func newOutageLog(log *slog.Logger, probe func(context.Context) error) *outageLog {
	return &outageLog{log: log, probe: probe, every: time.Second, stop: make(chan struct{})}
}

// failure notes one request that failed because the database is unreachable.
// The first one of an outage logs a warning and starts the probe.
func (o *outageLog) failure(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failed++
	if o.down || o.closed {
		return
	}
	o.down, o.since, o.failed = true, time.Now(), 1
	o.log.Warn("database unreachable: answering 503 until it is back; failed requests are counted, not logged", "err", err)
	go o.watch()
}

// watch probes the database until it answers, then logs the end of the outage.
func (o *outageLog) watch() {
	t := time.NewTicker(o.every)
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := o.probe(ctx)
		cancel()
		if err != nil {
			continue
		}
		o.mu.Lock()
		n, d := o.failed, time.Since(o.since).Round(time.Millisecond)
		o.down, o.failed = false, 0
		o.mu.Unlock()
		o.log.Info(fmt.Sprintf("database reachable again after %d failed requests over %s", n, d),
			"failed_requests", n, "outage", d.String())
		return
	}
}

// close stops a running probe (the app is shutting down).
func (o *outageLog) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closed {
		o.closed = true
		close(o.stop)
	}
}
