package handlers_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/jobs"
	"github.com/nectarcloud/nls/notify"
	"github.com/nectarcloud/nls/notify/mailtest"
)

// SMTP down: the admin page shows the reminder retrying, then failed; SMTP
// back: "Send again" on the page delivers it, once.
func TestAdminPageShowsRetryingThenFailedAndSendAgainDeliversOnce(t *testing.T) {
	mp := mailtest.Start(t)
	pe := newPortalEnv(t, withNoticeSecret)
	createAdmin(t, pe.testEnv, adminEmail, adminPassword)
	admin := signIn(t, pe.testEnv, adminEmail, adminPassword)
	addr := "down-" + uuid.NewString()[:8] + "@example.test"
	r := pe.do("POST", "/api/customers", pe.admin, map[string]any{"name": "Down Corp", "email": addr})
	if r.Status != 201 {
		t.Fatal(string(r.Body))
	}
	lic, _ := pe.issue(map[string]any{"plan": "pro", "customerId": r.JSON(t)["id"]})
	pe.exec(`UPDATE licenses SET expires_at = now() + interval '5 days' WHERE id = '` + lic + `'`)

	runner := func(smtpURL string) *jobs.Runner {
		jr, err := jobs.New(pe.store.Pool, pe.store, jobs.Config{Mail: notify.MailConfig{URL: smtpURL,
			From: "NLS <licenses@nls.test>", Timeout: 5 * time.Second}, BaseURL: "https://licenses.example.test",
			Secret: noticeSecret, MaxAttempts: 3, RetryDelay: 100 * time.Millisecond, ScanInterval: time.Hour,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := jr.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return jr
	}
	stop := func(jr *jobs.Runner) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = jr.Stop(ctx)
	}
	list := "/admin/notifications?recipient=" + addr
	waitFor := func(status string, seen map[string]bool) string {
		deadline := time.Now().Add(60 * time.Second)
		for {
			p := admin.get(list)
			wantStatus(t, p, http.StatusOK)
			row := p.Doc.Find(`[data-testid=notification-row]`)
			if row.Length() == 1 {
				seen[row.AttrOr("data-status", "")] = true
				if row.AttrOr("data-status", "") == status {
					return row.AttrOr("data-id", "")
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s notice on the page after 60s (seen %v)", status, seen)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	down := runner(fmt.Sprintf("smtp://127.0.0.1:%d", mailtest.FreePort()))
	seen := map[string]bool{}
	id := waitFor("failed", seen)
	stop(down)
	if !seen["retrying"] {
		t.Errorf("the page showed %v, want retrying before failed", seen)
	}
	if got := mp.To(t, addr); len(got) != 0 {
		t.Fatalf("%d emails arrived while SMTP was down", len(got))
	}

	up := runner(mp.SMTPURL)
	defer stop(up)
	wantStatus(t, admin.post("/admin/notifications/"+id+"/resend", nil), http.StatusSeeOther)
	waitFor("sent", seen)
	msgs := mp.WaitFor(t, addr, 1, 30*time.Second)
	// Nothing left to run: a second delivery would have been made by now.
	for deadline := time.Now().Add(30 * time.Second); ; {
		var pending int
		if err := pe.store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job
			WHERE state IN ('available', 'running', 'retryable', 'scheduled', 'pending')`).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs still pending", pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if msgs = mp.To(t, addr); len(msgs) != 1 || msgs[0].Subject != "Your pro license expires in 7 days" {
		t.Fatalf("got %+v, want the one reminder", msgs)
	}
}
