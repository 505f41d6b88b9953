package handlers_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/licensing/client"
)

// offlineFile downloads an offline license file for deployment as A's user.
func (pe *portalEnv) offlineFile(deployment, hostname string) page {
	pe.t.Helper()
	return pe.a.post("/portal/licenses/"+pe.licA+"/offline", url.Values{"deploymentId": {deployment}, "hostname": {hostname}})
}

// airGappedClient loads file into a client that has no server at all, as an
// air-gapped installation named deployment would.
func airGappedClient(t *testing.T, file, jwks []byte, deployment string, now func() time.Time) (*client.Client, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "nls-offline.txt")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	lic, err := client.New(client.Config{OfflineLicenseFile: path, DeploymentID: deployment, PublicKeys: jwks,
		StateDir: filepath.Join(dir, "state"), Now: now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lic.Close() })
	return lic, lic.Start(context.Background())
}

func TestPortalOfflineActivation(t *testing.T) {
	pe := newPortalEnv(t)
	jwks := pe.do("GET", "/.well-known/jwks.json", "", nil).Body
	start := time.Now()
	p := pe.offlineFile("site-7", "vault.internal")
	wantStatus(t, p, http.StatusOK)
	if ct := p.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := p.Header.Get("Content-Disposition"); cd != `attachment; filename="nls-offline-site-7.txt"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if cc := p.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	file := p.Body
	lines := strings.Split(strings.TrimSuffix(string(file), "\n"), "\n")
	if lines[0] != "-----BEGIN NLS OFFLINE LICENSE-----" || lines[len(lines)-1] != "-----END NLS OFFLINE LICENSE-----" {
		t.Fatalf("not armored:\n%s", file)
	}
	for i, want := range []string{"License: " + pe.licA, "Customer: Acme Corp", "Plan: pro", "Deployment: site-7"} {
		if lines[i+1] != want {
			t.Errorf("header line %d: got %q, want %q", i+1, lines[i+1], want)
		}
	}
	for _, l := range lines[1 : len(lines)-1] {
		if len(l) > 64 {
			t.Errorf("line longer than 64 columns: %q", l)
		}
	}

	f, err := client.ParseOfflineLicense(file)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := f.Verify(jwks, "site-7", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The plan's offline window: 30 days.
	if d := claims.ExpiresAt.Sub(start); d < 30*24*time.Hour-time.Minute || d > 30*24*time.Hour+time.Minute {
		t.Errorf("the file runs %v, want the plan's 30 days", d)
	}
	if got := f.Header["Expires"]; got != claims.ExpiresAt.UTC().Format(time.RFC3339) {
		t.Errorf("Expires header %q, lease exp %v", got, claims.ExpiresAt)
	}

	t.Run("the client starts valid from it without a server", func(t *testing.T) {
		lic, err := airGappedClient(t, file, jwks, "site-7", nil)
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		st := lic.Status()
		if !st.Valid || st.LicenseID != pe.licA || st.Plan != "pro" || !st.Offline {
			t.Fatalf("got %+v", st)
		}
		if !lic.HasFeature("sso") || !lic.HasFeature("api") || lic.HasFeature("reports") {
			t.Errorf("features %v, want sso and api", st.Features)
		}
		if lim, _ := lic.Limit("users"); lim != 10 {
			t.Errorf("users limit %d, want 10", lim)
		}
	})
	t.Run("refused for another deployment", func(t *testing.T) {
		_, err := airGappedClient(t, file, jwks, "site-8", nil)
		var le *client.LicenseError
		if !errors.As(err, &le) || le.Code != client.CodeLeaseInvalid {
			t.Fatalf("got %v, want LEASE_INVALID", err)
		}
		if _, err := f.Verify(jwks, "site-8", time.Now()); !errors.Is(err, licensing.ErrLeaseWrongDeployment) {
			t.Errorf("Verify: got %v", err)
		}
	})
	t.Run("refused once its window ends", func(t *testing.T) {
		at := claims.ExpiresAt
		_, err := airGappedClient(t, file, jwks, "site-7", func() time.Time { return at })
		var le *client.LicenseError
		if !errors.As(err, &le) || le.Code != client.CodeLeaseExpired {
			t.Fatalf("got %v, want LEASE_EXPIRED", err)
		}
	})
	t.Run("refused when edited by hand", func(t *testing.T) {
		// One character of the signed lease changed.
		edited := []byte(strings.Replace(string(file), lines[len(lines)-3], swapChar(lines[len(lines)-3]), 1))
		_, err := airGappedClient(t, edited, jwks, "site-7", nil)
		var le *client.LicenseError
		if !errors.As(err, &le) || le.Code != client.CodeLeaseInvalid {
			t.Fatalf("got %v, want LEASE_INVALID", err)
		}
	})

	t.Run("it holds a seat like an activation", func(t *testing.T) {
		rows := pe.auditRows("deployment.offline_activate")
		if len(rows) != 1 || rows[0] != "customer_user "+pe.userA+" "+pe.licA+"/site-7 "+pe.customerID {
			t.Fatalf("audit rows %v", rows)
		}
		if code := pe.validate(pe.keyA, "online-1"); code != "VALID" {
			t.Fatalf("online-1: %s", code)
		}
		// Both seats are taken: neither a third installation nor a third file.
		if code := pe.validate(pe.keyA, "online-2"); code != "TOO_MANY_DEPLOYMENTS" {
			t.Fatalf("online-2: got %s, want TOO_MANY_DEPLOYMENTS", code)
		}
		before := pe.dbState()
		p := pe.offlineFile("site-8", "")
		wantStatus(t, p, http.StatusConflict)
		if got := one(t, p, "[data-testid=offline-error]").Text(); !strings.Contains(got, "All 2 seats") {
			t.Errorf("error %q", got)
		}
		if got := one(t, p, "#offline-deployment").AttrOr("value", ""); got != "site-8" {
			t.Errorf("the form lost its value: %q", got)
		}
		if pe.dbState() != before {
			t.Error("a refused file changed the database")
		}
		// A new file for the same installation uses its own seat again.
		wantStatus(t, pe.offlineFile("site-7", ""), http.StatusOK)
		if n := len(pe.auditRows("deployment.offline_activate")); n != 2 {
			t.Errorf("got %d offline rows, want 2", n)
		}
		// It never checks in, yet keeps its seat past the heartbeat window...
		pe.exec(`UPDATE deployments SET first_seen_at = now() - interval '3 days', last_seen_at = now() - interval '3 days'
			WHERE deployment_id = 'site-7'`)
		if code := pe.validate(pe.keyA, "online-2"); code != "TOO_MANY_DEPLOYMENTS" {
			t.Fatalf("online-2 after the heartbeat window: got %s, want TOO_MANY_DEPLOYMENTS", code)
		}
		page := pe.a.get("/portal/licenses/" + pe.licA)
		row := one(t, page, `[data-testid=deployment-row][data-id=site-7]`)
		if row.AttrOr("data-status", "") != "offline" || !strings.Contains(row.Text(), "vault.internal") {
			t.Errorf("site-7 row: status %q, %q", row.AttrOr("data-status", ""), cells(row))
		}
		if got := one(t, page, "[data-testid=license-seats]").Text(); got != "2 of 2 in use" {
			t.Errorf("seats %q", got)
		}
		// ...and even when released, since the file still works where it is.
		p = pe.a.hxPost("/portal/licenses/"+pe.licA+"/deployments/site-7/release", url.Values{})
		wantStatus(t, p, http.StatusOK)
		if got := one(t, p, "#toasts [data-testid=toast]").Text(); !strings.Contains(got, "offline license file keeps its seat until") {
			t.Errorf("toast %q", got)
		}
		if got := one(t, p, "[data-testid=license-seats]").Text(); got != "2 of 2 in use" {
			t.Errorf("seats after releasing the offline one %q, want 2 of 2 in use", got)
		}
		if code := pe.validate(pe.keyA, "online-2"); code != "TOO_MANY_DEPLOYMENTS" {
			t.Fatalf("online-2 after releasing the offline one: got %s", code)
		}
		// Once the file's window ends, the seat is free.
		pe.exec(`UPDATE deployments SET offline_until = now() - interval '1 second' WHERE deployment_id = 'site-7'`)
		if code := pe.validate(pe.keyA, "online-2"); code != "VALID" {
			t.Fatalf("online-2 after the file's window: got %s, want VALID", code)
		}
		// A released deployment gets no new file.
		p = pe.offlineFile("site-7", "")
		wantStatus(t, p, http.StatusConflict)
		if got := one(t, p, "[data-testid=offline-error]").Text(); !strings.Contains(got, "was released") {
			t.Errorf("error %q", got)
		}
	})
}

func TestPortalOfflineActivationRefusals(t *testing.T) {
	pe := newPortalEnv(t)
	for _, tc := range []struct {
		name, deployment, hostname string
		status                     int
		field                      string
	}{
		{"no deployment id", "  ", "", http.StatusUnprocessableEntity, "Enter the deployment id"},
		{"spaces in the id", "site 7", "", http.StatusUnprocessableEntity, "without spaces"},
		{"too long an id", strings.Repeat("x", 129), "", http.StatusUnprocessableEntity, "1 to 128"},
		{"a host name on two lines", "site-7", "a\nb", http.StatusUnprocessableEntity, "one line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := pe.dbState()
			p := pe.offlineFile(tc.deployment, tc.hostname)
			wantStatus(t, p, tc.status)
			if got := one(t, p, "[data-testid=offline-error]").Text(); !strings.Contains(got, tc.field) {
				t.Errorf("error %q, want it to say %q", got, tc.field)
			}
			if pe.dbState() != before {
				t.Error("the database changed")
			}
		})
	}
	t.Run("a suspended license", func(t *testing.T) {
		if r := pe.do("POST", "/api/licenses/"+pe.licA+"/suspend", pe.admin, map[string]any{"reason": "x"}); r.Status != 200 {
			t.Fatal(string(r.Body))
		}
		page := pe.a.get("/portal/licenses/" + pe.licA)
		if got := one(t, page, "[data-testid=offline-unavailable]").Text(); !strings.Contains(got, "suspended") {
			t.Errorf("page says %q", got)
		}
		before := pe.dbState()
		p := pe.offlineFile("site-7", "")
		wantStatus(t, p, http.StatusConflict)
		if !strings.Contains(string(p.Body), "suspended") {
			t.Error("the refusal does not say the license is suspended")
		}
		if pe.dbState() != before {
			t.Error("the database changed")
		}
	})
}

// The offline window never runs past the license's grace end.
func TestPortalOfflineFileEndsWithTheGracePeriod(t *testing.T) {
	pe := newPortalEnv(t)
	now := time.Now().UTC()
	lic, _ := pe.issue(map[string]any{"plan": "pro", "expiresAt": now.AddDate(0, 0, 3).Format(time.RFC3339), "graceDays": 2})
	p := pe.a.post("/portal/licenses/"+lic+"/offline", url.Values{"deploymentId": {"site-1"}})
	wantStatus(t, p, http.StatusOK)
	f, err := client.ParseOfflineLicense(p.Body)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := time.Parse(time.RFC3339, f.Header["Expires"])
	if err != nil {
		t.Fatal(err)
	}
	if want := now.AddDate(0, 0, 5).Truncate(time.Second); exp.Sub(want).Abs() > 2*time.Second {
		t.Errorf("the file expires %v, want the grace end %v", exp, want)
	}
}

// swapChar changes one character of a lease line, keeping it base64url.
func swapChar(line string) string {
	b := []byte(line)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// An installation running from an offline license file, unseen for longer
// than the heartbeat window, holds its seat: every surface says so with the
// same state (licensing.Deployment.State). The admin page names it offline
// as the customer portal does; the JSON APIs, whose enum has no "offline",
// call it active, the machine API included, even when it answers with the
// stored facts (a suspended license).
func TestOfflineDeploymentStateOnEverySurface(t *testing.T) {
	pe := newPortalEnv(t)
	wantStatus(t, pe.offlineFile("site-7", "vault.internal"), http.StatusOK)
	pe.exec(`UPDATE deployments SET first_seen_at = now() - interval '3 days', last_seen_at = now() - interval '3 days'
		WHERE deployment_id = 'site-7'`)

	row := one(t, pe.a.get("/portal/licenses/"+pe.licA), `[data-testid=deployment-row][data-id=site-7]`)
	if got := row.AttrOr("data-status", ""); got != "offline" {
		t.Errorf("customer portal: %q, want offline", got)
	}
	createAdmin(t, pe.testEnv, "root@vendor.example", portalPassword)
	admin := signIn(t, pe.testEnv, "root@vendor.example", portalPassword)
	got := one(t, admin.get("/admin/licenses/"+pe.licA),
		`#deployments [data-testid=deployment-row][data-id=site-7] [data-testid=deployment-status]`).Text()
	if got != "Offline (license file)" {
		t.Errorf("admin page: %q, want Offline (license file)", got)
	}

	r := pe.do("GET", "/api/licenses/"+pe.licA+"/deployments", pe.admin, nil)
	list, _ := r.JSON(t)["data"].([]any)
	if len(list) != 1 {
		t.Fatalf("deployments %s", r.Body)
	}
	if d := list[0].(map[string]any); d["status"] != "active" || d["holdsSeat"] != true || d["offline"] != true {
		t.Errorf("management API: %v", d)
	}

	if r := pe.do("POST", "/api/licenses/"+pe.licA+"/suspend", pe.admin, map[string]any{"reason": "audit"}); r.Status != 200 {
		t.Fatalf("suspend: %d %s", r.Status, r.Body)
	}
	r = pe.do("POST", "/api/validation/validate", "", map[string]any{"licenseKey": pe.keyA, "deploymentId": "site-7"})
	v := r.JSON(t)
	dep, _ := v["deployment"].(map[string]any)
	if v["code"] != "SUSPENDED" || dep == nil || dep["status"] != "active" {
		t.Errorf("machine API: code %v, deployment %v, want SUSPENDED and active", v["code"], dep)
	}
}
