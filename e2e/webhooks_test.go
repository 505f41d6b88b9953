package e2e

// Outbound webhooks in a browser: an admin subscribes a receiver on this
// machine from the portal, sends a test event, and watches the delivery
// log show the failed first attempt and the retry that delivered it,
// without reloading the page.

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/nectarcloud/nls/db/dbtest"
)

func TestAdminSubscribesALocalReceiverAndWatchesDeliveries(t *testing.T) {
	requireChromium(t)
	// The receiver fails the first request, then accepts.
	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, b)
		n := len(got)
		mu.Unlock()
		if n == 1 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rec.Close)

	p := newPortal(t, dbtest.NewURL(t))
	p.env = append(p.env, "NLS_WEBHOOK_ALLOW_PRIVATE=true", "NLS_WEBHOOK_RETRY_SCHEDULE=500ms,500ms")
	p.createAdmin(t)
	p.serve(t)
	f := newFlow(t, p, screenshotDir(t), 4*time.Minute)

	f.open("/login", `[data-testid=login-form]`)
	f.do("sign in",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=login-email]`), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=status-card]`)))
	f.do("open Webhooks from the navigation",
		chromedp.Click(chromedp.CSS(`aside nav a[href="/admin/webhooks"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=webhook-form]`)))
	f.screenshot("webhooks-empty")
	f.do("add the local receiver",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=webhook-form] [name=url]`), rec.URL+"/nls"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=webhook-form] [name=description]`), "local receiver"),
		chromedp.Click(chromedp.CSS(`[data-testid=webhook-form] [type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=webhook-secret]`)))
	secret := strings.TrimSpace(run(f, "read the secret", chromedp.Value(chromedp.CSS(`[data-testid=webhook-secret]`))))
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret shown %q", secret)
	}
	f.screenshot("webhook-created")
	f.noConsoleErrors("create")

	// The ping is a form post that lands on the endpoint's page again, whose
	// delivery log the page already showed: the marker is set only once its
	// toast says the new page is in, or it would be set on the old one.
	f.do("send a test event", chromedp.Click(chromedp.CSS(`[data-testid=webhook-ping]`)))
	if !f.waitFor(`[...document.querySelectorAll('[data-testid=toast]')].some(t => t.textContent.includes('Test event queued'))`) {
		t.Fatalf("sending a test event showed no toast; the page shows: %s", f.text(`main`))
	}
	f.do("see the delivery log", chromedp.WaitVisible(chromedp.CSS(`[data-testid=delivery-log]`)))
	f.setMarker()
	if !f.waitFor(`(() => {
		const r = document.querySelector('[data-testid=delivery-row][data-event=ping]');
		return !!r && r.dataset.status === "delivered" &&
			r.querySelector('[data-testid=delivery-attempt-count]').textContent.trim() === "2";
	})()`) {
		t.Fatalf("the delivery log never showed the ping delivered on its second attempt; it shows: %s",
			f.text(`[data-testid=delivery-log]`))
	}
	f.wantNoPageLoad("the delivery log refresh")
	f.do("open the attempts", chromedp.Click(chromedp.CSS(`[data-testid=delivery-row][data-event=ping] summary`)))
	if n := f.eval(`document.querySelectorAll('[data-testid=delivery-row][data-event=ping] [data-testid=delivery-attempt]').length`); n != 2 {
		t.Errorf("%d attempts listed, want 2", n)
	}
	if s := f.text(`[data-testid=delivery-row][data-event=ping] [data-testid=delivery-attempt][data-n="1"]`); !strings.Contains(s, "503") || !strings.Contains(s, "warming up") {
		t.Errorf("first attempt shows %q, want the 503 and its answer", s)
	}
	f.screenshot("webhook-delivered")
	f.noConsoleErrors("deliveries")

	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("the receiver got %d requests, want the failed one and the retry", len(got))
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if err := wh.Verify(bodies[i], r.Header); err != nil {
			t.Errorf("request %d does not verify with the secret the portal showed: %v", i+1, err)
		}
		if !strings.Contains(string(bodies[i]), `"type":"ping"`) {
			t.Errorf("request %d: %s", i+1, bodies[i])
		}
	}
}
