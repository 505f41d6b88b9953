package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nectarcloud/nls/licensing"
)

// stripe handles "portal stripe replay EVENT_ID": applies a received event
// again, typically one left needs_attention until an admin mapped its price.
// It runs the same store operation as POST /api/stripe/events/:id/replay.
func (e *cmdEnv) stripe(ctx context.Context, args []string) error {
	if len(args) != 2 || args[0] != "replay" {
		return usageErr("stripe takes replay EVENT_ID")
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
	ev, err := store.ReplayStripeEvent(ctx, licensing.SystemActor("cli"), keys, sealer, args[1], time.Now())
	if err != nil {
		if code := licensing.ErrorCode(err); code == licensing.ENOTFOUND || code == licensing.ECONFLICT {
			return &exitError{code: 1, msg: licensing.ErrorMessage(err)}
		}
		return err
	}
	fmt.Fprintf(e.stdout, "%s (%s): %s after %d attempt(s)\n", ev.ID, ev.Type, ev.Status, ev.Attempts)
	if ev.Error != "" {
		fmt.Fprintf(e.stdout, "  %s\n", ev.Error)
	}
	if ev.Status == "needs_attention" || ev.Status == "failed" {
		return &exitError{code: 1, msg: "the event still does not apply"}
	}
	return nil
}
