package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/licensing"
)

// seedIfEmpty fills a database that has no users yet with demo data (an
// admin, three plans, a few customers and licenses) and says how to sign in.
func (e *cmdEnv) seedIfEmpty(ctx context.Context, store *db.Store, keys *handlers.KeyService, sealer *licensing.Sealer) error {
	n, err := store.Q.CountUsers(ctx)
	if err != nil {
		return db.Translate(err)
	}
	if n > 0 {
		return nil
	}
	actor := licensing.SystemActor("seed")
	now := time.Now()
	buf := make([]byte, 12)
	if _, err := rand.Read(buf); err != nil {
		return err
	}
	password := base64.RawURLEncoding.EncodeToString(buf)
	hash, err := handlers.HashPassword(password, e.cfg.BcryptCost)
	if err != nil {
		return err
	}
	const email = "admin@example.com"
	if _, err := store.CreateAdmin(ctx, actor, email, "Demo Admin", hash, now); err != nil {
		return err
	}
	for _, spec := range demoPlans() {
		if _, err := store.CreatePlan(ctx, actor, spec, now); err != nil {
			return err
		}
	}
	plans := []string{"enterprise", "pro", "starter", "pro"}
	var firstKey string
	for i, c := range demoCustomers() {
		cust, err := store.CreateCustomer(ctx, actor, c, now)
		if err != nil {
			return err
		}
		_, key, err := store.CreateLicense(ctx, actor, keys, sealer, db.LicenseInput{CustomerID: cust.ID, Plan: plans[i],
			Notes: "demo license"}, now)
		if err != nil {
			return err
		}
		if firstKey == "" {
			firstKey = key
		}
	}
	fmt.Fprintf(e.stdout, "\nSeeded demo data. Sign in to the admin portal:\n  URL:      %s/login\n  Email:    %s\n  Password: %s\n"+
		"A demo license key (enterprise plan), for the machine API:\n  %s\n\n", e.cfg.BaseURL, email, password, firstKey)
	return nil
}

func i32(n int32) *int32 { return &n }

func demoPlans() []licensing.PlanSpec {
	starter := licensing.DefaultPlanSpec()
	starter.Code, starter.Name = "starter", "Starter"
	starter.Description = "For small teams getting started."
	starter.Features = []string{"workflows", "webhooks"}
	starter.Limits = map[string]int64{"users": 10, "workflowExecutions": 10_000, "integrations": 3}
	starter.MaxDeployments, starter.DurationDays = i32(1), i32(365)

	pro := licensing.DefaultPlanSpec()
	pro.Code, pro.Name = "pro", "Pro"
	pro.Description = "For growing teams that automate at scale."
	pro.Features = []string{"workflows", "webhooks", "sso", "audit-export"}
	pro.Limits = map[string]int64{"users": 100, "workflowExecutions": 250_000, "integrations": 25, "apiCalls": 1_000_000}
	pro.MaxDeployments, pro.DurationDays = i32(3), i32(365)
	pro.QuantitySets = strPtr(licensing.QuantitySetsUsers)

	ent := licensing.DefaultPlanSpec()
	ent.Code, ent.Name = "enterprise", "Enterprise"
	ent.Description = "Unlimited deployments, air-gapped installs and priority support."
	ent.Features = []string{"workflows", "webhooks", "sso", "audit-export", "air-gapped", "ha"}
	ent.Limits = map[string]int64{"users": 5000, "integrations": 500}
	ent.MaxDeployments, ent.DurationDays = i32(20), i32(365)
	ent.GraceDays, ent.OfflineDays = 30, 90
	ent.QuantitySets = strPtr(licensing.QuantitySetsDeployments)
	return []licensing.PlanSpec{starter, pro, ent}
}

func strPtr(s string) *string { return &s }

func demoCustomers() []db.CustomerInput {
	return []db.CustomerInput{
		{Name: "Acme Robotics", Email: "it@acme-robotics.example", Company: "Acme Robotics GmbH"},
		{Name: "Globex", Email: "platform@globex.example", Company: "Globex Corporation"},
		{Name: "Initech", Email: "ops@initech.example", Company: "Initech LLC"},
		{Name: "Umbrella Labs", Email: "admin@umbrella.example", Company: "Umbrella Labs Inc."},
	}
}
