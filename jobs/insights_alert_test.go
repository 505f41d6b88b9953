package jobs_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/insights"
	"github.com/nectarcloud/nls/jobs"
	"github.com/nectarcloud/nls/licensing"
)

// Staff choose which findings email them: an admin asking for critical
// attacks at once gets one email per such finding and nothing about a
// warning; an admin taking every kind in the digest finds it there; an
// admin with alerts off gets nothing; the customer is never told.
func TestFindingAlertsFollowStaffPreferences(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := e.clock.now()
	admin := func(name string, p db.FindingAlertPrefs) {
		t.Helper()
		u, err := e.store.CreateAdmin(ctx, licensing.SystemActor("test"), e.addr(name), name, "x", now)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store.SetFindingAlertPrefs(ctx, u.ID, p, now); err != nil {
			t.Fatal(err)
		}
	}
	cust := e.customer("acme")
	lic := e.license(cust, lic{expires: at(365 * dayLen)})
	r := e.runner(e.mail.SMTPURL, func(c *jobs.Config) { c.StaffEmails = nil })
	e.start(r)
	// The digest and the detectors run on start finish before anyone asks
	// for a digest, and before the findings below (which the detectors,
	// finding nothing in this database, would resolve).
	e.waitJob("staff_digest")
	e.waitJob("insights_scan")
	e.settle()
	admin("security", db.FindingAlertPrefs{Kinds: []string{"key_attack"}, MinSeverity: "critical", Delivery: "immediate"})
	admin("manager", db.FindingAlertPrefs{MinSeverity: "info", Delivery: "digest"})
	admin("quiet", db.FindingAlertPrefs{MinSeverity: "info", Delivery: "off"})
	if err := e.store.SetFindingAlertPrefs(ctx, uuid.New(), db.FindingAlertPrefs{Delivery: "loud", MinSeverity: "x"}, now); licensing.ErrorCode(err) != licensing.EINVALID {
		t.Errorf("bad preferences: %v", err)
	}

	critical := insights.Finding{Kind: insights.KindKeyAttack, Subject: "source:key:203.0.113.9", Severity: insights.SeverityCritical,
		Title: "Key forging from 203.0.113.9", Evidence: insights.Evidence{Summary: "900 failed key checks"}}
	warning := insights.Finding{Kind: insights.KindKeyAttack, Subject: "source:key:203.0.113.10", Severity: insights.SeverityWarning,
		Title: "Key forging from 203.0.113.10", Evidence: insights.Evidence{Summary: "40 failed key checks"}}
	upgrade := insights.Finding{Kind: insights.KindUpgrade, Subject: lic.String(), LicenseID: &lic, CustomerID: &cust,
		Severity: insights.SeverityInfo, Title: "Upgrade opportunity", Evidence: insights.Evidence{Summary: "full"}}
	if _, err := e.store.ApplyFindings(ctx, insights.KindKeyAttack, []insights.Finding{critical, warning}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ApplyFindings(ctx, insights.KindUpgrade, []insights.Finding{upgrade}, now); err != nil {
		t.Fatal(err)
	}
	e.settle()
	got := e.subjects(e.addr("security"))
	if want := []string{"[critical] Key forging from 203.0.113.9"}; !slices.Equal(got, want) {
		t.Fatalf("security: got %q, want %q", got, want)
	}
	m := e.mail.Get(t, e.mail.To(t, e.addr("security"))[0].ID)
	if !strings.Contains(m.Text, baseURL+"/admin/insights?kind=key_attack") || !strings.Contains(m.Text, "/admin/account#alerts") {
		t.Errorf("alert body:\n%s", m.Text)
	}
	for _, who := range []string{"manager", "quiet", "acme"} {
		if got := e.subjects(e.addr(who)); len(got) != 0 {
			t.Errorf("%s got %q at once", who, got)
		}
	}

	// The next day's digest lists the manager's findings of the last day.
	e.clock.add(24 * time.Hour)
	if err := r.RunDigestNow(ctx); err != nil {
		t.Fatal(err)
	}
	e.settle()
	digests := e.mail.To(t, e.addr("manager"))
	if len(digests) != 1 {
		t.Fatalf("manager: %d digests, want 1", len(digests))
	}
	var d struct{ Text string }
	for _, m := range digests {
		if full := e.mail.Get(t, m.ID); strings.Contains(full.Text, "New findings (24 hours): 3") {
			d.Text = full.Text
		}
	}
	if d.Text == "" {
		t.Fatalf("manager: no digest with the 3 findings among %d", len(digests))
	}
	for _, want := range []string{"Key forging from 203.0.113.9", "Key forging from 203.0.113.10", "Upgrade opportunity, Customer acme"} {
		if !strings.Contains(d.Text, want) {
			t.Errorf("digest lacks %q:\n%s", want, d.Text)
		}
	}
	if got := e.subjects(e.addr("quiet")); len(got) != 0 {
		t.Errorf("quiet got %q", got)
	}
}

// waitJob waits until a job of kind has completed.
func (e *env) waitJob(kind string) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int
		if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = $1 AND state = 'completed'`,
			kind).Scan(&n); err != nil {
			e.t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no %s job completed", kind)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
