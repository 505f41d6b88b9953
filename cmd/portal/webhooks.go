// Outbound webhooks' settings (NLS_WEBHOOK_*), read once here and handed to
// the endpoint routes (which check URLs when they are saved) and to the job
// runner (which delivers).

package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/jobs"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/webhooks"
)

// WebhooksConfig is the webhooks' part of Config.
type WebhooksConfig struct {
	AllowPrivate  bool              // NLS_WEBHOOK_ALLOW_PRIVATE: loopback and private targets, plain http
	Timeout       time.Duration     // NLS_WEBHOOK_TIMEOUT: per attempt
	SecretOverlap time.Duration     // NLS_WEBHOOK_SECRET_OVERLAP: a rotated secret keeps signing this long
	DisableAfter  time.Duration     // NLS_WEBHOOK_DISABLE_AFTER: failing this long disables an endpoint
	Workers       int               // NLS_WEBHOOK_WORKERS: concurrent deliveries per process
	Schedule      webhooks.Schedule // NLS_WEBHOOK_RETRY_SCHEDULE: delays between attempts
}

func loadWebhooksConfig(r *envReader) WebhooksConfig {
	c := WebhooksConfig{
		AllowPrivate:  r.bool("NLS_WEBHOOK_ALLOW_PRIVATE", false),
		Timeout:       r.duration("NLS_WEBHOOK_TIMEOUT", webhooks.DefaultTimeout),
		SecretOverlap: r.duration("NLS_WEBHOOK_SECRET_OVERLAP", 24*time.Hour),
		DisableAfter:  r.duration("NLS_WEBHOOK_DISABLE_AFTER", jobs.DefaultDisableAfter),
		Workers:       r.int("NLS_WEBHOOK_WORKERS", 16, 1, 1000),
		Schedule:      webhooks.DefaultSchedule,
	}
	if c.Timeout < 100*time.Millisecond || c.Timeout > 5*time.Minute {
		r.fail("NLS_WEBHOOK_TIMEOUT", "from 100ms to 5m", c.Timeout.String())
	}
	if c.SecretOverlap < time.Minute {
		r.fail("NLS_WEBHOOK_SECRET_OVERLAP", "at least 1m (receivers need time to take the new secret)", c.SecretOverlap.String())
	}
	if c.DisableAfter < time.Minute {
		r.fail("NLS_WEBHOOK_DISABLE_AFTER", "at least 1m", c.DisableAfter.String())
	}
	if raw := strings.TrimSpace(r.getenv("NLS_WEBHOOK_RETRY_SCHEDULE")); raw != "" {
		var s webhooks.Schedule
		for _, part := range strings.Split(raw, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(part))
			if err != nil || d <= 0 {
				r.fail("NLS_WEBHOOK_RETRY_SCHEDULE", "positive durations, comma-separated (e.g. 5s,5m,30m)", raw)
				break
			}
			s = append(s, d)
		}
		if len(s) > 50 {
			r.fail("NLS_WEBHOOK_RETRY_SCHEDULE", "at most 50 retries", raw)
		}
		c.Schedule = s
	}
	return c
}

func (c WebhooksConfig) guard() webhooks.Guard { return webhooks.Guard{AllowPrivate: c.AllowPrivate} }

// handlersConfig is what the endpoint routes take.
func (c WebhooksConfig) handlersConfig() handlers.WebhooksConfig {
	return handlers.WebhooksConfig{Guard: c.guard(), SecretOverlap: c.SecretOverlap}
}

// jobsConfig is what the delivery jobs take.
func (c WebhooksConfig) jobsConfig() jobs.WebhookConfig {
	return jobs.WebhookConfig{Guard: c.guard(), Timeout: c.Timeout, Schedule: c.Schedule, DisableAfter: c.DisableAfter,
		Workers: c.Workers}
}

// openSealer is the sealer of secrets at rest alone, for processes that
// sign no keys ("portal worker" opens webhook secrets with it).
func (e *cmdEnv) openSealer() (*licensing.Sealer, error) {
	sealKey, err := e.dataSecret(e.cfg.SealKey, "seal.key")
	if err != nil {
		return nil, err
	}
	s, err := licensing.NewSealer(sealKey)
	if err != nil {
		return nil, fmt.Errorf("NLS_SEAL_KEY: %w", err)
	}
	return s, nil
}

// demoWebhookURL is the seeded endpoint's address: nothing listens there,
// and the endpoint is seeded disabled, so the demo sends nothing anywhere.
const demoWebhookURL = "https://hooks.example.com/nls"

// seedWebhooks adds a disabled demo endpoint with a delivery history.
func seedWebhooks(ctx context.Context, store *db.Store, sealer *licensing.Sealer, actor licensing.Actor, now time.Time) error {
	id := uuid.New()
	secret, err := webhooks.NewSecret()
	if err != nil {
		return err
	}
	sealed, err := sealer.Seal([]byte(secret), id[:])
	if err != nil {
		return err
	}
	if _, err := store.CreateWebhookEndpoint(ctx, actor, id, db.WebhookEndpointInput{URL: demoWebhookURL,
		Description: "Demo: the CRM sync (disabled; edit the URL and enable it)", Events: []string{"*"}}, sealed, now); err != nil {
		return err
	}
	return store.SeedDemoWebhookHistory(ctx, id,
		"demo endpoint: point it at your receiver (NLS_WEBHOOK_ALLOW_PRIVATE=true for a local one) and enable it", now)
}
