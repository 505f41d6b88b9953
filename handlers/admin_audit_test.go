package handlers_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

func TestAdminAuditLog(t *testing.T) {
	a := newAdminEnv(t)
	full := a.b.get("/admin/audit")
	wantStatus(t, full, 200)
	checkCSP(t, full)
	if !strings.Contains(full.Header.Get("Vary"), "HX-Request") {
		t.Errorf("Vary: %q", full.Header.Get("Vary"))
	}
	entries := full.Doc.Find(`[data-testid=audit-entry]`)
	if entries.Length() < 3 {
		t.Fatalf("got %d entries, want at least 3", entries.Length())
	}
	// Newest first: the admin's creation is the last thing that happened.
	if got := entries.First().Find(`[data-testid=audit-action]`).Text(); got != "user.create" {
		t.Errorf("newest entry: %q", got)
	}
	var lic, cust *goquery.Selection
	entries.Each(func(_ int, s *goquery.Selection) {
		switch s.Find(`[data-testid=audit-action]`).Text() {
		case "license.create":
			lic = s
		case "customer.create":
			cust = s
		}
	})
	if lic == nil || cust == nil {
		t.Fatal("license.create or customer.create missing")
	}
	if got := lic.Find(`[data-testid=audit-entity] a`).AttrOr("href", ""); got != "/admin/licenses/"+a.licenseID {
		t.Errorf("license link: %q", got)
	}
	if got := cust.Find(`[data-testid=audit-entity] a`).AttrOr("href", ""); got != "/admin/customers/"+a.customerID {
		t.Errorf("customer link: %q", got)
	}
	after := cust.Find(`details[data-testid=audit-change] pre[data-testid=audit-after]`).Text()
	if !strings.Contains(after, "\n  \"name\": \"Acme Corp\"") {
		t.Errorf("after is not pretty JSON: %q", after)
	}
	if got := cust.Find(`[data-testid=audit-before]`).Text(); got != "(none)" {
		t.Errorf("before of a creation: %q", got)
	}
	if got := one(t, full, `[data-testid=export-audit]`).AttrOr("href", ""); got != "/admin/audit.csv" {
		t.Errorf("export link: %q", got)
	}

	// Filters: HTMX gets the results alone.
	part := a.b.htmx("GET", "/admin/audit?entityType=customer", nil)
	wantStatus(t, part, 200)
	if strings.Contains(string(part.Body), "<html") || part.Doc.Find("[data-testid=audit-filters]").Length() != 0 {
		t.Fatalf("partial carries the page: %.300s", part.Body)
	}
	if !strings.Contains(part.Header.Get("Vary"), "HX-Request") {
		t.Errorf("partial Vary: %q", part.Header.Get("Vary"))
	}
	if got := one(t, part, `#audit-results [data-testid=audit-entry] [data-testid=audit-action]`).Text(); got != "customer.create" {
		t.Errorf("entity filter: %q", got)
	}
	p := a.b.get("/admin/audit?action=license&actorType=api_key")
	if got := one(t, p, `[data-testid=audit-entry] [data-testid=audit-action]`).Text(); got != "license.create" {
		t.Errorf("action filter: %q", got)
	}
	if got := one(t, p, `#f-actorType option[selected]`).AttrOr("value", ""); got != "api_key" {
		t.Errorf("filter not echoed: %q", got)
	}
	if got := one(t, p, `[data-testid=export-audit]`).AttrOr("href", ""); !strings.Contains(got, "action=license") || !strings.Contains(got, "actorType=api_key") {
		t.Errorf("export link drops the filters: %q", got)
	}

	// Dates: "to" includes its whole day.
	today := time.Now().UTC().Format("2006-01-02")
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	if n := a.b.htmx("GET", "/admin/audit?from="+today+"&to="+today, nil).Doc.Find(`[data-testid=audit-entry]`).Length(); n != entries.Length() {
		t.Errorf("today: got %d entries, want %d", n, entries.Length())
	}
	one(t, a.b.htmx("GET", "/admin/audit?from="+tomorrow, nil), `[data-testid=empty-state]`)
	bad := a.b.get("/admin/audit?from=yesterday")
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	one(t, bad, `[data-testid=filter-error]`)

	// Keyset pages cover everything once.
	seen := map[string]bool{}
	next := "/admin/audit?limit=2"
	for pages := 0; next != ""; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		p := a.b.htmx("GET", next, nil)
		p.Doc.Find(`[data-testid=audit-entry]`).Each(func(_ int, s *goquery.Selection) {
			id := s.AttrOr("data-id", "")
			if seen[id] {
				t.Errorf("entry %s twice", id)
			}
			seen[id] = true
		})
		next = p.Doc.Find(`[data-testid=next-page]`).AttrOr("href", "")
		if next != "" {
			next += "&limit=2"
		}
	}
	if len(seen) != entries.Length() {
		t.Errorf("pages saw %d entries, want %d", len(seen), entries.Length())
	}
}

func TestAdminAuditVerify(t *testing.T) {
	a := newAdminEnv(t)
	p := a.b.get("/admin/audit")
	btn := one(t, p, `#audit-verify form`)
	if btn.AttrOr("hx-get", "") != "/admin/audit/verify" || btn.AttrOr("hx-target", "") != "#audit-verify" {
		t.Errorf("verify form: %v", btn.Nodes[0].Attr)
	}
	if p.Doc.Find(`[data-testid=chain-status]`).Length() != 0 {
		t.Error("the chain was checked before anyone asked")
	}
	n, err := a.store.CountAudit(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	v := a.b.htmx("GET", "/admin/audit/verify", nil)
	wantStatus(t, v, 200)
	if strings.Contains(string(v.Body), "<html") {
		t.Fatal("verify answered a whole page")
	}
	ok := one(t, v, `#audit-verify [data-testid=chain-status]`)
	if ok.AttrOr("data-state", "") != "intact" || !strings.Contains(ok.Text(), "Chain intact: "+strconv.FormatInt(n, 10)+" rows verified") {
		t.Errorf("intact: %q", ok.Text())
	}

	// Someone edits a row in SQL: the check names it.
	var id int64
	if err := a.store.Pool.QueryRow(t.Context(), `SELECT id FROM audit_log WHERE action = 'customer.create'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.Pool.Exec(t.Context(), `UPDATE audit_log SET after = '{"name": "Evil"}' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	v = a.b.htmx("GET", "/admin/audit/verify", nil)
	broken := one(t, v, `[data-testid=chain-status]`)
	want := "Chain BROKEN at row " + strconv.FormatInt(id, 10) + ":"
	if broken.AttrOr("data-state", "") != "broken" || broken.AttrOr("role", "") != "alert" || !strings.Contains(broken.Text(), want) ||
		!strings.Contains(broken.Text(), "edited") {
		t.Errorf("broken: got %q, want it to contain %q", broken.Text(), want)
	}

	// Without JavaScript: the whole page, banner filled in.
	full := a.b.get("/admin/audit/verify")
	wantStatus(t, full, 200)
	one(t, full, `[data-testid=audit-filters]`)
	if got := one(t, full, `[data-testid=chain-status]`).AttrOr("data-state", ""); got != "broken" {
		t.Errorf("full page verify: %q", got)
	}
}
