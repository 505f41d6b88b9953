// The example app (cmd/example-app) killed with SIGKILL: usage it recorded
// two seconds before, while the license server was down, arrives after a
// restart, exactly once.

package client_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	exampleOnce sync.Once
	exampleBin  string
	exampleErr  error
)

// exampleAppBinary builds cmd/example-app once per test binary.
func exampleAppBinary(t *testing.T) string {
	t.Helper()
	portalBinary(t) // creates buildDir
	exampleOnce.Do(func() {
		exampleBin = filepath.Join(buildDir, "example-app")
		out, err := exec.Command("go", "build", "-o", exampleBin, "github.com/nectarcloud/nls/cmd/example-app").CombinedOutput()
		if err != nil {
			exampleErr = err
			exampleBin = string(out)
		}
	})
	if exampleErr != nil {
		t.Fatalf("building the example app: %v\n%s", exampleErr, exampleBin)
	}
	return exampleBin
}

// exampleApp is one run of the example app.
type exampleApp struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	done chan struct{}
}

func startExampleApp(t *testing.T, p *portal, lic license, dir string) *exampleApp {
	t.Helper()
	addr := freeAddr(t)
	a := &exampleApp{t: t, url: "http://" + addr, logs: &syncBuffer{}, done: make(chan struct{})}
	a.cmd = exec.Command(exampleAppBinary(t))
	a.cmd.Env = append(os.Environ(), "NLS_SERVER_URL="+p.URL, "NLS_LICENSE_KEY="+lic.Key, "NLS_STATE_DIR="+dir,
		"LISTEN_ADDR="+addr)
	a.cmd.Stdout, a.cmd.Stderr = a.logs, a.logs
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = a.cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		_ = a.cmd.Process.Kill()
		<-a.done
		if t.Failed() {
			t.Logf("example-app logs:\n%s", a.logs.String())
		}
	})
	eventually(t, "the example app to listen", func() bool {
		resp, err := http.Get(a.url + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return a
}

// runWorkflows posts n workflow runs, each of which must be accepted.
func (a *exampleApp) runWorkflows(n int) {
	a.t.Helper()
	for range n {
		resp, err := http.Post(a.url+"/workflows/run", "application/json", nil)
		if err != nil {
			a.t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			a.t.Fatalf("POST /workflows/run: got %d, want 202", resp.StatusCode)
		}
	}
}

func (a *exampleApp) signal(sig syscall.Signal) {
	a.t.Helper()
	if err := a.cmd.Process.Signal(sig); err != nil {
		a.t.Fatal(err)
	}
	select {
	case <-a.done:
	case <-time.After(30 * time.Second):
		a.t.Fatalf("the example app did not stop on %v", sig)
	}
}

func TestExampleAppKilledLosesNothing(t *testing.T) {
	p := startPortal(t)
	lic := p.newLicense(nil, nil, 30)
	dir := t.TempDir()

	app := startExampleApp(t, p, lic, dir)
	app.runWorkflows(30)
	p.stop()
	app.runWorkflows(20) // on the saved lease
	// The operator's scenario: killed two seconds after the last run. What
	// the test then checks is on disk and on the server, not the timing.
	time.Sleep(2 * time.Second)
	app.signal(syscall.SIGKILL)
	pending, err := os.ReadFile(filepath.Join(dir, "usage-pending.json"))
	var batch struct{ Metrics map[string]int64 }
	if err == nil {
		err = json.Unmarshal(pending, &batch)
	}
	if err != nil || batch.Metrics["workflowExecutions"] < 20 {
		t.Errorf("pending usage after the crash: got %s (%v), want at least the 20 runs of the outage", pending, err)
	}

	// Restarted with the server back, then stopped cleanly: all 50 arrive.
	p.start()
	again := startExampleApp(t, p, lic, dir)
	again.signal(syscall.SIGTERM)
	if got := p.usageTotal(lic.ID, "workflowExecutions"); got != 50 {
		t.Fatalf("workflowExecutions after the restart: got %d, want 50", got)
	}

	// The same pending batch found again (killed mid-checkpoint): same id,
	// counted once.
	if err := os.WriteFile(filepath.Join(dir, "usage-pending.json"), pending, 0o600); err != nil {
		t.Fatal(err)
	}
	third := startExampleApp(t, p, lic, dir)
	third.signal(syscall.SIGTERM)
	if got := p.usageTotal(lic.ID, "workflowExecutions"); got != 50 {
		t.Errorf("workflowExecutions after the pending batch was sent again: got %d, want 50", got)
	}
}
