// Offline license files, for installations that can never reach the license
// server (air-gapped sites). The customer downloads one from the customer
// portal for this installation's deployment id and copies it over; it
// carries a lease signed by the server — the same JWS the machine API
// answers with — wrapped in a short armor:
//
//	-----BEGIN NLS OFFLINE LICENSE-----
//	License: 6f1c2b1e-3d4a-4c55-9a8e-1b2c3d4e5f60
//	Customer: Acme Corp
//	Plan: pro
//	Deployment: site-7
//	Issued: 2026-11-28T12:00:00Z
//	Expires: 2026-12-28T12:00:00Z
//
//	eyJhbGciOiJFZERTQSIsImtpZCI6IjIwMjYxMTI4LWVkIiwidHlwIjoiSldUIn0.eyJp
//	…
//	-----END NLS OFFLINE LICENSE-----
//
// The header lines are for people and are never trusted: the client
// verifies the lease with the vendor's public keys, checks that its audience
// is this installation's deployment id, and refuses it once it expires, with
// the same clock-rollback protection as any lease.

package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nectarcloud/nls/licensing"
)

const (
	offlineBegin   = "-----BEGIN NLS OFFLINE LICENSE-----"
	offlineEnd     = "-----END NLS OFFLINE LICENSE-----"
	maxOfflineFile = 64 << 10
)

// ErrNotOfflineLicense is returned by ParseOfflineLicense for data that is
// not an offline license file.
var ErrNotOfflineLicense = errors.New("not an NLS offline license file")

// OfflineLicense is an offline license file as read, not yet verified.
type OfflineLicense struct {
	// Header holds the file's header lines by name ("License", "Customer",
	// "Plan", "Deployment", "Issued", "Expires"). They are for people:
	// nothing in them is trusted.
	Header map[string]string
	// Lease is the signed lease the file carries (a compact JWS).
	Lease string
}

// ParseOfflineLicense reads an offline license file: the armor, its header
// lines and the lease. It does not verify the lease; Verify does, and so
// does a Client given the file as Config.OfflineLicenseFile.
func ParseOfflineLicense(data []byte) (*OfflineLicense, error) {
	if len(data) > maxOfflineFile {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrNotOfflineLicense, maxOfflineFile)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxOfflineFile)
	const (
		before = iota
		header
		body
		after
	)
	state := before
	out := &OfflineLicense{Header: map[string]string{}}
	var lease strings.Builder
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch state {
		case before:
			if line == offlineBegin {
				state = header
			}
		case header:
			switch {
			case line == "":
				state = body
			case line == offlineEnd:
				return nil, fmt.Errorf("%w: it carries no lease", ErrNotOfflineLicense)
			default:
				name, value, ok := strings.Cut(line, ":")
				if !ok {
					// No blank line after the header: the lease starts here.
					state = body
					if err := addLeaseLine(&lease, line); err != nil {
						return nil, err
					}
					continue
				}
				out.Header[strings.TrimSpace(name)] = strings.TrimSpace(value)
			}
		case body:
			switch {
			case line == offlineEnd:
				state = after
			case line == "":
			default:
				if err := addLeaseLine(&lease, line); err != nil {
					return nil, err
				}
			}
		}
		if state == after {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotOfflineLicense, err)
	}
	switch {
	case state == before:
		return nil, fmt.Errorf("%w: no %q line", ErrNotOfflineLicense, offlineBegin)
	case state != after:
		return nil, fmt.Errorf("%w: no %q line (is the file cut short?)", ErrNotOfflineLicense, offlineEnd)
	case lease.Len() == 0:
		return nil, fmt.Errorf("%w: it carries no lease", ErrNotOfflineLicense)
	}
	out.Lease = lease.String()
	return out, nil
}

// addLeaseLine appends one line of the wrapped lease, which holds only the
// characters of a compact JWS (base64url and dots).
func addLeaseLine(b *strings.Builder, line string) error {
	for i := 0; i < len(line); i++ {
		c := line[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%w: unexpected %q in the lease", ErrNotOfflineLicense, c)
		}
	}
	b.WriteString(line)
	return nil
}

// Verify checks the file's lease with publicKeys (the vendor's JWKS
// document) for deploymentID at now: signed by one of those keys, issued to
// that deployment, not expired. Errors wrap the licensing.ErrLease* values
// (errors.Is tells them apart). It does not guard against a clock set back;
// a Client does.
func (o *OfflineLicense) Verify(publicKeys []byte, deploymentID string, now time.Time) (*licensing.LeaseClaims, error) {
	v, err := licensing.ParseJWKS(publicKeys)
	if err != nil {
		return nil, fmt.Errorf("public keys: %w", err)
	}
	return v.VerifyLease(o.Lease, deploymentID, now)
}

// LoadOfflineLicense verifies an offline license file for this installation
// and, when it is valid, makes the client answer from it (unless a lease it
// already holds runs longer). An app can offer it for a file uploaded while
// running; Config.OfflineLicenseFile loads one at start. It returns a
// *LicenseError (LEASE_INVALID, LEASE_EXPIRED) when the file cannot be
// used, leaving the current state as it was, and CLOCK_TAMPERED when the
// file is kept but the clock must be corrected before it applies.
func (c *Client) LoadOfflineLicense(data []byte) error {
	f, err := ParseOfflineLicense(data)
	if err != nil {
		return &LicenseError{Code: CodeLeaseInvalid, Message: err.Error()}
	}
	if c.verifier.Load() == nil {
		return &LicenseError{Code: CodeLeaseInvalid,
			Message: "no public keys to verify the offline license file with: set Config.PublicKeys"}
	}
	claims, err := c.verifyLease(nil, f.Lease)
	if err != nil {
		code := CodeLeaseInvalid
		msg := "the offline license file is not valid: " + err.Error()
		switch {
		case errors.Is(err, licensing.ErrLeaseExpired):
			code, msg = CodeLeaseExpired, "the offline license file has expired"
			if exp := f.Header["Expires"]; exp != "" {
				msg += " (on " + exp + ")"
			}
			msg += ": download a new one from the customer portal"
		case errors.Is(err, licensing.ErrLeaseWrongDeployment):
			msg = "the offline license file was issued for deployment " + fmt.Sprintf("%q", f.Header["Deployment"]) +
				", not for this installation (" + c.deploymentID + ")"
		}
		return &LicenseError{Code: code, Message: msg}
	}
	c.observe(claims.IssuedAt, false)
	s := snapshotFromLease(claims)
	s.offline = true
	s.detail = "answered from the offline license file, valid until " + claims.ExpiresAt.UTC().Format(time.RFC3339)
	c.mu.Lock()
	if old := c.snap.Load(); !old.valid || old.validUntil.Before(claims.ExpiresAt) {
		c.snap.Store(s)
	}
	c.mu.Unlock()
	// The file is kept; a clock behind a time already seen refuses it until
	// the clock is corrected, as the gates do for any lease.
	if c.now().Unix() < c.notBefore.Load() {
		return &LicenseError{Code: CodeClockTampered,
			Message: "the system clock is behind a time already seen; correct the clock"}
	}
	return nil
}

// loadOfflineFile reads Config.OfflineLicenseFile at start. A file that
// cannot be read is a configuration error; one that does not verify leaves
// the client invalid with the reason, for Start to return.
func (c *Client) loadOfflineFile() error {
	data, err := os.ReadFile(c.cfg.OfflineLicenseFile)
	if err != nil {
		return fmt.Errorf("nls client: Config.OfflineLicenseFile: %w", err)
	}
	if _, err := ParseOfflineLicense(data); err != nil {
		return fmt.Errorf("nls client: Config.OfflineLicenseFile %s: %w", c.cfg.OfflineLicenseFile, err)
	}
	if err := c.LoadOfflineLicense(data); err != nil {
		var le *LicenseError
		if errors.As(err, &le) && !c.snap.Load().valid && le.Code != CodeClockTampered {
			c.log.Warn("the offline license file is not usable", "err", err)
			c.snap.Store(invalidSnapshot(le.Code, le.Message))
		}
	}
	return nil
}

// offlineOnly reports whether the client has no server to talk to: it runs
// from its offline license file alone.
func (c *Client) offlineOnly() bool { return c.serverURL == "" }

// startOffline is Start without a server: no validation, no heartbeats, no
// usage sending (usage is snapshotted and checkpointed into the outbox). A background tick raises the
// clock high-water mark, so that a clock set back while running is caught.
func (c *Client) startOffline(ctx context.Context) error {
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	c.wg.Add(2)
	go c.flushLoop(bg) // checkpoints into the outbox; nothing is sent offline
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(c.cfg.HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-bg.Done():
				return
			case <-t.C:
				c.observe(c.now(), false)
			}
		}
	}()
	c.observe(c.now(), false)
	return c.Allow()
}
