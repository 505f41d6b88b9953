package handlers_test

// A plan's own labels for its metrics: set through the API or the admin
// plan form, and read in place of the metrics' display names on both
// portals' pages of the plan's licenses.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// formValues reads what a browser would post from the form sel of doc:
// every named input, select and textarea with its current value (checked
// boxes only).
func formValues(t *testing.T, p page, sel string) url.Values {
	t.Helper()
	form := one(t, p, sel)
	v := url.Values{}
	form.Find("input[name], select[name], textarea[name]").Each(func(_ int, s *goquery.Selection) {
		name := s.AttrOr("name", "")
		switch {
		case goquery.NodeName(s) == "select":
			opt := s.Find("option[selected]").First()
			if opt.Length() == 0 {
				opt = s.Find("option").First()
			}
			v.Add(name, opt.AttrOr("value", opt.Text()))
		case goquery.NodeName(s) == "textarea":
			v.Add(name, s.Text())
		case s.AttrOr("type", "") == "checkbox" || s.AttrOr("type", "") == "radio":
			if _, on := s.Attr("checked"); on {
				v.Add(name, s.AttrOr("value", "on"))
			}
		default:
			v.Add(name, s.AttrOr("value", ""))
		}
	})
	return v
}

func TestPlanMetricLabels(t *testing.T) {
	pe := newPortalEnv(t) // plan pro: limits users 10 and apiCalls 1000
	if code := pe.validate(pe.keyA, "dep-1"); code != "VALID" {
		t.Fatalf("validate: %s", code)
	}

	// The API: labels are part of a plan; bad ones are refused with the
	// field named and nothing stored.
	r := pe.do("GET", "/api/plans/pro", pe.admin, nil)
	if got := r.JSON(t)["metricLabels"]; got == nil || len(got.(map[string]any)) != 0 {
		t.Fatalf("a plan without labels: metricLabels %v, want {}", got)
	}
	bad := pe.do("PATCH", "/api/plans/pro", pe.admin, map[string]any{"metricLabels": map[string]string{
		"apiCalls": strings.Repeat("x", 61)}})
	details := wantError(t, bad, http.StatusUnprocessableEntity, "invalid")["error"].(map[string]any)["details"].([]any)
	if f := details[0].(map[string]any)["field"]; f != "metricLabels.apiCalls" {
		t.Errorf("a 61-character label: error on %v, want metricLabels.apiCalls", f)
	}
	r = pe.do("PATCH", "/api/plans/pro", pe.admin, map[string]any{"metricLabels": map[string]string{"users": " Seats in use "}})
	if r.Status != http.StatusOK {
		t.Fatalf("set a label: got %d %s", r.Status, r.Body)
	}
	if got := r.JSON(t)["metricLabels"].(map[string]any); len(got) != 1 || got["users"] != "Seats in use" {
		t.Errorf("labels after PATCH: %v, want users: Seats in use (trimmed)", got)
	}

	// The admin plan form: a label column beside each limit.
	createAdmin(t, pe.testEnv, adminEmail, adminPassword)
	ad := signIn(t, pe.testEnv, adminEmail, adminPassword)
	edit := ad.get("/admin/plans/pro/edit")
	wantStatus(t, edit, http.StatusOK)
	form := formValues(t, edit, `[data-testid=plan-form]`)
	names, labels := form["limitName"], form["limitLabel"]
	if len(labels) != len(names) {
		t.Fatalf("plan form: %d limit names and %d labels, want a label per row", len(names), len(labels))
	}
	for i, n := range names {
		switch n {
		case "users":
			if labels[i] != "Seats in use" {
				t.Errorf("plan form: users row label %q, want the stored Seats in use", labels[i])
			}
		case "apiCalls":
			labels[i] = "Requests"
		}
	}
	if p := ad.post("/admin/plans/pro/edit", form); p.Status != http.StatusSeeOther {
		t.Fatalf("save the plan form: got %d\n%.500s", p.Status, p.Body)
	}
	r = pe.do("GET", "/api/plans/pro", pe.admin, nil)
	if got := r.JSON(t)["metricLabels"].(map[string]any); len(got) != 2 || got["apiCalls"] != "Requests" || got["users"] != "Seats in use" {
		t.Errorf("labels after the form: %v, want apiCalls: Requests and users: Seats in use", got)
	}
	if got := one(t, ad.get("/admin/plans"), `[data-testid=plan-row]`).Text(); !strings.Contains(got, "Requests 1,000") {
		t.Errorf("plans list row %q, want the limit under its label (Requests 1,000)", got)
	}

	// Both portals name the metrics by the plan's labels.
	lic := ad.get("/admin/licenses/" + pe.licA)
	if got := one(t, lic, `[data-testid=usage-line][data-metric=apiCalls] [data-testid=usage-label]`).Text(); got != "Requests" {
		t.Errorf("admin license page: apiCalls named %q, want Requests", got)
	}
	chart := one(t, lic, `[data-testid=usage-chart][data-metric=apiCalls]`)
	if got := chart.Find(`[data-testid=usage-chart-label]`).Text(); got != "Requests" {
		t.Errorf("admin license page: apiCalls chart named %q, want Requests", got)
	}
	if got := chart.Find(`[data-testid=chart-limit-label]`).Text(); got != "Limit 1,000" {
		t.Errorf("admin license page: apiCalls chart limit %q, want Limit 1,000", got)
	}
	page := pe.a.get("/portal/licenses/" + pe.licA)
	for sel, want := range map[string]string{
		`[data-testid=usage-line][data-metric=apiCalls] [data-testid=usage-label]`:        "Requests",
		`[data-testid=usage-line][data-metric=users] [data-testid=usage-label]`:           "Seats in use",
		`[data-testid=limit][data-metric=apiCalls] [data-testid=limit-label]`:             "Requests",
		`[data-testid=usage-chart][data-metric=apiCalls] [data-testid=usage-chart-label]`: "Requests",
	} {
		if got := one(t, page, sel).Text(); got != want {
			t.Errorf("customer license page %s: got %q, want %q", sel, got, want)
		}
	}
	if got := one(t, page, `[data-testid=usage-chart][data-metric=apiCalls] [data-testid=chart-table] caption`).Text(); !strings.HasPrefix(got, "Requests this period") {
		t.Errorf("chart caption %q, want it to start with Requests this period", got)
	}
	overview := pe.a.get("/portal")
	if got := one(t, overview, `[data-testid=usage-line][data-metric=apiCalls] [data-testid=usage-label]`).Text(); got != "Requests" {
		t.Errorf("customer overview: apiCalls named %q, want Requests", got)
	}

	// Clearing a label returns the metric to its display name.
	if r := pe.do("PATCH", "/api/plans/pro", pe.admin, map[string]any{"metricLabels": map[string]string{"apiCalls": "", "users": "Seats in use"}}); r.Status != http.StatusOK {
		t.Fatalf("clear a label: got %d %s", r.Status, r.Body)
	}
	if got := one(t, pe.a.get("/portal"), `[data-testid=usage-line][data-metric=apiCalls] [data-testid=usage-label]`).Text(); got != "API calls" {
		t.Errorf("after clearing the label: apiCalls named %q, want API calls", got)
	}
}
