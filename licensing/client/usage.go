// Usage: counters and gauges updated with atomics on the hot path, drained
// into batches that are written to the outbox (state/outbox/<id>.json)
// before they are sent, and resent with the same id until the server
// acknowledges them. The server counts a report id once, so a crash, a
// restart or an outage neither loses nor double-counts anything.
//
// Between checkpoints (FlushInterval, a minute by default) the counts are
// not only in memory: every persistInterval (one second) what was recorded
// since the last snapshot is folded into the pending batch, which is
// written to usage-pending.json under the id it will be sent with. A hard
// crash (SIGKILL, power cut) therefore loses at most the last second of
// usage; Close loses nothing. The hot path is unchanged: one atomic add.

package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/licensing"
)

// Metric names the server knows (any valid name is accepted; unknown ones
// are counters).
const (
	MetricAPICalls           = "apiCalls"           // counter
	MetricWorkflowExecutions = "workflowExecutions" // counter
	MetricSessions           = "sessions"           // counter
	MetricUsers              = "users"              // gauge
	MetricStorageBytes       = "storageBytes"       // gauge
	MetricIntegrations       = "integrations"       // gauge
	integrationPrefix        = "integration."
)

const (
	maxMetricsPerReport = 100  // the server's limit per report
	maxReportsPerPost   = 1000 // the server's limit per request
	// persistInterval bounds what a hard crash can lose: usage recorded
	// since the last snapshot of the pending batch.
	persistInterval = time.Second
	filePending     = "usage-pending.json"
)

// meter is one metric. A counter holds the sum since the last drain; a
// gauge holds the peak since the last drain (-1: not set) and its last value.
type meter struct {
	gauge bool
	v     atomic.Int64
	last  atomic.Int64
}

// usageBuffer maps metric names to meters. The map is copied on write (a new
// metric is rare) so that the hot path is one map read and one atomic add.
type usageBuffer struct {
	meters       atomic.Pointer[map[string]*meter]
	integrations atomic.Pointer[map[string]*meter] // integration name → its counter
	mu           sync.Mutex                        // creating meters
	checkpointMu sync.Mutex                        // draining and writing batches
	sendMu       sync.Mutex                        // sending the outbox
	periodStart  time.Time                         // under checkpointMu
	// pending holds what was drained since the last checkpoint, mirrored in
	// filePending; pendingLoaded is set once a previous run's file is read.
	// Both under checkpointMu.
	pending       *usageReport
	pendingLoaded bool
}

func (u *usageBuffer) init() {
	m, i := map[string]*meter{}, map[string]*meter{}
	u.meters.Store(&m)
	u.integrations.Store(&i)
}

// meter finds or creates the meter of name; nil for an invalid name.
func (u *usageBuffer) meter(name string) *meter {
	if m := (*u.meters.Load())[name]; m != nil {
		return m
	}
	if !licensing.ValidMetricName(name) {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	old := *u.meters.Load()
	if m := old[name]; m != nil {
		return m
	}
	m := &meter{gauge: licensing.MetricKindOf(name) == licensing.Gauge}
	if m.gauge {
		m.v.Store(-1)
	}
	next := make(map[string]*meter, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[name] = m
	u.meters.Store(&next)
	return m
}

func (m *meter) raisePeak(v int64) {
	for {
		p := m.v.Load()
		if v <= p || m.v.CompareAndSwap(p, v) {
			return
		}
	}
}

// Add counts n more of a counter metric (apiCalls, workflowExecutions,
// sessions, or any other valid name). On a gauge it moves the current value
// by n (e.g. +1 and -1 as users come and go). Negative n on a counter and
// invalid names ([a-zA-Z][a-zA-Z0-9_.]{0,63}) are ignored and logged.
func (c *Client) Add(metric string, n int64) {
	m := c.usage.meter(metric)
	if m == nil {
		c.log.Warn("usage: invalid metric name ignored", "metric", metric)
		return
	}
	if m.gauge {
		m.raisePeak(m.last.Add(n))
		return
	}
	if n < 0 {
		c.log.Warn("usage: negative counter increment ignored", "metric", metric, "n", n)
		return
	}
	m.v.Add(n)
}

// Set records the current value of a gauge metric (users, storageBytes,
// integrations); a batch reports the peak set during it. On a counter
// metric Set is ignored and logged. Negative values are ignored.
func (c *Client) Set(metric string, v int64) {
	m := c.usage.meter(metric)
	if m == nil || !m.gauge || v < 0 {
		c.log.Warn("usage: Set needs a gauge metric and a non-negative value", "metric", metric, "value", v)
		return
	}
	m.last.Store(v)
	m.raisePeak(v)
}

// RecordWorkflowExecution counts one workflow execution.
func (c *Client) RecordWorkflowExecution() { c.Add(MetricWorkflowExecutions, 1) }

// RecordIntegrationUse counts one use of an integration as the counter
// "integration.<name>" and keeps the "integrations" gauge at the number of
// distinct integrations used since the client was created. name must make
// a valid metric name (letters, digits, _ and ., starting with a letter).
func (c *Client) RecordIntegrationUse(name string) {
	if m := (*c.usage.integrations.Load())[name]; m != nil {
		m.v.Add(1)
		return
	}
	m := c.usage.meter(integrationPrefix + name)
	if m == nil || name == "" || !licensing.ValidMetricName(name) {
		c.log.Warn("usage: invalid integration name ignored", "integration", name)
		return
	}
	c.usage.mu.Lock()
	old := *c.usage.integrations.Load()
	next := make(map[string]*meter, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[name] = m
	c.usage.integrations.Store(&next)
	c.usage.mu.Unlock()
	m.v.Add(1)
	c.Set(MetricIntegrations, int64(len(next)))
}

// drain takes the values counted since the last drain.
func (u *usageBuffer) drain() map[string]int64 {
	out := map[string]int64{}
	for name, m := range *u.meters.Load() {
		if m.gauge {
			if p := m.v.Swap(-1); p >= 0 {
				out[name] = p
			}
		} else if n := m.v.Swap(0); n > 0 {
			out[name] = n
		}
	}
	if len(out) > 0 && len(*u.integrations.Load()) > 0 {
		if _, ok := out[MetricIntegrations]; ok || anyPrefix(out, integrationPrefix) {
			out[MetricIntegrations] = max(out[MetricIntegrations], int64(len(*u.integrations.Load())))
		}
	}
	return out
}

func anyPrefix(m map[string]int64, prefix string) bool {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// restore puts drained values back after they could not be persisted.
func (u *usageBuffer) restore(metrics map[string]int64) {
	for name, v := range metrics {
		m := u.meter(name)
		if m.gauge {
			m.raisePeak(v)
		} else if m.v.Add(v) < 0 {
			m.v.Store(math.MaxInt64)
		}
	}
}

// loadPendingLocked sends to the outbox the pending batch a previous run
// left (it crashed before its checkpoint), as it is and under the ids it
// would have had: new usage never joins it, since the server may already
// have counted it. Called with checkpointMu held, before anything writes
// filePending; until it succeeds nothing new is written there.
func (c *Client) loadPendingLocked() error {
	u := &c.usage
	if u.pendingLoaded {
		return nil
	}
	data, err := c.state.read(filePending)
	if err != nil {
		return fmt.Errorf("nls client: reading the pending usage: %w", err)
	}
	if len(data) > 0 {
		var r usageReport
		if err := json.Unmarshal(data, &r); err != nil || r.ID == "" {
			c.log.Error("usage: unreadable pending batch set aside", "err", err)
			_ = os.MkdirAll(c.state.path(dirOutbox, dirRejected), 0o700)
			if err := os.Rename(c.state.path(filePending), c.state.path(dirOutbox, dirRejected, filePending)); err != nil {
				return fmt.Errorf("nls client: setting the pending usage aside: %w", err)
			}
		} else if err := c.commitLocked(&r); err != nil {
			return err
		}
	}
	u.pendingLoaded = true
	return nil
}

// commitLocked cuts a pending batch into outbox reports, the first under
// its id and the others under ids derived from it, then removes
// filePending. Cut again after a crash, the same batch gives the same
// reports with the same ids, which the server counts once.
func (c *Client) commitLocked(p *usageReport) error {
	base, err := uuid.Parse(p.ID)
	if err != nil {
		base = uuid.NewSHA1(uuid.NameSpaceOID, []byte(p.ID))
	}
	names := make([]string, 0, len(p.Metrics))
	for n := range p.Metrics {
		names = append(names, n)
	}
	slices.Sort(names)
	for i := 0; len(names) > 0; i++ {
		chunk := names[:min(len(names), maxMetricsPerReport)]
		names = names[len(chunk):]
		id := p.ID
		if i > 0 {
			id = uuid.NewSHA1(base, []byte(strconv.Itoa(i))).String()
		}
		r := usageReport{ID: id, PeriodStart: p.PeriodStart, PeriodEnd: p.PeriodEnd, Metrics: pick(p.Metrics, chunk)}
		data, _ := json.Marshal(r)
		if err := c.state.write(data, dirOutbox, r.ID+".json"); err != nil {
			return fmt.Errorf("nls client: persisting usage: %w", err)
		}
	}
	if err := c.state.remove(filePending); err != nil {
		return fmt.Errorf("nls client: persisting usage: %w", err)
	}
	return nil
}

// foldLocked drains the meters into the pending batch; it reports whether
// anything new was recorded.
func (c *Client) foldLocked() bool {
	u := &c.usage
	metrics := u.drain()
	if len(metrics) == 0 {
		return false
	}
	end := c.now().UTC()
	if u.pending == nil {
		id, err := uuid.NewV7() // time-ordered, so the outbox sends oldest first
		if err != nil {
			u.restore(metrics)
			return false
		}
		start := u.periodStart
		if start.IsZero() || start.After(end) {
			start = end
		}
		u.pending = &usageReport{ID: id.String(), PeriodStart: start, Metrics: map[string]int64{}}
	}
	mergeMetrics(u.pending.Metrics, metrics)
	if end.After(u.pending.PeriodEnd) {
		u.pending.PeriodEnd = end
	}
	return true
}

// mergeMetrics folds m into into: counters add up (saturating), gauges
// keep the peak.
func mergeMetrics(into, m map[string]int64) {
	for name, v := range m {
		old, ok := into[name]
		switch {
		case !ok:
			into[name] = v
		case licensing.MetricKindOf(name) == licensing.Gauge:
			into[name] = max(old, v)
		case old > math.MaxInt64-v:
			into[name] = math.MaxInt64
		default:
			into[name] = old + v
		}
	}
}

// persistPending writes what was recorded since the last snapshot into the
// pending batch on disk (at most once per persistInterval, from the
// background loop). Nothing is written when nothing was recorded.
func (c *Client) persistPending() error {
	u := &c.usage
	u.checkpointMu.Lock()
	defer u.checkpointMu.Unlock()
	if err := c.loadPendingLocked(); err != nil {
		return err
	}
	if !c.foldLocked() {
		return nil
	}
	data, _ := json.Marshal(u.pending)
	if err := c.state.write(data, filePending); err != nil {
		// Still in memory: the next snapshot or checkpoint writes it.
		return fmt.Errorf("nls client: persisting usage: %w", err)
	}
	return nil
}

// Checkpoint moves what was counted since the last checkpoint into the
// outbox on disk, as batches with fresh ids, without sending them. Flush
// and the background flusher call it; call it yourself before a planned
// exit if you cannot wait for Close.
//
// The pending batch is first written whole to usage-pending.json, then cut
// into reports whose ids derive from its id, then that file is removed: a
// crash at any point leaves either the pending file (which the next run
// cuts into the same reports with the same ids, so the server counts each
// once) or the reports alone.
func (c *Client) Checkpoint() error {
	u := &c.usage
	u.checkpointMu.Lock()
	defer u.checkpointMu.Unlock()
	if err := c.loadPendingLocked(); err != nil {
		return err
	}
	c.foldLocked()
	p := u.pending
	if p == nil {
		return nil
	}
	// The whole batch on disk first, so that a crash while cutting it
	// leaves what the next run cuts the same way.
	data, _ := json.Marshal(p)
	if err := c.state.write(data, filePending); err != nil {
		return fmt.Errorf("nls client: persisting usage: %w", err)
	}
	if err := c.commitLocked(p); err != nil {
		return err
	}
	u.pending = nil
	u.periodStart = p.PeriodEnd
	return nil
}

func pick(m map[string]int64, names []string) map[string]int64 {
	out := make(map[string]int64, len(names))
	for _, n := range names {
		out[n] = m[n]
	}
	return out
}

// Pending is the number of usage batches in the outbox, not yet
// acknowledged by the server.
func (c *Client) Pending() int {
	names, _ := c.outbox()
	return len(names)
}

func (c *Client) outbox() ([]string, error) {
	entries, err := os.ReadDir(c.state.path(dirOutbox))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

// Flush checkpoints and sends every batch in the outbox, oldest first,
// deleting each once the server answers accepted or duplicate. Batches
// the server refuses as malformed are moved to outbox/rejected and logged.
func (c *Client) Flush(ctx context.Context) error {
	cpErr := c.Checkpoint()
	if c.offlineOnly() {
		return cpErr // no server to send to: the batches stay in the outbox
	}
	c.usage.sendMu.Lock()
	defer c.usage.sendMu.Unlock()
	names, err := c.outbox()
	if err != nil {
		return errors.Join(cpErr, err)
	}
	for len(names) > 0 {
		batch := names[:min(len(names), maxReportsPerPost)]
		names = names[len(batch):]
		if err := c.send(ctx, batch); err != nil {
			return errors.Join(cpErr, err)
		}
	}
	return cpErr
}

func (c *Client) send(ctx context.Context, files []string) error {
	req := usageRequest{LicenseKey: c.cfg.LicenseKey, DeploymentID: c.deploymentID}
	byID := map[string]string{}
	for _, f := range files {
		data, err := c.state.read(dirOutbox, f)
		var r usageReport
		if err == nil {
			err = json.Unmarshal(data, &r)
		}
		if err != nil || r.ID == "" {
			c.log.Error("usage: unreadable outbox file set aside", "file", f, "err", err)
			c.reject(f)
			continue
		}
		req.Reports = append(req.Reports, r)
		byID[r.ID] = f
	}
	if len(req.Reports) == 0 {
		return nil
	}
	var ans usageAnswer
	if err := c.post(ctx, "/api/usage/report", req, &ans); err != nil {
		var se *ServerError
		if errors.As(err, &se) && (se.Status == http.StatusBadRequest || se.Status == http.StatusUnprocessableEntity ||
			se.Status == http.StatusRequestEntityTooLarge) {
			// Resending cannot help; keep the files aside for a human.
			c.log.Error("usage: the server refused a batch; set aside in outbox/rejected", "err", err)
			for _, f := range byID {
				c.reject(f)
			}
			return nil
		}
		return fmt.Errorf("nls client: sending usage: %w", err)
	}
	for _, r := range ans.Results {
		if f, ok := byID[r.ID]; ok && (r.Status == "accepted" || r.Status == "duplicate") {
			if err := c.state.remove(dirOutbox, f); err != nil {
				c.log.Error("usage: removing a sent batch failed (it will be resent, and counted once)", "err", err)
			}
		}
	}
	return nil
}

func (c *Client) reject(file string) {
	_ = os.MkdirAll(c.state.path(dirOutbox, dirRejected), 0o700)
	if err := os.Rename(c.state.path(dirOutbox, file), c.state.path(dirOutbox, dirRejected, file)); err != nil {
		c.log.Error("usage: setting a batch aside failed", "file", file, "err", err)
	}
}

// flushLoop sends usage every FlushInterval until ctx ends. It runs the
// snapshot loop beside it, so that a send stuck on a slow server never
// delays a snapshot.
func (c *Client) flushLoop(ctx context.Context) {
	defer c.wg.Done()
	c.wg.Add(1) // flushLoop's own count keeps the WaitGroup above zero here
	go c.persistLoop(ctx)
	t := time.NewTicker(c.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fctx, cancel := context.WithTimeout(ctx, max(c.cfg.FlushInterval, 30*time.Second))
		if err := c.Flush(fctx); err != nil && ctx.Err() == nil {
			c.log.Debug("usage not sent yet; kept in the outbox", "err", err, "pending", c.Pending())
		}
		cancel()
	}
}

// persistLoop writes the pending usage to disk every persistInterval.
func (c *Client) persistLoop(ctx context.Context) {
	defer c.wg.Done()
	t := time.NewTicker(persistInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := c.persistPending(); err != nil {
			c.log.Warn("usage: snapshot failed; kept in memory", "err", err)
		}
	}
}
