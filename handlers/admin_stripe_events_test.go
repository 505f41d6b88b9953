package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// stripeAdmin is the Stripe fixture with a signed-in admin and three events
// delivered as Stripe signs them: one processed (a subscription on a mapped
// price), one that needs attention (its price maps to no plan) and one
// ignored.
type stripeAdmin struct {
	*stripeFixture
	b *browser
}

func newStripeAdmin(t *testing.T) *stripeAdmin {
	t.Helper()
	f := newStripeFixture(t)
	createAdmin(t, f.testEnv, adminEmail, adminPassword)
	s := &stripeAdmin{stripeFixture: f, b: signIn(t, f.testEnv, adminEmail, adminPassword)}
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	f.deliver("evt_ok", "customer.subscription.created", f.at(0),
		subscription("sub_ok", "cus_ok", "price_team", 1, "active", start, start.AddDate(0, 1, 0)), "processed")
	unmapped := subscription("sub_new", "cus_new", "price_new", 1, "active", start, start.AddDate(0, 1, 0))
	unmapped["description"] = "<script>alert(1)</script>"
	f.deliver("evt_new", "customer.subscription.created", f.at(1), unmapped, "needs_attention")
	f.deliver("evt_pm", "payment_method.attached", f.at(2), map[string]any{"id": "pm_1"}, "ignored")
	return s
}

func TestAdminStripeEventList(t *testing.T) {
	s := newStripeAdmin(t)
	full := s.b.get("/admin/stripe-events")
	wantStatus(t, full, 200)
	checkCSP(t, full)
	if !strings.Contains(full.Header.Get("Vary"), "HX-Request") {
		t.Errorf("Vary: %q", full.Header.Get("Vary"))
	}
	if got := full.Doc.Find(`[data-testid=nav] a[aria-current=page]`).First().Text(); got != "Stripe events" {
		t.Errorf("active nav: %q", got)
	}
	rows := full.Doc.Find(`[data-testid=stripe-event-row]`)
	var ids []string
	rows.Each(func(_ int, r *goquery.Selection) { ids = append(ids, r.AttrOr("data-id", "")) })
	if strings.Join(ids, ",") != "evt_pm,evt_new,evt_ok" {
		t.Fatalf("rows: got %v, want the three events newest first", ids)
	}
	ok := rows.Eq(2)
	if got := ok.Find(`[data-testid=stripe-status]`).Text(); got != "Processed" {
		t.Errorf("processed status: %q", got)
	}
	l := s.license("sub_ok")
	if got := ok.Find(`[data-testid=stripe-event-license] a`).AttrOr("href", ""); got != "/admin/licenses/"+l.ID.String() {
		t.Errorf("license link: %q", got)
	}
	if got := ok.Find(`[data-testid=stripe-event-customer] a`).AttrOr("href", ""); got != "/admin/customers/"+l.CustomerID.String() {
		t.Errorf("customer link: %q", got)
	}
	if got := ok.Find(`[data-testid=stripe-event-link]`).AttrOr("href", ""); got != "/admin/stripe-events/evt_ok" {
		t.Errorf("event link: %q", got)
	}
	attn := rows.Eq(1)
	if got := attn.Find(`[data-testid=stripe-status]`).Text(); got != "Needs attention" {
		t.Errorf("needs attention status: %q", got)
	}
	if got := attn.Find(`[data-testid=stripe-event-problem]`).Text(); !strings.Contains(got, "price_new maps to no plan") {
		t.Errorf("problem: %q", got)
	}
	if got := attn.Find(`[data-testid=stripe-event-license]`).Text(); strings.TrimSpace(got) != "—" {
		t.Errorf("an event with no license shows %q", got)
	}

	// The state filter: under HTMX the results alone.
	part := s.b.htmx("GET", "/admin/stripe-events?status=needs_attention", nil)
	wantStatus(t, part, 200)
	if strings.Contains(string(part.Body), "<html") || part.Doc.Find(`[data-testid=stripe-event-filters]`).Length() != 0 {
		t.Fatalf("partial carries the page: %.300s", part.Body)
	}
	if !strings.Contains(part.Header.Get("Vary"), "HX-Request") {
		t.Errorf("partial Vary: %q", part.Header.Get("Vary"))
	}
	if got := one(t, part, `#stripe-event-results [data-testid=stripe-event-row]`).AttrOr("data-id", ""); got != "evt_new" {
		t.Errorf("needs_attention filter: %q", got)
	}
	p := s.b.get("/admin/stripe-events?status=ignored")
	if got := one(t, p, `#f-status option[selected]`).AttrOr("value", ""); got != "ignored" {
		t.Errorf("filter not echoed: %q", got)
	}
	one(t, p, `[data-testid=stripe-event-row][data-id=evt_pm]`)
	one(t, s.b.htmx("GET", "/admin/stripe-events?status=failed", nil), `[data-testid=empty-state]`)
	if n := s.b.htmx("GET", "/admin/stripe-events?status=all", nil).Doc.Find(`[data-testid=stripe-event-row]`).Length(); n != 3 {
		t.Errorf("status=all: got %d events, want 3", n)
	}
	bad := s.b.get("/admin/stripe-events?status=bogus")
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	one(t, bad, `[data-testid=filter-error]`)

	// Keyset pages cover everything once.
	seen := map[string]bool{}
	next := "/admin/stripe-events?limit=2"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		p := s.b.htmx("GET", next, nil)
		p.Doc.Find(`[data-testid=stripe-event-row]`).Each(func(_ int, r *goquery.Selection) {
			id := r.AttrOr("data-id", "")
			if seen[id] {
				t.Errorf("event %s twice", id)
			}
			seen[id] = true
		})
		next = p.Doc.Find(`[data-testid=next-page]`).AttrOr("href", "")
		if next != "" {
			next += "&limit=2"
		}
	}
	if len(seen) != 3 {
		t.Errorf("pages saw %d events, want 3", len(seen))
	}
}

func TestAdminStripeEventPageAndReplay(t *testing.T) {
	s := newStripeAdmin(t)
	p := s.b.get("/admin/stripe-events/evt_new")
	wantStatus(t, p, 200)
	checkCSP(t, p)
	if got := one(t, p, `[data-testid=stripe-event-type]`).Text(); got != "customer.subscription.created" {
		t.Errorf("type: %q", got)
	}
	if got := one(t, p, `#stripe-outcome [data-testid=stripe-status]`).AttrOr("data-state", ""); got != "needs_attention" {
		t.Errorf("status: %q", got)
	}
	if got := one(t, p, `[data-testid=stripe-error]`).Text(); !strings.Contains(got, "price_new maps to no plan") {
		t.Errorf("error: %q", got)
	}
	payload := one(t, p, `pre[data-testid=stripe-payload]`).Text()
	if !strings.Contains(payload, "\n  \"data\": {") || !strings.Contains(payload, `"description": "<script>alert(1)</script>"`) {
		t.Errorf("payload is not the event pretty-printed: %q", payload)
	}
	if strings.Contains(string(p.Body), "<script>alert(1)") {
		t.Error("the payload is not escaped")
	}
	form := one(t, p, `form[data-testid=stripe-replay]`)
	if form.AttrOr("hx-post", "") != "/admin/stripe-events/evt_new/replay" || form.AttrOr("action", "") != "/admin/stripe-events/evt_new/replay" ||
		form.AttrOr("hx-confirm", "") == "" || form.Find(`input[name=csrf_token]`).AttrOr("value", "") == "" {
		t.Errorf("replay form: %v", form.Nodes[0].Attr)
	}
	if n := s.b.get("/admin/stripe-events/evt_ok").Doc.Find(`[data-testid=stripe-replay]`).Length(); n != 0 {
		t.Error("a processed event offers a replay")
	}
	missing := s.b.get("/admin/stripe-events/evt_nope")
	wantStatus(t, missing, http.StatusNotFound)
	if got := missing.Doc.Find("h1").First().Text(); !strings.Contains(got, "Page not found") {
		t.Errorf("404 page: %q", got)
	}

	// Without a CSRF token nothing is replayed.
	wantStatus(t, s.b.send("POST", "/admin/stripe-events/evt_new/replay", url.Values{}, map[string]string{"HX-Request": "true"}), http.StatusForbidden)
	wantStatus(t, s.b.send("POST", "/admin/stripe-events/evt_new/replay", url.Values{"csrf_token": {"forged"}}, nil), http.StatusForbidden)
	if ev := s.stripeEvent("evt_new"); ev.Attempts != 1 || ev.Status != "needs_attention" {
		t.Fatalf("after refused replays: %s after %d attempts", ev.Status, ev.Attempts)
	}

	// The dashboard lists it.
	dash := s.b.get("/admin")
	if got := one(t, dash, `[data-testid=stripe-attention-count]`).Text(); got != "(1)" {
		t.Errorf("dashboard count: %q", got)
	}
	item := one(t, dash, `[data-testid=stripe-attention-event]`)
	if item.AttrOr("data-id", "") != "evt_new" || item.Find("a").AttrOr("href", "") != "/admin/stripe-events/evt_new" {
		t.Errorf("dashboard event: %v", item.Nodes[0].Attr)
	}

	// The admin maps the price and replays: the license is created, in place.
	if r := s.do("PATCH", "/api/plans/team", s.admin, map[string]any{"stripePriceIds": []string{"price_team", "price_new"}}); r.Status != 200 {
		t.Fatalf("map the price: %d %s", r.Status, r.Body)
	}
	r := s.b.htmx("POST", "/admin/stripe-events/evt_new/replay", nil)
	wantStatus(t, r, 200)
	if strings.Contains(string(r.Body), "<html") {
		t.Fatal("replay answered a whole page")
	}
	if got := one(t, r, `#stripe-outcome [data-testid=stripe-status]`).AttrOr("data-state", ""); got != "processed" {
		t.Errorf("outcome after replay: %q", got)
	}
	if n := r.Doc.Find(`[data-testid=stripe-replay]`).Length(); n != 0 {
		t.Error("a processed event still offers a replay")
	}
	if got := one(t, r, `#toasts[hx-swap-oob] [data-testid=toast]`); got.AttrOr("data-kind", "") != "success" || !strings.Contains(got.Text(), "processed") {
		t.Errorf("toast: %s %q", got.AttrOr("data-kind", ""), got.Text())
	}
	if ev := s.stripeEvent("evt_new"); ev.Status != "processed" || ev.Attempts != 2 {
		t.Fatalf("got %s after %d attempts, want processed after 2", ev.Status, ev.Attempts)
	}
	l := s.license("sub_new")
	var label string
	if err := s.store.Pool.QueryRow(t.Context(), `SELECT actor_label FROM audit_log WHERE action = 'license.create' AND entity_id = $1`,
		l.ID.String()).Scan(&label); err != nil || label != "Stripe customer.subscription.created (replayed)" {
		t.Errorf("audit actor of the replay: %q %v", label, err)
	}
	// The replay itself is the admin's, audited with the outcome, and the
	// audit log links to the event.
	var actorType, before, after string
	if err := s.store.Pool.QueryRow(t.Context(), `SELECT actor_type, before::text, after::text FROM audit_log
		WHERE action = 'stripe_event.replay' AND entity_type = 'stripe_event' AND entity_id = 'evt_new'`).Scan(&actorType, &before, &after); err != nil ||
		actorType != "admin" || before != `{"status": "needs_attention"}` || after != `{"status": "processed"}` {
		t.Errorf("replay audit: %s %s %s %v", actorType, before, after, err)
	}
	if href := s.b.get("/admin/audit?action=stripe_event.replay").Doc.Find(`a[href="/admin/stripe-events/evt_new"]`).Length(); href == 0 {
		t.Error("the audit log does not link the replayed event")
	}
	one(t, s.b.get("/admin"), `[data-testid=stripe-attention-empty]`)

	// A second replay is refused in place: it is never applied twice.
	again := s.b.htmx("POST", "/admin/stripe-events/evt_new/replay", nil)
	wantStatus(t, again, 200)
	if got := one(t, again, `[data-testid=toast]`); got.AttrOr("data-kind", "") != "error" || !strings.Contains(got.Text(), "already processed") {
		t.Errorf("second replay toast: %s %q", got.AttrOr("data-kind", ""), got.Text())
	}
	wantStatus(t, s.b.htmx("POST", "/admin/stripe-events/evt_nope/replay", nil), http.StatusNotFound)
}

// A failed event (ours: the database went away) is counted on the
// dashboard and replayed without JavaScript: a redirect back to the event
// with the outcome as a flash message.
func TestAdminStripeReplayWithoutJavaScript(t *testing.T) {
	s := newStripeAdmin(t)
	s.exec(`UPDATE stripe_events SET status = 'failed', error = 'connection reset by peer', processed_at = NULL WHERE id = 'evt_pm'`)
	dash := s.b.get("/admin")
	if got := one(t, dash, `[data-testid=stripe-attention-count]`).Text(); got != "(2)" {
		t.Errorf("dashboard count: %q", got)
	}
	if got := one(t, dash, `[data-testid=stripe-failed-all]`).AttrOr("href", ""); got != "/admin/stripe-events?status=failed" {
		t.Errorf("failed link: %q", got)
	}
	if got := dash.Doc.Find(`[data-testid=stripe-attention-event]`).First().AttrOr("data-id", ""); got != "evt_pm" {
		t.Errorf("newest first: %q", got)
	}

	one(t, s.b.get("/admin/stripe-events/evt_pm"), `form[data-testid=stripe-replay]`)
	r := s.b.post("/admin/stripe-events/evt_pm/replay", nil)
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Location"); got != "/admin/stripe-events/evt_pm" {
		t.Fatalf("Location: %q", got)
	}
	if ev := s.stripeEvent("evt_pm"); ev.Status != "ignored" {
		t.Fatalf("after replay: %s", ev.Status)
	}
	back := s.b.get("/admin/stripe-events/evt_pm")
	if got := one(t, back, `[data-testid=flash] [data-testid=toast]`).Text(); !strings.Contains(got, "ignored") {
		t.Errorf("flash: %q", got)
	}
	if got := one(t, back, `#stripe-outcome [data-testid=stripe-status]`).Text(); got != "Ignored" {
		t.Errorf("status: %q", got)
	}

	// Still unmapped: replayed, and it still needs attention.
	s.b.post("/admin/stripe-events/evt_new/replay", nil)
	back = s.b.get("/admin/stripe-events/evt_new")
	if got := one(t, back, `[data-testid=flash] [data-testid=toast]`); got.AttrOr("data-kind", "") != "error" || !strings.Contains(got.Text(), "still needs attention") {
		t.Errorf("flash: %s %q", got.AttrOr("data-kind", ""), got.Text())
	}
	if got := one(t, back, `[data-testid=stripe-attempts]`).Text(); got != "2" {
		t.Errorf("attempts: %q", got)
	}
}
