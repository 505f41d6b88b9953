package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/notify"
)

var noticeSecret = []byte("test-notice-secret-0123456789abcdef")

func withNoticeSecret(c *handlers.Config) { c.NoticeSecret = noticeSecret }

// addNotice records an event and one notice about licenseID to recipient,
// in the given state, as the jobs would.
func addNotice(t *testing.T, e *testEnv, licenseID, recipient, status, lastError string) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	var ev, id uuid.UUID
	if err := e.store.Pool.QueryRow(ctx, `INSERT INTO events (type, occurred_at, license_id, customer_id, data)
		SELECT 'license.expiring_soon', now(), id, customer_id, '{}' FROM licenses WHERE id = $1 RETURNING id`, licenseID).Scan(&ev); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Pool.QueryRow(ctx, `INSERT INTO notifications (event_id, event_type, category, recipient, license_id,
			customer_id, subject, dedupe_key, status, attempts, last_error, created_at, updated_at)
		SELECT $1::uuid, 'license.expiring_soon', 'renewal', $2::text, l.id, l.customer_id, 'Your pro license expires in 7 days',
			$1::uuid::text || '|' || $2::text, $3, 3, $4, now(), now() FROM licenses l WHERE l.id = $5 RETURNING id`,
		ev, recipient, status, lastError, licenseID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestUnsubscribeLinkWorksOnceWithoutSigningIn(t *testing.T) {
	pe := newPortalEnv(t, withNoticeSecret)
	id := addNotice(t, pe.testEnv, pe.licA, "alice@acme.example", "sent", "")
	token := notify.UnsubscribeToken(noticeSecret, id)
	anon := newBrowser(t, pe.testEnv)

	// Opening the link changes nothing: it asks.
	p := anon.get("/unsubscribe/" + token)
	wantStatus(t, p, http.StatusOK)
	one(t, p, `[data-testid=unsubscribe-confirm]`)
	optOuts := func() []string {
		rows, err := pe.store.Pool.Query(context.Background(), `SELECT category FROM notification_optouts WHERE email = 'alice@acme.example' ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var c string
			_ = rows.Scan(&c)
			out = append(out, c)
		}
		return out
	}
	if got := optOuts(); len(got) != 0 {
		t.Fatalf("after GET: opt-outs %v, want none", got)
	}

	// A changed token is refused.
	tampered := []byte(token)
	tampered[len(tampered)-2] ^= 1
	wantStatus(t, anon.send("POST", "/unsubscribe/"+string(tampered), url.Values{"List-Unsubscribe": {"One-Click"}}, nil),
		http.StatusBadRequest)
	if got := optOuts(); len(got) != 0 {
		t.Fatalf("after a tampered link: opt-outs %v, want none", got)
	}

	// RFC 8058 one-click: a POST without cookies or CSRF token.
	p = anon.send("POST", "/unsubscribe/"+token, url.Values{"List-Unsubscribe": {"One-Click"}}, nil)
	wantStatus(t, p, http.StatusOK)
	if !strings.Contains(one(t, p, `[data-testid=unsubscribe-done]`).Text(), "alice@acme.example") {
		t.Fatal("the page does not name the address")
	}
	if got := optOuts(); !slices.Equal(got, []string{"renewal"}) {
		t.Fatalf("opt-outs %v, want [renewal]", got)
	}
	// Once only.
	wantStatus(t, anon.send("POST", "/unsubscribe/"+token, url.Values{"List-Unsubscribe": {"One-Click"}}, nil), http.StatusGone)

	// The account page shows the choice, and saving it changes it.
	p = pe.a.get("/portal/account")
	wantStatus(t, p, http.StatusOK)
	if _, on := one(t, p, `[data-testid=notice-renewal]`).Attr("checked"); on {
		t.Fatal("renewal notices still ticked on the account page")
	}
	if _, on := one(t, p, `[data-testid=notice-usage]`).Attr("checked"); !on {
		t.Fatal("usage notices not ticked")
	}
	p = pe.a.post("/portal/account/notices", url.Values{"notice": {"renewal", "billing"}})
	wantStatus(t, p, http.StatusSeeOther)
	if got := optOuts(); !slices.Equal(got, []string{"deployments", "usage"}) {
		t.Fatalf("after saving: opt-outs %v, want [deployments usage]", got)
	}
}

func TestAdminNotificationsPageShowsFailuresAndSendsAgain(t *testing.T) {
	pe := newPortalEnv(t, withNoticeSecret)
	createAdmin(t, pe.testEnv, adminEmail, adminPassword)
	admin := signIn(t, pe.testEnv, adminEmail, adminPassword)
	failed := addNotice(t, pe.testEnv, pe.licA, "ops@acme.example", "failed", "sending through the mail server: connection refused")
	addNotice(t, pe.testEnv, pe.licB, "it@bravo.example", "sent", "")

	p := admin.get("/admin/notifications?status=failed")
	wantStatus(t, p, http.StatusOK)
	rows := p.Doc.Find(`[data-testid=notification-row]`)
	if rows.Length() != 1 || rows.AttrOr("data-id", "") != failed.String() {
		t.Fatalf("got %d rows, want the failed one", rows.Length())
	}
	if got := rows.Find(`[data-testid=notification-error]`).Text(); !strings.Contains(got, "connection refused") {
		t.Fatalf("last error %q", got)
	}
	if got := rows.Find(`[data-testid=notification-attempts]`).Text(); got != "3" {
		t.Fatalf("attempts %q, want 3", got)
	}
	p = admin.post("/admin/notifications/"+failed.String()+"/resend", nil)
	wantStatus(t, p, http.StatusSeeOther)
	var status string
	if err := pe.store.Pool.QueryRow(context.Background(), `SELECT status FROM notifications WHERE id = $1`, failed).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != "queued" {
		t.Fatalf("after send again: status %q, want queued", status)
	}
	if got := pe.auditRows("notification.resend"); len(got) != 1 {
		t.Fatalf("audit rows %v, want one", got)
	}
	// The dashboard counts failed deliveries: none left now.
	p = admin.get("/admin")
	one(t, p, `[data-testid=failed-deliveries-none]`)
	// A bad filter is refused.
	wantStatus(t, admin.get("/admin/notifications?status=bogus"), http.StatusUnprocessableEntity)
}

func TestRenewalRequestIsATaskCompletedByRenewing(t *testing.T) {
	pe := newPortalEnv(t, withNoticeSecret)
	createAdmin(t, pe.testEnv, adminEmail, adminPassword)
	admin := signIn(t, pe.testEnv, adminEmail, adminPassword)

	p := pe.a.get("/portal/licenses/" + pe.licA + "/renew")
	wantStatus(t, p, http.StatusOK)
	one(t, p, `[data-testid=renewal-form]`)
	// Another customer's license is not theirs to renew.
	wantStatus(t, pe.a.get("/portal/licenses/"+pe.licB+"/renew"), http.StatusNotFound)
	wantStatus(t, pe.a.post("/portal/licenses/"+pe.licA+"/renew", url.Values{"message": {"Please renew for two years."}}),
		http.StatusSeeOther)

	p = admin.get("/admin/licenses/" + pe.licA)
	wantStatus(t, p, http.StatusOK)
	if got := one(t, p, `[data-testid=renewal-task]`).Text(); !strings.Contains(got, "two years") {
		t.Fatalf("task %q", got)
	}
	if one(t, p, `[data-testid=upcoming-milestones]`).Find(`[data-testid=milestone]`).Length() != 3 {
		t.Fatal("want the next reminder, the expiry and the grace end")
	}
	wantStatus(t, admin.post("/admin/licenses/"+pe.licA+"/renew", url.Values{"days": {"365"}}), http.StatusSeeOther)
	p = admin.get("/admin/licenses/" + pe.licA)
	if p.Doc.Find(`[data-testid=renewal-task]`).Length() != 0 {
		t.Fatal("the renewal task is still open after renewing")
	}
}

func TestCustomerNoticeContactsThroughTheAPIAndTheAdminForm(t *testing.T) {
	e := newEnv(t)
	key := e.apiKey("admin")
	r := e.do("POST", "/api/customers", key, map[string]any{"name": "Acme", "email": "ops@acme.example",
		"billingEmail": "billing@acme.example", "technicalEmail": "tech@acme.example"})
	if r.Status != 201 {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	id := m["id"].(string)
	if m["billingEmail"] != "billing@acme.example" || m["technicalEmail"] != "tech@acme.example" {
		t.Fatalf("contacts %v %v", m["billingEmail"], m["technicalEmail"])
	}
	r = e.do("PATCH", "/api/customers/"+id, key, map[string]any{"billingEmail": ""})
	if m := r.JSON(t); r.Status != 200 || m["billingEmail"] != nil || m["technicalEmail"] != "tech@acme.example" {
		t.Fatalf("after clearing: %d %s", r.Status, r.Body)
	}
	r = e.do("PATCH", "/api/customers/"+id, key, map[string]any{"technicalEmail": "not an address"})
	body := wantError(t, r, http.StatusUnprocessableEntity, "invalid")
	if !strings.Contains(string(r.Body), "technicalEmail") {
		t.Fatalf("the error does not name the field: %v", body)
	}
	if m := e.do("GET", "/api/customers/"+id, key, nil).JSON(t); m["technicalEmail"] != "tech@acme.example" {
		t.Fatalf("a refused change changed the contact: %v", m["technicalEmail"])
	}

	createAdmin(t, e, adminEmail, adminPassword)
	admin := signIn(t, e, adminEmail, adminPassword)
	p := admin.get("/admin/customers/" + id + "/edit")
	wantStatus(t, p, http.StatusOK)
	if got := one(t, p, `input[data-testid=technicalEmail]`).AttrOr("value", ""); got != "tech@acme.example" {
		t.Fatalf("form shows %q", got)
	}
	p = admin.post("/admin/customers/"+id+"/edit", url.Values{"name": {"Acme"}, "email": {"ops@acme.example"},
		"billingEmail": {"money@acme.example"}, "technicalEmail": {""}})
	wantStatus(t, p, http.StatusSeeOther)
	if m := e.do("GET", "/api/customers/"+id, key, nil).JSON(t); m["billingEmail"] != "money@acme.example" || m["technicalEmail"] != nil {
		t.Fatalf("after the form: %v %v", m["billingEmail"], m["technicalEmail"])
	}
}
