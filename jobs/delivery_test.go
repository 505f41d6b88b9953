package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/jobs"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/notify"
	"github.com/nectarcloud/nls/notify/mailtest"
)

// notices lists the notices to addr.
func (e *env) notices(addr string) []db.Notification {
	e.t.Helper()
	ns, err := e.store.ListNotifications(context.Background(), db.NotificationFilter{Recipient: addr, Limit: 50})
	if err != nil {
		e.t.Fatal(err)
	}
	return ns
}

// waitStatus waits until the only notice to addr has status, recording the
// statuses seen on the way.
func (e *env) waitStatus(addr, status string, seen map[string]bool) db.Notification {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ns := e.notices(addr)
		if len(ns) == 1 {
			seen[ns[0].Status] = true
			if ns[0].Status == status {
				return ns[0]
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: notices %+v, want one %s", addr, ns, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSMTPDownRetriesThenFailsAndSendAgainDeliversOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.customer("down")
	e.license(c, lic{expires: at(365 * dayLen), pastDueSince: at(-dayLen)})

	// Nothing listens on this port: every attempt fails.
	reg := prometheus.NewRegistry()
	down := e.runner(fmt.Sprintf("smtp://127.0.0.1:%d", mailtest.FreePort()), func(c *jobs.Config) {
		c.StaffEmails = nil
		c.Metrics = reg
	})
	e.start(down)
	if _, err := down.RunScan(ctx); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	n := e.waitStatus(e.addr("down"), "failed", seen)
	if !seen["retrying"] {
		t.Errorf("statuses seen %v, want retrying before failed", seen)
	}
	if n.Attempts != 3 || !strings.Contains(n.LastError, "mail server") {
		t.Errorf("got %d attempts, last error %q; want 3 and the cause", n.Attempts, n.LastError)
	}
	if got := e.mail.To(t, e.addr("down")); len(got) != 0 {
		t.Fatalf("got %d emails while SMTP was down", len(got))
	}
	// Operators see it on /metrics: two attempts to retry, one failed.
	if r, f := telemetryValue(t, reg, "email", "retrying"), telemetryValue(t, reg, "email", "failed"); r != 2 || f != 1 {
		t.Errorf("nls_deliveries_total{kind=email}: retrying %v, failed %v; want 2 and 1", r, f)
	}
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := down.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}

	// SMTP back: "send again" delivers once.
	up := e.runner(e.mail.SMTPURL, func(c *jobs.Config) {
		c.StaffEmails = nil
		c.Metrics = reg
	})
	e.start(up)
	if _, err := e.store.ResendNotice(ctx, licensing.Actor{Type: "admin", Label: "test"}, n.ID, e.clock.now()); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(e.addr("down"), "sent", seen)
	e.settle()
	if got := e.subjects(e.addr("down")); !slices.Equal(got, []string{"Payment overdue for your pro license"}) {
		t.Fatalf("after send again: got %q, want the one notice", got)
	}
	if d := telemetryValue(t, reg, "email", "delivered"); d != 1 {
		t.Errorf("nls_deliveries_total{kind=email,outcome=delivered} = %v, want 1", d)
	}
}

func TestEventRecordedIfAndOnlyIfItsTransactionCommits(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.runner(e.mail.SMTPURL, func(c *jobs.Config) { c.StaffEmails = nil })
	e.start(r)
	c := e.customer("tx")
	id := e.license(c, lic{expires: at(365 * dayLen)})
	count := func(typ string) (events, jobsQueued int) {
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE type = $1 AND license_id = $2`, typ, id).Scan(&events); err != nil {
			t.Fatal(err)
		}
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM river_job j JOIN events ev ON ev.id = (j.args->>'eventId')::uuid
			WHERE j.kind = 'event_fanout' AND ev.type = $1 AND ev.license_id = $2`, typ, id).Scan(&jobsQueued); err != nil {
			t.Fatal(err)
		}
		return
	}
	actor := licensing.Actor{Type: "admin", Label: "test"}
	refuse := errors.New("refused after the change")
	_, err := e.store.ChangeLicense(ctx, actor, id, "license.suspend", func(l *db.License) error {
		l.Status = "suspended"
		return refuse
	}, e.clock.now())
	if !errors.Is(err, refuse) {
		t.Fatalf("got %v, want the refusal", err)
	}
	// A change refused by the database after the event was written rolls it back too.
	_, err = e.store.ChangeLicense(ctx, actor, id, "license.update", func(l *db.License) error {
		l.GraceDays = -1
		return nil
	}, e.clock.now())
	if licensing.ErrorCode(err) != licensing.EINVALID {
		t.Fatalf("got %v, want invalid", err)
	}
	if ev, j := count("license.suspended"); ev != 0 || j != 0 {
		t.Fatalf("rolled back: got %d events and %d jobs, want none", ev, j)
	}
	suspend := func(l *db.License) error {
		reason, source := "test", "admin"
		l.Status, l.SuspendedReason, l.SuspensionSource = "suspended", &reason, &source
		return nil
	}
	if _, err := e.store.ChangeLicense(ctx, actor, id, "license.suspend", suspend, e.clock.now()); err != nil {
		t.Fatal(err)
	}
	// license.suspended is no notice to anyone: recorded, with no fan-out
	// job to run (db/events_test covers a job rolled back with its event).
	if ev, j := count("license.suspended"); ev != 1 || j != 0 {
		t.Fatalf("committed: got %d events and %d jobs, want 1 and none", ev, j)
	}
	e.settle()
	// Nobody is emailed.
	if got := e.mail.To(t, e.addr("tx")); len(got) != 0 {
		t.Fatalf("got %d emails, want none", len(got))
	}
}

func TestUnsubscribeLinkWorksOnceRefusesTamperingAndHoldsForTheNextMilestone(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.runner(e.mail.SMTPURL, func(c *jobs.Config) { c.StaffEmails = nil })
	e.start(r)
	c := e.customer("unsub")
	e.license(c, lic{expires: at(20 * dayLen), graceDays: 7})
	if _, err := r.RunScan(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := e.mail.WaitFor(t, e.addr("unsub"), 1, 30*time.Second)
	m := e.mail.Get(t, msgs[0].ID)
	link := strings.Trim(m.Headers["List-Unsubscribe"][0], "<>")
	token := link[strings.LastIndex(link, "/")+1:]

	tampered := []byte(token)
	tampered[3] ^= 1
	if _, err := notify.ParseUnsubscribeToken(secret, string(tampered)); err == nil {
		t.Fatal("a tampered token was accepted")
	}
	if _, err := notify.ParseUnsubscribeToken([]byte("another portal's secret"), token); err == nil {
		t.Fatal("a token signed with another secret was accepted")
	}
	id, err := notify.ParseUnsubscribeToken(secret, token)
	if err != nil {
		t.Fatal(err)
	}
	addr, cat, ok, err := e.store.UseUnsubscribeLink(ctx, id, e.clock.now())
	if err != nil || !ok || addr != e.addr("unsub") || cat != notify.CategoryRenewal {
		t.Fatalf("first use: got %q %q %v %v", addr, cat, ok, err)
	}
	if _, _, ok, err := e.store.UseUnsubscribeLink(ctx, id, e.clock.now()); err != nil || ok {
		t.Fatalf("second use: got ok %v (%v), want refused", ok, err)
	}

	// The next reminder (14 days before expiry) is suppressed, not sent.
	e.clock.add(7 * dayLen)
	if n, err := r.RunScan(ctx); err != nil || n != 1 {
		t.Fatalf("scan: %d new milestones (%v), want 1", n, err)
	}
	e.settle()
	if got := e.mail.To(t, e.addr("unsub")); len(got) != 1 {
		t.Fatalf("got %d emails, want only the first", len(got))
	}
	var statuses []string
	for _, n := range e.notices(e.addr("unsub")) {
		statuses = append(statuses, n.Status)
	}
	slices.Sort(statuses)
	if !slices.Equal(statuses, []string{"sent", "suppressed"}) {
		t.Fatalf("notices %v, want one sent and one suppressed", statuses)
	}
}

// Without SMTP settings nothing is attempted: notices are kept, suppressed
// with the reason, instead of counting as failed deliveries.
func TestWithoutSMTPNoticesAreSuppressedWithTheReason(t *testing.T) {
	e := newEnv(t)
	r := e.runner("", func(c *jobs.Config) { c.StaffEmails = nil })
	e.start(r)
	c := e.customer("nosmtp")
	e.license(c, lic{expires: at(3 * dayLen), graceDays: 7})
	if _, err := r.RunScan(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.settle()
	ns := e.notices(e.addr("nosmtp"))
	if len(ns) != 1 || ns[0].Status != "suppressed" || !strings.Contains(ns[0].LastError, "NLS_SMTP_URL") {
		t.Fatalf("notices %+v, want one suppressed naming NLS_SMTP_URL", ns)
	}
}
