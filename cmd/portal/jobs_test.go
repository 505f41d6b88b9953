package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/notify/mailtest"
)

// "portal worker" runs the jobs alone: its milestone scan on start emails the
// reminder through a real SMTP server; "portal jobs" then lists what ran.
func TestWorkerSendsRemindersAndJobsListsThem(t *testing.T) {
	mp := mailtest.Start(t)
	url := dbtest.NewURL(t)
	to := "cli-" + uuid.NewString()[:8] + "@example.test"
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", mailtest.FreePort())
	env := envOf(map[string]string{"DATABASE_URL": url, "NLS_LOG_LEVEL": "warn", "NLS_SMTP_URL": mp.SMTPURL,
		"NLS_WORKER_METRICS_ADDR": metricsAddr, "NLS_METRICS_TOKEN": "worker-metrics-token",
		"NLS_SMTP_FROM": "NLS <licenses@example.com>", "NLS_BASE_URL": "https://licenses.example.test",
		"NLS_SESSION_SECRET": "cli-test-session-secret-0123456789abcdef", "NLS_DATA_DIR": t.TempDir()})
	pool, err := db.Connect(context.Background(), url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), `
		WITH p AS (INSERT INTO plans (code, name) VALUES ('pro', 'Pro') RETURNING id),
		     c AS (INSERT INTO customers (name, email) VALUES ('CLI', $1) RETURNING id)
		INSERT INTO licenses (customer_id, plan_id, starts_at, expires_at, grace_days, offline_days, heartbeat_window_hours, dunning_days)
		SELECT c.id, p.id, now() - interval '1 year', now() + interval '5 days', 7, 30, 72, 14 FROM p, c`, to); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var wout, werr lockedBuffer
	go func() { done <- run(ctx, []string{"worker"}, env, nil, &wout, &werr) }()
	started := time.Now()
	msgs := mp.WaitFor(t, to, 1, 60*time.Second)
	t.Logf("reminder arrived after %s", time.Since(started))
	// The worker's own /metrics: behind the token, with the email it sent.
	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+metricsAddr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/metrics", ""); code != http.StatusUnauthorized || !strings.Contains(body, `"unauthorized"`) {
		t.Errorf("/metrics without the token: %d %s", code, body)
	}
	if code, body := get("/healthz", ""); code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, body)
	}
	want := `nls_deliveries_total{kind="email",outcome="delivered"} 1`
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		code, body := get("/metrics", "worker-metrics-token")
		if code == http.StatusOK && strings.Contains(body, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics with the token: %d, no %q in\n%s", code, want, body)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("worker exit %d: %s", code, werr.String())
	}
	if len(msgs) != 1 || msgs[0].Subject != "Your pro license expires in 7 days" {
		t.Fatalf("got %+v", msgs)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"jobs"}, env, nil, &out, &errOut); code != 0 {
		t.Fatalf("jobs exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"lifecycle_scan", "notification_send  completed", "Failures (newest first, at most 20): 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("portal jobs output lacks %q:\n%s", want, out.String())
		}
	}
}
