package handlers_test

import (
	"strings"
	"testing"
)

func TestAdminDashboard(t *testing.T) {
	a := newAdminEnv(t)
	validate(t, a.testEnv, a.key, "dep-1", nil)
	validate(t, a.testEnv, a.key, "dep-2", nil)
	validate(t, a.testEnv, a.key, "dep-3", nil) // over the two seats: refused
	suspended, _ := a.issue(map[string]any{"plan": "pro"})
	if r := a.do("POST", "/api/licenses/"+suspended+"/suspend", a.admin, map[string]any{"reason": "x"}); r.Status != 200 {
		t.Fatal(string(r.Body))
	}

	p := a.b.get("/admin")
	wantStatus(t, p, 200)
	checkCSP(t, p)
	if got := p.Header.Get("Vary"); !strings.Contains(got, "HX-Request") {
		t.Errorf("Vary: got %q", got)
	}
	if got := p.Doc.Find(`[data-testid=nav] a[aria-current=page]`).First().Text(); got != "Dashboard" {
		t.Errorf("active nav: got %q", got)
	}
	if got := p.Doc.Find(`[data-testid=user-email]`).First().Text(); got != adminEmail {
		t.Errorf("user: got %q", got)
	}
	for state, want := range map[string]string{"active": "1", "suspended": "1", "revoked": "0"} {
		card := one(t, p, `[data-testid=status-card][data-state=`+state+`]`)
		if got := card.Find(`[data-testid=status-count]`).Text(); got != want {
			t.Errorf("%s count: got %q, want %s", state, got, want)
		}
		if got := card.AttrOr("href", ""); got != "/admin/licenses?status="+state {
			t.Errorf("%s card links to %q", state, got)
		}
		if got := card.Find(`[data-testid=badge]`).Text(); got == "" {
			t.Errorf("%s card has no status text", state)
		}
	}
	if got := one(t, p, `[data-testid=active-deployments]`).Text(); !strings.Contains(got, "2") {
		t.Errorf("active deployments: %q", got)
	}
	one(t, p, `[data-testid=expiring-soon]`)
	if got := one(t, p, `[data-testid=stripe-attention-empty]`).Text(); got != "Nothing needs attention." {
		t.Errorf("Stripe events with none received: %q", got)
	}

	// The chart: bars with titles and the same numbers in a hidden table.
	one(t, p, `[data-testid=chart-svg]`)
	bars := p.Doc.Find(`[data-testid=chart-bar]`)
	if bars.Length() != 2 {
		t.Fatalf("got %d bars, want 2 (valid and refused today)", bars.Length())
	}
	if got := p.Doc.Find(`[data-testid=chart-column] title`).Last().Text(); !strings.HasSuffix(got, ": Valid 2, Refused 1") {
		t.Errorf("today's tooltip: %q", got)
	}
	table := one(t, p, `[data-testid=chart-table]`)
	if table.Find("tbody tr").Length() != 14 {
		t.Errorf("chart table: got %d rows, want 14", table.Find("tbody tr").Length())
	}
	last := table.Find("tbody tr").Last().Find("td")
	if last.Eq(0).Text() != "2" || last.Eq(1).Text() != "1" {
		t.Errorf("today's row: got %q/%q, want 2/1", last.Eq(0).Text(), last.Eq(1).Text())
	}

	// Recent audit events, newest first.
	rows := p.Doc.Find(`[data-testid=audit-row]`)
	if rows.Length() == 0 || rows.Length() > 10 {
		t.Fatalf("got %d audit rows, want 1..10", rows.Length())
	}
	if got := rows.First().Find(`[data-testid=audit-action]`).Text(); got != "license.suspend" {
		t.Errorf("newest audit action: got %q", got)
	}
}
