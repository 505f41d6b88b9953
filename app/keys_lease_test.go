// Tests of lease reuse: a deployment validating again within minutes, with
// unchanged facts, gets the lease it already has instead of a new signature.
package app_test

import (
	"testing"
	"time"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/licensing"
)

func TestLeaseIsReusedWhileYoungAndFactsUnchanged(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ring, _, err := licensing.LoadOrInitKeyring(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	keys := app.NewKeyService(ring, "nls-test")
	claims := func() licensing.LeaseClaims {
		return licensing.LeaseClaims{LicenseID: "lic-1", DeploymentID: "dep-1", CustomerID: "cust-1",
			Status: licensing.StateActive, Code: licensing.CodeValid, Plan: "pro", Features: []string{"a", "b"},
			Limits: map[string]int64{"users": 5}, MaxDeployments: 2}
	}
	week := 7 * 24 * time.Hour
	first, exp, err := keys.IssueLease(claims(), week, now)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(c licensing.LeaseClaims, window time.Duration, at time.Time) string {
		t.Helper()
		tok, _, err := keys.IssueLease(c, window, at)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if got, gotExp, _ := keys.IssueLease(claims(), week, now.Add(4*time.Minute)); got != first || !gotExp.Equal(exp) {
		t.Fatalf("4 minutes later, same facts: got a new lease, want the first one again")
	}
	other := claims()
	other.DeploymentID = "dep-2"
	if issue(other, week, now.Add(time.Minute)) == first {
		t.Fatal("another deployment got the first deployment's lease")
	}
	changed := []func(*licensing.LeaseClaims){
		func(c *licensing.LeaseClaims) { c.Features = []string{"a"} },
		func(c *licensing.LeaseClaims) { c.Limits = map[string]int64{"users": 6} },
		func(c *licensing.LeaseClaims) { c.Status = licensing.StateGrace },
		func(c *licensing.LeaseClaims) { x := now.Add(week); c.LicenseExpiresAt = &x },
		func(c *licensing.LeaseClaims) { c.MaxDeployments = 3 },
	}
	for i, change := range changed {
		c := claims()
		change(&c)
		tok := issue(c, week, now.Add(time.Minute))
		if tok == first {
			t.Errorf("change %d: got the old lease, want one with the new facts", i)
		}
		if l, err := ring.VerifyLease(tok, c.DeploymentID, now.Add(time.Minute)); err != nil || !sameFacts(l, c) {
			t.Errorf("change %d: lease says %+v (%v), want the new facts", i, l, err)
		}
		issue(claims(), week, now) // back to the first facts for the next case
	}
	if issue(claims(), 2*week, now.Add(time.Minute)) == issue(claims(), week, now.Add(time.Minute)) {
		t.Error("a different offline window reused the lease")
	}
	base := issue(claims(), week, now.Add(2*time.Minute))
	if issue(claims(), week, now.Add(8*time.Minute)) == base {
		t.Error("a lease over 5 minutes old was reused")
	}
	cur := issue(claims(), week, now.Add(9*time.Minute))
	if _, err := ring.Rotate(licensing.AlgEdDSA, now.Add(9*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if issue(claims(), week, now.Add(10*time.Minute)) == cur {
		t.Error("after a key rotation the lease signed by the old key was reused")
	}
}

func sameFacts(l *licensing.LeaseClaims, c licensing.LeaseClaims) bool {
	return l != nil && l.Status == c.Status && l.MaxDeployments == c.MaxDeployments && len(l.Features) == len(c.Features) &&
		l.Limits["users"] == c.Limits["users"] && (c.LicenseExpiresAt == nil) == (l.LicenseExpiresAt == nil)
}
