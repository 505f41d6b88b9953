package handlers_test

// The customer's license page keeps itself consistent as the admin's does:
// each action answers with an HX-Trigger event, and the sections it affects
// listen for that event and fetch themselves again.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestPortalLicensePageSectionsFollowActions(t *testing.T) {
	pe := newPortalEnv(t)
	for _, d := range []string{"dep-1", "dep-2"} {
		if code := pe.validate(pe.keyA, d); code != "VALID" {
			t.Fatalf("%s: got %s", d, code)
		}
	}
	path := "/portal/licenses/" + pe.licA
	full := pe.a.get(path)
	wantStatus(t, full, http.StatusOK)
	for sel, want := range map[string]string{
		`[data-testid=license-header]`:   "deploymentsChanged from:body",
		`[data-testid=license-activity]`: "licenseChanged from:body, deploymentsChanged from:body, keyRevealed from:body",
	} {
		s := one(t, full, sel)
		if got := s.AttrOr("hx-trigger", ""); got != want {
			t.Errorf("%s hx-trigger: got %q, want %q", sel, got, want)
		}
		if got, want := s.AttrOr("hx-get", ""), path+"/sections/"; !strings.HasPrefix(got, want) {
			t.Errorf("%s hx-get: got %q, want %s…", sel, got, want)
		}
	}
	newest := func() (string, string) {
		t.Helper()
		act := pe.a.htmx("GET", path+"/sections/activity", nil)
		wantStatus(t, act, http.StatusOK)
		first := one(t, act, `[data-testid=license-activity]`).Find(`[data-testid=activity-entry]`).First()
		return first.AttrOr("data-id", ""), first.Find(`[data-testid=activity-action]`).Text()
	}

	rel := pe.a.hxPost(path+"/deployments/dep-1/release", url.Values{})
	wantStatus(t, rel, http.StatusOK)
	if got := rel.Header.Get("HX-Trigger"); got != "deploymentsChanged" {
		t.Errorf("release HX-Trigger: got %q, want deploymentsChanged", got)
	}
	h := pe.a.htmx("GET", path+"/sections/header", nil)
	wantStatus(t, h, http.StatusOK)
	if got := one(t, h, `[data-testid=license-header] [data-testid=license-seats]`).Text(); got != "1 of 2 in use" {
		t.Errorf("header section seats after release: got %q, want 1 of 2 in use", got)
	}
	if _, got := newest(); got != "Deployment released" {
		t.Errorf("activity section after release: newest entry %q, want Deployment released", got)
	}

	rv := pe.a.hxPost(path+"/reveal", url.Values{})
	wantStatus(t, rv, http.StatusOK)
	if got := rv.Header.Get("HX-Trigger"); got != "keyRevealed" {
		t.Errorf("reveal HX-Trigger: got %q, want keyRevealed", got)
	}
	revealID, got := newest()
	if got != "License key revealed" {
		t.Errorf("activity section after reveal: newest entry %q, want License key revealed", got)
	}

	// Another customer's license has no sections for this user, and a
	// section without htmx sends the browser to the page.
	wantStatus(t, pe.a.htmx("GET", "/portal/licenses/"+pe.licB+"/sections/header", nil), http.StatusNotFound)
	wantStatus(t, pe.a.htmx("GET", path+"/sections/nope", nil), http.StatusNotFound)
	if got := pe.a.get(path + "/sections/activity"); got.Status != http.StatusSeeOther || got.Header.Get("Location") != path {
		t.Errorf("a section without htmx: got %d to %q, want 303 to the license page", got.Status, got.Header.Get("Location"))
	}
	// B's activity on their own license stays out of A's section.
	pe.b.get("/portal")
	wantStatus(t, pe.b.hxPost("/portal/licenses/"+pe.licB+"/reveal", url.Values{}), http.StatusOK)
	if id, got := newest(); id != revealID {
		t.Errorf("A's activity section after B's reveal: newest entry %s %q, want A's reveal %s", id, got, revealID)
	}
}
