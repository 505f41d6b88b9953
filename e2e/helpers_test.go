// Package e2e drives the real portal binary: a browser flow through the admin
// portal (e2e_test.go) and page latencies over a large data set
// (bench_test.go). This file starts the portal and the browser they share.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/nectarcloud/nls/db/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

const (
	adminEmail    = "admin@e2e.example"
	adminPassword = "e2e-password-0123456789"
)

// repoRoot is the module's root folder: go test runs in e2e/.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		tb.Fatalf("no go.mod in %s: %v", dir, err)
	}
	return dir
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// portalBinary builds cmd/portal once per test binary into tmp/portal, so
// the tests run the same program operators run.
func portalBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		root := repoRoot(tb)
		buildPath = filepath.Join(root, "tmp", "portal")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/portal")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/portal: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return buildPath
}

// portal is one running `portal serve` over its own database and data dir.
type portal struct {
	URL     string
	env     []string
	bin     string
	stderr  *syncBuffer
	cmd     *exec.Cmd
	stopped chan struct{}
}

// newPortal prepares a portal over the database at dbURL without starting
// it, so that a test can run sub-commands (seed, admin create) first.
func newPortal(tb testing.TB, dbURL string) *portal {
	tb.Helper()
	addr := freeAddr(tb)
	p := &portal{URL: "http://" + addr, bin: portalBinary(tb), stderr: &syncBuffer{}}
	p.env = append(os.Environ(),
		"DATABASE_URL="+dbURL,
		"NLS_DATA_DIR="+tb.TempDir(),
		"NLS_SEED=false",
		"LISTEN_ADDR="+addr,
		"NLS_BASE_URL="+p.URL,
		"NLS_BCRYPT_COST=4",
		"NLS_LOG_LEVEL=warn",
		"NLS_LOG_FORMAT=text",
		"NLS_SHUTDOWN_DRAIN=0s", // no load balancer to notice readiness: stop at once
	)
	return p
}

// startPortal is newPortal, an admin, and the server running.
func startPortal(tb testing.TB) *portal {
	tb.Helper()
	p := newPortal(tb, dbtest.NewURL(tb))
	p.createAdmin(tb)
	p.serve(tb)
	return p
}

// run runs a sub-command to its end and returns its stdout; each line is
// also passed to progress when it is not nil.
func (p *portal) run(tb testing.TB, stdin string, progress func(string), args ...string) string {
	tb.Helper()
	cmd := exec.Command(p.bin, args...)
	cmd.Env = p.env
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("portal %s: %v", strings.Join(args, " "), err)
	}
	var all strings.Builder
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		all.WriteString(sc.Text() + "\n")
		if progress != nil {
			progress(sc.Text())
		}
	}
	if err := cmd.Wait(); err != nil {
		tb.Fatalf("portal %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, all.String(), stderr.String())
	}
	return all.String()
}

func (p *portal) createAdmin(tb testing.TB) {
	tb.Helper()
	p.run(tb, adminPassword+"\n", nil, "admin", "create", "--email", adminEmail)
}

// apiKey creates a management API key with the admin scope.
func (p *portal) apiKey(tb testing.TB) string {
	tb.Helper()
	out := strings.TrimSpace(p.run(tb, "", nil, "apikey", "create", "--name", "e2e", "--scopes", "admin"))
	lines := strings.Split(out, "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// serve starts `portal serve`, waits for /readyz, and stops it with SIGTERM
// when the test ends.
func (p *portal) serve(tb testing.TB) {
	tb.Helper()
	p.cmd = exec.Command(p.bin, "serve")
	p.cmd.Env = p.env
	p.cmd.Stdout = p.stderr
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("portal serve: %v", err)
	}
	p.stopped = make(chan struct{})
	var waitErr error
	go func() { waitErr = p.cmd.Wait(); close(p.stopped) }()
	tb.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.stopped:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.stopped
			tb.Errorf("portal serve did not stop within 20s of SIGTERM")
		}
		if waitErr != nil {
			tb.Errorf("portal serve exited with %v\n%s", waitErr, p.stderr.String())
		} else if tb.Failed() && p.stderr.Len() > 0 {
			tb.Logf("portal serve output:\n%s", p.stderr.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.stopped:
			tb.Fatalf("portal serve exited before it was ready: %v\n%s", waitErr, p.stderr.String())
		default:
		}
		res, err := http.Get(p.URL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("portal serve not ready after 60s (last: %v)\n%s", err, p.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freeAddr is a loopback address with a port nobody listens on right now.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// chromiumPath finds the browser: Debian's chromium first, as scripts/test.sh
// installs it.
func chromiumPath() (string, error) {
	var errs []error
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		p, err := exec.LookPath(name)
		if err == nil {
			return p, nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
}

// requireChromium returns the browser's path. Without one the test fails
// when CI is set (CI must run the browser tests) and is skipped otherwise.
func requireChromium(tb testing.TB) string {
	tb.Helper()
	p, err := chromiumPath()
	if err != nil {
		msg := "Chromium is required for the browser tests (scripts/test.sh installs it as root: apt-get install -y chromium): " + err.Error()
		if os.Getenv("CI") != "" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return p
}

// newBrowser starts a headless Chromium with a fresh profile and returns a
// tab's context; fn, when set, sees every event of the tab from its start.
func newBrowser(t *testing.T, fn func(ev any)) context.Context {
	t.Helper()
	exe := requireChromium(t)
	profile := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	var copts []chromedp.ContextOption
	if fn != nil {
		copts = append(copts, chromedp.WithListener(fn))
	}
	ctx, cancelTab := chromedp.NewContext(actx, copts...)
	// Cleanups run last-in first-out: the browser exits before its profile
	// folder is removed.
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium %s: %v", exe, err)
	}
	return ctx
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// signIn returns an HTTP client signed in as the admin through the login
// form, as a browser without JavaScript would.
func signIn(tb testing.TB, base string) *http.Client {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 60 * time.Second}
	res, err := c.Get(base + "/login")
	if err != nil {
		tb.Fatalf("GET /login: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfInput.FindSubmatch(body)
	if m == nil {
		tb.Fatalf("GET /login: no csrf_token field in the form (status %d)", res.StatusCode)
	}
	form := url.Values{"email": {adminEmail}, "password": {adminPassword}, "csrf_token": {string(m[1])}}
	res, err = c.PostForm(base+"/login", form)
	if err != nil {
		tb.Fatalf("POST /login: %v", err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/admin" {
		tb.Fatalf("POST /login: got %d at %s, want 200 at /admin", res.StatusCode, res.Request.URL.Path)
	}
	return c
}

// screenshotDir is where the browser tests save their screenshots (a test
// artifact, not committed).
func screenshotDir(t *testing.T) string {
	t.Helper()
	shots := filepath.Join(repoRoot(t), "test-artifacts", "screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return shots
}

// newFlow opens a browser tab for a test of p that lasts at most timeout:
// it accepts every confirmation dialog (hx-confirm), as a person clicking
// OK would, collects console errors and reports CSP violations to them.
func newFlow(t *testing.T, p *portal, shots string, timeout time.Duration) *flow {
	t.Helper()
	console := &consoleLog{}
	var tab atomic.Pointer[context.Context]
	ctx := newBrowser(t, func(ev any) {
		console.listen(ev)
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			if c := tab.Load(); c != nil {
				go func() {
					_, _ = chromedp.Call(*c, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
				}()
			}
		}
	})
	ctx, cancel := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancel)
	tab.Store(&ctx)
	f := &flow{t: t, ctx: ctx, portal: p, console: console, shots: shots}
	f.do("install the CSP reporter", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspReporter})
		return err
	}))
	return f
}
