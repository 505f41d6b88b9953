// Test fixture: the real portal process on a fresh PostgreSQL database, and
// the management API calls that set up plans, customers and licenses.

package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nectarcloud/nls/db/dbtest"
)

func TestMain(m *testing.M) {
	code := dbtest.Main(m)
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildDir  string
	portalBin string
	buildErr  error
)

// portalBinary builds cmd/portal once per test binary.
func portalBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "nls-client-test-")
		if buildErr != nil {
			return
		}
		portalBin = filepath.Join(buildDir, "portal")
		out, err := exec.Command("go", "build", "-o", portalBin, "github.com/nectarcloud/nls/cmd/portal").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building the portal: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return portalBin
}

// portal is one portal process (restartable on the same port and database).
type portal struct {
	t        *testing.T
	bin      string
	env      []string
	addr     string
	URL      string
	adminKey string
	cmd      *exec.Cmd
	done     chan struct{}
	logs     *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startPortal creates a database, an admin API key, and starts the portal.
func startPortal(t *testing.T) *portal {
	t.Helper()
	dbURL := dbtest.NewURL(t)
	bin := portalBinary(t)
	p := &portal{t: t, bin: bin, addr: freeAddr(t), logs: &syncBuffer{}}
	p.URL = "http://" + p.addr
	p.env = append(os.Environ(), "DATABASE_URL="+dbURL, "NLS_DATA_DIR="+t.TempDir(), "NLS_SEED=false",
		"NLS_LOG_LEVEL=warn", "NLS_BCRYPT_COST=4", "LISTEN_ADDR="+p.addr, "NLS_RATE_API=off",
		"NLS_RATE_MACHINE_IP=off", "NLS_RATE_MACHINE_LICENSE=off", "NLS_BASE_URL="+p.URL, "NLS_SHUTDOWN_TIMEOUT=2s",
		"NLS_SHUTDOWN_DRAIN=0s") // no load balancer to notice readiness: stop at once
	cmd := exec.Command(bin, "apikey", "create", "--name", "t", "--scopes", "admin")
	cmd.Env = p.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("apikey create: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	p.adminKey = strings.TrimSpace(lines[len(lines)-1])
	p.start()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("portal logs:\n%s", p.logs.String())
		}
	})
	return p
}

// start runs "portal serve" and waits until /readyz answers 200.
func (p *portal) start() {
	p.t.Helper()
	cmd := exec.Command(p.bin, "serve")
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(p.done)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			p.t.Fatalf("the portal exited at start:\n%s", p.logs.String())
		default:
		}
		resp, err := http.Get(p.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("the portal was not ready within 60 s:\n%s", p.logs.String())
}

// stop ends the portal with SIGTERM (SIGKILL after 20 s).
func (p *portal) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

// api calls the management API and decodes the answer, failing unless the
// status is want.
func (p *portal) api(method, path string, body any, want int) map[string]any {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, p.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+p.adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		p.t.Fatalf("%s %s: got %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// jwks fetches the portal's public keys.
func (p *portal) jwks() []byte {
	p.t.Helper()
	resp, err := http.Get(p.URL + "/.well-known/jwks.json")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

type license struct{ ID, Key string }

// newLicense creates a plan (features, limits, offline days), a customer and
// a license on that plan.
func (p *portal) newLicense(features []string, limits map[string]int64, offlineDays int) license {
	p.t.Helper()
	code := fmt.Sprintf("plan-%d", time.Now().UnixNano())
	p.api("POST", "/api/plans", map[string]any{"code": code, "name": "Plan " + code, "features": features,
		"limits": limits, "maxDeployments": 5, "offlineDays": offlineDays}, http.StatusCreated)
	cust := p.api("POST", "/api/customers", map[string]any{"name": "Acme", "email": "ops@acme.test"}, http.StatusCreated)
	lic := p.api("POST", "/api/licenses", map[string]any{"customerId": cust["id"], "plan": code}, http.StatusCreated)
	return license{ID: lic["license"].(map[string]any)["id"].(string), Key: lic["licenseKey"].(string)}
}

// usageTotal sums the analytics points of metric for the license around today.
func (p *portal) usageTotal(licenseID, metric string) int64 {
	p.t.Helper()
	today := time.Now().UTC()
	q := fmt.Sprintf("/api/usage/analytics?licenseId=%s&metric=%s&from=%s&to=%s", licenseID, metric,
		today.AddDate(0, 0, -1).Format("2006-01-02"), today.AddDate(0, 0, 1).Format("2006-01-02"))
	ans := p.api("GET", q, nil, http.StatusOK)
	var total int64
	series, _ := ans["series"].([]any)
	for _, s := range series {
		sm := s.(map[string]any)
		if sm["metric"] != metric {
			continue
		}
		for _, pt := range sm["points"].([]any) {
			total += int64(pt.(map[string]any)["value"].(float64))
		}
	}
	return total
}
