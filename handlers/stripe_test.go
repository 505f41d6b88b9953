package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/licensing"
)

const (
	stripeSecret     = "whsec_test_current"
	stripeNextSecret = "whsec_test_rotated"
)

// stripeFixture is an app with webhook secrets (two, as during a rotation)
// and plans mapped to Stripe prices.
type stripeFixture struct {
	*testEnv
	admin string
	base  time.Time // events are created from here on, one second apart
	seq   int
}

func newStripeFixture(t *testing.T) *stripeFixture {
	t.Helper()
	e := newEnv(t, func(c *handlers.Config) { c.StripeSecrets = []string{stripeSecret, stripeNextSecret} })
	f := &stripeFixture{testEnv: e, admin: e.apiKey("admin"), base: time.Now().Add(-10 * time.Minute).Truncate(time.Second)}
	for _, p := range []map[string]any{
		{"code": "team", "name": "Team", "features": []string{"core"}, "maxDeployments": 3, "graceDays": 7,
			"dunningDays": 14, "stripePriceIds": []string{"price_team"}},
		{"code": "big", "name": "Big", "features": []string{"core", "sso"}, "maxDeployments": 10,
			"stripePriceIds": []string{"price_big"}},
		{"code": "seats", "name": "Per seat", "features": []string{"core"}, "stripePriceIds": []string{"price_seat"},
			"quantitySets": "deployments"},
		{"code": "users", "name": "Per user", "features": []string{"core"}, "limits": map[string]any{"users": 1, "apiCalls": 500},
			"stripePriceIds": []string{"price_user"}, "quantitySets": "users"},
	} {
		if r := e.do("POST", "/api/plans", f.admin, p); r.Status != 201 {
			t.Fatal(string(r.Body))
		}
	}
	return f
}

// at is the creation time of the n-th event of a story.
func (f *stripeFixture) at(n int) time.Time { return f.base.Add(time.Duration(n) * time.Second) }

// event builds a Stripe event with the real envelope.
func (f *stripeFixture) event(id, typ string, created time.Time, obj map[string]any) []byte {
	f.t.Helper()
	b, err := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": "2023-10-16",
		"created": created.Unix(), "livemode": false, "pending_webhooks": 1, "type": typ,
		"request": map[string]any{"id": nil, "idempotency_key": nil}, "data": map[string]any{"object": obj}})
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func sign(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
}

// post sends a payload to the webhook with the given Stripe-Signature header ("" for none).
func (f *stripeFixture) post(payload []byte, header string) (response, error) {
	req := httptest.NewRequest("POST", "/api/webhooks/stripe", strings.NewReader(string(payload)))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if header != "" {
		req.Header.Set("Stripe-Signature", header)
	}
	res, err := f.app.Test(req, 30_000)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

// deliver signs and posts an event as Stripe would, wanting 200 and the status it was recorded with.
func (f *stripeFixture) deliver(id, typ string, created time.Time, obj map[string]any, wantStatus string) map[string]any {
	f.t.Helper()
	payload := f.event(id, typ, created, obj)
	r, err := f.post(payload, sign(payload, stripeSecret, time.Now()))
	if err != nil {
		f.t.Fatal(err)
	}
	if r.Status != 200 {
		f.t.Fatalf("%s %s: got %d %s, want 200", id, typ, r.Status, r.Body)
	}
	m := r.JSON(f.t)
	if m["received"] != true || m["status"] != wantStatus {
		ev := f.stripeEvent(id)
		f.t.Fatalf("%s %s: got %v (error %q), want status %v", id, typ, m, ev.Error, wantStatus)
	}
	return m
}

func (f *stripeFixture) stripeEvent(id string) db.StripeEvent {
	f.t.Helper()
	ev, err := f.store.GetStripeEvent(context.Background(), id)
	if err != nil {
		f.t.Fatalf("event %s: %v", id, err)
	}
	return ev
}

func (f *stripeFixture) license(sub string) db.License {
	f.t.Helper()
	l, err := f.store.GetLicenseBySubscription(context.Background(), sub)
	if err != nil {
		f.t.Fatalf("license of %s: %v", sub, err)
	}
	return l
}

func (f *stripeFixture) key(l db.License) string {
	f.t.Helper()
	_, sealer := testKeys(f.t)
	key, err := f.store.RevealKey(context.Background(), licensing.SystemActor("test"), sealer, l.ID, time.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	return key
}

func (f *stripeFixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.store.Pool.Exec(context.Background(), sql, args...); err != nil {
		f.t.Fatal(err)
	}
}

func (f *stripeFixture) wantCode(l db.License, want string) {
	f.t.Helper()
	if got := validate(f.t, f.testEnv, f.key(l), "dep-1", nil)["code"]; got != want {
		f.t.Fatalf("validate: got %v, want %v", got, want)
	}
}

// subscription is a Stripe subscription object.
func subscription(id, customer, price string, qty int, status string, start, end time.Time) map[string]any {
	return map[string]any{"id": id, "object": "subscription", "customer": customer, "status": status,
		"start_date": start.Unix(), "current_period_start": start.Unix(), "current_period_end": end.Unix(),
		"cancel_at_period_end": false, "ended_at": nil,
		"items": map[string]any{"object": "list", "data": []any{map[string]any{"id": "si_" + id, "object": "subscription_item",
			"price": map[string]any{"id": price, "object": "price"}, "quantity": qty}}}}
}

// invoice is a Stripe invoice object for one subscription period.
func invoice(id, sub, customer, charge string, start, end time.Time) map[string]any {
	return map[string]any{"id": id, "object": "invoice", "customer": customer, "subscription": sub,
		"billing_reason": "subscription_cycle", "charge": charge, "status": "paid",
		"period_start": start.AddDate(0, -1, 0).Unix(), "period_end": start.Unix(),
		"lines": map[string]any{"object": "list", "data": []any{map[string]any{"id": "il_" + id, "object": "line_item",
			"period": map[string]any{"start": start.Unix(), "end": end.Unix()}}}}}
}

func countAll(t *testing.T, e *testEnv) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"stripe_events", "licenses", "customers", "audit_log"} {
		out[table] = countRows(t, e, table)
	}
	return out
}

func sameCounts(t *testing.T, got, want map[string]int) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: got %v rows, want %v", k, got[k], v)
		}
	}
}

func TestStripeSignatureIsCheckedFirst(t *testing.T) {
	f := newStripeFixture(t)
	start := time.Now().Add(-time.Hour)
	payload := f.event("evt_sig", "customer.subscription.created", f.at(0),
		subscription("sub_sig", "cus_sig", "price_team", 1, "active", start, start.AddDate(0, 1, 0)))
	tampered := []byte(strings.Replace(string(payload), "price_team", "price_big_", 1))
	for _, tc := range []struct {
		name    string
		payload []byte
		header  string
	}{
		{"missing header", payload, ""},
		{"wrong secret", payload, sign(payload, "whsec_someone_else", time.Now())},
		{"stale timestamp", payload, sign(payload, stripeSecret, time.Now().Add(-webhook.DefaultTolerance-time.Minute))},
		{"tampered body", tampered, sign(payload, stripeSecret, time.Now())},
		{"malformed header", payload, "t=abc,v1=zz"},
		{"signature of another timestamp", payload, strings.Replace(sign(payload, stripeSecret, time.Now()), "t=", "t=1", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := countAll(t, f.testEnv)
			r, err := f.post(tc.payload, tc.header)
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, r, 400, licensing.EMALFORMED)
			sameCounts(t, countAll(t, f.testEnv), before)
		})
	}
	t.Run("rotated secret", func(t *testing.T) {
		r, err := f.post(payload, sign(payload, stripeNextSecret, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 200 {
			t.Fatalf("got %d %s, want 200", r.Status, r.Body)
		}
		if got := f.license("sub_sig").StripeStatus; got == nil || *got != "active" {
			t.Fatalf("got stripe status %v, want active", got)
		}
	})
}

func TestStripeWebhookWithoutSecretIsUnavailable(t *testing.T) {
	e := newEnv(t)
	f := &stripeFixture{testEnv: e, base: time.Now()}
	payload := f.event("evt_nosecret", "customer.created", f.at(0), map[string]any{"id": "cus_x", "object": "customer"})
	before := countAll(t, e)
	r, err := f.post(payload, sign(payload, stripeSecret, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, r, 503, licensing.EUNAVAILABLE)
	sameCounts(t, countAll(t, e), before)
}

func TestStripeEventAppliesOnce(t *testing.T) {
	f := newStripeFixture(t)
	start := time.Now().Add(-time.Hour)
	sub := subscription("sub_once", "cus_once", "price_team", 1, "active", start, start.AddDate(0, 1, 0))

	t.Run("sequential", func(t *testing.T) {
		f.deliver("evt_once", "customer.subscription.created", f.at(0), sub, "processed")
		after := countAll(t, f.testEnv)
		m := f.deliver("evt_once", "customer.subscription.created", f.at(0), sub, "processed")
		if m["duplicate"] != true {
			t.Fatalf("got %v, want duplicate", m)
		}
		sameCounts(t, countAll(t, f.testEnv), after)
	})

	t.Run("concurrent", func(t *testing.T) {
		sub := subscription("sub_race", "cus_race", "price_team", 1, "active", start, start.AddDate(0, 1, 0))
		payload := f.event("evt_race", "customer.subscription.created", f.at(1), sub)
		auditBefore := countRows(t, f.testEnv, "audit_log")
		const n = 8
		var wg sync.WaitGroup
		results := make(chan string, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := f.post(payload, sign(payload, stripeSecret, time.Now()))
				if err != nil || r.Status != 200 {
					results <- fmt.Sprintf("error %v %d %s", err, r.Status, r.Body)
					return
				}
				var m map[string]any
				_ = json.Unmarshal(r.Body, &m)
				results <- fmt.Sprint("duplicate=", m["duplicate"] == true)
			}()
		}
		wg.Wait()
		close(results)
		got := map[string]int{}
		for r := range results {
			got[r]++
		}
		if got["duplicate=false"] != 1 || got["duplicate=true"] != n-1 {
			t.Fatalf("got %v, want one first delivery and %d duplicates", got, n-1)
		}
		var licenses int
		if err := f.store.Pool.QueryRow(context.Background(),
			"SELECT count(*) FROM licenses WHERE stripe_subscription_id = 'sub_race'").Scan(&licenses); err != nil {
			t.Fatal(err)
		}
		if licenses != 1 {
			t.Fatalf("got %d licenses, want 1", licenses)
		}
		// One customer (a placeholder) and one license created, each audited once.
		if got := countRows(t, f.testEnv, "audit_log") - auditBefore; got != 2 {
			t.Fatalf("got %d new audit rows, want 2", got)
		}
	})
}

func TestStripeSubscriptionLife(t *testing.T) {
	f := newStripeFixture(t)
	ctx := context.Background()
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	end := start.AddDate(0, 1, 0)
	next := end.AddDate(0, 1, 0)

	f.deliver("evt_cus", "customer.created", f.at(0), map[string]any{"id": "cus_life", "object": "customer",
		"name": "Initech", "email": "billing@initech.example"}, "processed")
	f.deliver("evt_created", "customer.subscription.created", f.at(1),
		subscription("sub_life", "cus_life", "price_team", 1, "active", start, end), "processed")
	l := f.license("sub_life")
	cust, err := f.store.GetCustomer(ctx, l.CustomerID)
	if err != nil {
		t.Fatal(err)
	}
	if cust.Name != "Initech" || cust.StripeCustomerID == nil || *cust.StripeCustomerID != "cus_life" {
		t.Fatalf("got customer %v %v, want Initech linked to cus_life", cust.Name, cust.StripeCustomerID)
	}
	if l.ExpiresAt == nil || !l.ExpiresAt.Equal(end) || l.StripePriceID == nil || *l.StripePriceID != "price_team" {
		t.Fatalf("got expiry %v price %v, want %v price_team", l.ExpiresAt, l.StripePriceID, end)
	}
	f.wantCode(l, "VALID")

	// The renewal is paid: the license runs to the end of the next period.
	f.deliver("evt_paid1", "invoice.paid", f.at(2), invoice("in_1", "sub_life", "cus_life", "ch_1", end, next), "processed")
	if l = f.license("sub_life"); !l.ExpiresAt.Equal(next) {
		t.Fatalf("got expiry %v, want %v", l.ExpiresAt, next)
	}

	// A failed payment starts the dunning clock: still valid, overdue.
	f.deliver("evt_failed", "invoice.payment_failed", f.at(3), invoice("in_2", "sub_life", "cus_life", "ch_2", next, next.AddDate(0, 1, 0)), "processed")
	l = f.license("sub_life")
	if l.PaymentState != "past_due" || l.PastDueSince == nil || !l.PastDueSince.Equal(f.at(3)) {
		t.Fatalf("got %v since %v, want past_due since %v", l.PaymentState, l.PastDueSince, f.at(3))
	}
	f.wantCode(l, "PAYMENT_OVERDUE")

	// The plan's 14 dunning days pass.
	f.exec("UPDATE licenses SET past_due_since = now() - interval '15 days' WHERE id = $1", l.ID)
	f.wantCode(l, "SUSPENDED")

	// Paid at last: valid again.
	f.deliver("evt_paid2", "invoice.paid", f.at(4), invoice("in_2", "sub_life", "cus_life", "ch_2", next, next.AddDate(0, 1, 0)), "processed")
	if l = f.license("sub_life"); l.PaymentState != "ok" || !l.ExpiresAt.Equal(next.AddDate(0, 1, 0)) {
		t.Fatalf("got %v expiring %v, want ok expiring %v", l.PaymentState, l.ExpiresAt, next.AddDate(0, 1, 0))
	}
	f.wantCode(l, "VALID")

	// Deleted: the license ends at the period end, then its grace.
	deleted := subscription("sub_life", "cus_life", "price_team", 1, "canceled", start, end)
	deleted["ended_at"] = f.at(5).Unix()
	f.deliver("evt_deleted", "customer.subscription.deleted", f.at(5), deleted, "processed")
	l = f.license("sub_life")
	if !l.ExpiresAt.Equal(end) || l.StripeStatus == nil || *l.StripeStatus != "canceled" {
		t.Fatalf("got expiry %v status %v, want %v canceled", l.ExpiresAt, l.StripeStatus, end)
	}
	f.wantCode(l, "VALID")
	f.exec("UPDATE licenses SET starts_at = now() - interval '40 days', expires_at = now() - interval '3 days' WHERE id = $1", l.ID)
	f.wantCode(l, "GRACE_PERIOD")
	f.exec("UPDATE licenses SET expires_at = now() - interval '8 days' WHERE id = $1", l.ID)
	f.wantCode(l, "EXPIRED")

	// Every effect was audited as Stripe, naming the event.
	rows, err := f.store.Pool.Query(ctx, "SELECT actor_id, action FROM audit_log WHERE actor_type = 'stripe' ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id, action string
		if err := rows.Scan(&id, &action); err != nil {
			t.Fatal(err)
		}
		got = append(got, id+" "+action)
	}
	want := []string{"evt_cus customer.create", "evt_created license.create", "evt_paid1 license.stripe_payment",
		"evt_failed license.stripe_payment", "evt_paid2 license.stripe_payment", "evt_deleted license.stripe_subscription"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("got audit %v, want %v", got, want)
	}
}

func TestStripeOutOfOrder(t *testing.T) {
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	end := start.AddDate(0, 1, 0)
	next := end.AddDate(0, 1, 0)

	t.Run("an older update does not resurrect a deleted subscription", func(t *testing.T) {
		f := newStripeFixture(t)
		f.deliver("evt_c", "customer.subscription.created", f.at(0), subscription("sub_o", "cus_o", "price_team", 1, "active", start, end), "processed")
		f.deliver("evt_d", "customer.subscription.deleted", f.at(5), subscription("sub_o", "cus_o", "price_team", 1, "canceled", start, end), "processed")
		f.deliver("evt_u", "customer.subscription.updated", f.at(3), subscription("sub_o", "cus_o", "price_big", 2, "active", end, next), "ignored")
		if ev := f.stripeEvent("evt_u"); !strings.Contains(ev.Error, "older than the state already applied") {
			t.Fatalf("got error %q, want it to say the event is older", ev.Error)
		}
		// Created after the deletion, but an active subscription cannot follow a canceled one.
		f.deliver("evt_u2", "customer.subscription.updated", f.at(6), subscription("sub_o", "cus_o", "price_team", 1, "active", end, next), "ignored")
		l := f.license("sub_o")
		if *l.StripeStatus != "canceled" || !l.ExpiresAt.Equal(end) {
			t.Fatalf("got %v expiring %v, want canceled expiring %v", *l.StripeStatus, l.ExpiresAt, end)
		}
	})

	t.Run("a late creation changes nothing", func(t *testing.T) {
		f := newStripeFixture(t)
		f.deliver("evt_u", "customer.subscription.updated", f.at(2), subscription("sub_l", "cus_l", "price_big", 1, "active", start, end), "processed")
		f.deliver("evt_c", "customer.subscription.created", f.at(1), subscription("sub_l", "cus_l", "price_team", 1, "active", start, end), "ignored")
		if l := f.license("sub_l"); *l.StripePriceID != "price_big" {
			t.Fatalf("got price %v, want price_big", *l.StripePriceID)
		}
	})

	t.Run("payments count by when they happened", func(t *testing.T) {
		f := newStripeFixture(t)
		// The invoice is paid before the subscription's own event arrives.
		f.deliver("evt_p", "invoice.paid", f.at(3), invoice("in_1", "sub_p", "cus_p", "ch_1", end, next), "ignored")
		f.deliver("evt_c", "customer.subscription.created", f.at(1), subscription("sub_p", "cus_p", "price_team", 1, "active", start, end), "processed")
		l := f.license("sub_p")
		if !l.ExpiresAt.Equal(next) || l.PaymentState != "ok" {
			t.Fatalf("got %v expiring %v, want ok expiring %v", l.PaymentState, l.ExpiresAt, next)
		}
		// A failure from before that payment arrives late: still in good standing.
		f.deliver("evt_f", "invoice.payment_failed", f.at(2), invoice("in_1", "sub_p", "cus_p", "ch_1", end, next), "processed")
		if l = f.license("sub_p"); l.PaymentState != "ok" {
			t.Fatalf("got %v, want ok", l.PaymentState)
		}
		// A later failure, then a payment from before it: overdue since the later failure.
		f.deliver("evt_f2", "invoice.payment_failed", f.at(9), invoice("in_2", "sub_p", "cus_p", "ch_2", next, next.AddDate(0, 1, 0)), "processed")
		f.deliver("evt_p0", "invoice.paid", f.at(2), invoice("in_0", "sub_p", "cus_p", "ch_0", start, end), "processed")
		if l = f.license("sub_p"); l.PaymentState != "past_due" || !l.PastDueSince.Equal(f.at(9)) {
			t.Fatalf("got %v since %v, want past_due since %v", l.PaymentState, l.PastDueSince, f.at(9))
		}
	})
}

func TestStripeUnmappedPriceWaitsForAnAdmin(t *testing.T) {
	f := newStripeFixture(t)
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	sub := subscription("sub_new", "cus_new", "price_new", 1, "active", start, start.AddDate(0, 1, 0))
	f.deliver("evt_new", "customer.subscription.created", f.at(0), sub, "needs_attention")
	if ev := f.stripeEvent("evt_new"); !strings.Contains(ev.Error, "price_new maps to no plan") {
		t.Fatalf("got error %q, want it to name the unmapped price", ev.Error)
	}
	if n := countRows(t, f.testEnv, "licenses"); n != 0 {
		t.Fatalf("got %d licenses, want 0", n)
	}
	// Operators see it.
	r := f.do("GET", "/api/stripe/events?status=needs_attention", f.admin, nil)
	if r.Status != 200 {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
	data := r.JSON(t)["data"].([]any)
	if len(data) != 1 || data[0].(map[string]any)["id"] != "evt_new" {
		t.Fatalf("got %v, want evt_new alone", data)
	}
	// A redelivery changes nothing; nor does a replay before the price is mapped.
	f.deliver("evt_new", "customer.subscription.created", f.at(0), sub, "needs_attention")
	r = f.do("POST", "/api/stripe/events/evt_new/replay", f.admin, nil)
	if r.Status != 200 || r.JSON(t)["status"] != "needs_attention" {
		t.Fatalf("got %d %s, want 200 needs_attention", r.Status, r.Body)
	}

	// The admin maps the price and replays the event: the license is created once.
	if r := f.do("PATCH", "/api/plans/team", f.admin, map[string]any{"stripePriceIds": []string{"price_team", "price_new"}}); r.Status != 200 {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
	_, sealer := testKeys(t)
	keys, _ := testKeys(t)
	ev, err := f.store.ReplayStripeEvent(context.Background(), licensing.SystemActor("test"), keys, sealer, "evt_new", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != "processed" || ev.Attempts != 3 {
		t.Fatalf("got %v after %d attempts, want processed after 3", ev.Status, ev.Attempts)
	}
	l := f.license("sub_new")
	f.wantCode(l, "VALID")
	before := countAll(t, f.testEnv)
	r = f.do("POST", "/api/stripe/events/evt_new/replay", f.admin, nil)
	wantError(t, r, 409, licensing.ECONFLICT)
	f.deliver("evt_new", "customer.subscription.created", f.at(0), sub, "processed")
	sameCounts(t, countAll(t, f.testEnv), before)

	r = f.do("POST", "/api/stripe/events/evt_nope/replay", f.admin, nil)
	wantError(t, r, 404, licensing.ENOTFOUND)
	r = f.do("POST", "/api/stripe/events/evt_new/replay", f.apiKey("licenses:write"), nil)
	wantError(t, r, 403, licensing.EFORBIDDEN)
}

func TestStripeQuantitySetsLimits(t *testing.T) {
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	end := start.AddDate(0, 1, 0)
	for _, tc := range []struct {
		name, price string
		check       func(l db.License, qty int) string
	}{
		{"deployments", "price_seat", func(l db.License, qty int) string {
			if l.MaxDeployments == nil || int(*l.MaxDeployments) != qty {
				return fmt.Sprintf("got maxDeployments %v, want %d", l.MaxDeployments, qty)
			}
			return ""
		}},
		{"users", "price_user", func(l db.License, qty int) string {
			limits := db.DecodeLimits(l.Limits)
			if limits["users"] != int64(qty) || limits["apiCalls"] != 500 {
				return fmt.Sprintf("got limits %v, want users %d and the plan's apiCalls", limits, qty)
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newStripeFixture(t)
			f.deliver("evt_1", "customer.subscription.created", f.at(0), subscription("sub_q", "cus_q", tc.price, 4, "active", start, end), "processed")
			if msg := tc.check(f.license("sub_q"), 4); msg != "" {
				t.Fatal(msg)
			}
			f.deliver("evt_2", "customer.subscription.updated", f.at(1), subscription("sub_q", "cus_q", tc.price, 6, "active", start, end), "processed")
			l := f.license("sub_q")
			if msg := tc.check(l, 6); msg != "" {
				t.Fatal(msg)
			}
			if *l.StripeQuantity != 6 {
				t.Fatalf("got stripe quantity %d, want 6", *l.StripeQuantity)
			}
		})
	}

	t.Run("a price change changes the plan", func(t *testing.T) {
		f := newStripeFixture(t)
		f.deliver("evt_1", "customer.subscription.created", f.at(0), subscription("sub_up", "cus_up", "price_team", 1, "active", start, end), "processed")
		f.deliver("evt_2", "customer.subscription.updated", f.at(1), subscription("sub_up", "cus_up", "price_big", 1, "active", start, end), "processed")
		l := f.license("sub_up")
		plan, err := f.store.GetPlan(context.Background(), l.PlanID)
		if err != nil {
			t.Fatal(err)
		}
		if plan.Code != "big" || *l.MaxDeployments != 10 || strings.Join(l.Features, ",") != "core,sso" {
			t.Fatalf("got plan %v with %v seats and %v, want big with 10 seats and core,sso", plan.Code, *l.MaxDeployments, l.Features)
		}
	})
}

func TestStripeSuspensions(t *testing.T) {
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	end := start.AddDate(0, 1, 0)
	next := end.AddDate(0, 1, 0)

	t.Run("an admin's suspension outlasts a payment", func(t *testing.T) {
		f := newStripeFixture(t)
		f.deliver("evt_c", "customer.subscription.created", f.at(0), subscription("sub_a", "cus_a", "price_team", 1, "active", start, end), "processed")
		l := f.license("sub_a")
		if r := f.do("POST", "/api/licenses/"+l.ID.String()+"/suspend", f.admin, map[string]any{"reason": "abuse"}); r.Status != 200 {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
		f.deliver("evt_p", "invoice.paid", f.at(1), invoice("in_1", "sub_a", "cus_a", "ch_1", end, next), "processed")
		l = f.license("sub_a")
		if l.Status != "suspended" || *l.SuspensionSource != "admin" || !l.ExpiresAt.Equal(next) {
			t.Fatalf("got %v by %v expiring %v, want suspended by admin, expiring %v", l.Status, l.SuspensionSource, l.ExpiresAt, next)
		}
	})

	t.Run("a payment lifts what non-payment caused", func(t *testing.T) {
		f := newStripeFixture(t)
		f.deliver("evt_c", "customer.subscription.created", f.at(0), subscription("sub_b", "cus_b", "price_team", 1, "active", start, end), "processed")
		f.deliver("evt_u", "customer.subscription.updated", f.at(1), subscription("sub_b", "cus_b", "price_team", 1, "paused", start, end), "processed")
		l := f.license("sub_b")
		if l.Status != "suspended" || *l.SuspensionSource != "payment" {
			t.Fatalf("got %v by %v, want suspended by payment", l.Status, l.SuspensionSource)
		}
		f.wantCode(l, "SUSPENDED")
		f.deliver("evt_p", "invoice.paid", f.at(2), invoice("in_1", "sub_b", "cus_b", "ch_1", end, next), "processed")
		if l = f.license("sub_b"); l.Status != "active" {
			t.Fatalf("got %v, want active", l.Status)
		}
		f.wantCode(l, "VALID")
	})

	t.Run("a dispute suspends, and a payment does not lift it", func(t *testing.T) {
		f := newStripeFixture(t)
		f.deliver("evt_c", "customer.subscription.created", f.at(0), subscription("sub_d", "cus_d", "price_team", 1, "active", start, end), "processed")
		f.deliver("evt_p", "invoice.paid", f.at(1), invoice("in_1", "sub_d", "cus_d", "ch_disputed", end, next), "processed")
		f.deliver("evt_dp", "charge.dispute.created", f.at(2), map[string]any{"id": "dp_1", "object": "dispute",
			"charge": "ch_disputed", "payment_intent": "pi_1", "reason": "fraudulent", "amount": 4900, "status": "needs_response"}, "processed")
		l := f.license("sub_d")
		if l.Status != "suspended" || *l.SuspensionSource != "dispute" || !strings.Contains(*l.SuspendedReason, "fraudulent") {
			t.Fatalf("got %v by %v (%v), want suspended for the dispute", l.Status, l.SuspensionSource, l.SuspendedReason)
		}
		f.deliver("evt_p2", "invoice.paid", f.at(3), invoice("in_2", "sub_d", "cus_d", "ch_3", next, next.AddDate(0, 1, 0)), "processed")
		if l = f.license("sub_d"); l.Status != "suspended" {
			t.Fatalf("got %v, want still suspended", l.Status)
		}
		// A dispute on a charge nothing names waits for an admin.
		f.deliver("evt_dp2", "charge.dispute.created", f.at(4), map[string]any{"id": "dp_2", "object": "dispute",
			"charge": "ch_unknown", "reason": "general"}, "needs_attention")
	})
}

func TestStripeCustomers(t *testing.T) {
	f := newStripeFixture(t)
	ctx := context.Background()
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	// The subscription comes first: a placeholder customer, filled in later.
	f.deliver("evt_s", "customer.subscription.created", f.at(2), subscription("sub_c", "cus_C1", "price_team", 1, "active", start, start.AddDate(0, 1, 0)), "processed")
	l := f.license("sub_c")
	c, err := f.store.GetCustomer(ctx, l.CustomerID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Stripe customer cus_C1" || c.Email != "cus_c1@stripe.invalid" {
		t.Fatalf("got %q <%s>, want the placeholder", c.Name, c.Email)
	}
	f.deliver("evt_u", "customer.updated", f.at(3), map[string]any{"id": "cus_C1", "object": "customer", "name": "Hooli", "email": "ap@hooli.example"}, "processed")
	f.deliver("evt_c", "customer.created", f.at(1), map[string]any{"id": "cus_C1", "object": "customer", "name": "Old name", "email": "old@hooli.example"}, "ignored")
	f.deliver("evt_co", "checkout.session.completed", f.at(4), map[string]any{"id": "cs_1", "object": "checkout.session",
		"customer": "cus_C2", "subscription": "sub_other", "customer_details": map[string]any{"name": "Pied Piper", "email": "richard@piedpiper.example"}}, "processed")
	for id, want := range map[string]string{"cus_C1": "Hooli <ap@hooli.example>", "cus_C2": "Pied Piper <richard@piedpiper.example>"} {
		c, err := f.store.GetCustomerByStripeID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Name + " <" + c.Email + ">"; got != want {
			t.Fatalf("%s: got %s, want %s", id, got, want)
		}
	}
	f.deliver("evt_other", "payment_method.attached", f.at(5), map[string]any{"id": "pm_1", "object": "payment_method"}, "ignored")
}

func TestStripeEventsListAndDocument(t *testing.T) {
	f := newStripeFixture(t)
	for i := 0; i < 5; i++ {
		f.deliver(fmt.Sprintf("evt_%d", i), "payment_method.attached", f.at(i), map[string]any{"id": fmt.Sprintf("pm_%d", i)}, "ignored")
	}
	doc, _ := loadOpenAPI(t, f.testEnv, true)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	c := &conformance{t: t, e: f.testEnv, router: router,
		opts: &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; pages < 5; pages++ {
		path := "/api/stripe/events?status=ignored&limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		m := c.check("GET", path, f.admin, nil, 200)
		for _, e := range m["data"].([]any) {
			id := e.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("got %s twice", id)
			}
			seen[id] = true
		}
		next, _ := m["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 5 {
		t.Fatalf("got %d events over the pages, want 5", len(seen))
	}
	c.check("POST", "/api/stripe/events/evt_0/replay", f.admin, nil, 200)
	wantError(t, f.do("GET", "/api/stripe/events?status=bogus", f.admin, nil), 422, licensing.EINVALID)
	wantError(t, f.do("GET", "/api/stripe/events", "", nil), 401, licensing.EUNAUTHORIZED)
}

// A subscription set to cancel at its period's end gets renewal reminders,
// one that renews itself none: the webhook keeps the flag the milestone job
// reads, and follows Stripe when the customer changes their mind.
func TestStripeCancelAtPeriodEndIsRecorded(t *testing.T) {
	f := newStripeFixture(t)
	ctx := context.Background()
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	sub := subscription("sub_x", "cus_X", "price_team", 1, "active", start, start.AddDate(0, 1, 0))
	f.deliver("evt_x1", "customer.subscription.created", f.at(1), sub, "processed")
	l := f.license("sub_x")
	cancels := func() bool {
		t.Helper()
		got, err := f.store.StripeCancelsAtPeriodEnd(ctx, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if cancels() {
		t.Fatal("got set to cancel, want renewing after a subscription that renews itself")
	}
	sub["cancel_at_period_end"] = true
	f.deliver("evt_x2", "customer.subscription.updated", f.at(2), sub, "processed")
	if !cancels() {
		t.Fatal("got renewing, want set to cancel after cancel_at_period_end=true")
	}
	// An older event arriving late changes nothing.
	sub["cancel_at_period_end"] = false
	f.deliver("evt_x0", "customer.subscription.updated", f.at(0), sub, "ignored")
	if !cancels() {
		t.Fatal("got renewing, want still set to cancel after an older event")
	}
	f.deliver("evt_x3", "customer.subscription.updated", f.at(3), sub, "processed")
	if cancels() {
		t.Fatal("got set to cancel, want renewing after cancel_at_period_end=false")
	}
	// "Cancel on a date" sets cancel_at and leaves cancel_at_period_end false.
	sub["cancel_at"] = start.AddDate(0, 0, 20).Unix()
	f.deliver("evt_x4", "customer.subscription.updated", f.at(4), sub, "processed")
	if !cancels() {
		t.Fatal("got renewing, want set to cancel after cancel_at was set")
	}
	sub["cancel_at"] = nil
	f.deliver("evt_x5", "customer.subscription.updated", f.at(5), sub, "processed")
	if cancels() {
		t.Fatal("got set to cancel, want renewing after cancel_at was cleared")
	}
	if n := countRows(t, f.testEnv, `audit_log WHERE action = 'license.stripe_cancel_at_period_end'`); n != 4 {
		t.Fatalf("got %d audit rows for the flag, want 4 (set, cleared, set by date, cleared)", n)
	}
}

// Customers the Stripe webhook creates or updates record their domain
// events in the same transaction, as those made in the admin do.
func TestStripeCustomerEventsAreRecorded(t *testing.T) {
	f := newStripeFixture(t)
	ctx := context.Background()
	f.deliver("evt_cc", "customer.created", f.at(1), map[string]any{"id": "cus_E", "object": "customer", "name": "Initech",
		"email": "ap@initech.example"}, "processed")
	f.deliver("evt_cu", "customer.updated", f.at(2), map[string]any{"id": "cus_E", "object": "customer", "name": "Initech Inc",
		"email": "ap@initech.example"}, "processed")
	c, err := f.store.GetCustomerByStripeID(ctx, "cus_E")
	if err != nil {
		t.Fatal(err)
	}
	for typ, want := range map[string]int{"customer.created": 1, "customer.updated": 1} {
		if n := countRows(t, f.testEnv, fmt.Sprintf(`events WHERE customer_id = '%s' AND type = '%s'`, c.ID, typ)); n != want {
			t.Fatalf("%s: got %d events, want %d", typ, n, want)
		}
	}
	// A subscription arriving before its customer creates the customer, with its event.
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	f.deliver("evt_s", "customer.subscription.created", f.at(3), subscription("sub_f", "cus_F", "price_team", 1, "active",
		start, start.AddDate(0, 1, 0)), "processed")
	l := f.license("sub_f")
	if n := countRows(t, f.testEnv, fmt.Sprintf(`events WHERE customer_id = '%s' AND type = 'customer.created'`, l.CustomerID)); n != 1 {
		t.Fatalf("got %d customer.created events for the placeholder customer, want 1", n)
	}
}
