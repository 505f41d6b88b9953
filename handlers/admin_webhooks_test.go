package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/nectarcloud/nls/jobs"
	"github.com/nectarcloud/nls/webhooks"
)

// hookReceiver is a loopback HTTP server that keeps what it receives.
type hookReceiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs, r.body = append(r.reqs, req), append(r.body, b)
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.reqs) }

// got is what the receiver has received so far.
func (r *hookReceiver) got() ([]*http.Request, [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.reqs...), append([][]byte(nil), r.body...)
}

// startDeliveries runs the background jobs on the env's database, as
// portal serve does.
func startDeliveries(t *testing.T, e *testEnv) {
	t.Helper()
	_, sealer := testKeys(t)
	r, err := jobs.New(e.store.Pool, e.store, jobs.Config{Sealer: sealer, ScanInterval: time.Hour,
		Webhooks: jobs.WebhookConfig{Guard: webhooks.Guard{AllowPrivate: true}, Schedule: webhooks.Schedule{50 * time.Millisecond}},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
	})
}

func TestAdminWebhookPages(t *testing.T) {
	a := newAdminEnv(t, allowPrivate)
	rec := newHookReceiver(t)
	startDeliveries(t, a.testEnv)

	p := a.b.get("/admin/webhooks")
	wantStatus(t, p, 200)
	checkCSP(t, p)
	one(t, p, `nav[data-testid=nav] a[href="/admin/webhooks"]`)
	one(t, p, `[data-testid=webhook-form] input[name=events][value="*"][checked]`)
	one(t, p, `[data-testid=webhook-form] input[name=events][value="license.suspended"]`)

	// Refused: errors in place, nothing stored.
	r := a.b.post("/admin/webhooks", url.Values{"url": {"ftp://x"}, "description": {strings.Repeat("d", 501)}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	one(t, r, `[data-testid=error-url]`)
	one(t, r, `[data-testid=error-description]`)
	one(t, r, `[data-testid=error-events]`)
	if n := r.Doc.Find(`[data-testid=webhook-row]`).Length(); n != 0 {
		t.Fatalf("a refused form stored %d endpoints", n)
	}

	// Created: the secret once.
	r = a.b.post("/admin/webhooks", url.Values{"url": {rec.srv.URL + "/hooks"}, "description": {"CRM"},
		"events": {"license.suspended", "customer.created"}})
	wantStatus(t, r, http.StatusCreated)
	checkCSP(t, r)
	secret := strings.TrimSpace(one(t, r, `[data-testid=new-webhook-secret] textarea[data-testid=webhook-secret]`).Text())
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret shown %q", secret)
	}
	audit := wantAudit(t, a, "webhook_endpoint.create")
	id := audit.EntityID
	pg := a.b.get("/admin/webhooks/" + id)
	wantStatus(t, pg, 200)
	if pg.Doc.Find(`[data-testid=new-webhook-secret]`).Length() != 0 || strings.Contains(string(pg.Body), secret) {
		t.Fatal("the secret is shown again")
	}
	if got := one(t, pg, `[data-testid=webhook-events]`).Text(); got != "license.suspended, customer.created" {
		t.Errorf("events %q", got)
	}

	// A test event arrives, signed; the log shows it delivered.
	wantStatus(t, a.b.post("/admin/webhooks/"+id+"/ping", url.Values{}), http.StatusSeeOther)
	// A license event it subscribes to arrives too.
	wantStatus(t, a.b.post("/admin/licenses/"+a.licenseID+"/suspend", url.Values{"reason": {"audit"}}), http.StatusSeeOther)
	deadline := time.Now().Add(30 * time.Second)
	for rec.count() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if rec.count() != 2 {
		t.Fatalf("the receiver got %d requests, want the ping and the suspension", rec.count())
	}
	wh, _ := standardwebhooks.NewWebhook(secret)
	types := map[string]bool{}
	reqs, bodies := rec.got()
	for i, req := range reqs {
		if err := wh.Verify(bodies[i], req.Header); err != nil {
			t.Errorf("delivery %d does not verify: %v", i, err)
		}
		for _, typ := range []string{`"type":"ping"`, `"type":"license.suspended"`} {
			types[typ] = types[typ] || strings.Contains(string(bodies[i]), typ)
		}
	}
	if len(types) != 2 || !types[`"type":"ping"`] || !types[`"type":"license.suspended"`] {
		t.Errorf("types received %v", types)
	}
	var log page
	for time.Now().Before(deadline) {
		log = a.b.htmx("GET", "/admin/webhooks/"+id+"/deliveries", nil)
		if log.Doc.Find(`[data-testid=delivery-row][data-status=delivered]`).Length() == 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantStatus(t, log, 200)
	if log.Doc.Find(`nav[data-testid=nav]`).Length() != 0 {
		t.Error("the HTMX refresh answered a whole page")
	}
	one(t, log, `#delivery-log[hx-trigger="every 2s"]`)
	row := one(t, log, `[data-testid=delivery-row][data-event=ping]`)
	if got := row.Find(`[data-testid=delivery-http]`).Text(); got != "204" {
		t.Errorf("ping answered %q in the log", got)
	}
	one(t, log, `[data-testid=delivery-row][data-event="license.suspended"] [data-testid=delivery-attempt][data-n="1"]`)
	if n := a.b.htmx("GET", "/admin/webhooks/"+id+"/deliveries?status=failed", nil).Doc.Find(`[data-testid=delivery-row]`).Length(); n != 0 {
		t.Errorf("the failed filter shows %d rows", n)
	}
	pg = a.b.get("/admin/webhooks/" + id)
	if got := one(t, pg, `[data-testid=webhook-success-rate]`).Text(); got != "100.0 %" {
		t.Errorf("success rate %q", got)
	}

	// Resend one: the same webhook-id again; replay since an hour ago
	// (both already delivered: nothing to replay).
	suspended := one(t, log, `[data-testid=delivery-row][data-event="license.suspended"]`)
	did := suspended.AttrOr("data-id", "")
	var eventID string
	for i, b := range bodies {
		if strings.Contains(string(b), `"type":"license.suspended"`) {
			eventID = reqs[i].Header.Get("webhook-id")
		}
	}
	wantStatus(t, a.b.post("/admin/webhooks/"+id+"/deliveries/"+did+"/resend", url.Values{}), http.StatusSeeOther)
	for rec.count() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if reqs, _ = rec.got(); len(reqs) != 3 || reqs[2].Header.Get("webhook-id") != eventID {
		t.Errorf("resend: %d requests, want a third with the event's webhook-id %s", rec.count(), eventID)
	}
	r = a.b.post("/admin/webhooks/"+id+"/replay", url.Values{"since": {"not a time"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	one(t, r, `[data-testid=error-since]`)
	wantStatus(t, a.b.post("/admin/webhooks/"+id+"/replay", url.Values{"since": {time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")}}), http.StatusSeeOther)
	wantAudit(t, a, "webhook_endpoint.replay")

	// Disable, edit, enable, rotate.
	wantStatus(t, a.b.post("/admin/webhooks/"+id+"/disable", url.Values{}), http.StatusSeeOther)
	if got := one(t, a.b.get("/admin/webhooks/"+id), `[data-testid=webhook-state]`).Text(); !strings.Contains(got, "disabled") {
		t.Errorf("state after disabling %q", got)
	}
	r = a.b.post("/admin/webhooks/"+id+"/edit", url.Values{"url": {"https://127.0.0.1/x"}, "events": {"nope"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	one(t, r, `[data-testid=error-events]`)
	wantStatus(t, a.b.post("/admin/webhooks/"+id+"/edit", url.Values{"url": {rec.srv.URL + "/v2"}, "events": {"*"}}), http.StatusSeeOther)
	wantStatus(t, a.b.post("/admin/webhooks/"+id+"/enable", url.Values{}), http.StatusSeeOther)
	w, err := a.store.GetWebhookEndpoint(context.Background(), mustUUID(t, id))
	if err != nil || !w.Enabled || w.Url != rec.srv.URL+"/v2" || len(w.EventTypes) != 1 || w.EventTypes[0] != "*" {
		t.Fatalf("after edit and enable: %+v %v", w, err)
	}
	r = a.b.post("/admin/webhooks/"+id+"/rotate", url.Values{})
	wantStatus(t, r, http.StatusOK)
	if s := strings.TrimSpace(one(t, r, `[data-testid=webhook-secret]`).Text()); s == secret || !strings.HasPrefix(s, "whsec_") {
		t.Errorf("rotated secret %q", s)
	}
	one(t, r, `[data-testid=webhook-previous-until]`)

	// Delete.
	wantStatus(t, a.b.post("/admin/webhooks/"+id+"/delete", url.Values{}), http.StatusSeeOther)
	if _, err := a.store.GetWebhookEndpoint(context.Background(), mustUUID(t, id)); err == nil {
		t.Error("the endpoint is still there")
	}
}
