package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/licensing"
)

// user handles "portal user invite --customer ID|EMAIL --email E [--name N]":
// invites one of a customer's people, as the customer's admin page does.
// The link is printed alone on the last line of stdout, and emailed too when
// NLS_SMTP_URL is set; a failure to email is reported on stderr and does
// not undo the invitation. Audited with the actor "system: cli".
func (e *cmdEnv) user(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "invite" {
		return usageErr("user takes invite")
	}
	fs := flag.NewFlagSet("user invite", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	customer := fs.String("customer", "", "the customer's id, or its contact email")
	email := fs.String("email", "", "the email address of the person to invite")
	name := fs.String("name", "", "their name")
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	*customer = strings.TrimSpace(*customer)
	if *customer == "" {
		return &exitError{code: 2, msg: "--customer is required: the customer's id or contact email"}
	}
	if !licensing.ValidEmail(strings.TrimSpace(*email)) {
		return &exitError{code: 2, msg: "--email must be an email address"}
	}
	store, closeFn, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	cu, err := findCustomer(ctx, store, *customer)
	if err != nil {
		return err
	}
	inv, link, err := app.NewInvitations(store, e.cfg.BaseURL, e.cfg.BcryptCost, time.Now).Invite(ctx,
		licensing.SystemActor("cli"), db.InviteInput{CustomerID: cu.ID, Email: *email, Name: *name, TTL: e.cfg.InviteTTL})
	if err != nil {
		if c := licensing.ErrorCode(err); c == licensing.EINVALID || c == licensing.ECONFLICT {
			return &exitError{code: 1, msg: licensing.ErrorMessage(err)}
		}
		return err
	}
	mail := e.cfg.Mail()
	switch {
	case !mail.Enabled():
		fmt.Fprintln(e.stderr, "not emailed: NLS_SMTP_URL is not set; send the link yourself")
	default:
		if err := handlers.SendInvitation(ctx, mail, inv, cu.Name, link); err != nil {
			fmt.Fprintf(e.stderr, "warning: the email could not be sent (%v); the link works all the same: send it yourself\n", err)
		} else {
			fmt.Fprintf(e.stdout, "emailed the link to %s\n", inv.User.Email)
		}
	}
	verb := "invited"
	if inv.Replaced {
		verb = "invited again (the previous link no longer works)"
	}
	fmt.Fprintf(e.stdout, "%s %s to %s; the link works once, until %s:\n", verb, inv.User.Email, cu.Name,
		inv.ExpiresAt.UTC().Format(time.RFC3339))
	fmt.Fprintln(e.stdout, link)
	return nil
}

// findCustomer takes a customer id, or a contact email that names exactly
// one customer that is not archived.
func findCustomer(ctx context.Context, store *db.Store, ref string) (db.Customer, error) {
	if id, err := uuid.Parse(ref); err == nil {
		cu, err := store.GetCustomer(ctx, id)
		if licensing.ErrorCode(err) == licensing.ENOTFOUND {
			return cu, &exitError{code: 1, msg: "no customer has the id " + ref}
		}
		return cu, err
	}
	if !licensing.ValidEmail(ref) {
		return db.Customer{}, &exitError{code: 2, msg: "--customer must be a customer id (a UUID) or a customer's contact email"}
	}
	list, err := store.ListCustomersByEmail(ctx, ref)
	if err != nil {
		return db.Customer{}, err
	}
	switch len(list) {
	case 0:
		return db.Customer{}, &exitError{code: 1, msg: "no customer has the contact email " + ref}
	case 1:
		return list[0], nil
	}
	ids := make([]string, len(list))
	for i, c := range list {
		ids[i] = c.ID.String() + " (" + c.Name + ")"
	}
	return db.Customer{}, &exitError{code: 1, msg: "several customers have the contact email " + ref +
		"; give the customer's id instead: " + strings.Join(ids, ", ")}
}
