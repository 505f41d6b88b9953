package main

// The registry "make run" brings up: with NLS_DEV_REGISTRY naming a CNCF
// Distribution binary, serve runs it as a child process that trusts this
// portal's registry tokens, so that on one machine an admin can push an
// image and a customer can log in and pull it with a license key, the way
// the managed PostgreSQL gives a first start a database. Production runs
// its own registry configured with "portal registry config".

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/licensing"
)

// devRegistry is the running child registry.
type devRegistry struct {
	cmd  *exec.Cmd
	addr string
	log  string // its log file
	done chan struct{}
}

// startDevRegistry writes the registry's config and JWKS under
// $NLS_DATA_DIR/registry, starts it and waits until it answers with a token
// challenge naming this portal. Images stay in the data dir across restarts.
func (e *cmdEnv) startDevRegistry(ctx context.Context, ring *licensing.Keyring) (*devRegistry, error) {
	bin, addr := e.cfg.Dist.DevRegistry, e.cfg.Dist.DevRegistryAddr
	dir, err := filepath.Abs(filepath.Join(e.cfg.DataDir, "registry"))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "storage"), 0o700); err != nil {
		return nil, err
	}
	// Written on every start: a key added by "portal registry rotate" is
	// trusted from the next start on.
	jwks, err := ring.JWKS()
	if err != nil {
		return nil, err
	}
	jwksPath := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksPath, jwks, 0o600); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf("# Written by portal serve (NLS_DEV_REGISTRY) on every start.\nversion: 0.1\nlog:\n  level: warn\n"+
		"storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n%s",
		filepath.Join(dir, "storage"), addr,
		handlers.RegistryAuthSection(e.cfg.BaseURL, e.cfg.Dist.RegistryService, e.cfg.Dist.RegistryIssuer, jwksPath))
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "registry.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("NLS_DEV_REGISTRY %s: %w", bin, err)
	}
	r := &devRegistry{cmd: cmd, addr: addr, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(r.done) }()
	if err := r.waitReady(ctx, 30*time.Second); err != nil {
		r.stop()
		return nil, fmt.Errorf("NLS_DEV_REGISTRY: %w (its log: %s)", err, logPath)
	}
	return r, nil
}

// waitReady polls /v2/ until the registry answers 401 with a challenge
// whose realm is this portal's token endpoint.
func (r *devRegistry) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		select {
		case <-r.done:
			return errors.New("the registry exited at start (is the address " + r.addr + " in use?)")
		default:
		}
		res, err := client.Get("http://" + r.addr + "/v2/")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusUnauthorized && strings.Contains(res.Header.Get("Www-Authenticate"), "/api/registry/token") {
				return nil
			}
			err = fmt.Errorf("GET /v2/ answered %d, want 401 with a token challenge", res.StatusCode)
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("the registry at %s was not ready within %s: %v", r.addr, limit, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends the registry: SIGTERM-like Interrupt where the platform has it,
// then a kill after a few seconds.
func (r *devRegistry) stop() {
	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		_ = r.cmd.Process.Kill()
	}
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

// howTo is what the startup output says about the registry: its address
// and the commands of the image workflow against it.
func (r *devRegistry) howTo() string {
	return fmt.Sprintf(`
Container registry (CNCF Distribution, NLS_DEV_REGISTRY) at %[1]s, trusting this portal's tokens; its log: %[2]s
  Push (an API key with the registry:push scope):
    portal apikey create --name ci --scopes registry:push
    crane auth login %[1]s -u ci -p "$NLS_API_KEY"
    crane push image.tar %[1]s/acme/server:1.0.0
  Pull as a customer, with a license key as the password:
    docker login %[1]s -u customer -p "$NLS_LICENSE_KEY"     # or: crane auth login
    docker pull %[1]s/acme/server:1.0.0                     # or: crane pull %[1]s/acme/server:1.0.0 image.tar

`, r.addr, r.log)
}
