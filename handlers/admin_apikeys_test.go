package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestAdminAPIKeys(t *testing.T) {
	a := newAdminEnv(t)
	p := a.b.get("/admin/api-keys")
	wantStatus(t, p, 200)
	checkCSP(t, p)
	before := p.Doc.Find(`[data-testid=api-key-row]`).Length()
	if before == 0 {
		t.Fatal("the fixture's key is not listed")
	}
	for _, sc := range []string{"admin", "licenses:read", "customers:read", "audit:read"} {
		one(t, p, `input[type=checkbox][name=scopes][value="`+sc+`"]`)
		one(t, p, `label[for="scope-`+sc+`"]`)
	}

	// Refused: errors in place, nothing stored.
	r := a.b.post("/admin/api-keys", url.Values{"name": {" "}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	one(t, r, `[data-testid=error-name]`)
	one(t, r, `[data-testid=error-scopes]`)
	one(t, r, `input#name[aria-invalid=true]`)
	r = a.b.post("/admin/api-keys", url.Values{"name": {"bad scope"}, "scopes": {"everything"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if got := one(t, r, `[data-testid=error-scopes]`).Text(); !strings.Contains(got, "nknown scope") {
		t.Errorf("scope error: %q", got)
	}
	if got := one(t, r, `input#name`).AttrOr("value", ""); got != "bad scope" {
		t.Errorf("name kept: %q", got)
	}
	if n := a.b.get("/admin/api-keys").Doc.Find(`[data-testid=api-key-row]`).Length(); n != before {
		t.Fatalf("a refused form stored a key: %d rows, want %d", n, before)
	}
	wantStatus(t, a.b.send("POST", "/admin/api-keys", url.Values{"name": {"x"}, "scopes": {"admin"}}, nil), http.StatusForbidden)

	// Created: the secret once, and it works.
	r = a.b.post("/admin/api-keys", url.Values{"name": {"crm sync"}, "scopes": {"customers:read", "audit:read"}})
	wantStatus(t, r, http.StatusCreated)
	checkCSP(t, r)
	secret := strings.TrimSpace(one(t, r, `[data-testid=new-api-key] textarea[readonly][data-testid=api-key-secret]`).Text())
	if secret == "" {
		t.Fatal("no secret shown")
	}
	if got := one(t, r, `[data-testid=new-api-key] .js-copy`).AttrOr("data-copy", ""); got != "#new-api-key" {
		t.Errorf("copy button: %q", got)
	}
	one(t, r, `script[src*="copy"]`)
	audit := wantAudit(t, a, "api_key.create")
	row := one(t, r, `[data-testid=api-key-row][data-id="`+audit.EntityID+`"]`)
	if got := row.Find(`[data-testid=api-key-scopes]`).Text(); got != "customers:read, audit:read" {
		t.Errorf("scopes: %q", got)
	}
	if !strings.HasPrefix(secret, strings.TrimSuffix(row.Find(`[data-testid=api-key-prefix]`).Text(), "…")) {
		t.Errorf("prefix %q does not start the secret", row.Find(`[data-testid=api-key-prefix]`).Text())
	}
	if got := row.Find(`[data-testid=api-key-last-used]`).Text(); got != "Never" {
		t.Errorf("last used: %q", got)
	}
	if res := a.do("GET", "/api/customers", secret, nil); res.Status != 200 {
		t.Fatalf("new key against /api/customers: %d %s", res.Status, res.Body)
	}
	list := a.b.get("/admin/api-keys")
	if strings.Contains(string(list.Body), secret) {
		t.Fatal("the secret is shown again")
	}
	row = one(t, list, `[data-testid=api-key-row][data-id="`+audit.EntityID+`"]`)
	if got := row.Find(`[data-testid=api-key-last-used]`).Text(); got == "Never" {
		t.Error("last used not shown after use")
	}
	form := row.Find(`form[data-testid=revoke-api-key]`)
	if form.AttrOr("hx-confirm", "") == "" || form.AttrOr("hx-target", "") != "#api-keys" {
		t.Errorf("revoke form: %v", form.Nodes[0].Attr)
	}

	// Revoked: the table swapped, a toast, and the key refused.
	wantStatus(t, a.b.send("POST", "/admin/api-keys/"+audit.EntityID+"/revoke", url.Values{}, map[string]string{"HX-Request": "true"}), http.StatusForbidden)
	rv := a.b.htmx("POST", "/admin/api-keys/"+audit.EntityID+"/revoke", url.Values{})
	wantStatus(t, rv, 200)
	if strings.Contains(string(rv.Body), "<html") {
		t.Fatal("revoke answered a whole page")
	}
	if got := one(t, rv, `#api-keys [data-testid=api-key-row][data-id="`+audit.EntityID+`"] [data-testid=api-key-status] .badge`).AttrOr("data-state", ""); got != "revoked" {
		t.Errorf("status after revoke: %q", got)
	}
	one(t, rv, `#toasts[hx-swap-oob] [data-testid=toast][data-kind=success]`)
	wantAudit(t, a, "api_key.revoke")
	if res := a.do("GET", "/api/customers", secret, nil); res.Status != 401 {
		t.Fatalf("revoked key: got %d, want 401", res.Status)
	}

	// Without JavaScript: redirect back with a flash.
	again := a.b.post("/admin/api-keys/"+audit.EntityID+"/revoke", nil)
	wantStatus(t, again, http.StatusSeeOther)
	one(t, a.b.get("/admin/api-keys"), `[data-testid=flash] [data-testid=toast][data-kind=info]`)
	wantStatus(t, a.b.post("/admin/api-keys/00000000-0000-0000-0000-000000000000/revoke", nil), 404)
}
