package handlers_test

// The release pages of both portals: an admin adds a product and a release,
// uploads a file through the page's PUT (with the CSRF header) and
// publishes; the customer sees it under Downloads and downloads it (counted
// on the license); another customer's user gets 404.

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// putRaw sends a raw body as the page's upload script does.
func (b *browser) putRaw(path string, body []byte, csrf bool) page {
	b.t.Helper()
	req := httptest.NewRequest("PUT", path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/octet-stream")
	if csrf {
		req.Header.Set("X-CSRF-Token", b.csrf)
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	res, err := b.e.app.Test(req, 30_000)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return page{response: response{Status: res.StatusCode, Header: res.Header, Body: raw}}
}

func TestReleasePagesAndPortalDownloads(t *testing.T) {
	d := newDistEnv(t)
	createAdmin(t, d.testEnv, adminEmail, adminPassword)
	ad := signIn(t, d.testEnv, adminEmail, adminPassword)
	p := ad.get("/admin/releases")
	wantStatus(t, p, 200)
	if p.Doc.Find(`nav a[href="/admin/releases"]`).Length() == 0 {
		t.Fatal("the admin navigation has no Releases link")
	}
	if r := ad.post("/admin/products", url.Values{"code": {"acme"}, "name": {"Acme Server"}, "repository": {"acme/server"}}); r.Status != 303 {
		t.Fatalf("add product: got %d %s", r.Status, r.Body)
	}
	ad.get("/admin/releases")
	// A bad version is shown on the page, not lost.
	bad := ad.post("/admin/releases", url.Values{"product": {"acme"}, "version": {"1.x"}, "channel": {"stable"}})
	if bad.Status != 422 || !strings.Contains(string(bad.Body), "version") {
		t.Fatalf("bad version: got %d", bad.Status)
	}
	r := ad.post("/admin/releases", url.Values{"product": {"acme"}, "version": {"1.4.0"}, "channel": {"stable"}, "notes": {"Faster."}})
	if r.Status != 303 {
		t.Fatalf("create release: got %d %s", r.Status, r.Body)
	}
	relPath := r.Header.Get("Location")
	p = ad.get(relPath)
	one(t, p, `[data-testid="upload-form"]`)
	content := []byte(strings.Repeat("installer ", 1000))
	if up := ad.putRaw(relPath+"/artifacts/acme-1.4.0.tar.gz?platform=linux&arch=amd64", content, false); up.Status != 403 {
		t.Fatalf("upload without the CSRF header: got %d, want 403", up.Status)
	}
	if up := ad.putRaw(relPath+"/artifacts/acme-1.4.0.tar.gz?platform=linux&arch=amd64", content, true); up.Status != 201 {
		t.Fatalf("upload: got %d %s", up.Status, up.Body)
	}
	if r := ad.post(relPath+"/publish", nil); r.Status != 303 {
		t.Fatalf("publish: got %d", r.Status)
	}
	p = ad.get(relPath)
	if got := one(t, p, `[data-testid="release-state"]`).Text(); got != "published" {
		t.Fatalf("state %q, want published", got)
	}
	if n := p.Doc.Find(`[data-testid="artifact-row"]`).Length(); n != 1 {
		t.Fatalf("%d files listed, want 1", n)
	}

	d.plan("acme-plan", []string{"acme"}, []string{"stable"}, "restrict")
	d.plan("other-plan", []string{}, []string{"stable"}, "restrict")
	licA, _ := d.issue(map[string]any{"plan": "acme-plan"})
	custB := d.mustJSON(d.do("POST", "/api/customers", d.admin, map[string]any{"name": "Bravo", "email": "it@bravo.example"}), 201)["id"].(string)
	d.issue(map[string]any{"plan": "other-plan", "customerId": custB})
	createCustomerUser(t, d.testEnv, d.customerID, "alice@acme.example")
	createCustomerUser(t, d.testEnv, custB, "bob@bravo.example")
	alice := signIn(t, d.testEnv, "alice@acme.example", portalPassword)
	bob := signIn(t, d.testEnv, "bob@bravo.example", portalPassword)

	p = alice.get("/portal/downloads")
	wantStatus(t, p, 200)
	rel := one(t, p, `[data-testid="download-release"]`)
	if v, _ := rel.Attr("data-version"); v != "1.4.0" || !strings.Contains(rel.Text(), "Faster.") {
		t.Fatalf("release %q %q, want 1.4.0 with its notes", v, rel.Text())
	}
	link, _ := one(t, p, `[data-testid="download-artifact"]`).Attr("href")
	dl := alice.get(link)
	if dl.Status != 302 {
		t.Fatalf("portal download: got %d %s", dl.Status, dl.Body)
	}
	res, err := http.Get(dl.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !bytes.Equal(got, content) {
		t.Fatalf("downloaded %d bytes, want the uploaded %d", len(got), len(content))
	}
	if c := one(t, alice.get("/portal/downloads"), `[data-testid="download-count"]`).Text(); c != "1 download" {
		t.Fatalf("count %q, want 1 download", c)
	}
	if c := one(t, alice.get("/portal/licenses/"+licA), `[data-testid="downloads"]`).Text(); c != "1 file" {
		t.Fatalf("customer's license page: downloads %q, want 1 file", c)
	}
	if c := one(t, ad.get("/admin/licenses/"+licA), `[data-testid="downloads"]`).Text(); c != "1 file" {
		t.Fatalf("admin's license page: downloads %q, want 1 file", c)
	}
	if rows := d.auditRows("artifact.download"); len(rows) != 1 {
		t.Fatalf("%d download audit rows, want 1", len(rows))
	}

	// Bob sees nothing of Acme's and cannot fetch its file, through his
	// own license or Acme's.
	p = bob.get("/portal/downloads")
	wantStatus(t, p, 200)
	if p.Doc.Find(`[data-testid="download-release"]`).Length() != 0 {
		t.Fatal("another customer sees the release")
	}
	if r := bob.get(link); r.Status != 404 {
		t.Fatalf("another customer's download: got %d, want 404", r.Status)
	}
	artID := link[strings.LastIndex(link, "/")+1:]
	var bobLic string
	if err := d.store.Pool.QueryRow(t.Context(), `SELECT id::text FROM licenses WHERE customer_id = $1`, custB).Scan(&bobLic); err != nil {
		t.Fatal(err)
	}
	if r := bob.get("/portal/downloads/" + bobLic + "/artifacts/" + artID); r.Status != 404 {
		t.Fatalf("unentitled license: got %d, want 404", r.Status)
	}
}
