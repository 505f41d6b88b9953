// The Client: configuration, start-up (state dir, keys, persisted lease,
// first validation), the heartbeat loop with back-off, and how a server
// answer or a lease becomes the snapshot the gates read.

package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/licensing"
)

const userAgent = "nls-go-client/1"

// Config configures a Client. ServerURL and LicenseKey are required, unless
// OfflineLicenseFile is set; every other field has a default.
type Config struct {
	ServerURL  string // e.g. https://licenses.example.com
	LicenseKey string // NLS-...

	// OfflineLicenseFile is the path of an offline license file issued for
	// this installation in the customer portal, for sites that cannot reach
	// the server (see ParseOfflineLicense). The client starts valid from it
	// until it expires. With it, ServerURL and LicenseKey may be empty: the
	// client then never contacts a server, and PublicKeys is required.
	OfflineLicenseFile string

	// DeploymentID names this installation. Empty: a UUID generated on the
	// first start and kept in StateDir.
	DeploymentID string
	// StateDir keeps the deployment id, pinned keys, the newest lease, the
	// clock high-water mark and unsent usage. Empty: a folder under
	// os.UserConfigDir() named after the license key's hash. Give each
	// installation its own and keep it across upgrades.
	StateDir string

	// PublicKeys is a JWKS document the vendor ships with the app: the keys
	// leases must be signed by. When set, no keys are fetched unless JWKSURL
	// is set too (then an unknown kid refreshes from it).
	PublicKeys []byte
	// JWKSURL is where keys are fetched from when PublicKeys is empty
	// (default ServerURL + "/.well-known/jwks.json"). Fetched keys are pinned
	// in StateDir and refreshed when a lease names an unknown kid.
	JWKSURL string

	HeartbeatInterval time.Duration // default 15 minutes
	FlushInterval     time.Duration // usage sending; default 1 minute
	MinBackoff        time.Duration // first retry after a failure; default 2 s
	MaxBackoff        time.Duration // default min(HeartbeatInterval, 5 minutes)
	// ClockTolerance is how far the clock may run behind the newest time
	// seen before the license is refused as CLOCK_TAMPERED; default 10 min.
	ClockTolerance time.Duration

	HTTPClient *http.Client // default: a client with a 30 s timeout
	Logger     *slog.Logger // default slog.Default()
	// Now is the clock; default time.Now. Tests jump it to see leases expire.
	Now func() time.Time

	Hostname   string // sent with validations; default os.Hostname()
	AppVersion string // sent with validations

	// FingerprintSource is where the machine fingerprint sent with
	// validations is read from (see ComputeFingerprint); nil reads this
	// machine. Only HMACs keyed by the license id are sent.
	FingerprintSource *FingerprintSource
}

// Client validates a license against an NLS server, keeps the newest signed
// lease for outages, and reports usage. It is safe for concurrent use.
type Client struct {
	cfg          Config
	serverURL    string
	jwksURL      string
	fetchKeys    bool
	deploymentID string
	fingerprint  licensing.Fingerprint
	state        stateDir
	http         *http.Client
	log          *slog.Logger
	nowFn        func() time.Time

	snap      atomic.Pointer[snapshot]
	notBefore atomic.Int64 // Unix seconds: high-water mark minus tolerance
	verifier  atomic.Pointer[licensing.Verifier]

	mu           sync.Mutex // serialises answers, the high-water mark, keys
	highWater    time.Time
	savedHW      time.Time
	lastKeyFetch time.Time

	usage usageBuffer

	startOnce sync.Once
	closeOnce sync.Once
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	kick      chan struct{}
}

// New checks cfg, prepares the state directory (creating the deployment id
// on a first run) and loads what it holds. It does no network I/O: Start
// does.
func New(cfg Config) (*Client, error) {
	offline := cfg.OfflineLicenseFile != ""
	if cfg.ServerURL == "" && !offline {
		return nil, errors.New("nls client: Config.ServerURL is required (or Config.OfflineLicenseFile, for a site without access to the server)")
	}
	if cfg.LicenseKey == "" && cfg.ServerURL != "" {
		return nil, errors.New("nls client: Config.LicenseKey is required")
	}
	if cfg.ServerURL == "" && len(cfg.PublicKeys) == 0 && cfg.JWKSURL == "" && cfg.StateDir == "" {
		return nil, errors.New("nls client: Config.PublicKeys is required to verify an offline license file without a server")
	}
	key := ""
	if cfg.LicenseKey != "" {
		var err error
		if key, err = licensing.NormalizeKey(cfg.LicenseKey); err != nil {
			return nil, fmt.Errorf("nls client: Config.LicenseKey: %w", err)
		}
	}
	cfg.LicenseKey = key
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 15 * time.Minute
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = time.Minute
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 2 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = min(cfg.HeartbeatInterval, 5*time.Minute)
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.ClockTolerance <= 0 {
		cfg.ClockTolerance = 10 * time.Minute
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	if cfg.StateDir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return nil, fmt.Errorf("nls client: Config.StateDir is empty and there is no user config dir: %w", err)
		}
		name := key
		if name == "" {
			abs, _ := filepath.Abs(cfg.OfflineLicenseFile)
			name = "offline:" + abs
		}
		sum := sha256.Sum256([]byte(name))
		cfg.StateDir = filepath.Join(base, "nls-license", hex.EncodeToString(sum[:8]))
	}
	c := &Client{cfg: cfg, serverURL: strings.TrimRight(cfg.ServerURL, "/"), state: stateDir(cfg.StateDir),
		http: cfg.HTTPClient, log: cfg.Logger.With("component", "nls-client"), nowFn: cfg.Now,
		kick: make(chan struct{}, 1)}
	c.jwksURL = cfg.JWKSURL
	c.fetchKeys = len(cfg.PublicKeys) == 0 || cfg.JWKSURL != ""
	if c.jwksURL == "" {
		c.jwksURL = c.serverURL + "/.well-known/jwks.json"
		c.fetchKeys = c.fetchKeys && c.serverURL != ""
	}
	c.usage.init()
	c.usage.periodStart = cfg.Now().UTC()
	c.snap.Store(invalidSnapshot(CodeNotValidated, "the license has not been validated yet"))
	if err := c.state.init(); err != nil {
		return nil, err
	}
	if err := c.loadDeploymentID(); err != nil {
		return nil, err
	}
	if err := c.loadKeys(); err != nil {
		return nil, err
	}
	if key != "" {
		c.computeFingerprint(key)
	}
	c.highWater = c.state.lastSeen()
	c.savedHW = c.highWater
	c.setNotBefore()
	c.loadLease()
	if offline {
		if err := c.loadOfflineFile(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// DeploymentID is the id this installation validates as.
func (c *Client) DeploymentID() string { return c.deploymentID }

func (c *Client) now() time.Time { return c.nowFn() }

func (c *Client) loadDeploymentID() error {
	if c.cfg.DeploymentID != "" {
		c.deploymentID = c.cfg.DeploymentID
		return nil
	}
	b, err := c.state.read(fileDeploymentID)
	if err != nil {
		return fmt.Errorf("nls client: %w", err)
	}
	if id := strings.TrimSpace(string(b)); id != "" {
		c.deploymentID = id
		return nil
	}
	c.deploymentID = uuid.NewString()
	if err := c.state.write([]byte(c.deploymentID+"\n"), fileDeploymentID); err != nil {
		return fmt.Errorf("nls client: saving the deployment id: %w", err)
	}
	return nil
}

// loadKeys uses Config.PublicKeys, else the keys pinned in the state dir.
func (c *Client) loadKeys() error {
	doc := c.cfg.PublicKeys
	if len(doc) == 0 {
		var err error
		if doc, err = c.state.read(fileJWKS); err != nil {
			return fmt.Errorf("nls client: %w", err)
		}
	}
	if len(doc) == 0 {
		return nil // fetched by Start
	}
	v, err := licensing.ParseJWKS(doc)
	if err != nil {
		return fmt.Errorf("nls client: public keys: %w", err)
	}
	c.verifier.Store(v)
	return nil
}

// refreshKeys fetches the JWKS and pins it; at most once a minute unless
// there are no keys at all, so forged leases cannot make us hammer the server.
func (c *Client) refreshKeys(ctx context.Context) error {
	if !c.fetchKeys {
		return errors.New("no key source to refresh from")
	}
	c.mu.Lock()
	if c.verifier.Load() != nil && c.now().Sub(c.lastKeyFetch) < time.Minute {
		c.mu.Unlock()
		return errors.New("keys were refreshed less than a minute ago")
	}
	c.lastKeyFetch = c.now()
	c.mu.Unlock()
	doc, err := c.fetchJWKS(ctx)
	if err != nil {
		return err
	}
	v, err := licensing.ParseJWKS(doc)
	if err != nil {
		return fmt.Errorf("public keys from %s: %w", c.jwksURL, err)
	}
	if len(c.cfg.PublicKeys) == 0 {
		if err := c.state.write(doc, fileJWKS); err != nil {
			return err
		}
	}
	c.verifier.Store(v)
	return nil
}

// verifyLease checks a lease, refreshing the keys once on an unknown kid.
func (c *Client) verifyLease(ctx context.Context, token string) (*licensing.LeaseClaims, error) {
	v := c.verifier.Load()
	if v == nil {
		if ctx == nil || c.refreshKeys(ctx) != nil {
			return nil, errors.New("no public keys to verify the lease with")
		}
		v = c.verifier.Load()
	}
	claims, err := v.VerifyLease(token, c.deploymentID, c.now())
	if errors.Is(err, licensing.ErrLeaseUnknownKey) && ctx != nil && c.refreshKeys(ctx) == nil {
		claims, err = c.verifier.Load().VerifyLease(token, c.deploymentID, c.now())
	}
	if err == nil && claims.Fingerprint != "" && claims.Fingerprint != c.fingerprint.ID {
		// The lease was issued to this deployment on another machine: its
		// state folder was copied here.
		return nil, errLeaseOtherMachine
	}
	if err == nil && claims.MaxVersion != "" && !licensing.VersionAllowed(c.cfg.AppVersion, claims.MaxVersion) {
		// An expired license under the maintain strategy runs only the
		// versions released before its expiry.
		return nil, errLeaseVersion
	}
	return claims, err
}

// Fingerprint is the machine fingerprint this client sends (zero when none
// could be read). Only HMACs: it is safe to show.
func (c *Client) Fingerprint() licensing.Fingerprint { return c.fingerprint }

var (
	errLeaseOtherMachine = errors.New("the lease is bound to another machine (the state folder was copied)")
	errLeaseVersion      = errors.New("the license expired; this application version was released after it")
)

// computeFingerprint reads this machine's fingerprint for the key's license.
// Without one the client still runs; a license whose plan locks deployments
// to machines will then be refused by the server.
func (c *Client) computeFingerprint(key string) {
	id, err := licensing.KeySubject(key)
	if err != nil {
		return // New has checked the key's form; the server will answer for it
	}
	src := FingerprintSource{}
	if c.cfg.FingerprintSource != nil {
		src = *c.cfg.FingerprintSource
	}
	fp, err := ComputeFingerprint(id, src)
	if err != nil {
		c.log.Warn("no machine fingerprint", "err", err)
		return
	}
	c.fingerprint = fp
}

// loadLease publishes the persisted lease, if it verifies, as an offline
// snapshot.
func (c *Client) loadLease() {
	b, err := c.state.read(fileLease)
	if err != nil || len(b) == 0 || c.verifier.Load() == nil {
		return
	}
	claims, err := c.verifyLease(nil, strings.TrimSpace(string(b)))
	if err != nil {
		code := CodeLeaseInvalid
		switch {
		case errors.Is(err, licensing.ErrLeaseExpired):
			code = CodeLeaseExpired
		case errors.Is(err, errLeaseOtherMachine):
			code = licensing.CodeFingerprintMismatch
		case errors.Is(err, errLeaseVersion):
			code = licensing.CodeExpired
		}
		c.log.Warn("the saved lease is not usable", "err", err)
		c.snap.Store(invalidSnapshot(code, "the saved lease is not usable: "+err.Error()))
		return
	}
	c.observe(claims.IssuedAt, false)
	s := snapshotFromLease(claims)
	s.offline = true
	s.detail = "answered from the saved lease until the server is reached"
	c.snap.Store(s)
}

// observe raises the clock high-water mark to t (reset: set it to t, as a
// server answer does, so a corrected clock recovers) and persists it.
func (c *Client) observe(t time.Time, reset bool) {
	if t.IsZero() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if reset || t.After(c.highWater) {
		c.highWater = t
	}
	c.setNotBefore()
	if c.highWater.Sub(c.savedHW).Abs() >= time.Minute || reset {
		if err := c.state.saveLastSeen(c.highWater); err != nil {
			c.log.Warn("saving the clock mark failed", "err", err)
			return
		}
		c.savedHW = c.highWater
	}
}

func (c *Client) setNotBefore() {
	if c.highWater.IsZero() {
		c.notBefore.Store(0)
		return
	}
	c.notBefore.Store(c.highWater.Add(-c.cfg.ClockTolerance).Unix())
}

// Start validates the license, then heartbeats and sends usage in the
// background until Close. It returns nil when the license is valid, whether
// the server answered or a saved lease stands in for it. Otherwise it
// returns why (a *LicenseError, wrapping ErrUnreachable when the server was
// out of reach), but keeps trying in the background: the middleware refuses
// requests until the license becomes valid, so an app may log and go on.
func (c *Client) Start(ctx context.Context) error {
	started := false
	c.startOnce.Do(func() { started = true })
	if !started {
		return errors.New("nls client: Start called twice")
	}
	if c.offlineOnly() {
		return c.startOffline(ctx)
	}
	err := c.contact(ctx, "/api/validation/validate")
	if err != nil {
		c.log.Warn("license server unreachable at start", "err", err, "valid", c.Valid())
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	c.wg.Add(2)
	go c.heartbeatLoop(bg, err)
	go c.flushLoop(bg)
	if lerr := c.Allow(); lerr != nil {
		if err != nil {
			return fmt.Errorf("%w (%w)", lerr, err)
		}
		return lerr
	}
	return nil
}

// contact sends a validation or heartbeat and applies the answer. An error
// means no usable answer came (network, 4xx, 5xx): the current snapshot —
// from the newest lease — stays.
func (c *Client) contact(ctx context.Context, path string) error {
	if c.verifier.Load() == nil {
		if err := c.refreshKeys(ctx); err != nil {
			c.markOffline(err)
			return fmt.Errorf("fetching public keys: %w", err)
		}
	}
	var ans validationAnswer
	err := c.post(ctx, path, machineRequest{LicenseKey: c.cfg.LicenseKey, DeploymentID: c.deploymentID,
		Hostname: c.cfg.Hostname, AppVersion: c.cfg.AppVersion, Fingerprint: c.fingerprint.ID,
		FingerprintComponents: c.fingerprint.Components}, &ans)
	if err != nil {
		c.markOffline(err)
		return err
	}
	c.apply(ctx, &ans)
	return nil
}

// markOffline notes a failed contact: the snapshot keeps its lease but says
// it is offline; a client that never had a lease says the server is out of reach.
func (c *Client) markOffline(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	if old.offline || old.code == CodeUnreachable {
		return
	}
	s := *old
	s.offline = true
	if !s.valid && s.code == CodeNotValidated {
		s.code, s.detail = CodeUnreachable, "the license server could not be reached and no saved lease is usable: "+err.Error()
	}
	c.snap.Store(&s)
}

// apply turns a server answer into the snapshot. Only a valid answer with a
// lease that verifies makes the license valid: a fake server cannot sign.
func (c *Client) apply(ctx context.Context, ans *validationAnswer) {
	now := c.now()
	c.observe(ans.ServerTime, true)
	if !ans.Valid {
		s := invalidSnapshot(licensing.ValidationCode(ans.Code), ans.Detail)
		if s.code == "" {
			s.code = CodeNotValidated
		}
		if l := ans.License; l != nil {
			s.licenseID, s.plan, s.state = l.ID, l.Status, licensing.State(l.Status)
			s.expiresAt, s.graceEndsAt, s.dunningEndsAt = l.ExpiresAt, l.GraceEndsAt, l.DunningEndsAt
		}
		s.lastContact = now
		// The server has the last word: forget the lease so that a restart
		// offline cannot bring back what the server refused.
		if err := c.state.remove(fileLease); err != nil {
			c.log.Error("removing the refused lease failed", "err", err)
		}
		c.publish(s)
		return
	}
	if ans.Lease == nil {
		c.publish(&snapshot{code: CodeLeaseInvalid, detail: "the server's answer carries no lease", lastContact: now})
		return
	}
	claims, err := c.verifyLease(ctx, *ans.Lease)
	if err != nil {
		c.log.Error("the server's lease does not verify", "err", err)
		c.publish(&snapshot{code: CodeLeaseInvalid, detail: "the server's lease does not verify: " + err.Error(), lastContact: now})
		return
	}
	if err := c.state.write([]byte(*ans.Lease+"\n"), fileLease); err != nil {
		c.log.Error("saving the lease failed; offline use will rely on the previous one", "err", err)
	}
	c.observe(claims.IssuedAt, false)
	s := snapshotFromLease(claims)
	s.code, s.detail, s.lastContact = licensing.ValidationCode(ans.Code), ans.Detail, now
	if l := ans.License; l != nil {
		s.dunningEndsAt = l.DunningEndsAt
		if l.GraceEndsAt != nil {
			s.graceEndsAt = l.GraceEndsAt
		}
	}
	c.publish(s)
}

func (c *Client) publish(s *snapshot) {
	old := c.snap.Load()
	if old.valid != s.valid || old.code != s.code {
		c.log.Info("license status changed", "valid", s.valid, "code", s.code, "state", s.state)
	}
	c.snap.Store(s)
}

// heartbeatLoop heartbeats every HeartbeatInterval; after a failure it
// retries with exponential back-off and full jitter.
func (c *Client) heartbeatLoop(ctx context.Context, lastErr error) {
	defer c.wg.Done()
	failures := 0
	if lastErr != nil {
		failures = 1
	}
	for {
		wait := c.cfg.HeartbeatInterval
		if failures > 0 {
			wait = c.backoff(failures, lastErr)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-c.kick:
			t.Stop()
		}
		c.observe(c.now(), false)
		path := "/api/validation/heartbeat"
		if c.snap.Load().code == CodeNotValidated || c.snap.Load().code == CodeUnreachable {
			path = "/api/validation/validate"
		}
		if lastErr = c.contact(ctx, path); lastErr != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			c.log.Debug("heartbeat failed", "err", lastErr, "failures", failures)
		} else {
			if failures > 0 {
				c.log.Info("license server reachable again", "code", c.snap.Load().code)
			}
			failures = 0
		}
	}
}

// backoff is min(MaxBackoff, MinBackoff·2^(n-1)), jittered to between half
// and all of it, or the server's Retry-After when longer.
func (c *Client) backoff(n int, err error) time.Duration {
	d := c.cfg.MinBackoff << min(n-1, 20)
	if d <= 0 || d > c.cfg.MaxBackoff {
		d = c.cfg.MaxBackoff
	}
	d = d/2 + rand.N(d/2+1)
	var se *ServerError
	if errors.As(err, &se) && se.RetryAfter > d {
		d = se.RetryAfter
	}
	return d
}

// Refresh asks the background loop to heartbeat now (e.g. after the admin
// changed the plan). It does not wait.
func (c *Client) Refresh() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Close stops the background work and sends the usage counted so far (it is
// kept on disk and sent by the next run if the server is out of reach).
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		if c.cancel != nil {
			c.cancel()
		}
		c.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = c.Flush(ctx)
	})
	return err
}

// Deactivate releases this deployment's seat (for uninstalls): it sends the
// pending usage, tells the server, and forgets the lease. The client is
// invalid afterwards; the same deployment id stays deactivated.
func (c *Client) Deactivate(ctx context.Context) error {
	if c.offlineOnly() {
		return errors.New("nls client: deactivate: no license server configured (an offline license file cannot be deactivated)")
	}
	if err := c.Flush(ctx); err != nil {
		c.log.Warn("sending usage before deactivation failed; it stays in the outbox", "err", err)
	}
	err := c.post(ctx, "/api/validation/deactivate", machineRequest{LicenseKey: c.cfg.LicenseKey,
		DeploymentID: c.deploymentID}, nil)
	if err != nil {
		return fmt.Errorf("nls client: deactivate: %w", err)
	}
	if err := c.state.remove(fileLease); err != nil {
		return fmt.Errorf("nls client: removing the lease: %w", err)
	}
	c.publish(&snapshot{code: CodeDeactivated, detail: "this deployment was deactivated", lastContact: c.now()})
	return nil
}
