package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/nectarcloud/nls/db"
)

// addCustomer creates a customer through the API and returns its id.
func addCustomer(t *testing.T, a *adminEnv, body map[string]any) string {
	t.Helper()
	r := a.do("POST", "/api/customers", a.admin, body)
	if r.Status != 201 {
		t.Fatalf("create customer: %d %s", r.Status, r.Body)
	}
	return r.JSON(t)["id"].(string)
}

func countCustomers(t *testing.T, a *adminEnv) int64 {
	t.Helper()
	n, err := a.store.CountCustomers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAdminCustomerListSearchAndPartial(t *testing.T) {
	a := newAdminEnv(t)
	globex := addCustomer(t, a, map[string]any{"name": "Globex", "email": "it@globex.example", "company": "Globex Corporation"})

	full := a.b.get("/admin/customers")
	wantStatus(t, full, 200)
	checkCSP(t, full)
	if !strings.Contains(full.Header.Get("Vary"), "HX-Request") {
		t.Errorf("Vary: got %q", full.Header.Get("Vary"))
	}
	search := one(t, full, `[data-testid=customer-search]`)
	for attr, want := range map[string]string{"hx-get": "/admin/customers", "hx-target": "#customer-results",
		"hx-push-url": "true", "hx-trigger": "input changed delay:300ms, search"} {
		if got := search.AttrOr(attr, ""); got != want {
			t.Errorf("search %s: got %q, want %q", attr, got, want)
		}
	}
	if got := one(t, full, `label[for=q]`).Text(); got != "Search" {
		t.Errorf("search label: %q", got)
	}
	if n := full.Doc.Find(`[data-testid=customer-row]`).Length(); n != 2 {
		t.Fatalf("got %d rows, want 2", n)
	}

	// HTMX gets the results alone; the search matches the company too.
	part := a.b.htmx("GET", "/admin/customers?q=corporation", nil)
	wantStatus(t, part, 200)
	if !strings.Contains(part.Header.Get("Vary"), "HX-Request") {
		t.Errorf("partial Vary: got %q", part.Header.Get("Vary"))
	}
	if strings.Contains(string(part.Body), "<html") || part.Doc.Find("nav, [data-testid=customer-filters]").Length() != 0 {
		t.Fatalf("partial carries the page shell: %.500s", part.Body)
	}
	row := one(t, part, `#customer-results [data-testid=customer-row]`)
	if row.AttrOr("data-id", "") != globex || row.Find(`[data-testid=customer-email]`).Text() != "it@globex.example" {
		t.Errorf("search row: %s", row.Text())
	}
	if got := row.Find("a").AttrOr("href", ""); got != "/admin/customers/"+globex {
		t.Errorf("row link: %q", got)
	}

	// A search for nothing: the empty state, with a way back.
	empty := a.b.htmx("GET", "/admin/customers?q=nobody-at-all", nil)
	one(t, empty, `[data-testid=empty-state]`)

	// Keyset pagination: every customer once.
	addCustomer(t, a, map[string]any{"name": "Initech", "email": "it@initech.example"})
	seen := map[string]bool{}
	next := "/admin/customers?limit=2"
	for pages := 0; next != ""; pages++ {
		if pages > 3 {
			t.Fatal("pagination does not end")
		}
		p := a.b.htmx("GET", next, nil)
		wantStatus(t, p, 200)
		p.Doc.Find(`[data-testid=customer-row]`).Each(func(_ int, s *goquery.Selection) {
			id := s.AttrOr("data-id", "")
			if seen[id] {
				t.Errorf("customer %s on two pages", id)
			}
			seen[id] = true
		})
		link := p.Doc.Find(`[data-testid=next-page]`)
		next = link.AttrOr("href", "")
		if next != "" {
			if link.AttrOr("hx-get", "") != next || !strings.Contains(next, "cursor=") {
				t.Errorf("next link: %v", link.Nodes[0].Attr)
			}
			next += "&limit=2"
		}
	}
	if len(seen) != 3 {
		t.Fatalf("saw %d customers over all pages, want 3", len(seen))
	}
}

func TestAdminCustomerListEmpty(t *testing.T) {
	e := newEnv(t)
	createAdmin(t, e, adminEmail, adminPassword)
	b := signIn(t, e, adminEmail, adminPassword)
	p := b.get("/admin/customers")
	wantStatus(t, p, 200)
	if got := one(t, p, `[data-testid=empty-state] h3`).Text(); got != "No customers yet" {
		t.Errorf("empty state: %q", got)
	}
}

func TestAdminCreateCustomer(t *testing.T) {
	a := newAdminEnv(t)
	form := a.b.get("/admin/customers/new")
	wantStatus(t, form, 200)
	checkCSP(t, form)
	for _, f := range []string{"name", "email", "company", "stripeCustomerId"} {
		one(t, form, `label[for=`+f+`]`)
		one(t, form, `[data-testid=customer-form] input#`+f)
	}
	before := countCustomers(t, a)

	// Refused: the errors in place, what was typed kept, nothing stored.
	p := a.b.post("/admin/customers", url.Values{"name": {"  "}, "email": {"not-an-email"}, "company": {"Hooli"}})
	wantStatus(t, p, http.StatusUnprocessableEntity)
	one(t, p, `[data-testid=form-errors]`)
	for _, f := range []string{"name", "email"} {
		in := one(t, p, `input#`+f)
		if in.AttrOr("aria-invalid", "") != "true" || in.AttrOr("aria-describedby", "") != f+"-error" {
			t.Errorf("%s: not marked invalid: %v", f, in.Nodes[0].Attr)
		}
		one(t, p, `#`+f+`-error[data-testid=error-`+f+`]`)
	}
	if got := one(t, p, `[data-testid=error-email]`).Text(); !strings.Contains(got, "email address") {
		t.Errorf("email error: %q", got)
	}
	if got := one(t, p, `input#company`).AttrOr("value", ""); got != "Hooli" {
		t.Errorf("company kept: got %q", got)
	}
	if got := one(t, p, `input#email`).AttrOr("value", ""); got != "not-an-email" {
		t.Errorf("email kept: got %q", got)
	}
	if n := countCustomers(t, a); n != before {
		t.Fatalf("a refused form stored a customer: %d, want %d", n, before)
	}

	// Without the CSRF token: refused.
	bad := a.b.send("POST", "/admin/customers", url.Values{"name": {"Hooli"}, "email": {"ops@hooli.example"}}, nil)
	wantStatus(t, bad, http.StatusForbidden)
	if n := countCustomers(t, a); n != before {
		t.Fatal("a post without CSRF stored a customer")
	}

	p = a.b.post("/admin/customers", url.Values{"name": {"Hooli"}, "email": {"ops@hooli.example"},
		"company": {"Hooli XYZ"}, "stripeCustomerId": {"cus_hooli"}})
	wantStatus(t, p, http.StatusSeeOther)
	loc := p.Header.Get("Location")
	if !strings.HasPrefix(loc, "/admin/customers/") {
		t.Fatalf("Location: %q", loc)
	}
	row := wantAudit(t, a, "customer.create")
	if row.EntityID != strings.TrimPrefix(loc, "/admin/customers/") {
		t.Errorf("audit entity: got %s, want %s", row.EntityID, loc)
	}
	page := a.b.get(loc)
	wantStatus(t, page, 200)
	if got := one(t, page, `[data-testid=flash] [data-testid=toast]`).Text(); !strings.Contains(got, "Hooli added") {
		t.Errorf("flash: %q", got)
	}

	// A Stripe id another customer has: shown on its field.
	p = a.b.post("/admin/customers", url.Values{"name": {"Hooli 2"}, "email": {"two@hooli.example"},
		"stripeCustomerId": {"cus_hooli"}})
	wantStatus(t, p, http.StatusUnprocessableEntity)
	if got := one(t, p, `[data-testid=error-stripeCustomerId]`).Text(); !strings.Contains(got, "Stripe customer id") {
		t.Errorf("conflict: %q", got)
	}
}

func TestAdminCustomerPage(t *testing.T) {
	a := newAdminEnv(t)
	ctx := t.Context()
	cid := mustUUID(t, a.customerID)
	if r := a.do("PATCH", "/api/customers/"+a.customerID, a.admin, map[string]any{"stripeCustomerId": "cus_ACME42"}); r.Status != 200 {
		t.Fatal(string(r.Body))
	}
	if _, err := rawQueries(a.store).CreateUser(ctx, db.CreateUserParams{Email: "dev@acme.example", Name: "Dev",
		Role: "customer", CustomerID: &cid}); err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	lid := mustUUID(t, a.licenseID)
	for _, u := range []db.AddUsageDailyParams{
		{LicenseID: lid, CustomerID: cid, Metrics: []string{"apiCalls", "apiCalls", "users"},
			Days: []time.Time{today, today.AddDate(0, 0, -1), today}, Kinds: []string{"counter", "counter", "gauge"},
			Vals: []int64{100, 50, 7}},
		// Older than 30 days: not counted.
		{LicenseID: lid, CustomerID: cid, Metrics: []string{"apiCalls"}, Days: []time.Time{today.AddDate(0, 0, -40)},
			Kinds: []string{"counter"}, Vals: []int64{1000}},
	} {
		if err := rawQueries(a.store).AddUsageDaily(ctx, u); err != nil {
			t.Fatal(err)
		}
	}

	p := a.b.get("/admin/customers/" + a.customerID)
	wantStatus(t, p, 200)
	checkCSP(t, p)
	if got := one(t, p, `h1[data-testid=customer-name]`).Text(); got != "Acme Corp" {
		t.Errorf("name: %q", got)
	}
	stripe := one(t, p, `[data-testid=stripe-link]`)
	if got := stripe.AttrOr("href", ""); got != "https://dashboard.stripe.com/customers/cus_ACME42" {
		t.Errorf("stripe href: %q", got)
	}
	if stripe.AttrOr("target", "") != "_blank" || !strings.Contains(stripe.AttrOr("rel", ""), "noopener") {
		t.Errorf("stripe link attrs: %v", stripe.Nodes[0].Attr)
	}
	lic := one(t, p, `[data-testid=customer-licenses] [data-testid=license-row]`)
	if lic.AttrOr("data-id", "") != a.licenseID || lic.Find(`[data-testid=badge]`).AttrOr("data-state", "") != "active" {
		t.Errorf("license row: %s", lic.Text())
	}
	if got := one(t, p, `[data-testid=user-row] [data-testid=user-email]`).Text(); got != "dev@acme.example" {
		t.Errorf("user: %q", got)
	}
	if got := one(t, p, `[data-testid=usage-row][data-metric=apiCalls] [data-testid=usage-total]`).Text(); got != "150" {
		t.Errorf("apiCalls total: got %q, want 150", got)
	}
	if got := one(t, p, `[data-testid=usage-row][data-metric=users] [data-testid=usage-total]`).Text(); got != "7" {
		t.Errorf("users peak: got %q, want 7", got)
	}
	if got := one(t, p, `[data-testid=export-licenses]`).AttrOr("href", ""); got != "/admin/licenses.csv?customerId="+a.customerID {
		t.Errorf("licenses export link: %q", got)
	}
	if p.Doc.Find(`[data-testid=customer-audit] [data-testid=audit-row]`).Length() == 0 {
		t.Error("no recent changes on the customer page")
	}

	// A customer without Stripe, licenses or people.
	other := addCustomer(t, a, map[string]any{"name": "Empty Co", "email": "x@empty.example"})
	p = a.b.get("/admin/customers/" + other)
	wantStatus(t, p, 200)
	one(t, p, `[data-testid=stripe-none]`)
	one(t, p, `[data-testid=empty-state]`)
	one(t, p, `[data-testid=users-empty]`)
	one(t, p, `[data-testid=usage-empty]`)

	wantStatus(t, a.b.get("/admin/customers/"+"00000000-0000-0000-0000-000000000000"), 404)
	wantStatus(t, a.b.get("/admin/customers/not-a-uuid"), 404)
}

func TestAdminEditAndArchiveCustomer(t *testing.T) {
	a := newAdminEnv(t)
	path := "/admin/customers/" + a.customerID
	form := a.b.get(path + "/edit")
	wantStatus(t, form, 200)
	if got := one(t, form, `input#name`).AttrOr("value", ""); got != "Acme Corp" {
		t.Errorf("prefilled name: %q", got)
	}
	if got := one(t, form, `[data-testid=customer-form]`).AttrOr("action", ""); got != path+"/edit" {
		t.Errorf("form action: %q", got)
	}

	p := a.b.post(path+"/edit", url.Values{"name": {"Acme Inc"}, "email": {"bad"}})
	wantStatus(t, p, http.StatusUnprocessableEntity)
	one(t, p, `input#email[aria-invalid=true]`)
	if got := one(t, p, `input#name`).AttrOr("value", ""); got != "Acme Inc" {
		t.Errorf("name kept: %q", got)
	}
	if cu, _ := a.store.GetCustomer(t.Context(), mustUUID(t, a.customerID)); cu.Name != "Acme Corp" {
		t.Fatalf("a refused edit was stored: %q", cu.Name)
	}

	wantStatus(t, a.b.send("POST", path+"/edit", url.Values{"name": {"X"}, "email": {"x@x.example"}}, nil), http.StatusForbidden)

	p = a.b.post(path+"/edit", url.Values{"name": {"Acme Inc"}, "email": {"billing@acme.example"}, "company": {"Acme"}})
	wantStatus(t, p, http.StatusSeeOther)
	wantAudit(t, a, "customer.update")
	page := a.b.get(path)
	if got := one(t, page, `h1[data-testid=customer-name]`).Text(); got != "Acme Inc" {
		t.Errorf("after edit: %q", got)
	}
	archive := one(t, page, `[data-testid=action-archive]`)
	if archive.AttrOr("hx-confirm", "") == "" || archive.AttrOr("hx-post", "") != path+"/archive" {
		t.Errorf("archive form: %v", archive.Nodes[0].Attr)
	}

	wantStatus(t, a.b.send("POST", path+"/archive", url.Values{}, map[string]string{"HX-Request": "true"}), http.StatusForbidden)

	r := a.b.htmx("POST", path+"/archive", url.Values{})
	if r.Header.Get("HX-Redirect") != path {
		t.Fatalf("archive: status %d, HX-Redirect %q", r.Status, r.Header.Get("HX-Redirect"))
	}
	wantAudit(t, a, "customer.archive")
	page = a.b.get(path)
	if got := one(t, page, `[data-testid=customer-status] .badge`).AttrOr("data-state", ""); got != "archived" {
		t.Errorf("status after archive: %q", got)
	}
	one(t, page, `[data-testid=flash] [data-testid=toast][data-kind=success]`)
	if page.Doc.Find(`[data-testid=action-archive]`).Length() != 0 {
		t.Error("an archived customer still offers Archive")
	}
	list := a.b.get("/admin/customers")
	if list.Doc.Find(`[data-testid=customer-row]`).Length() != 0 {
		t.Error("the archived customer is still listed")
	}
	if n := a.b.get("/admin/customers?archived=true").Doc.Find(`[data-testid=customer-archived]`).Length(); n != 1 {
		t.Errorf("with archived: got %d archived rows, want 1", n)
	}

	// Restoring brings the customer back to the lists, audited.
	one(t, page, `[data-testid=action-unarchive]`)
	if r := a.b.htmx("POST", path+"/unarchive", url.Values{}); r.Header.Get("HX-Redirect") != path {
		t.Fatalf("unarchive: status %d, HX-Redirect %q", r.Status, r.Header.Get("HX-Redirect"))
	}
	wantAudit(t, a, "customer.unarchive")
	if got := a.b.get("/admin/customers").Doc.Find(`[data-testid=customer-row]`).Length(); got != 1 {
		t.Errorf("after restoring: got %d customer rows, want 1", got)
	}
}
