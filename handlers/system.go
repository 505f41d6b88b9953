package handlers

import (
	"context"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

func (s *Server) registerSystemRoutes(app *fiber.App) {
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Get("/.well-known/jwks.json", s.jwks)
	app.Get("/metrics", s.metricsAuth, adaptor.HTTPHandler(promhttp.HandlerFor(s.registry(), promhttp.HandlerOpts{})))
}

func (s *Server) registry() prometheus.Gatherer { return s.gatherer }

// healthz handles GET /healthz: the process is alive and serving.
func (s *Server) healthz(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz handles GET /readyz: the database answers, so requests can succeed.
func (s *Server) readyz(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	if s.readiness.Draining() {
		return licensing.Errorf(licensing.EUNAVAILABLE, "shutting down")
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.store.Pool.Ping(ctx); err != nil {
		// The error handler logs the outage once, however often this is probed.
		return &licensing.Error{Code: licensing.EUNAVAILABLE, Message: "database unreachable",
			Err: fmt.Errorf("%w: %w", db.ErrUnreachable, err)}
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// metricsAuth guards GET /metrics with a bearer token when one is configured.
func (s *Server) metricsAuth(c *fiber.Ctx) error {
	if s.cfg.MetricsToken == "" {
		return c.Next()
	}
	got := bearerToken(c)
	if subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.MetricsToken)) != 1 {
		return licensing.Errorf(licensing.EUNAUTHORIZED, "a valid metrics token is required")
	}
	return c.Next()
}
