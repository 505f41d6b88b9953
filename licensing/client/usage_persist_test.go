// The crash-loss bound of usage: what was recorded reaches the state dir
// within about a second, and a pending batch a crashed run left is sent
// under the ids it would have had, so it is counted once.

package client_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nectarcloud/nls/licensing/client"
)

type pendingFile struct {
	ID      string           `json:"id"`
	Metrics map[string]int64 `json:"metrics"`
}

func readPending(t *testing.T, dir string) (pendingFile, bool) {
	t.Helper()
	var p pendingFile
	b, err := os.ReadFile(filepath.Join(dir, "usage-pending.json"))
	if os.IsNotExist(err) {
		return p, false
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("usage-pending.json: %v\n%s", err, b)
	}
	return p, true
}

// copyDir copies the state dir as a crash would leave it for the next run.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
	return to
}

func outboxReports(t *testing.T, dir string) map[string]map[string]int64 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.json"))
	out := map[string]map[string]int64{}
	for _, f := range files {
		var r pendingFile
		b, _ := os.ReadFile(f)
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		out[r.ID] = r.Metrics
	}
	return out
}

func TestUsageReachesDiskWithinASecond(t *testing.T) {
	dir := t.TempDir()
	c := mustNew(t, offlineState(t, dir)) // its server is unreachable
	_ = c.Start(context.Background())
	t.Cleanup(func() { _ = c.Close() })

	recorded := time.Now()
	for range 20 {
		c.RecordWorkflowExecution()
	}
	c.Set(client.MetricUsers, 9)
	c.Set(client.MetricUsers, 3)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p, ok := readPending(t, dir); ok && p.Metrics["workflowExecutions"] == 20 {
			if p.Metrics["users"] != 9 {
				t.Errorf("users: got %d, want the peak 9", p.Metrics["users"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the recorded usage did not reach usage-pending.json")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The loop writes every persistInterval (a second); how long the write
	// itself takes depends on the disk (fsync), so the time is reported, and
	// the ten-second deadline above is the failure.
	t.Logf("usage reached the disk %v after it was recorded", time.Since(recorded))

	// More usage joins the same pending batch, under the same id.
	first, _ := readPending(t, dir)
	c.RecordWorkflowExecution()
	eventuallyPending(t, dir, func(p pendingFile) bool { return p.Metrics["workflowExecutions"] == 21 })
	if p, _ := readPending(t, dir); p.ID != first.ID {
		t.Errorf("pending id changed from %s to %s before a checkpoint", first.ID, p.ID)
	}

	// A crash now: the next run turns the pending batch into an outbox
	// report with the same id, and a crash between writing that report and
	// removing the pending file gives the same report again.
	// Usage the next run records goes into a batch of its own: the server
	// may already have counted the crashed run's batch under its id.
	crashed := copyDir(t, dir)
	next := mustNew(t, offlineState(t, crashed))
	next.Add(client.MetricAPICalls, 2)
	if err := next.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	got := outboxReports(t, crashed)
	if len(got) != 2 || len(got[first.ID]) != 2 || got[first.ID]["workflowExecutions"] != 21 || got[first.ID]["users"] != 9 {
		t.Fatalf("outbox after the crash: got %v, want report %s with 21 workflowExecutions and users 9 only, and another", got, first.ID)
	}
	for id, m := range got {
		if id != first.ID && (len(m) != 1 || m["apiCalls"] != 2) {
			t.Errorf("the next run's report: got %v, want apiCalls 2 only", m)
		}
	}
	if _, ok := readPending(t, crashed); ok {
		t.Error("usage-pending.json is still there after the checkpoint")
	}
	again := copyDir(t, dir) // the pending file and the report cut from it, both on disk
	report, err := os.ReadFile(filepath.Join(crashed, "outbox", first.ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(again, "outbox", first.ID+".json"), report, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := mustNew(t, offlineState(t, again)).Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if got := outboxReports(t, again); len(got) != 1 || got[first.ID]["workflowExecutions"] != 21 {
		t.Errorf("outbox after a crash mid-checkpoint: got %v, want the same single report", got)
	}

	// Shutting down is lossless: usage recorded just before Close is in the
	// outbox (the server is unreachable) and nothing is left pending.
	c.Add(client.MetricAPICalls, 5)
	_ = c.Close()
	total := map[string]int64{}
	for _, m := range outboxReports(t, dir) {
		for k, v := range m {
			total[k] += v
		}
	}
	if total["apiCalls"] != 5 || total["workflowExecutions"] != 21 {
		t.Errorf("outbox after Close: got %v, want apiCalls 5 and workflowExecutions 21", total)
	}
	if _, ok := readPending(t, dir); ok {
		t.Error("usage-pending.json is still there after Close")
	}
}

func eventuallyPending(t *testing.T, dir string, cond func(pendingFile) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p, ok := readPending(t, dir); ok && cond(p) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for usage-pending.json")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
