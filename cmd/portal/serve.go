package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/web/static"
)

// serve handles "portal serve": migrate, seed a first start, listen, and on
// SIGINT/SIGTERM drain requests, close the pool and stop the managed database.
func (e *cmdEnv) serve(ctx context.Context) error {
	store, closeDB, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer closeDB()

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
	stats := db.NewValidationStats(store, e.log)
	statsCtx, stopStats := context.WithCancel(context.Background())
	statsDone := make(chan struct{})
	go func() { stats.Run(statsCtx, 10*time.Second); close(statsDone) }()
	defer func() { stopStats(); <-statsDone }()
	var limiter handlers.Limiter = handlers.NewMemoryLimiter(nil)
	if e.cfg.RedisURL != "" {
		rl, err := handlers.NewRedisLimiter(e.cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		defer rl.Close()
		limiter = rl
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if e.cfg.Seed {
		if err := e.seedIfEmpty(ctx, store, keys, sealer); err != nil {
			return fmt.Errorf("seeding demo data: %w", err)
		}
	}

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
	}, handlers.Deps{Store: store, Log: e.log, Limiter: limiter, Assets: assets, Registry: reg, Keys: keys,
		Sealer: sealer, Stats: stats, Sessions: handlers.SessionKeys(sessionSecret, e.cfg.SessionPrev)})

	ln, err := net.Listen("tcp", e.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("LISTEN_ADDR %s: %w", e.cfg.ListenAddr, err)
	}
	e.log.Info("portal listening", "addr", ln.Addr().String(), "url", e.cfg.BaseURL)
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	e.log.Info("shutting down: draining requests", "grace", e.cfg.ShutdownGrace.String())
	shutdownErr := app.ShutdownWithTimeout(e.cfg.ShutdownGrace)
	if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
		e.log.Warn("listener stopped with an error", "err", err)
	}
	if shutdownErr != nil {
		e.log.Warn("requests still running at the end of the grace period", "err", shutdownErr)
	}
	return nil
}
