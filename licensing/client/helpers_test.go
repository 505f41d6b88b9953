// Helpers shared by examples, benchmarks and tests that need no server: a
// license key and a lease signed by an in-memory keyring, written into a
// state dir the way a previous run would have left it.

package client_test

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/licensing/client"
)

// offlineState writes a lease for deployment "dep-1" (plan pro, feature
// reports, users limit 10, valid 30 days) into dir and returns the Config
// that loads it, with an unreachable server.
func offlineState(tb testing.TB, dir string) client.Config {
	tb.Helper()
	cfg, err := offlineConfig(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

func offlineConfig(dir string) (client.Config, error) {
	now := time.Now()
	kr := licensing.NewKeyring()
	if _, err := kr.Rotate(licensing.AlgEdDSA, now); err != nil {
		return client.Config{}, err
	}
	const licenseID = "6f1c2b1e-3d4a-4c55-9a8e-1b2c3d4e5f60"
	key, err := kr.IssueKey(licensing.KeyClaims{LicenseID: licenseID, KeyID: "6f1c2b1e-3d4a-4c55-9a8e-1b2c3d4e5f61",
		Plan: "pro", StartsAt: now.Add(-time.Hour)}, now)
	if err != nil {
		return client.Config{}, err
	}
	lease, _, err := kr.IssueLease(licensing.LeaseClaims{LicenseID: licenseID, DeploymentID: "dep-1",
		Status: licensing.StateActive, Code: licensing.CodeValid, Plan: "pro", Features: []string{"reports"},
		Limits: map[string]int64{"users": 10}}, 30*24*time.Hour, now)
	if err != nil {
		return client.Config{}, err
	}
	jwks, err := kr.JWKS()
	if err != nil {
		return client.Config{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, "lease.jwt"), []byte(lease), 0o600); err != nil {
		return client.Config{}, err
	}
	return client.Config{ServerURL: "http://127.0.0.1:1", LicenseKey: key, DeploymentID: "dep-1",
		StateDir: dir, PublicKeys: jwks, Logger: quietLogger()}, nil
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func mustNew(tb testing.TB, cfg client.Config) *client.Client {
	tb.Helper()
	c, err := client.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}
