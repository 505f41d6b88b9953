package jobs_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/jobs"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/webhooks"
)

var admin = licensing.Actor{Type: "admin", Label: "test admin"}

// received is one request a receiver got, and what it answered.
type received struct {
	Header http.Header
	Body   []byte
	Status int
}

// receiver is a real HTTP server on loopback that records every request
// and answers what answer says for the n-th (1-based); 0 means never answer.
type receiver struct {
	srv    *httptest.Server
	answer func(n int) int
	mu     sync.Mutex
	got    []received
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	t.Helper()
	r := &receiver{answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	n := len(r.got) + 1
	status := r.answer(n)
	r.got = append(r.got, received{Header: req.Header.Clone(), Body: body, Status: status})
	r.mu.Unlock()
	if status == 0 {
		<-req.Context().Done() // never answers: the sender must give up
		return
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"seen":%d}`, n)
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func always(status int) func(int) int { return func(int) int { return status } }

func testSealer(t *testing.T) *licensing.Sealer {
	s, err := licensing.NewSealer("webhook-test-seal-key-0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// whRunner is a runner that delivers webhooks on a short schedule.
func (e *env) whRunner(sealer *licensing.Sealer, extra func(*jobs.Config)) *jobs.Runner {
	e.t.Helper()
	return e.runner(e.mail.SMTPURL, func(c *jobs.Config) {
		c.Sealer = sealer
		c.Webhooks = jobs.WebhookConfig{Guard: webhooks.Guard{AllowPrivate: true}, Timeout: 5 * time.Second,
			Schedule: webhooks.Schedule{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}}
		if extra != nil {
			extra(c)
		}
	})
}

func (e *env) endpoint(whs *app.Webhooks, url string, types ...string) (db.WebhookEndpoint, string) {
	e.t.Helper()
	w, secret, err := whs.Create(context.Background(), admin, app.WebhookEndpointChange{URL: &url, Events: &types})
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "whsec_") {
		e.t.Fatalf("secret %q, want whsec_…", secret)
	}
	return w, secret
}

// waitFor polls cond until it holds, failing after 30 s with what.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// webhookJobsIdle reports that no webhook delivery job is left to run.
func (e *env) webhookJobsIdle() bool {
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'webhook_delivery'
		AND state NOT IN ('completed', 'discarded', 'cancelled')`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n == 0
}

func (e *env) deliveries(endpoint uuid.UUID) []db.WebhookDeliveryRow {
	e.t.Helper()
	ds, err := e.store.ListWebhookDeliveries(context.Background(), db.WebhookDeliveryFilter{EndpointID: endpoint, Limit: 200})
	if err != nil {
		e.t.Fatal(err)
	}
	return ds
}

// verify checks a request with the reference Standard Webhooks library.
func verify(t *testing.T, secret string, r received) error {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh.Verify(r.Body, r.Header)
}

type body struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

func decode(t *testing.T, r received) body {
	t.Helper()
	var b body
	dec := json.NewDecoder(strings.NewReader(string(r.Body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("body %s: %v", r.Body, err)
	}
	return b
}

// everyEvent is one event of each catalogue type, recorded through the outbox.
func everyEvent(now time.Time, tag string) []events.Event {
	var evs []events.Event
	for _, s := range events.Catalogue {
		data := reflect.New(reflect.TypeOf(s.Data)).Elem().Interface().(events.Data)
		evs = append(evs, events.Event{Type: s.Type, OccurredAt: now, Data: data, MilestoneKey: tag + "|" + s.Type})
	}
	return evs
}

func TestEveryEventTypeReachesSubscribedEndpointsOnly(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sealer := testSealer(t)
	whs := app.NewWebhooks(e.store, sealer, webhooks.Guard{AllowPrivate: true}, time.Hour, e.clock.now)
	all := newReceiver(t, always(200))
	some := newReceiver(t, always(204))
	off := newReceiver(t, always(200))
	_, allSecret := e.endpoint(whs, all.srv.URL+"/all", "*")
	_, someSecret := e.endpoint(whs, some.srv.URL+"/some", events.LicenseSuspended, events.CustomerCreated)
	offEP, _ := e.endpoint(whs, off.srv.URL+"/off", "*")
	disabled := false
	if _, err := whs.Update(ctx, admin, offEP.ID, app.WebhookEndpointChange{Enabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	r := e.whRunner(sealer, nil)
	e.start(r)

	if _, err := e.store.RecordMilestones(ctx, everyEvent(e.clock.now(), "every")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every event at the * endpoint", func() bool { return len(all.requests()) >= len(events.Catalogue) })
	waitFor(t, "webhook jobs to finish", e.webhookJobsIdle)

	ids := map[string]string{}
	rows, err := e.pool.Query(ctx, `SELECT type, id::text FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var typ, id string
		if err := rows.Scan(&typ, &id); err != nil {
			t.Fatal(err)
		}
		ids[typ] = id
	}
	got := map[string]int{}
	for _, req := range all.requests() {
		if err := verify(t, allSecret, req); err != nil {
			t.Errorf("the reference library refuses a delivery: %v", err)
		}
		if err := verify(t, someSecret, req); err == nil {
			t.Error("another endpoint's secret verifies the delivery")
		}
		b := decode(t, req)
		got[b.Type]++
		if id := req.Header.Get("webhook-id"); id != ids[b.Type] {
			t.Errorf("%s: webhook-id %q, want the event's id %q", b.Type, id, ids[b.Type])
		}
		if b.Timestamp != e.clock.now().Format(time.RFC3339Nano) {
			t.Errorf("%s: timestamp %s, want the event's %s", b.Type, b.Timestamp, e.clock.now().Format(time.RFC3339Nano))
		}
		spec, _ := events.Lookup(b.Type)
		want, _ := json.Marshal(reflect.New(reflect.TypeOf(spec.Data)).Elem().Interface())
		var g, w any
		_ = json.Unmarshal(b.Data, &g)
		_ = json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: data %s, want %s", b.Type, b.Data, want)
		}
	}
	for _, s := range events.Catalogue {
		if got[s.Type] != 1 {
			t.Errorf("%s arrived %d times at the * endpoint, want once", s.Type, got[s.Type])
		}
	}
	var someTypes []string
	for _, req := range some.requests() {
		if err := verify(t, someSecret, req); err != nil {
			t.Errorf("the reference library refuses a delivery: %v", err)
		}
		someTypes = append(someTypes, decode(t, req).Type)
	}
	sort.Strings(someTypes)
	if want := []string{events.CustomerCreated, events.LicenseSuspended}; !slices.Equal(someTypes, want) {
		t.Errorf("the subscribed endpoint got %v, want only %v", someTypes, want)
	}
	if n := len(off.requests()); n != 0 {
		t.Errorf("a disabled endpoint got %d deliveries", n)
	}

	// A real license action: its event reaches the endpoints; a change
	// that rolls back makes no delivery at all.
	cust := e.customer("wh")
	lid := e.license(cust, lic{expires: at(365 * dayLen)})
	before := len(e.deliveries(offEP.ID))
	_, err = e.store.ChangeLicense(ctx, admin, lid, "license.suspend", func(l *db.License) error {
		l.Status = "suspended"
		return errors.New("refused")
	}, e.clock.now())
	if err == nil {
		t.Fatal("the refused change went through")
	}
	var n int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE event_type = 'license.suspended'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d license.suspended deliveries after a rolled-back suspension, want the 2 of before", n)
	}
	reason, source := "unpaid", "admin"
	_, err = e.store.ChangeLicense(ctx, admin, lid, "license.suspend", func(l *db.License) error {
		l.Status, l.SuspendedReason, l.SuspensionSource = "suspended", &reason, &source
		return nil
	}, e.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the suspension at the subscribed endpoint", func() bool {
		for _, req := range some.requests() {
			if b := decode(t, req); b.Type == events.LicenseSuspended && strings.Contains(string(b.Data), lid.String()) {
				return true
			}
		}
		return false
	})
	if got := len(e.deliveries(offEP.ID)); got != before {
		t.Errorf("the disabled endpoint got %d new deliveries", got-before)
	}
}

func TestReceiverDownThenFlakyIsDeliveredOnceWithItsAttempts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sealer := testSealer(t)
	whs := app.NewWebhooks(e.store, sealer, webhooks.Guard{AllowPrivate: true}, time.Hour, e.clock.now)
	// Down: nothing listens on the port yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ep, secret := e.endpoint(whs, "http://"+addr+"/hook", events.LicenseExpired)
	reg := prometheus.NewRegistry()
	r := e.whRunner(sealer, func(c *jobs.Config) {
		c.Metrics = reg
		c.Webhooks.Schedule = webhooks.Schedule{time.Second, 50 * time.Millisecond, 50 * time.Millisecond,
			50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}
	})
	e.start(r)
	if _, err := e.store.RecordMilestones(ctx, everyEvent(e.clock.now(), "flaky")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first attempt to fail", func() bool {
		ds := e.deliveries(ep.ID)
		return len(ds) == 1 && len(ds[0].AttemptLog) >= 1
	})
	// Up again, but flaky: two 500s, then 200.
	flaky := &receiver{answer: func(n int) int {
		if n <= 2 {
			return 500
		}
		return 200
	}}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the receiver's port was taken meanwhile: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(flaky.serve)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	waitFor(t, "the delivery", func() bool { return e.deliveries(ep.ID)[0].Status == "delivered" })
	waitFor(t, "webhook jobs to finish", e.webhookJobsIdle)
	reqs := flaky.requests()
	if len(reqs) != 3 || reqs[2].Status != 200 {
		t.Fatalf("the receiver got %d requests (%+v), want 500, 500, 200 and nothing after", len(reqs), reqs)
	}
	for _, req := range reqs {
		if err := verify(t, secret, req); err != nil {
			t.Errorf("the reference library refuses an attempt: %v", err)
		}
		if req.Header.Get("webhook-id") != reqs[0].Header.Get("webhook-id") {
			t.Error("the webhook-id changed between attempts")
		}
	}
	d := e.deliveries(ep.ID)[0]
	as := d.AttemptLog
	if len(as) < 4 {
		t.Fatalf("%d attempts in the log, want the refused ones, two 500s and the 200", len(as))
	}
	for i, a := range as {
		if int(a.Attempt) != i+1 {
			t.Errorf("attempt %d numbered %d", i+1, a.Attempt)
		}
		tail := len(as) - i
		switch {
		case tail == 1:
			if a.ResponseStatus == nil || *a.ResponseStatus != 200 || a.NextAttemptAt != nil || !strings.Contains(a.ResponseExcerpt, `"seen":3`) {
				t.Errorf("last attempt %+v, want the 200 with its body and no retry", a)
			}
		case tail <= 3:
			if a.ResponseStatus == nil || *a.ResponseStatus != 500 || a.NextAttemptAt == nil {
				t.Errorf("attempt %d %+v, want a 500 with its next retry", a.Attempt, a)
			}
		default:
			if a.ResponseStatus != nil || !strings.Contains(a.Error, "refused") || a.NextAttemptAt == nil {
				t.Errorf("attempt %d %+v, want connection refused with its next retry", a.Attempt, a)
			}
		}
	}
	if d.AttemptLog[0].NextAttemptAt.Sub(d.AttemptLog[0].AttemptedAt) < 800*time.Millisecond {
		t.Errorf("the first retry was due %v after the first attempt, want the schedule's 1 s (less jitter)",
			d.AttemptLog[0].NextAttemptAt.Sub(d.AttemptLog[0].AttemptedAt))
	}
	if d.AttemptLog[1].AttemptedAt.Sub(d.AttemptLog[0].AttemptedAt) < 800*time.Millisecond {
		t.Error("the second attempt came before the first retry was due")
	}
	if int(d.Attempts) != len(as) {
		t.Errorf("delivery counts %d attempts, the log %d", d.Attempts, len(as))
	}
	c := telemetryValue(t, reg, "webhook", "delivered")
	if c != 1 {
		t.Errorf("nls_deliveries_total{kind=webhook,outcome=delivered} = %v, want 1", c)
	}
	if c := telemetryValue(t, reg, "webhook", "retrying"); int(c) != len(as)-1 {
		t.Errorf("retrying = %v, want %d", c, len(as)-1)
	}
	mfs, _ := reg.Gather()
	var observed uint64
	for _, mf := range mfs {
		if mf.GetName() == "nls_webhook_delivery_duration_seconds" {
			for _, m := range mf.GetMetric() {
				observed += m.GetHistogram().GetSampleCount()
			}
		}
	}
	if int(observed) != len(as) {
		t.Errorf("the latency histogram observed %d attempts, want %d", observed, len(as))
	}
}

func telemetryValue(t *testing.T, reg *prometheus.Registry, kind, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "nls_deliveries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["kind"] == kind && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no nls_deliveries_total{kind=%s,outcome=%s}", kind, outcome)
	return 0
}

func TestReceiverThatNeverAnswersTimesOutAndIsRetried(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sealer := testSealer(t)
	whs := app.NewWebhooks(e.store, sealer, webhooks.Guard{AllowPrivate: true}, time.Hour, e.clock.now)
	silent := newReceiver(t, always(0))
	ep, _ := e.endpoint(whs, silent.srv.URL, events.LicenseExpired)
	const timeout = 400 * time.Millisecond
	r := e.whRunner(sealer, func(c *jobs.Config) { c.Webhooks.Timeout = timeout })
	e.start(r)
	if _, err := e.store.RecordMilestones(ctx, everyEvent(e.clock.now(), "silent")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery to fail for good", func() bool { return e.deliveries(ep.ID)[0].Status == "failed" })
	d := e.deliveries(ep.ID)[0]
	if len(d.AttemptLog) != 4 || len(silent.requests()) != 4 {
		t.Fatalf("%d attempts logged, %d received; want 4 (the first and 3 retries)", len(d.AttemptLog), len(silent.requests()))
	}
	for _, a := range d.AttemptLog {
		if a.ResponseStatus != nil || !strings.Contains(a.Error, "timed out") {
			t.Errorf("attempt %d: status %v error %q, want a timeout", a.Attempt, a.ResponseStatus, a.Error)
		}
		if time.Duration(a.LatencyMs)*time.Millisecond < timeout {
			t.Errorf("attempt %d gave up after %d ms, before the %v timeout", a.Attempt, a.LatencyMs, timeout)
		}
	}
	if d.AttemptLog[3].NextAttemptAt != nil {
		t.Error("the last attempt promises a retry")
	}
}

func TestSecretRotationSignsWithBothDuringTheOverlapOnly(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sealer := testSealer(t)
	whs := app.NewWebhooks(e.store, sealer, webhooks.Guard{AllowPrivate: true}, time.Hour, e.clock.now)
	rec := newReceiver(t, always(200))
	ep, oldSecret := e.endpoint(whs, rec.srv.URL, events.CustomerCreated)
	_, newSecret, err := whs.RotateSecret(ctx, admin, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if newSecret == oldSecret {
		t.Fatal("rotation kept the secret")
	}
	e.start(e.whRunner(sealer, nil))
	e.customer("during")
	waitFor(t, "the delivery during the overlap", func() bool { return len(rec.requests()) == 1 })
	during := rec.requests()[0]
	if n := len(strings.Fields(during.Header.Get("webhook-signature"))); n != 2 {
		t.Errorf("during the overlap: %d signatures, want 2", n)
	}
	for _, s := range []string{oldSecret, newSecret} {
		if err := verify(t, s, during); err != nil {
			t.Errorf("during the overlap a secret does not verify: %v", err)
		}
	}
	e.clock.add(61 * time.Minute)
	e.customer("after")
	waitFor(t, "the delivery after the overlap", func() bool { return len(rec.requests()) == 2 })
	after := rec.requests()[1]
	if n := len(strings.Fields(after.Header.Get("webhook-signature"))); n != 1 {
		t.Errorf("after the overlap: %d signatures, want 1", n)
	}
	if err := verify(t, newSecret, after); err != nil {
		t.Errorf("after the overlap the new secret does not verify: %v", err)
	}
	if err := verify(t, oldSecret, after); err == nil {
		t.Error("after the overlap the old secret still verifies")
	}
}

func TestGoneAndLongFailuresDisableTheEndpointAndTellTheStaff(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sealer := testSealer(t)
	whs := app.NewWebhooks(e.store, sealer, webhooks.Guard{AllowPrivate: true}, time.Hour, e.clock.now)
	gone := newReceiver(t, always(410))
	failing := newReceiver(t, always(503))
	watcher := newReceiver(t, always(200))
	goneEP, _ := e.endpoint(whs, gone.srv.URL, events.CustomerCreated)
	failEP, _ := e.endpoint(whs, failing.srv.URL, events.CustomerUpdated)
	e.endpoint(whs, watcher.srv.URL, events.WebhookEndpointDisabled)
	r := e.whRunner(sealer, func(c *jobs.Config) {
		c.Webhooks.DisableAfter = time.Hour
		c.Webhooks.Schedule = webhooks.Schedule{50 * time.Millisecond}
	})
	e.start(r)

	e.customer("gone")
	waitFor(t, "the 410 to disable the endpoint", func() bool {
		w, err := e.store.GetWebhookEndpoint(ctx, goneEP.ID)
		return err == nil && !w.Enabled
	})
	if n := len(gone.requests()); n != 1 {
		t.Errorf("a 410 was retried: %d requests", n)
	}
	w, _ := e.store.GetWebhookEndpoint(ctx, goneEP.ID)
	if !strings.Contains(w.DisabledReason, "410") {
		t.Errorf("reason %q, want the 410", w.DisabledReason)
	}

	// Failing: each delivery fails for good, but the endpoint stays on
	// until the run of failures is an hour old.
	cust := e.customer("fail")
	update := func(name string) {
		if _, err := e.store.UpdateCustomer(ctx, admin, cust, func(in *db.CustomerInput) { in.Name = name }, e.clock.now()); err != nil {
			t.Fatal(err)
		}
	}
	update("first")
	waitFor(t, "the first failure", func() bool { ds := e.deliveries(failEP.ID); return len(ds) == 1 && ds[0].Status == "failed" })
	if w, _ := e.store.GetWebhookEndpoint(ctx, failEP.ID); !w.Enabled || w.FailingSince == nil {
		t.Fatalf("after failing for minutes: enabled %v, failing since %v; want enabled and failing", w.Enabled, w.FailingSince)
	}
	e.clock.add(2 * time.Hour)
	update("second")
	waitFor(t, "the endpoint failing for 2 h to be disabled", func() bool {
		w, err := e.store.GetWebhookEndpoint(ctx, failEP.ID)
		return err == nil && !w.Enabled
	})
	w, _ = e.store.GetWebhookEndpoint(ctx, failEP.ID)
	if !strings.Contains(w.DisabledReason, "failed since") {
		t.Errorf("reason %q, want the run of failures", w.DisabledReason)
	}
	waitFor(t, "both disablings at the subscribed endpoint", func() bool { return len(watcher.requests()) == 2 })
	var urls []string
	for _, req := range watcher.requests() {
		var d events.WebhookEndpoint
		if err := json.Unmarshal(decode(t, req).Data, &d); err != nil {
			t.Fatal(err)
		}
		urls = append(urls, d.URL)
	}
	sort.Strings(urls)
	want := []string{gone.srv.URL, failing.srv.URL}
	sort.Strings(want)
	if !slices.Equal(urls, want) {
		t.Errorf("webhook_endpoint.disabled for %v, want %v", urls, want)
	}
	waitFor(t, "the staff's emails", func() bool {
		subjects := e.subjects(e.addr("staff"))
		return slices.Contains(subjects, "Webhook endpoint disabled: "+want[0]) &&
			slices.Contains(subjects, "Webhook endpoint disabled: "+want[1])
	})
	// Disabled: later events are not delivered to it.
	n := len(failing.requests())
	update("third")
	e.settle()
	if got := len(failing.requests()); got != n {
		t.Errorf("a disabled endpoint got %d more requests", got-n)
	}
}

func TestTwoProcessesDeliverEachEventOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sealer := testSealer(t)
	whs := app.NewWebhooks(e.store, sealer, webhooks.Guard{AllowPrivate: true}, time.Hour, e.clock.now)
	rec := newReceiver(t, always(200))
	e.endpoint(whs, rec.srv.URL, "*")
	a := e.whRunner(sealer, nil)
	b := e.whRunner(sealer, nil)
	e.start(a)
	e.start(b)
	const rounds = 5
	for i := range rounds {
		if _, err := e.store.RecordMilestones(ctx, everyEvent(e.clock.now(), fmt.Sprint("two", i))); err != nil {
			t.Fatal(err)
		}
	}
	want := rounds * len(events.Catalogue)
	waitFor(t, "every delivery", func() bool { return len(rec.requests()) >= want })
	waitFor(t, "webhook jobs to finish", e.webhookJobsIdle)
	seen := map[string]int{}
	for _, req := range rec.requests() {
		seen[req.Header.Get("webhook-id")]++
	}
	if len(rec.requests()) != want || len(seen) != want {
		t.Fatalf("%d requests for %d distinct events, want %d of each", len(rec.requests()), len(seen), want)
	}
	var workers int
	if err := e.pool.QueryRow(ctx, `SELECT count(DISTINCT attempted_by[1]) FROM river_job WHERE kind = 'webhook_delivery'`).Scan(&workers); err != nil {
		t.Fatal(err)
	}
	if workers != 2 {
		t.Logf("deliveries made by %d of the 2 processes", workers)
	}
}

// fakeDNS resolves names from a map that the test may change.
type fakeDNS struct {
	mu    sync.Mutex
	names map[string]string
}

func (f *fakeDNS) set(name, ip string) { f.mu.Lock(); f.names[name] = ip; f.mu.Unlock() }

func (f *fakeDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ip, ok := f.names[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []netip.Addr{netip.MustParseAddr(ip)}, nil
}

func TestRebindingAndRedirectsReachNoInternalAddress(t *testing.T) {
	e := newEnv(t)
	sealer := testSealer(t)
	dns := &fakeDNS{names: map[string]string{"hooks.vendor.test": "203.0.113.10"}}
	strict := webhooks.Guard{Resolver: dns}
	whs := app.NewWebhooks(e.store, sealer, strict, time.Hour, e.clock.now)

	// A TLS receiver on loopback counts connections: none may be made.
	var conns atomic.Int32
	tlsRec := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	tlsRec.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	tlsRec.TLS = &tls.Config{}
	tlsRec.StartTLS()
	t.Cleanup(tlsRec.Close)
	_, port, _ := net.SplitHostPort(tlsRec.Listener.Addr().String())
	rebound, _ := e.endpoint(whs, "https://hooks.vendor.test:"+port+"/nls", events.CustomerCreated)
	// After the save the name is re-pointed at loopback.
	dns.set("hooks.vendor.test", "127.0.0.1")
	strictRunner := e.whRunner(sealer, func(c *jobs.Config) {
		c.Webhooks.Guard = strict
		c.Webhooks.Schedule = webhooks.Schedule{50 * time.Millisecond}
	})
	e.start(strictRunner)
	e.customer("ssrf")
	waitFor(t, "the delivery to fail", func() bool {
		a := e.deliveries(rebound.ID)
		return len(a) == 1 && a[0].Status == "failed"
	})
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections reached the loopback receiver behind a rebound name", n)
	}
	for _, a := range e.deliveries(rebound.ID)[0].AttemptLog {
		if !strings.Contains(a.Error, "loopback") {
			t.Errorf("rebound attempt error %q, want the loopback refusal", a.Error)
		}
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	e := newEnv(t)
	sealer := testSealer(t)
	// A receiver that redirects to another one, which must get nothing.
	target := newReceiver(t, always(200))
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.srv.URL+"/internal", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	lax := app.NewWebhooks(e.store, sealer, webhooks.Guard{AllowPrivate: true}, time.Hour, e.clock.now)
	redirected, _ := e.endpoint(lax, redirector.URL, events.CustomerCreated)

	e.start(e.whRunner(sealer, func(c *jobs.Config) { c.Webhooks.Schedule = webhooks.Schedule{50 * time.Millisecond} }))
	e.customer("redirect")
	waitFor(t, "the delivery to fail", func() bool {
		b := e.deliveries(redirected.ID)
		return len(b) == 1 && b[0].Status == "failed"
	})
	for _, a := range e.deliveries(redirected.ID)[0].AttemptLog {
		if a.ResponseStatus == nil || *a.ResponseStatus != 307 || !strings.Contains(a.Error, "redirects are not followed") {
			t.Errorf("redirected attempt %+v, want the 307 refused", a)
		}
	}
	if n := len(target.requests()); n != 0 {
		t.Errorf("the redirect target got %d requests", n)
	}
}
