package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// usageEnv is the admin env with usage from two customers: Acme's license
// at 90% of its apiCalls limit (and 40% of users), Beta's over its users
// limit with apiCalls it has no limit for, yesterday's included.
type usageEnv struct {
	*adminEnv
	acmeLicense, betaLicense string
	betaID                   string
}

func newUsageEnv(t *testing.T) *usageEnv {
	t.Helper()
	a := newAdminEnv(t)
	u := &usageEnv{adminEnv: a}
	var acmeKey, betaKey string
	u.acmeLicense, acmeKey = a.issue(map[string]any{"plan": "pro", "limits": map[string]any{"users": 10, "apiCalls": 1000}})
	u.betaID = addCustomer(t, a, map[string]any{"name": "Beta <Labs>", "email": "it@beta.example"})
	u.betaLicense, betaKey = a.issue(map[string]any{"plan": "pro", "customerId": u.betaID})
	now := time.Now().UTC()
	for _, r := range []struct {
		key     string
		at      time.Time
		metrics map[string]any
	}{
		{acmeKey, now, map[string]any{"apiCalls": 900, "users": 4}},
		{betaKey, now, map[string]any{"apiCalls": 300, "users": 12}},
		{betaKey, now.Add(-24 * time.Hour), map[string]any{"apiCalls": 50}},
	} {
		validate(t, a.testEnv, r.key, "dep-usage", nil)
		if res := a.do("POST", "/api/usage/report", "", usageReport(r.key, "dep-usage", report(uuid.New(), r.at, r.metrics))); res.Status != 200 {
			t.Fatalf("usage report: got %d %s", res.Status, res.Body)
		}
	}
	return u
}

func TestAdminUsageEmpty(t *testing.T) {
	a := newAdminEnv(t)
	p := a.b.get("/admin/usage")
	wantStatus(t, p, 200)
	checkCSP(t, p)
	if got := one(t, p, `[data-testid=usage-results] [data-testid=empty-state]`).Find("h3").Text(); got != "No usage reported yet" {
		t.Errorf("empty state: %q", got)
	}
	if n := p.Doc.Find(`[data-testid=usage-filters]`).Length(); n != 0 {
		t.Errorf("a metric filter with no metric to choose")
	}
	one(t, p, `[data-testid=near-empty]`)
	if got := one(t, p, `[data-testid=near-total]`).Text(); got != "(0)" {
		t.Errorf("near total: %q", got)
	}
}

func TestAdminUsage(t *testing.T) {
	u := newUsageEnv(t)
	today := time.Now().UTC()
	from := today.AddDate(0, 0, -29).Format("2006-01-02")

	full := u.b.get("/admin/usage")
	wantStatus(t, full, 200)
	checkCSP(t, full)
	if !strings.Contains(full.Header.Get("Vary"), "HX-Request") {
		t.Errorf("Vary: %q", full.Header.Get("Vary"))
	}
	if got := full.Doc.Find(`[data-testid=nav] a[aria-current=page]`).First().Text(); got != "Usage" {
		t.Errorf("active nav: %q", got)
	}
	// Defaults: the first metric, the last 30 days.
	if got := one(t, full, `#f-metric option[selected]`).AttrOr("value", ""); got != "apiCalls" {
		t.Errorf("default metric: %q", got)
	}
	if got := one(t, full, `#f-days option[selected]`).AttrOr("value", ""); got != "30" {
		t.Errorf("default range: %q", got)
	}
	if got := full.Doc.Find(`#f-metric option`).Length(); got != 2 {
		t.Errorf("metric choices: got %d, want 2 (apiCalls, users)", got)
	}
	if got := one(t, full, `[data-testid=usage-total]`).Text(); got != "(in all: 1250)" {
		t.Errorf("apiCalls total: %q", got)
	}
	table := one(t, full, `[data-testid=chart-table]`)
	rows := table.Find("tbody tr")
	if rows.Length() != 30 {
		t.Fatalf("chart table: got %d days, want 30", rows.Length())
	}
	if got := rows.Last().Find("td").Text(); got != "1,200" {
		t.Errorf("today's apiCalls: got %q, want 1,200", got)
	}
	if got := rows.Eq(28).Find("td").Text(); got != "50" {
		t.Errorf("yesterday's apiCalls: got %q, want 50", got)
	}
	if got := full.Doc.Find(`[data-testid=chart-column] title`).Last().Text(); !strings.HasSuffix(got, ": API calls 1,200") {
		t.Errorf("today's tooltip: %q", got)
	}
	top := full.Doc.Find(`[data-testid=top-consumer]`)
	if top.Length() != 2 {
		t.Fatalf("top consumers: got %d, want 2", top.Length())
	}
	for i, want := range []struct{ id, name, total string }{{u.customerID, "Acme Corp", "900"}, {u.betaID, "Beta <Labs>", "350"}} {
		row := top.Eq(i)
		if got := row.Find(`[data-testid=top-consumer-name]`).Text(); got != want.name {
			t.Errorf("top %d: got %q, want %q", i+1, got, want.name)
		}
		if got := row.Find(`a`).AttrOr("href", ""); got != "/admin/customers/"+want.id {
			t.Errorf("top %d links to %q", i+1, got)
		}
		if got := row.Find(`[data-testid=top-consumer-total]`).Text(); got != want.total {
			t.Errorf("top %d total: got %q, want %s", i+1, got, want.total)
		}
	}
	if !strings.Contains(string(full.Body), "Beta &lt;Labs&gt;") {
		t.Error("a customer name is not escaped")
	}
	if got := one(t, full, `[data-testid=export-usage]`).AttrOr("href", ""); got != "/admin/usage.csv?from="+from+"&to="+today.Format("2006-01-02") {
		t.Errorf("export link: %q", got)
	}

	// Near or over a limit: Beta's users (120%) first, then Acme's apiCalls
	// (90%); Acme's users (40%) and Beta's unlimited apiCalls are not.
	if got := one(t, full, `[data-testid=near-total]`).Text(); got != "(2)" {
		t.Errorf("near total: %q", got)
	}
	near := full.Doc.Find(`[data-testid=near-row]`)
	if near.Length() != 2 {
		t.Fatalf("near rows: got %d, want 2", near.Length())
	}
	for i, want := range []struct{ license, customer, metric, used, limit, pct, state string }{
		{u.betaLicense, "Beta <Labs>", "users", "12", "10", "120%", "Over the limit"},
		{u.acmeLicense, "Acme Corp", "apiCalls", "900", "1000", "90%", "Near the limit"},
	} {
		row := near.Eq(i)
		got := []string{row.AttrOr("data-license", ""), row.Find(`[data-testid=near-customer]`).Text(), row.AttrOr("data-metric", ""),
			row.Find(`[data-testid=near-used]`).Text(), row.Find(`[data-testid=near-limit]`).Text(),
			row.Find(`[data-testid=near-percent]`).Text(), row.Find(`[data-testid=near-state]`).Text()}
		if strings.Join(got, "|") != strings.Join([]string{want.license, want.customer, want.metric, want.used, want.limit, want.pct, want.state}, "|") {
			t.Errorf("near row %d: got %q, want %+v", i, got, want)
		}
		if href := row.Find(`a`).First().AttrOr("href", ""); href != "/admin/licenses/"+want.license {
			t.Errorf("near row %d links to %q", i, href)
		}
	}

	// Another metric under HTMX: the results alone, a gauge ranked by peak.
	part := u.b.htmx("GET", "/admin/usage?metric=users&days=7", nil)
	wantStatus(t, part, 200)
	if strings.Contains(string(part.Body), "<html") || part.Doc.Find(`[data-testid=usage-filters], [data-testid=near-limits]`).Length() != 0 {
		t.Fatalf("partial carries the page: %.300s", part.Body)
	}
	if !strings.Contains(part.Header.Get("Vary"), "HX-Request") {
		t.Errorf("partial Vary: %q", part.Header.Get("Vary"))
	}
	if got := one(t, part, `#usage-results [data-testid=chart-table]`).Find("tbody tr").Length(); got != 7 {
		t.Errorf("7-day chart: got %d days", got)
	}
	if got := one(t, part, `[data-testid=usage-total]`).Text(); got != "(highest day: 16)" {
		t.Errorf("users total: %q", got)
	}
	if got := part.Doc.Find(`[data-testid=top-consumer-name]`).First().Text(); got != "Beta <Labs>" {
		t.Errorf("users top consumer: %q", got)
	}
	if got := part.Doc.Find(`[data-testid=top-consumer-total]`).First().Text(); got != "12" {
		t.Errorf("users top total: %q", got)
	}

	// The filter is echoed in a full load.
	p := u.b.get("/admin/usage?metric=users&days=90")
	if got := one(t, p, `#f-metric option[selected]`).AttrOr("value", ""); got != "users" {
		t.Errorf("metric not echoed: %q", got)
	}
	if got := one(t, p, `#f-days option[selected]`).AttrOr("value", ""); got != "90" {
		t.Errorf("range not echoed: %q", got)
	}
	if got := one(t, p, `[data-testid=chart-table]`).Find("tbody tr").Length(); got != 90 {
		t.Errorf("90-day chart: got %d days", got)
	}

	// A metric nobody reported, and filters that cannot be read.
	none := u.b.htmx("GET", "/admin/usage?metric=sessions", nil)
	if got := one(t, none, `[data-testid=empty-state] h3`).Text(); got != "No sessions in this range" {
		t.Errorf("unreported metric: %q", got)
	}
	bad := u.b.get("/admin/usage?days=12")
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	if got := one(t, bad, `[data-testid=filter-error]`).Text(); !strings.Contains(got, "days") {
		t.Errorf("bad range: %q", got)
	}
	wantStatus(t, u.b.htmx("GET", "/admin/usage?metric=no%20spaces", nil), http.StatusOK)
	one(t, u.b.htmx("GET", "/admin/usage?metric=no%20spaces", nil), `[data-testid=filter-error]`)
}

// Past a thousand limits near their mark, the page counts no further and
// says so, still listing the fullest first.
func TestAdminUsageNearLimitsCountsUpToACap(t *testing.T) {
	u := newUsageEnv(t)
	// 1,200 more licenses like Acme's, each at 95% of its apiCalls limit
	// this month, and one of them over it.
	_, err := u.store.Pool.Exec(t.Context(), `
		WITH l AS (
			INSERT INTO licenses (customer_id, plan_id, limits, starts_at, grace_days, offline_days, heartbeat_window_hours,
			    dunning_days, notes)
			SELECT customer_id, plan_id, '{"apiCalls": 1000}', starts_at, grace_days, offline_days, heartbeat_window_hours,
			    dunning_days, 'bulk ' || g
			FROM licenses, generate_series(1, 1200) g WHERE id = $1
			RETURNING id, notes
		)
		INSERT INTO usage_periods (license_id, metric, period_start, period_end, kind, value, updated_at)
		SELECT l.id, 'apiCalls', date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
		    (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC', 'counter',
		    CASE WHEN l.notes = 'bulk 1' THEN 1500 ELSE 950 END, now()
		FROM l`, uuid.MustParse(u.acmeLicense))
	if err != nil {
		t.Fatal(err)
	}
	full := u.b.get("/admin/usage")
	wantStatus(t, full, 200)
	if got := one(t, full, `[data-testid=near-total]`).Text(); got != "(more than 1000)" {
		t.Errorf("near total: %q", got)
	}
	if got := one(t, full, `[data-testid=near-more]`).Text(); got != "Showing the 50 fullest of more than 1000." {
		t.Errorf("near more: %q", got)
	}
	rows := full.Doc.Find(`[data-testid=near-row]`)
	if rows.Length() != 50 {
		t.Fatalf("near rows: got %d, want 50", rows.Length())
	}
	// Fullest first: the bulk license at 150%, Beta's users at 120%, then
	// the 95% ones; Acme's 90% is past the first 50.
	if got := rows.Eq(0).Find(`[data-testid=near-percent]`).Text(); got != "150%" {
		t.Errorf("first row: %q, want 150%%", got)
	}
	if got := rows.Eq(1).Find(`[data-testid=near-percent]`).Text(); got != "120%" {
		t.Errorf("second row: %q, want 120%%", got)
	}
	if got := rows.Eq(2).Find(`[data-testid=near-percent]`).Text(); got != "95%" {
		t.Errorf("third row: %q, want 95%%", got)
	}
}
