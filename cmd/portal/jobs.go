// Background jobs: their settings, starting them inside "portal serve" (or
// alone with "portal worker"), and "portal jobs", which lists the queues and
// the failures.

package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/jobs"
	"github.com/nectarcloud/nls/licensing"
)

// JobsConfig is the background jobs' part of Config.
type JobsConfig struct {
	Workers      bool          // run jobs in "portal serve"; off when "portal worker" processes do
	StaffEmails  []string      // the vendor's staff, who get the daily digest
	ReminderDays []int         // renewal reminders, days before expiry
	ScanInterval time.Duration // how often milestones are looked for
	MetricsAddr  string        // where "portal worker" serves /metrics and /healthz ("" for nowhere)
}

func readJobsConfig(r *envReader) JobsConfig {
	c := JobsConfig{
		Workers:      r.bool("NLS_WORKERS", true),
		StaffEmails:  r.list("NLS_STAFF_EMAILS"),
		ScanInterval: r.duration("NLS_LIFECYCLE_INTERVAL", 15*time.Minute),
		MetricsAddr:  r.str("NLS_WORKER_METRICS_ADDR", ""),
	}
	for _, s := range strings.Split(orDefault(r.getenv("NLS_REMINDER_DAYS"), "30,14,7,1"), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 365 {
			r.fail("NLS_REMINDER_DAYS", "days before expiry from 1 to 365, comma-separated (e.g. 30,14,7,1)", r.getenv("NLS_REMINDER_DAYS"))
			break
		}
		c.ReminderDays = append(c.ReminderDays, n)
	}
	for _, a := range c.StaffEmails {
		if !strings.Contains(a, "@") {
			r.fail("NLS_STAFF_EMAILS", "email addresses, comma-separated", a)
		}
	}
	if c.ScanInterval < time.Minute {
		r.fail("NLS_LIFECYCLE_INTERVAL", "at least 1m", c.ScanInterval.String())
	}
	return c
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// noticeSecret signs unsubscribe links; derived from the session secret so
// that every process of one installation agrees without another setting.
func noticeSecret(sessionSecret string) []byte {
	k := sha256.Sum256([]byte("nls-notice-links:" + sessionSecret))
	return k[:]
}

// newRunner builds the job runner on store; run starts its workers.
// reg takes the delivery metrics.
func (e *cmdEnv) newRunner(store *db.Store, sessionSecret string, sealer *licensing.Sealer, reg prometheus.Registerer) (*jobs.Runner, error) {
	return jobs.New(store.Pool, store, jobs.Config{Mail: e.cfg.Mail(), BaseURL: e.cfg.BaseURL,
		Secret: noticeSecret(sessionSecret), StaffEmails: e.cfg.Jobs.StaffEmails, ReminderDays: e.cfg.Jobs.ReminderDays,
		ScanInterval: e.cfg.Jobs.ScanInterval, Log: e.log, Webhooks: e.cfg.Hook.jobsConfig(), Sealer: sealer, Metrics: reg})
}

// startJobs starts the workers when they run in this process, and returns
// how to stop them (letting running jobs finish within the shutdown grace).
func (e *cmdEnv) startJobs(ctx context.Context, r *jobs.Runner) (func(), error) {
	if !e.cfg.Jobs.Workers {
		e.log.Info("background jobs run elsewhere (NLS_WORKERS=false): this process only enqueues them")
		return func() {}, nil
	}
	if err := r.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("starting background jobs: %w", err)
	}
	return func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), e.cfg.ShutdownGrace)
		defer cancel()
		if err := r.Stop(stopCtx); err != nil {
			e.log.Warn("background jobs stopped with an error", "err", err)
		}
	}, nil
}

// worker handles "portal worker": run the background jobs without serving HTTP.
func (e *cmdEnv) worker(ctx context.Context) error {
	store, closeDB, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	secret, err := e.dataSecret(e.cfg.SessionSecret, "session.key")
	if err != nil {
		return err
	}
	sealer, err := e.openSealer()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r, err := e.newRunner(store, secret, sealer, reg)
	if err != nil {
		return err
	}
	var metrics *http.Server
	if addr := e.cfg.Jobs.MetricsAddr; addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("NLS_WORKER_METRICS_ADDR: %w", err)
		}
		metrics = &http.Server{Handler: workerMetrics(reg, e.cfg.MetricsToken), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := metrics.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				e.log.Error("worker metrics server stopped", "err", err)
			}
		}()
		e.log.Info("worker serving /metrics and /healthz", "addr", ln.Addr().String())
	}
	e.cfg.Jobs.Workers = true
	stop, err := e.startJobs(ctx, r)
	if err != nil {
		return err
	}
	e.log.Info("worker running background jobs")
	<-ctx.Done()
	e.log.Info("shutting down: letting running jobs finish", "grace", e.cfg.ShutdownGrace.String())
	stop()
	if metrics != nil {
		_ = metrics.Close()
	}
	return nil
}

// workerMetrics serves the worker's Prometheus series at /metrics (behind
// the bearer token when NLS_METRICS_TOKEN is set, as portal serve's) and
// answers /healthz for liveness probes.
func workerMetrics(reg *prometheus.Registry, token string) http.Handler {
	mux := http.NewServeMux()
	series := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, req *http.Request) {
		got, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		if token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"` + licensing.EUNAUTHORIZED + `","message":"a valid metrics token is required","details":[]},"requestId":""}`))
			return
		}
		series.ServeHTTP(w, req)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	return mux
}

// jobsCmd handles "portal jobs": the queues' backlog and the recent failures.
func (e *cmdEnv) jobsCmd(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] != "list" {
		return usageErr("portal jobs takes no arguments (or: list)")
	}
	store, closeDB, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	states, err := store.JobQueueStates(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "QUEUE\tKIND\tSTATE\tJOBS")
	for _, s := range states {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", s.Queue, s.Kind, s.State, s.Jobs)
	}
	if len(states) == 0 {
		fmt.Fprintln(w, "(no jobs)\t\t\t")
	}
	_ = w.Flush()
	fails, err := store.JobFailures(ctx, 20)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nFailures (newest first, at most 20): %d\n", len(fails))
	w = tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	if len(fails) > 0 {
		fmt.Fprintln(w, "ID\tKIND\tSTATE\tATTEMPT\tAT\tARGS\tLAST ERROR")
	}
	for _, f := range fails {
		fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", f.ID, f.Kind, f.State, f.Attempt,
			f.At.UTC().Format(time.RFC3339), f.Args, strings.ReplaceAll(f.LastError, "\n", " "))
	}
	return w.Flush()
}
