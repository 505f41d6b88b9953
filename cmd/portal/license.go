package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

// license handles "portal license create|show|key": issuing a license and
// reading one back from a shell, for operators scripting without an API key.
// Every change is audited with the actor "system: cli".
func (e *cmdEnv) license(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageErr("license takes create, show or key")
	}
	switch args[0] {
	case "create":
		return e.licenseCreate(ctx, args[1:])
	case "show":
		return e.licenseShow(ctx, args[1:])
	case "key":
		return e.licenseKey(ctx, args[1:])
	}
	return usageErr("license takes create, show or key")
}

// licenseCreate handles "portal license create --customer ID --plan CODE
// [--days N | --perpetual] [--max-deployments N] [--notes T]". The key is
// printed alone on the last line of stdout.
func (e *cmdEnv) licenseCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("license create", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	customer := fs.String("customer", "", "the customer's id")
	plan := fs.String("plan", "", "the plan's code")
	days := fs.Int("days", 0, "expire after this many days (default: the plan's duration)")
	perpetual := fs.Bool("perpetual", false, "never expire")
	seats := fs.Int("max-deployments", -1, "seats (default: the plan's; 0: unlimited)")
	notes := fs.String("notes", "", "a note kept on the license")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	customerID, err := uuid.Parse(*customer)
	if err != nil {
		return &exitError{code: 2, msg: "--customer must be a customer id (a UUID)"}
	}
	if *plan == "" {
		return &exitError{code: 2, msg: "--plan is required"}
	}
	if *days < 0 || (*days > 0 && *perpetual) {
		return &exitError{code: 2, msg: "give --days N (N > 0) or --perpetual, not both"}
	}
	now := time.Now().UTC()
	in := db.LicenseInput{CustomerID: customerID, Plan: *plan, Notes: *notes}
	switch {
	case *perpetual:
		var never *time.Time
		in.ExpiresAt = &never
	case *days > 0:
		at := now.AddDate(0, 0, *days)
		p := &at
		in.ExpiresAt = &p
	}
	if *seats >= 0 {
		var n *int32
		if *seats > 0 {
			v := int32(*seats)
			n = &v
		}
		in.MaxDeployments = &n
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
	licenses := app.NewLicenses(store, keys, sealer, func() time.Time { return now })
	lic, key, err := licenses.Issue(ctx, licensing.SystemActor("cli"), in)
	if err != nil {
		return cliError(err)
	}
	fmt.Fprintf(e.stdout, "issued license %s (plan %s, expires %s); its key:\n", lic.ID, *plan, orNever(lic.ExpiresAt))
	fmt.Fprintln(e.stdout, key)
	return nil
}

// licenseShow handles "portal license show ID": the license's effective
// status, entitlements and deployments.
func (e *cmdEnv) licenseShow(ctx context.Context, args []string) error {
	id, err := licenseArg(args)
	if err != nil {
		return err
	}
	store, closeFn, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	lic, err := store.GetLicense(ctx, id)
	if err != nil {
		return cliError(err)
	}
	cust, err := store.GetCustomer(ctx, lic.CustomerID)
	if err != nil {
		return cliError(err)
	}
	plan, err := store.GetPlan(ctx, lic.PlanID)
	if err != nil {
		return cliError(err)
	}
	deps, err := store.ListDeployments(ctx, id)
	if err != nil {
		return cliError(err)
	}
	now := time.Now().UTC()
	eff := lic.Effective(now)
	w := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintf(w, "license\t%s\n", lic.ID)
	fmt.Fprintf(w, "customer\t%s (%s)\n", cust.Name, cust.ID)
	fmt.Fprintf(w, "plan\t%s\n", plan.Code)
	fmt.Fprintf(w, "status\t%s\n", eff.State)
	if lic.SuspendedReason != nil && *lic.SuspendedReason != "" {
		fmt.Fprintf(w, "suspended because\t%s\n", *lic.SuspendedReason)
	}
	fmt.Fprintf(w, "expires\t%s\n", orNever(lic.ExpiresAt))
	if eff.GraceEndsAt != nil {
		fmt.Fprintf(w, "grace ends\t%s\n", eff.GraceEndsAt.UTC().Format(time.RFC3339))
	}
	if eff.DunningEndsAt != nil {
		fmt.Fprintf(w, "dunning ends\t%s\n", eff.DunningEndsAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "features\t%s\n", strings.Join(lic.Features, ", "))
	limits := db.DecodeLimits(lic.Limits)
	names := make([]string, 0, len(limits))
	for k, v := range limits {
		names = append(names, fmt.Sprintf("%s=%d", k, v))
	}
	slices.Sort(names)
	fmt.Fprintf(w, "limits\t%s\n", strings.Join(names, ", "))
	seats := "unlimited"
	if lic.MaxDeployments != nil {
		seats = fmt.Sprint(*lic.MaxDeployments)
	}
	fmt.Fprintf(w, "seats\t%s\n", seats)
	w.Flush()
	if len(deps) == 0 {
		fmt.Fprintln(e.stdout, "\nno deployments yet")
		return nil
	}
	fmt.Fprintln(e.stdout, "\ndeployments:")
	window := lic.HeartbeatWindow()
	w = tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "  ID\tSTATUS\tHOSTNAME\tVERSION\tLAST SEEN")
	for _, d := range deps {
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", d.DeploymentID, d.State(window, now), d.Hostname, d.AppVersion,
			d.LastSeenAt.UTC().Format(time.RFC3339))
	}
	return w.Flush()
}

// licenseKey handles "portal license key ID": the current key, unsealed.
// Like a reveal in the portal, it is audited.
func (e *cmdEnv) licenseKey(ctx context.Context, args []string) error {
	id, err := licenseArg(args)
	if err != nil {
		return err
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
	key, err := app.NewLicenses(store, keys, sealer, time.Now).RevealKey(ctx, licensing.SystemActor("cli"), id)
	if err != nil {
		return cliError(err)
	}
	fmt.Fprintln(e.stdout, key)
	return nil
}

func licenseArg(args []string) (uuid.UUID, error) {
	if len(args) != 1 {
		return uuid.Nil, &exitError{code: 2, msg: "give the license id"}
	}
	id, err := uuid.Parse(args[0])
	if err != nil {
		return uuid.Nil, &exitError{code: 2, msg: "the license id must be a UUID"}
	}
	return id, nil
}

// cliError turns a domain error into its message and exit code 1; anything
// unexpected stays an error with its cause.
func cliError(err error) error {
	switch licensing.ErrorCode(err) {
	case licensing.ENOTFOUND, licensing.ECONFLICT, licensing.EINVALID:
		return &exitError{code: 1, msg: licensing.ErrorMessage(err)}
	}
	return err
}

func orNever(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}
