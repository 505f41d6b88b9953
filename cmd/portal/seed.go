package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"time"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/auth"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

// seedIfEmpty fills a database that has no users yet with demo data (an
// admin, three plans, a few customers and licenses) and says how to sign in.
func (e *cmdEnv) seedIfEmpty(ctx context.Context, store *db.Store, keys *app.KeyService, sealer *licensing.Sealer) error {
	n, err := store.CountUsers(ctx)
	if err != nil {
		return err
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
	hash, err := auth.HashPassword(password, e.cfg.BcryptCost)
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
	licenses := app.NewLicenses(store, keys, sealer, func() time.Time { return now })
	for i, c := range demoCustomers() {
		cust, err := store.CreateCustomer(ctx, actor, c, now)
		if err != nil {
			return err
		}
		in := db.LicenseInput{CustomerID: cust.ID, Plan: plans[i], Notes: "demo license"}
		if left, ok := demoExpiries[i]; ok {
			// Renewal reminders and a grace notice to look at (in a local
			// mailpit when NLS_SMTP_URL points at one).
			start, exp := now.AddDate(-1, 0, 0), now.Add(left)
			expP := &exp
			in.StartsAt, in.ExpiresAt = &start, &expP
		}
		_, key, err := licenses.Issue(ctx, actor, in)
		if err != nil {
			return err
		}
		if firstKey == "" {
			firstKey = key
		}
	}
	if err := e.seedDistribution(ctx, store, actor, now); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nSeeded demo data. Sign in to the admin portal:\n  URL:      %s/login\n  Email:    %s\n  Password: %s\n"+
		"A demo license key (enterprise plan), for the machine API:\n  %s\n\n", e.cfg.BaseURL, email, password, firstKey)
	return nil
}

// demoExpiries makes some demo licenses expire soon or lately, by customer index.
var demoExpiries = map[int]time.Duration{2: 6 * 24 * time.Hour, 3: -2 * 24 * time.Hour}

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
		{Name: "Globex", Email: "platform@globex.example", Company: "Globex Corporation",
			BillingEmail: strPtr("billing@globex.example"), TechnicalEmail: strPtr("sre@globex.example")},
		{Name: "Initech", Email: "ops@initech.example", Company: "Initech LLC"},
		{Name: "Umbrella Labs", Email: "admin@umbrella.example", Company: "Umbrella Labs Inc."},
	}
}

// seedCmd handles "portal seed": the demo data on an empty database, or with
// --licenses a large data set for load tests (e.g. --customers 20000
// --licenses 100000 --usage-days 30 gives about 9 million usage rows).
func (e *cmdEnv) seedCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	customers := fs.Int("customers", 0, "customers to add (large seed)")
	licenses := fs.Int("licenses", 0, "licenses to add (large seed); 0: the demo data, if the database is empty")
	usageDays := fs.Int("usage-days", 30, "days of daily usage per license (large seed)")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	store, closeFn, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	keys, sealer, err := e.openKeys(ctx, store)
	if err != nil {
		return err
	}
	if err := e.seedIfEmpty(ctx, store, keys, sealer); err != nil {
		return err
	}
	if *licenses <= 0 {
		return nil
	}
	if *customers <= 0 {
		*customers = max(1, *licenses/5)
	}
	start := time.Now()
	err = db.BulkSeed{Customers: *customers, Licenses: *licenses, UsageDays: *usageDays,
		Plans: []string{"starter", "pro", "enterprise"}}.Run(ctx, store, keys, sealer, time.Now(),
		func(step string) {
			fmt.Fprintf(e.stdout, "seeding %s (%s)\n", step, time.Since(start).Round(time.Second))
		})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "seeded %d customers and %d licenses in %s\n", *customers, *licenses, time.Since(start).Round(time.Second))
	return nil
}
