package e2e

// The admin usage and Stripe event pages in a real browser: usage reported
// through the machine API shows on the usage page, whose metric filter
// swaps in place; a Stripe event signed as Stripe signs it waits on the
// dashboard for attention, and once its price is mapped, the replay button
// (confirmed, CSRF-protected) applies it in place. Each page is checked for
// horizontal overflow at desktop width and at 375 px, with screenshots.
//
// This file's name sorts after e2e_test.go, whose test first clears the
// screenshots of earlier runs.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/nectarcloud/nls/db/dbtest"
)

const usageStripeSecret = "whsec_e2e_usage"

func postStripeEvent(t *testing.T, base, id, price string) {
	t.Helper()
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	payload, err := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": "2023-10-16",
		"created": start.Unix(), "livemode": false, "pending_webhooks": 1, "type": "customer.subscription.created",
		"data": map[string]any{"object": map[string]any{"id": "sub_" + id, "object": "subscription",
			"customer": "cus_" + id, "status": "active", "start_date": start.Unix(),
			"current_period_start": start.Unix(), "current_period_end": start.AddDate(0, 1, 0).Unix(),
			"items": map[string]any{"object": "list", "data": []any{map[string]any{"id": "si_" + id,
				"object": "subscription_item", "price": map[string]any{"id": price, "object": "price"}, "quantity": 1}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: usageStripeSecret,
		Timestamp: time.Now()})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/webhooks/stripe", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", signed.Header)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(raw), `"needs_attention"`) {
		t.Fatalf("webhook: got %d %s, want 200 needs_attention", res.StatusCode, raw)
	}
}

// noOverflow fails when the page is wider than the viewport, naming what
// sticks out.
func (f *flow) noOverflow(path string, width int) {
	f.t.Helper()
	if w := f.eval(`document.documentElement.scrollWidth`); w > width {
		culprits := run(f, "find what overflows", chromedp.Evaluate[string](overflowCulprits))
		f.t.Errorf("%s at %d px: scrollWidth %d, want <= %d (horizontal overflow from %s)", path, width, w, width, culprits)
	}
}

func TestAdminUsageAndStripeEventsInABrowser(t *testing.T) {
	shots := screenshotDir(t)
	requireChromium(t)
	p := newPortal(t, dbtest.NewURL(t))
	p.env = append(p.env, "STRIPE_WEBHOOK_SECRET="+usageStripeSecret)
	p.createAdmin(t)
	p.serve(t)
	key := p.apiKey(t)

	// A customer on a plan with limits, usage near one of them, and a
	// Stripe subscription on a price no plan has yet.
	cust := callJSON(t, p.URL, key, "POST", "/api/customers", map[string]any{"name": "Usage Customer", "email": "ops@usage.example"}, 201)
	callJSON(t, p.URL, key, "POST", "/api/plans", map[string]any{"code": "metered", "name": "Metered",
		"limits": map[string]any{"apiCalls": 1000, "users": 50}, "maxDeployments": 2}, 201)
	lic := callJSON(t, p.URL, key, "POST", "/api/licenses", map[string]any{"customerId": cust["id"], "plan": "metered"}, 201)
	licenseKey := lic["licenseKey"].(string)
	callJSON(t, p.URL, "", "POST", "/api/validation/validate", map[string]any{"licenseKey": licenseKey, "deploymentId": "e2e-dep"}, 200)
	now := time.Now().UTC()
	var reports []any
	for d, calls := range []int{850, 60, 50, 30} { // within the limit whichever days share the month
		at := now.AddDate(0, 0, -d)
		reports = append(reports, map[string]any{"id": uuid.NewString(), "periodStart": at.Format(time.RFC3339),
			"periodEnd": at.Add(time.Hour).Format(time.RFC3339), "metrics": map[string]any{"apiCalls": calls, "users": 2 + d}})
	}
	callJSON(t, p.URL, "", "POST", "/api/usage/report", map[string]any{"licenseKey": licenseKey, "deploymentId": "e2e-dep",
		"reports": reports}, 200)
	postStripeEvent(t, p.URL, "evt_e2e_unmapped", "price_e2e")

	f := newFlow(t, p, shots, 3*time.Minute)
	step := func(name string, fn func()) {
		t.Helper()
		t.Logf("step: %s", name)
		fn()
		f.noConsoleErrors(name)
	}

	step("sign in", func() {
		f.open("/login", `[data-testid=login-form]`)
		f.do("sign in",
			chromedp.SendKeys(chromedp.CSS(`[data-testid=login-email]`), adminEmail),
			chromedp.SendKeys(chromedp.ID("password"), adminPassword),
			chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=stripe-attention]`)),
		)
		if got := f.text(`[data-testid=stripe-attention-count]`); got != "(1)" {
			t.Errorf("dashboard: %s Stripe events need attention, want 1", got)
		}
	})

	step("usage page", func() {
		f.open("/admin/usage", `[data-testid=chart-svg]`)
		f.noOverflow("/admin/usage", 1280)
		if got := f.text(`[data-testid=usage-total]`); got != "(in all: 990)" {
			t.Errorf("apiCalls over 30 days: %q, want (in all: 990)", got)
		}
		if got := f.text(`[data-testid=top-consumer-name]`); got != "Usage Customer" {
			t.Errorf("top consumer: %q", got)
		}
		if got := f.text(`[data-testid=near-row] [data-testid=near-state]`); got != "Near the limit" {
			t.Errorf("near the apiCalls limit (at least 850 of 1000): %q", got)
		}
		f.screenshot("usage")
		f.setMarker()
		f.do("choose users", chromedp.Evaluate[chromedp.Void](`(() => {
			const s = document.querySelector("#f-metric");
			s.value = "users";
			s.dispatchEvent(new Event("change", {bubbles: true}));
		})()`))
		if !f.waitFor(`(document.querySelector("[data-testid=usage-heading]") || {}).textContent.includes("users")`) {
			t.Fatalf("choosing users did not show its results")
		}
		f.wantNoPageLoad("metric filter")
		if loc := run(f, "read the URL", chromedp.Location()); !strings.Contains(loc, "metric=users") {
			t.Errorf("URL after the filter: %q, want metric=users (hx-push-url)", loc)
		}
		if got := f.text(`[data-testid=usage-total]`); got != "(highest day: 5)" {
			t.Errorf("users: %q, want (highest day: 5)", got)
		}
	})

	step("Stripe events", func() {
		f.open("/admin/stripe-events", `[data-testid=stripe-event-row]`)
		f.noOverflow("/admin/stripe-events", 1280)
		f.screenshot("stripe-events")
		f.do("open the event",
			chromedp.Click(chromedp.CSS(`[data-testid=stripe-event-link]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=stripe-payload]`)),
		)
		if got := f.text(`#stripe-outcome [data-testid=stripe-status]`); got != "Needs attention" {
			t.Errorf("status: %q", got)
		}
		f.noOverflow("/admin/stripe-events/evt_e2e_unmapped", 1280)
		f.screenshot("stripe-event")

		callJSON(t, p.URL, key, "PATCH", "/api/plans/metered", map[string]any{"stripePriceIds": []string{"price_e2e"}}, 200)
		f.setMarker()
		f.do("replay",
			chromedp.Click(chromedp.CSS(`[data-testid=stripe-replay] [type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#stripe-outcome [data-testid=stripe-status][data-state=processed]`)),
		)
		f.wantNoPageLoad("replay")
		if got := f.text(`#toasts`); !strings.Contains(got, "replayed and processed") {
			t.Errorf("toast: %q", got)
		}
		if n := f.eval(`document.querySelectorAll("[data-testid=stripe-replay]").length`); n != 0 {
			t.Errorf("a processed event still offers a replay")
		}
		f.screenshot("stripe-event-replayed")
		f.open("/admin", `[data-testid=stripe-attention-empty]`)
	})

	step("phone width", func() {
		f.do("375 px viewport", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
		for _, pg := range []struct{ name, path, ready string }{
			{"usage", "/admin/usage", `[data-testid=near-table]`},
			{"stripe-events", "/admin/stripe-events", `[data-testid=stripe-event-row]`},
			{"stripe-event", "/admin/stripe-events/evt_e2e_unmapped", `[data-testid=stripe-payload]`},
			{"dashboard-stripe", "/admin", `[data-testid=stripe-attention]`},
		} {
			f.open(pg.path, pg.ready)
			f.noOverflow(pg.path, 375)
			f.screenshot(pg.name + "-375")
		}
		f.do("desktop viewport", chromedp.EmulateViewport(1280, 900))
	})
}
