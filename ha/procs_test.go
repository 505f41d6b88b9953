// Test fixture: portal processes, Redis, HAProxy and licensed client
// installations whose every HTTP exchange is counted.

package ha_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/licensing/client"
)

func TestMain(m *testing.M) {
	code := dbtest.Main(m)
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// need finds a program the test starts, failing under CI and skipping
// elsewhere when it is missing.
func need(t *testing.T, names ...string) []string {
	t.Helper()
	var paths []string
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/lib/postgresql/15/bin"} {
				if _, serr := os.Stat(filepath.Join(dir, n)); serr == nil {
					p, err = filepath.Join(dir, n), nil
					break
				}
			}
		}
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required (apt-get install haproxy redis-server postgresql; scripts/test.sh does it)", n)
			}
			t.Skipf("%s not installed", n)
		}
		paths = append(paths, p)
	}
	return paths
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
		buildDir, buildErr = os.MkdirTemp("", "nls-ha-test-")
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

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer collects a process's output while it runs.
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

// proc is a long-running program the test started; it is killed when the
// test ends, and its output is shown if the test failed.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	done chan struct{}
	out  *syncBuffer
}

func startProc(t *testing.T, name string, env []string, out *syncBuffer, prog string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{t: t, name: name, cmd: cmd, done: make(chan struct{}), out: out}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if p.running() {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// waitExit waits for the process to end, failing after d.
func (p *proc) waitExit(d time.Duration) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.t.Fatalf("%s did not exit within %s:\n%s", p.name, d, tail(p.out.String()))
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// waitFor polls cond every 20 ms until it holds, failing after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var probe = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// status is the HTTP status of GET url, or 0 when nothing answered.
func status(url string) int {
	resp, err := probe.Get(url)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// portal is one "portal serve" process, restartable on the same address.
type portal struct {
	t    *testing.T
	name string
	bin  string
	env  []string
	addr string
	out  *syncBuffer
	p    *proc
}

func newPortal(t *testing.T, name, bin string, env []string) *portal {
	pt := &portal{t: t, name: name, bin: bin, addr: freeAddr(t), out: &syncBuffer{}}
	pt.env = append(append([]string{}, env...), "LISTEN_ADDR="+pt.addr, "NLS_DATA_DIR="+t.TempDir())
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log:\n%s", name, tail(pt.out.String()))
		}
	})
	return pt
}

func (pt *portal) url() string { return "http://" + pt.addr }

// start runs the process and waits until /readyz answers 200.
func (pt *portal) start() {
	pt.t.Helper()
	pt.p = startProc(pt.t, pt.name, pt.env, pt.out, pt.bin, "serve")
	waitFor(pt.t, 60*time.Second, pt.name+" ready", func() bool {
		if !pt.p.running() {
			pt.t.Fatalf("%s exited at start:\n%s", pt.name, tail(pt.out.String()))
		}
		return status(pt.url()+"/readyz") == http.StatusOK
	})
}

func (pt *portal) signal(sig syscall.Signal) {
	if err := pt.p.cmd.Process.Signal(sig); err != nil {
		pt.t.Fatalf("signalling %s: %v", pt.name, err)
	}
}

// cli runs a portal sub-command with the processes' environment and returns
// its last line of output.
func cli(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("portal %v: %v\n%s", args, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// api calls the management API at base with key, failing unless the answer
// has status want.
func api(t *testing.T, base, key, method, path string, body any, want int) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := probe.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: got %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// newLicense creates a plan with maxDeployments seats, a customer and a
// license on it, and returns the license's id and key.
func newLicense(t *testing.T, base, key, code string, seats int) (string, string) {
	t.Helper()
	api(t, base, key, "POST", "/api/plans", map[string]any{"code": code, "name": code, "features": []string{"core"},
		"maxDeployments": seats, "offlineDays": 30}, http.StatusCreated)
	cust := api(t, base, key, "POST", "/api/customers", map[string]any{"name": code, "email": code + "@example.com"}, http.StatusCreated)
	lic := api(t, base, key, "POST", "/api/licenses", map[string]any{"customerId": cust["id"], "plan": code}, http.StatusCreated)
	return lic["license"].(map[string]any)["id"].(string), lic["licenseKey"].(string)
}

// startRedis runs redis-server on a free port, in memory only.
func startRedis(t *testing.T, bin string) string {
	t.Helper()
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	out := &syncBuffer{}
	p := startProc(t, "redis", os.Environ(), out, bin, "--port", port, "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--protected-mode", "no")
	waitFor(t, 10*time.Second, "redis", func() bool {
		if !p.running() {
			t.Fatalf("redis-server exited:\n%s", out.String())
		}
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}

// haproxy is the load balancer in front of the portals, with a CSV stats
// page the test reads to see which servers it considers up.
type haproxy struct {
	t     *testing.T
	addr  string
	stats string
	p     *proc
}

// startHAProxy balances round-robin over the portals, checking /readyz
// every 200 ms: two failures take a server out, two successes bring it back.
// A connection refused is not retried elsewhere (retries 0), so a process
// that closes its listener while still in rotation shows up as a 503.
func startHAProxy(t *testing.T, bin string, backends []*portal) *haproxy {
	t.Helper()
	h := &haproxy{t: t, addr: freeAddr(t), stats: freeAddr(t)}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `global
  maxconn 2000
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 10s
  retries 0
frontend nls
  bind %s
  default_backend portals
frontend stats
  bind %s
  stats enable
  stats uri /stats
backend portals
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 200ms fall 2 rise 2
`, h.addr, h.stats)
	for _, b := range backends {
		fmt.Fprintf(&cfg, "  server %s %s check\n", b.name, b.addr)
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	h.p = startProc(t, "haproxy", os.Environ(), out, bin, "-db", "-f", path)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("haproxy output:\n%s", tail(out.String()))
		}
	})
	waitFor(t, 15*time.Second, "haproxy to see every portal up", func() bool {
		if !h.p.running() {
			t.Fatalf("haproxy exited:\n%s", out.String())
		}
		for _, b := range backends {
			if h.serverStatus(b.name) != "UP" {
				return false
			}
		}
		return true
	})
	return h
}

func (h *haproxy) url() string { return "http://" + h.addr }

// serverStatus is HAProxy's view of one backend server: UP, DOWN, …
func (h *haproxy) serverStatus(name string) string {
	resp, err := probe.Get("http://" + h.stats + "/stats;csv")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	r := csv.NewReader(resp.Body)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil || len(recs) == 0 {
		return ""
	}
	col := -1
	for i, h := range recs[0] {
		if strings.TrimPrefix(h, "# ") == "status" {
			col = i
		}
	}
	for _, rec := range recs[1:] {
		if len(rec) > col && col >= 0 && rec[0] == "portals" && rec[1] == name {
			return strings.Fields(rec[col] + " ")[0]
		}
	}
	return ""
}

// countingTransport counts every exchange a client makes: answered 2xx, or
// not (an error status, or no answer at all).
type countingTransport struct {
	base     http.RoundTripper
	ok, fail atomic.Int64
	mu       sync.Mutex
	errs     []string
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	switch {
	case err != nil:
		c.record(req.URL.Path + ": " + err.Error())
	case resp.StatusCode/100 != 2:
		c.record(fmt.Sprintf("%s: %d", req.URL.Path, resp.StatusCode))
	default:
		c.ok.Add(1)
	}
	return resp, err
}

func (c *countingTransport) record(s string) {
	c.fail.Add(1)
	c.mu.Lock()
	if len(c.errs) < 20 {
		c.errs = append(c.errs, time.Now().Format("15:04:05.000")+" "+s)
	}
	c.mu.Unlock()
}

// installation is one licensed app using the client package.
type installation struct {
	c  *client.Client
	tr *countingTransport
	// sent is the usage the app counted with Add: what the server must end
	// up with, once each.
	sent      atomic.Int64
	flushErrs atomic.Int64
}

func newInstallation(t *testing.T, serverURL, key string, heartbeat time.Duration) *installation {
	t.Helper()
	tr := &countingTransport{base: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 5 * time.Second}}
	c, err := client.New(client.Config{ServerURL: serverURL, LicenseKey: key, StateDir: t.TempDir(),
		HeartbeatInterval: heartbeat, FlushInterval: time.Hour, MinBackoff: 100 * time.Millisecond,
		MaxBackoff: 400 * time.Millisecond, HTTPClient: &http.Client{Transport: tr, Timeout: 10 * time.Second},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &installation{c: c, tr: tr}
}

// use counts usage and sends it, every pause, until ctx ends: what an app
// under load does. n cycles 1..7 so sums are not multiples of anything.
func (in *installation) use(ctx context.Context, pause time.Duration) {
	for i := int64(0); ctx.Err() == nil; i++ {
		n := i%7 + 1
		in.c.Add("apiCalls", n)
		in.sent.Add(n)
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := in.c.Flush(fctx); err != nil {
			in.flushErrs.Add(1)
		}
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
}

// drainOutbox sends what is left until the outbox is empty.
func (in *installation) drainOutbox(t *testing.T, d time.Duration) {
	t.Helper()
	waitFor(t, d, "the usage outbox to empty", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return in.c.Flush(ctx) == nil && in.c.Pending() == 0
	})
}
