package main

// "portal insights run": the detectors once, now, in this process (what the
// hourly insights_scan job does), with the time each kind's store took.

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/nectarcloud/nls/insights"
	"github.com/nectarcloud/nls/jobs"
)

func (e *cmdEnv) insightsCmd(ctx context.Context, args []string) error {
	if len(args) != 1 || args[0] != "run" {
		return usageErr("usage: portal insights run")
	}
	store, closeDB, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	start := time.Now()
	rep, err := jobs.RunInsightsReport(ctx, store, time.Now())
	if err != nil {
		return err
	}
	changes := rep.Changes
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KIND\tOPENED\tUPDATED\tRESOLVED")
	for _, k := range insights.Kinds {
		ch := changes[k.Kind]
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\n", k.Kind, ch.Opened, ch.Updated, ch.Resolved)
	}
	_ = w.Flush()
	fmt.Fprintln(e.stdout)
	w = tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PART\tTOOK")
	for _, t := range rep.Timings {
		fmt.Fprintf(w, "%s\t%s\n", t.Part, t.Took.Round(time.Millisecond))
	}
	_ = w.Flush()
	fmt.Fprintf(e.stdout, "detectors ran in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}
