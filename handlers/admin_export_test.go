package handlers_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nectarcloud/nls/db"
)

// readCSV parses an export, checking it is a CSV attachment.
func readCSV(t *testing.T, p page) [][]string {
	t.Helper()
	wantStatus(t, p, 200)
	if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("Content-Type: %q", ct)
	}
	if cd := p.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; filename=") {
		t.Fatalf("Content-Disposition: %q", cd)
	}
	rows, err := csv.NewReader(strings.NewReader(string(p.Body))).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, p.Body)
	}
	return rows
}

func TestAdminLicensesCSV(t *testing.T) {
	a := newAdminEnv(t)
	evil := addCustomer(t, a, map[string]any{"name": "=HYPERLINK(\"http://x\")", "email": "evil@x.example"})
	evilLicense, _ := a.issue(map[string]any{"plan": "pro", "customerId": evil})
	if r := a.do("POST", "/api/licenses/"+evilLicense+"/suspend", a.admin, map[string]any{"reason": "x"}); r.Status != 200 {
		t.Fatal(string(r.Body))
	}

	list := a.b.get("/admin/licenses?status=suspended")
	if got := one(t, list, `[data-testid=export-licenses]`).AttrOr("href", ""); got != "/admin/licenses.csv?status=suspended" {
		t.Errorf("export link: %q", got)
	}

	rows := readCSV(t, a.b.get("/admin/licenses.csv"))
	want := []string{"id", "customer", "plan", "status", "expires", "max_deployments", "active_deployments", "created"}
	if strings.Join(rows[0], ",") != strings.Join(want, ",") {
		t.Fatalf("header: %v", rows[0])
	}
	if len(rows) != 3 {
		t.Fatalf("got %d rows, want header and 2", len(rows))
	}
	byID := map[string][]string{}
	for _, r := range rows[1:] {
		byID[r[0]] = r
	}
	if r := byID[evilLicense]; r == nil || r[1] != `'=HYPERLINK("http://x")` || r[3] != "suspended" {
		t.Errorf("evil row: %q", r)
	}
	if r := byID[a.licenseID]; r == nil || r[1] != "Acme Corp" || r[2] != "pro" || r[3] != "active" || r[5] != "2" || r[6] != "0" || r[4] == "" {
		t.Errorf("acme row: %q", r)
	}

	// The list's filters apply.
	rows = readCSV(t, a.b.get("/admin/licenses.csv?status=suspended"))
	if len(rows) != 2 || rows[1][0] != evilLicense {
		t.Errorf("filtered: %v", rows)
	}
	rows = readCSV(t, a.b.get("/admin/licenses.csv?customerId="+a.customerID))
	if len(rows) != 2 || rows[1][0] != a.licenseID {
		t.Errorf("by customer: %v", rows)
	}
	wantStatus(t, a.b.get("/admin/licenses.csv?status=bogus"), http.StatusUnprocessableEntity)

	// Signed out: no export.
	anon := newBrowser(t, a.testEnv).get("/admin/licenses.csv")
	if anon.Status != http.StatusSeeOther {
		t.Errorf("signed out: got %d, want 303", anon.Status)
	}
}

func TestAdminAuditCSV(t *testing.T) {
	a := newAdminEnv(t)
	rows := readCSV(t, a.b.get("/admin/audit.csv"))
	n, _ := a.store.CountAudit(t.Context())
	if int64(len(rows)-1) != n {
		t.Fatalf("got %d rows, want %d", len(rows)-1, n)
	}
	if rows[0][0] != "id" || rows[0][5] != "action" {
		t.Errorf("header: %v", rows[0])
	}
	rows = readCSV(t, a.b.get("/admin/audit.csv?entityType=customer"))
	if len(rows) != 2 || rows[1][5] != "customer.create" || rows[1][7] != a.customerID || !strings.Contains(rows[1][12], "Acme Corp") {
		t.Errorf("filtered: %v", rows)
	}
	wantStatus(t, a.b.get("/admin/audit.csv?to=soon"), http.StatusUnprocessableEntity)
}

func TestAdminUsageCSV(t *testing.T) {
	a := newAdminEnv(t)
	ctx := t.Context()
	evil := addCustomer(t, a, map[string]any{"name": "+cmd|calc", "email": "evil@x.example"})
	evilLicense, _ := a.issue(map[string]any{"plan": "pro", "customerId": evil})

	// More rows than one batch, so the export pages through them.
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	var days []time.Time
	var metrics, kinds []string
	var vals []int64
	for i := range 1500 {
		days = append(days, start.AddDate(0, 0, i))
		metrics, kinds, vals = append(metrics, "apiCalls"), append(kinds, "counter"), append(vals, int64(i))
	}
	if err := rawQueries(a.store).AddUsageDaily(ctx, db.AddUsageDailyParams{LicenseID: mustUUID(t, a.licenseID),
		CustomerID: mustUUID(t, a.customerID), Metrics: metrics, Days: days, Kinds: kinds, Vals: vals}); err != nil {
		t.Fatal(err)
	}
	if err := rawQueries(a.store).AddUsageDaily(ctx, db.AddUsageDailyParams{LicenseID: mustUUID(t, evilLicense),
		CustomerID: mustUUID(t, evil), Metrics: []string{"users"}, Days: []time.Time{start}, Kinds: []string{"gauge"},
		Vals: []int64{3}}); err != nil {
		t.Fatal(err)
	}

	rows := readCSV(t, a.b.get("/admin/usage.csv?from=2020-01-01&to=2030-01-01"))
	if strings.Join(rows[0], ",") != "license_id,customer,metric,day,value" {
		t.Fatalf("header: %v", rows[0])
	}
	if len(rows) != 1+1501 {
		t.Fatalf("got %d rows, want 1501", len(rows)-1)
	}
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		k := r[0] + r[2] + r[3]
		if seen[k] {
			t.Fatalf("row twice: %v", r)
		}
		seen[k] = true
		if r[0] == evilLicense && (r[1] != "'+cmd|calc" || r[2] != "users" || r[3] != "2020-01-01" || r[4] != "3") {
			t.Errorf("evil row: %q", r)
		}
	}

	rows = readCSV(t, a.b.get("/admin/usage.csv?from=2020-01-01&to=2020-01-10&customerId="+a.customerID))
	if len(rows) != 11 || rows[1][1] != "Acme Corp" || rows[1][3] != "2020-01-01" || rows[10][4] != "9" {
		t.Errorf("filtered: %d rows, %v", len(rows), rows[1])
	}
	wantStatus(t, a.b.get("/admin/usage.csv?from=2020-02-01&to=2020-01-01"), http.StatusUnprocessableEntity)
	wantStatus(t, a.b.get("/admin/usage.csv?from=yesterday"), http.StatusUnprocessableEntity)
}
