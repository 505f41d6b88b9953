package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/telemetry"
	"github.com/nectarcloud/nls/web/static"
)

// serve handles "portal serve": migrate, seed a first start, listen, and on
// SIGINT/SIGTERM drain requests, close the pool and stop the managed database.
func (e *cmdEnv) serve(ctx context.Context) error {
	tracing, err := telemetry.Setup(ctx, e.getenv, "")
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tracing.Shutdown(sctx); err != nil {
			e.log.Warn("exporting the last spans failed", "err", err)
		}
	}()
	if tracing.Enabled() {
		e.tracer = tracing.Provider()
		e.log.Info("tracing on: spans are exported over OTLP/HTTP (OTEL_* variables)")
	}
	store, closeDB, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	if e.cfg.LeaveCPUForDB {
		// The managed PostgreSQL (DATABASE_URL unset) is on this machine.
		url := cmp.Or(e.cfg.DatabaseURL, "postgres://127.0.0.1/")
		if from, to, restore := app.LeaveCPUForDatabase(ctx, url); to < from {
			defer restore()
			e.log.Info("PostgreSQL runs on this machine: Go code runs on one CPU fewer, left to it "+
				"(NLS_LEAVE_CPU_FOR_DB=false or GOMAXPROCS to change)", "cpus", to, "of", from)
		}
	}

	assets, err := static.New()
	if err != nil {
		return err
	}
	keys, sealer, err := e.openKeys(ctx, store)
	if err != nil {
		return err
	}
	sessionSecret, err := e.dataSecret(e.cfg.SessionSecret, "session.key")
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	runner, err := e.newRunner(store, sessionSecret, sealer, reg)
	if err != nil {
		return err
	}
	blobs, localBlobs, registryKeys, err := e.openDistribution()
	if err != nil {
		return err
	}
	var devReg *devRegistry
	if e.cfg.Dist.DevRegistry != "" {
		if devReg, err = e.startDevRegistry(ctx, registryKeys); err != nil {
			return err
		}
		defer devReg.stop()
	}
	stats := db.NewValidationStats(store, e.log)
	statsCtx, stopStats := context.WithCancel(context.Background())
	statsDone := make(chan struct{})
	go func() { stats.Run(statsCtx, 10*time.Second); close(statsDone) }()
	defer func() { stopStats(); <-statsDone }()
	seen := db.NewLastSeen(store, e.log)
	seenCtx, stopSeen := context.WithCancel(context.Background())
	seenDone := make(chan struct{})
	go func() { seen.Run(seenCtx, 5*time.Second); close(seenDone) }()
	defer func() { stopSeen(); <-seenDone }()
	facts := db.NewFactsCache(store, e.log, db.FactsTTL)
	factsCtx, stopFacts := context.WithCancel(context.Background())
	factsDone := make(chan struct{})
	go func() { facts.Run(factsCtx); close(factsDone) }()
	defer func() { stopFacts(); <-factsDone }()
	var limiter handlers.Limiter = handlers.NewMemoryLimiter(nil)
	if e.cfg.RedisURL != "" {
		rl, err := handlers.NewRedisLimiter(e.cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		defer rl.Close()
		limiter = rl
	}
	if e.cfg.Seed {
		if err := e.seedIfEmpty(ctx, store, keys, sealer); err != nil {
			return fmt.Errorf("seeding demo data: %w", err)
		}
	}

	readiness := &handlers.Readiness{}
	app := handlers.New(handlers.Config{
		BodyLimit:       e.cfg.BodyLimit,
		CORSOrigins:     e.cfg.CORSOrigins,
		TrustedProxies:  e.cfg.TrustedProxies,
		SecureCookies:   e.cfg.SecureCookies,
		MetricsToken:    e.cfg.MetricsToken,
		APIRate:         e.cfg.APIRate,
		MachineRateIP:   e.cfg.MachineRateIP,
		MachineRateKey:  e.cfg.MachineRateKey,
		LoginThrottle:   e.cfg.Login,
		RequireOwner2FA: e.cfg.RequireOwner2FA,
		StripeSecrets:   e.cfg.StripeSecrets,
		StripeAPIKey:    e.cfg.StripeAPIKey,
		StripeAPIBase:   e.cfg.StripeAPIBase,
		BaseURL:         e.cfg.BaseURL,
		InviteTTL:       e.cfg.InviteTTL,
		BcryptCost:      e.cfg.BcryptCost,
		Mail:            e.cfg.Mail(),
		NoticeSecret:    noticeSecret(sessionSecret),
		ReminderDays:    e.cfg.Jobs.ReminderDays,
		Distribution:    e.cfg.distributionConfig(),
		Webhooks:        e.cfg.Hook.handlersConfig(),
	}, handlers.Deps{Store: store, Log: e.log, Limiter: limiter, Assets: assets, Registry: reg, Keys: keys,
		Sealer: sealer, Stats: stats, Seen: seen, Facts: facts, Sessions: handlers.SessionKeys(sessionSecret, e.cfg.SessionPrev),
		Tracer: e.tracer, Readiness: readiness,
		Blobs: blobs, LocalBlobs: localBlobs, RegistryKeys: registryKeys})

	stopJobs, err := e.startJobs(ctx, runner)
	if err != nil {
		return err
	}
	defer stopJobs()

	ln, err := net.Listen("tcp", e.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("LISTEN_ADDR %s: %w", e.cfg.ListenAddr, err)
	}
	e.log.Info("portal listening", "addr", ln.Addr().String(), "url", e.cfg.BaseURL)
	if devReg != nil {
		e.log.Info("registry listening", "addr", devReg.addr)
		fmt.Fprint(e.stdout, devReg.howTo())
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// Readiness turns first and the listener stays open for the drain
	// delay, so that load balancers see /readyz fail and stop sending new
	// requests before any connection is refused; then the listener closes
	// and the requests in flight get the grace period to finish.
	readiness.Drain()
	e.log.Info("shutting down: /readyz answers 503; still serving during the drain delay",
		"drain", e.cfg.ShutdownDrain.String(), "grace", e.cfg.ShutdownGrace.String())
	select {
	case <-time.After(e.cfg.ShutdownDrain):
	case err := <-served:
		return err
	}
	e.log.Info("shutting down: listener closed, finishing requests in flight")
	shutdownErr := app.ShutdownWithTimeout(e.cfg.ShutdownGrace)
	if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
		e.log.Warn("listener stopped with an error", "err", err)
	}
	if shutdownErr != nil {
		e.log.Warn("requests still running at the end of the grace period", "err", shutdownErr)
	}
	return nil
}
