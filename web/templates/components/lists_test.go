package components_test

import (
	"strings"
	"testing"

	"github.com/a-h/templ"

	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/internal/viewtest"
)

// TestUsageMeterOneRule: both portals colour a meter the same way — red
// over the limit, amber from 80%, brand below — and cap its width at full.
func TestUsageMeterOneRule(t *testing.T) {
	for _, tc := range []struct {
		name          string
		used, limit   int64
		exceeded      bool
		colour, width string
	}{
		{"unused", 0, 100, false, "bg-brand-600", "w-0"},
		{"half", 50, 100, false, "bg-brand-600", "w-1/2"},
		{"just under 80%", 79, 100, false, "bg-brand-600", "w-3/4"},
		{"80% is near the limit", 80, 100, false, "bg-amber-500", "w-3/4"},
		{"at the limit", 100, 100, false, "bg-amber-500", "w-full"},
		{"over the limit", 150, 100, true, "bg-rose-600", "w-full"},
		{"no limit to measure against", 5, 0, false, "bg-amber-500", "w-full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, _ := viewtest.MustRender(t, components.UsageMeter(tc.used, tc.limit, tc.exceeded))
			bar := viewtest.One(t, doc, `span > span`)
			if !bar.HasClass(tc.colour) || !bar.HasClass(tc.width) {
				t.Fatalf("got class %q, want %s %s", bar.AttrOr("class", ""), tc.colour, tc.width)
			}
		})
	}
}

func TestDeploymentBadge(t *testing.T) {
	for _, tc := range []struct {
		state     string
		explained bool
		label     string
		class     string
	}{
		{"active", false, "Active", "badge-active"},
		{"offline", true, "Offline (license file)", "badge-not_yet_valid"},
		{"offline", false, "Offline", "badge-not_yet_valid"},
		{"stale", true, "Stale (no recent heartbeat)", "badge-grace"},
		{"stale", false, "Stale", "badge-grace"},
		{"deactivated", false, "Released", "badge-expired"},
	} {
		doc, _ := viewtest.MustRender(t, components.DeploymentBadge(tc.state, tc.explained))
		b := viewtest.One(t, doc, `[data-testid=deployment-status]`)
		if b.Text() != tc.label || !b.HasClass(tc.class) {
			t.Errorf("%s: got %q %q, want %q %s", tc.state, b.Text(), b.AttrOr("class", ""), tc.label, tc.class)
		}
	}
}

func TestResultsTableAndNextPage(t *testing.T) {
	empty := components.EmptyState("Nothing here", "Add one.")
	r := components.Results{ID: "things", TestID: "thing-results", Error: "bad filter", EmptyState: empty,
		NextURL: "/things?cursor=abc"}

	r.Empty = true
	doc, _ := viewtest.MustRender(t, components.ResultsTable(r))
	viewtest.One(t, doc, `#things[data-testid=thing-results] [data-testid=filter-error]`)
	viewtest.One(t, doc, `[data-testid=empty-state]`)
	if doc.Find(`[data-testid=next-page]`).Length() != 0 {
		t.Fatal("an empty list offers a next page")
	}

	r.Empty = false
	html := render(t, components.ResultsTable(r), `<table data-testid="rows"></table>`)
	for _, want := range []string{`data-testid="rows"`, `hx-get="/things?cursor=abc"`, `hx-target="#things"`, `hx-push-url="true"`, `Next page`} {
		if !strings.Contains(html, want) {
			t.Errorf("got %s, want it to contain %s", html, want)
		}
	}
	if strings.Contains(html, `data-testid="empty-state"`) {
		t.Error("a list with rows shows the empty state")
	}

	plain := render(t, components.NextPage("/plans?cursor=x", "", ""), "")
	if strings.Contains(plain, "hx-get") || !strings.Contains(plain, `href="/plans?cursor=x"`) {
		t.Errorf("got %s, want a plain link", plain)
	}
	if got := render(t, components.NextPage("", "things", ""), ""); strings.TrimSpace(got) != "" {
		t.Errorf("got %q, want nothing on the last page", got)
	}
}

// render renders c with children as raw HTML.
func render(t *testing.T, c templ.Component, children string) string {
	t.Helper()
	var b strings.Builder
	ctx := templ.WithChildren(t.Context(), templ.Raw(children))
	if err := c.Render(ctx, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
