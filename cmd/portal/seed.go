package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

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
	firstKey, err := seedDemoLicenses(ctx, store, keys, sealer, actor, now)
	if err != nil {
		return err
	}
	if err := e.seedDistribution(ctx, store, actor, now); err != nil {
		return err
	}
	if err := seedWebhooks(ctx, store, sealer, actor, now); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nSeeded demo data. Sign in to the admin portal:\n  URL:      %s/login\n  Email:    %s\n  Password: %s\n"+
		"A demo license key (enterprise plan, with the reports feature), for the machine API and cmd/example-app:\n  %s\n\n", e.cfg.BaseURL, email, password, firstKey)
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
	pro.Features = []string{"workflows", "webhooks", "sso", "audit-export", "reports"}
	pro.Limits = map[string]int64{"users": 100, "workflowExecutions": 250_000, "integrations": 25, "apiCalls": 1_000_000}
	pro.MaxDeployments, pro.DurationDays = i32(3), i32(365)
	pro.QuantitySets = strPtr(licensing.QuantitySetsUsers)
	pro.StripePriceIDs = []string{"price_demo_pro_yearly"}

	ent := licensing.DefaultPlanSpec()
	ent.Code, ent.Name = "enterprise", "Enterprise"
	ent.Description = "Unlimited deployments, air-gapped installs and priority support."
	ent.Features = []string{"workflows", "webhooks", "sso", "audit-export", "reports", "air-gapped", "ha"}
	ent.Limits = map[string]int64{"users": 5000, "integrations": 500}
	// The plan's own word for a metric, as the portals then show it.
	ent.MetricLabels = map[string]string{"users": "Named users"}
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
		{Name: "Hooli", Email: "it@hooli.example", Company: "Hooli XYZ"},
		{Name: "Vandelay Industries", Email: "art@vandelay.example", Company: "Vandelay Industries"},
		{Name: "Stark Logistics", Email: "ops@stark-logistics.example", Company: "Stark Logistics AG"},
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

// demoLicense is one seeded license: its plan, dates and standing, and how
// its installations and usage look.
type demoLicense struct {
	plan    string
	starts  time.Time
	expires *time.Time // nil: from the plan
	suspend string     // a reason: suspended
	pastDue bool       // a failed payment four days ago
	history db.DemoLicense
	offline bool // an air-gapped installation on an offline license file
	notes   string
}

// seedDemoLicenses issues one license per demo customer, in every status
// the portals show (active, near a limit, grace, past due, suspended,
// expired, not yet valid), with 90 days of usage and validations, active,
// stale and offline deployments, and two Stripe events, one of them needing
// attention. It returns the enterprise license's key.
func seedDemoLicenses(ctx context.Context, store *db.Store, keys *app.KeyService, sealer *licensing.Sealer,
	actor licensing.Actor, now time.Time) (string, error) {
	day := 24 * time.Hour
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	specs := []demoLicense{
		{plan: "enterprise", starts: now.Add(-200 * day), notes: "Enterprise customer since spring; air-gapped site in Hamburg.",
			history: db.DemoLicense{Fill: 0.45, Code: "VALID", Active: 3, Stale: 1}, offline: true},
		{plan: "pro", starts: now.Add(-120 * day), expires: at(6 * day), notes: "Close to the users limit and renewing next week: talk about an upgrade.",
			history: db.DemoLicense{Fill: 0.93, Code: "VALID", Active: 2}},
		{plan: "starter", starts: now.Add(-368 * day), expires: at(-3 * day), notes: "Expired three days ago; in its grace period.",
			history: db.DemoLicense{Fill: 0.5, Code: "GRACE_PERIOD", Active: 1}},
		{plan: "pro", starts: now.Add(-90 * day), pastDue: true, notes: "Card declined; Stripe is retrying.",
			history: db.DemoLicense{Fill: 0.6, Code: "PAYMENT_OVERDUE", Active: 2}},
		{plan: "starter", starts: now.Add(-150 * day), suspend: "Unpaid invoice INV-1042: reactivate once paid.",
			history: db.DemoLicense{Fill: 0.3, Code: "SUSPENDED", Stale: 1}},
		{plan: "pro", starts: now.Add(-430 * day), expires: at(-65 * day), notes: "Did not renew.",
			history: db.DemoLicense{Fill: 0.2, Code: "EXPIRED", Stale: 1}},
		{plan: "enterprise", starts: now.Add(14 * day), notes: "Signed; starts in two weeks.",
			history: db.DemoLicense{Code: "NOT_YET_VALID"}},
	}
	licenses := app.NewLicenses(store, keys, sealer, func() time.Time { return now })
	var firstKey string
	var history []db.DemoLicense
	offline := map[uuid.UUID]uuid.UUID{}
	for i, c := range demoCustomers() {
		spec := specs[i%len(specs)]
		cust, err := store.CreateCustomer(ctx, actor, c, now)
		if err != nil {
			return "", err
		}
		in := db.LicenseInput{CustomerID: cust.ID, Plan: spec.plan, StartsAt: &spec.starts, Notes: spec.notes}
		if spec.expires != nil {
			in.ExpiresAt = &spec.expires
		}
		l, key, err := licenses.Issue(ctx, actor, in)
		if err != nil {
			return "", err
		}
		if firstKey == "" {
			firstKey = key
		}
		if spec.pastDue {
			if _, err := licenses.Update(ctx, actor, l.ID, func(x *db.License) error {
				x.PaymentState, x.PastDueSince = string(licensing.PaymentPastDue), at(-4*day)
				return nil
			}); err != nil {
				return "", err
			}
		}
		if spec.suspend != "" {
			if _, err := licenses.Suspend(ctx, actor, l.ID, spec.suspend); err != nil {
				return "", err
			}
		}
		if spec.offline {
			offline[l.ID] = cust.ID
		}
		h := spec.history
		h.ID = l.ID
		history = append(history, h)
	}
	if err := store.SeedDemoHistory(ctx, now, 90, history); err != nil {
		return "", err
	}
	if err := seedInsightsDemo(ctx, store, licenses, actor, now); err != nil {
		return "", err
	}
	for lic, cust := range offline {
		if _, err := licenses.ActivateOffline(ctx, actor, db.OfflineActivation{CustomerID: cust, LicenseID: lic,
			DeploymentID: "hamburg-airgap-1", Hostname: "nls.hamburg.airgap"}); err != nil {
			return "", err
		}
	}
	return firstKey, seedStripeEvents(ctx, store, keys, sealer, now)
}

// seedStripeEvents records two subscription events as Stripe would send
// them: one for a price no plan sells (it needs an admin's attention), one
// for a customer unknown here.
func seedStripeEvents(ctx context.Context, store *db.Store, keys *app.KeyService, sealer *licensing.Sealer, now time.Time) error {
	for i, ev := range []struct{ id, price string }{
		{"evt_demo_unmapped_price", "price_demo_unknown_monthly"},
		{"evt_demo_pro_subscription", "price_demo_pro_yearly"},
	} {
		created := now.Add(-time.Duration(2+i) * time.Hour).Truncate(time.Second)
		obj := map[string]any{"id": "sub_demo_" + strconv.Itoa(i), "object": "subscription", "customer": "cus_demo_" + strconv.Itoa(i),
			"status": "active", "start_date": created.Unix(), "current_period_start": created.Unix(),
			"current_period_end": created.AddDate(1, 0, 0).Unix(), "items": map[string]any{"object": "list",
				"data": []any{map[string]any{"id": "si_demo_" + strconv.Itoa(i), "object": "subscription_item",
					"price": map[string]any{"id": ev.price, "object": "price"}, "quantity": 5}}}}
		rawObj, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		payload, err := json.Marshal(map[string]any{"id": ev.id, "object": "event", "api_version": "2023-10-16",
			"created": created.Unix(), "livemode": false, "type": "customer.subscription.created",
			"data": map[string]any{"object": json.RawMessage(rawObj)}})
		if err != nil {
			return err
		}
		if _, err := store.ReceiveStripeEvent(ctx, keys, sealer, db.StripeEventInput{ID: ev.id,
			Type: "customer.subscription.created", APIVersion: "2023-10-16", Created: created, Object: rawObj,
			Payload: payload}, now); err != nil {
			return err
		}
	}
	return nil
}

// insightsCase is one license of the insights demo: its customer, plan,
// the planted case and the kinds of finding the detectors must raise on it.
type insightsCase struct {
	customer, plan, planted string
	expect                  []string // kinds of finding; none for an ordinary license
}

// ordinaryInsightsLicenses is how many licenses of the insights demo carry
// only noise: the detectors should raise nothing on at least 95 % of them.
const ordinaryInsightsLicenses = 40

// insightsCases are the planted cases; the first demo license (close to
// its users limit) is an upgrade opportunity too.
var insightsCases = []insightsCase{
	{"Northwind Traders", "pro", db.CaseShared, []string{"sharing_suspected"}},
	{"Cyberdyne Systems", "pro", db.CaseCycling, []string{"seat_cycling"}},
	{"Tyrell Corporation", "pro", db.CaseForging, []string{"key_attack"}},
	{"Wayne Enterprises", "pro", db.CaseSpike, []string{"usage_anomaly"}},
	{"Soylent Foods", "starter", db.CaseUpgrade, []string{"upgrade_opportunity"}},
	{"Oscorp", "enterprise", db.CaseOverProvisioned, []string{"right_sizing"}},
	{"Massive Dynamic", "pro", db.CaseTrending, []string{"forecast"}},
	{"Wonka Industries", "pro", db.CaseChurn, []string{"churn_risk"}},
	{"Pied Piper", "pro", db.CaseSeatless, []string{"seatless_usage"}},
}

// demoPlanPrices are the demo plans' monthly list prices, in cents.
var demoPlanPrices = map[string]int64{"starter": 4_900, "pro": 29_900, "enterprise": 199_900}

// ordinaryInsightsCustomer names the n-th ordinary customer of the insights demo.
func ordinaryInsightsCustomer(n int) string { return fmt.Sprintf("Ordinary Customer %02d", n) }

// seedInsightsDemo issues the planted cases' licenses and the ordinary ones
// and writes their several months of history (db.SeedInsightsHistory).
func seedInsightsDemo(ctx context.Context, store *db.Store, licenses *app.Licenses, actor licensing.Actor, now time.Time) error {
	if err := store.SetDemoPlanPrices(ctx, demoPlanPrices, now); err != nil {
		return err
	}
	type spec struct {
		name, plan, planted string
		fill                float64
	}
	var specs []spec
	for _, c := range insightsCases {
		specs = append(specs, spec{c.customer, c.plan, c.planted, 0.5})
	}
	plans := []string{"starter", "pro", "enterprise"}
	for i := 1; i <= ordinaryInsightsLicenses; i++ {
		// Fills between 0.35 and 0.7: neither idle nor near a limit.
		specs = append(specs, spec{ordinaryInsightsCustomer(i), plans[i%3], db.CaseOrdinary, 0.35 + 0.35*float64((i*7)%10)/9})
	}
	var history []db.InsightsDemoLicense
	for i, sp := range specs {
		slug := strings.ToLower(strings.NewReplacer(" ", "-", ".", "").Replace(sp.name))
		cust, err := store.CreateCustomer(ctx, actor, db.CustomerInput{Name: sp.name, Email: "it@" + slug + ".example",
			Company: sp.name}, now)
		if err != nil {
			return err
		}
		starts := now.AddDate(0, 0, -(150 + (i*37)%180))
		in := db.LicenseInput{CustomerID: cust.ID, Plan: sp.plan, StartsAt: &starts}
		l, _, err := licenses.Issue(ctx, actor, in)
		if err != nil {
			return err
		}
		history = append(history, db.InsightsDemoLicense{ID: l.ID, Case: sp.planted, Fill: sp.fill})
	}
	return store.SeedInsightsHistory(ctx, now, history)
}
