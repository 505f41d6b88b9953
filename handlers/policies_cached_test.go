// The licensing policies with the cached validation facts (db.FactsCache),
// as `portal serve` runs: what a held seat validates from memory must
// carry every fact the policies read.
package handlers_test

import (
	"testing"
	"time"

	"github.com/nectarcloud/nls/db"
)

// TestComponentsPolicyWithCachedFacts: under the components policy a
// deployment served from the cache is compared with its stored components.
// The same machine again changes nothing (no write, no audit row per
// heartbeat); a new machine id with the same disk, MAC, CPU and host is
// the same machine under "most", and its lease names the new id.
func TestComponentsPolicyWithCachedFacts(t *testing.T) {
	f := newFixture(t)
	if r := f.do("POST", "/api/plans", f.admin, map[string]any{"code": "bound", "name": "Bound", "maxDeployments": 2,
		"fingerprintPolicy": "components", "fingerprintMatch": "most"}); r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	_, key := f.issue(map[string]any{"plan": "bound"})
	c, facts := newCachedEnv(t, f.store)
	check := func(id string) map[string]any {
		t.Helper()
		r := c.do("POST", "/api/validation/validate", "", map[string]any{"licenseKey": key, "deploymentId": "d1",
			"hostname": "h1", "appVersion": "1.0.0", "fingerprint": id,
			"fingerprintComponents": map[string]string{"host": "h", "mac": "m", "cpu": "c", "disk": "d"}})
		if r.Status != 200 {
			t.Fatalf("validate: %d %s", r.Status, r.Body)
		}
		return r.JSON(t)
	}
	changes := func() int {
		t.Helper()
		action := "deployment.fingerprint_changed"
		rows, err := f.store.ListAudit(t.Context(), db.ListAuditParams{Action: &action, MaxRows: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(rows)
	}
	if ans := check("fp-1"); ans["code"] != "VALID" {
		t.Fatalf("activation: got %v", ans["code"])
	}
	// Wait until the cache has loaded the stored fingerprint and serves
	// the deployment from memory.
	deadline := time.Now().Add(10 * time.Second)
	for {
		h0, l0 := facts.Stats()
		if ans := check("fp-1"); ans["code"] != "VALID" {
			t.Fatalf("same machine: got %v (%v)", ans["code"], ans["detail"])
		}
		if h, l := facts.Stats(); h == h0+1 && l == l0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the deployment was never served from the cache")
		}
	}
	before := changes()
	for range 3 {
		if ans := check("fp-1"); ans["code"] != "VALID" {
			t.Fatalf("same machine from the cache: got %v (%v)", ans["code"], ans["detail"])
		}
	}
	if got := changes(); got != before {
		t.Errorf("the same machine validating 3 times from the cache wrote %d fingerprint changes, want none", got-before)
	}
	ans := check("fp-2")
	if ans["code"] != "VALID" {
		t.Fatalf("new machine id, same 4 components (most): got %v (%v), want VALID", ans["code"], ans["detail"])
	}
	// Its lease is bound to the machine id it now has: the one signed a
	// moment ago for fp-1 would be refused offline by the client there.
	if got := leaseClaims(t, ans)["fingerprint"]; got != "fp-2" {
		t.Errorf("lease fingerprint after the change: got %v, want fp-2", got)
	}
}
