// Package fiberclient adapts the NLS client's gates to Fiber v2 handlers:
// the same decisions and JSON refusals as the net/http middleware of
// package client.
//
//	app.Use(fiberclient.Middleware(lic))
//	app.Get("/reports", fiberclient.RequireFeature(lic, "reports"), reports)
package fiberclient

import (
	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/licensing/client"
)

// Middleware lets requests through while the license is valid; otherwise it
// answers 402 or 403 with {"error": {"code", "message"}}.
func Middleware(c *client.Client) fiber.Handler {
	return func(ctx *fiber.Ctx) error {
		if err := c.Allow(); err != nil {
			return refuse(ctx, err)
		}
		return ctx.Next()
	}
}

// RequireFeature lets requests through only while the license is valid and
// includes feature.
func RequireFeature(c *client.Client, feature string) fiber.Handler {
	return func(ctx *fiber.Ctx) error {
		if err := c.AllowFeature(feature); err != nil {
			return refuse(ctx, err)
		}
		return ctx.Next()
	}
}

// CheckUsageLimit refuses a request when current(ctx) exceeds the license's
// limit on metric (403 LIMIT_EXCEEDED).
func CheckUsageLimit(c *client.Client, metric string, current func(*fiber.Ctx) int64) fiber.Handler {
	return func(ctx *fiber.Ctx) error {
		if err := c.CheckLimit(metric, current(ctx)); err != nil {
			return refuse(ctx, err)
		}
		return ctx.Next()
	}
}

// TrackAPICalls counts every request as one apiCalls.
func TrackAPICalls(c *client.Client) fiber.Handler {
	return func(ctx *fiber.Ctx) error {
		c.Add(client.MetricAPICalls, 1)
		return ctx.Next()
	}
}

func refuse(ctx *fiber.Ctx, err error) error {
	status, body := client.Refusal(err)
	ctx.Set(fiber.HeaderCacheControl, "no-store")
	ctx.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return ctx.Status(status).Send(body)
}
