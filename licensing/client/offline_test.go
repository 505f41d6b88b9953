package client_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/licensing/client"
)

// offlineKit is a vendor keyring and what an offline license file needs.
type offlineKit struct {
	ring *licensing.Keyring
	jwks []byte
}

func newOfflineKit(tb testing.TB) offlineKit {
	tb.Helper()
	k, err := makeOfflineKit()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func makeOfflineKit() (offlineKit, error) {
	kr := licensing.NewKeyring()
	if _, err := kr.Rotate(licensing.AlgEdDSA, time.Now().Add(-time.Hour)); err != nil {
		return offlineKit{}, err
	}
	jwks, err := kr.JWKS()
	return offlineKit{ring: kr, jwks: jwks}, err
}

// file signs a lease for deployment, valid for window from issued, and arms
// it as the customer portal does.
func (k offlineKit) file(tb testing.TB, deployment string, issued time.Time, window time.Duration) []byte {
	tb.Helper()
	f, err := k.makeFile(deployment, issued, window)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func (k offlineKit) makeFile(deployment string, issued time.Time, window time.Duration) ([]byte, error) {
	lease, exp, err := k.ring.IssueLease(licensing.LeaseClaims{LicenseID: "6f1c2b1e-3d4a-4c55-9a8e-1b2c3d4e5f60",
		DeploymentID: deployment, Status: licensing.StateActive, Code: licensing.CodeValid, Plan: "pro",
		Features: []string{"reports"}, Limits: map[string]int64{"users": 10}}, window, issued)
	if err != nil {
		return nil, err
	}
	return armorFile([][2]string{{"License", "6f1c2b1e-3d4a-4c55-9a8e-1b2c3d4e5f60"}, {"Customer", "Acme"},
		{"Plan", "pro"}, {"Deployment", deployment}, {"Issued", issued.UTC().Format(time.RFC3339)},
		{"Expires", exp.UTC().Format(time.RFC3339)}}, lease), nil
}

func armorFile(headers [][2]string, lease string) []byte {
	var b strings.Builder
	b.WriteString("-----BEGIN NLS OFFLINE LICENSE-----\n")
	for _, h := range headers {
		b.WriteString(h[0] + ": " + h[1] + "\n")
	}
	b.WriteString("\n")
	for len(lease) > 64 {
		b.WriteString(lease[:64] + "\n")
		lease = lease[64:]
	}
	b.WriteString(lease + "\n-----END NLS OFFLINE LICENSE-----\n")
	return []byte(b.String())
}

// airGapped is the Config of an installation with no server at all.
func (k offlineKit) airGapped(tb testing.TB, file []byte, deployment string) client.Config {
	tb.Helper()
	dir := tb.TempDir()
	path := filepath.Join(dir, "offline-license.txt")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		tb.Fatal(err)
	}
	return client.Config{OfflineLicenseFile: path, DeploymentID: deployment, PublicKeys: k.jwks,
		StateDir: filepath.Join(dir, "state"), Logger: quietLogger()}
}

func TestParseOfflineLicense(t *testing.T) {
	k := newOfflineKit(t)
	good := k.file(t, "site-7", time.Now(), 24*time.Hour)
	f, err := client.ParseOfflineLicense(good)
	if err != nil {
		t.Fatal(err)
	}
	if f.Header["Deployment"] != "site-7" || f.Header["Customer"] != "Acme" || strings.Count(f.Lease, ".") != 2 {
		t.Fatalf("got header %v lease %q", f.Header, f.Lease)
	}
	lines := strings.Split(string(good), "\n")
	tests := []struct {
		name string
		data string
		ok   bool
	}{
		{"as issued", string(good), true},
		{"windows line endings", strings.ReplaceAll(string(good), "\n", "\r\n"), true},
		{"text around the armor", "Copy this file to the server.\n\n" + string(good) + "\n-- \nsupport\n", true},
		{"no blank line after the header", strings.Replace(string(good), "\n\n", "\n", 1), true},
		{"no header", "-----BEGIN NLS OFFLINE LICENSE-----\n" + f.Lease + "\n-----END NLS OFFLINE LICENSE-----\n", true},
		{"empty", "", false},
		{"a lease alone", f.Lease, false},
		{"cut short", strings.Join(lines[:len(lines)-3], "\n"), false},
		{"no lease", "-----BEGIN NLS OFFLINE LICENSE-----\nLicense: x\n\n-----END NLS OFFLINE LICENSE-----\n", false},
		{"a foreign character", strings.Replace(string(good), lines[8], lines[8][:10]+"!"+lines[8][11:], 1), false},
		{"too large", string(good) + strings.Repeat("x", 70<<10), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := client.ParseOfflineLicense([]byte(tc.data))
			if tc.ok {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				if got.Lease != f.Lease {
					t.Fatalf("got lease %q, want %q", got.Lease, f.Lease)
				}
				return
			}
			if !errors.Is(err, client.ErrNotOfflineLicense) {
				t.Fatalf("got error %v, want ErrNotOfflineLicense", err)
			}
		})
	}
}

func TestOfflineLicenseFileStartsAnAirGappedClient(t *testing.T) {
	k := newOfflineKit(t)
	now := time.Now()
	cfg := k.airGapped(t, k.file(t, "site-7", now, 30*24*time.Hour), "site-7")
	lic := mustNew(t, cfg)
	if err := lic.Start(context.Background()); err != nil {
		t.Fatalf("Start: got %v, want nil", err)
	}
	defer lic.Close()
	st := lic.Status()
	if !st.Valid || st.Code != licensing.CodeValid || st.Plan != "pro" || !st.Offline {
		t.Fatalf("got %+v, want valid, VALID, pro, offline", st)
	}
	if !lic.HasFeature("reports") || lic.HasFeature("sso") {
		t.Errorf("features: got reports=%v sso=%v, want true false", lic.HasFeature("reports"), lic.HasFeature("sso"))
	}
	if err := lic.CheckLimit("users", 11); err == nil {
		t.Error("CheckLimit(users, 11): got nil, want a LimitError")
	}
	if want := now.Add(30 * 24 * time.Hour).Truncate(time.Second); !st.LeaseExpiresAt.Equal(want) {
		t.Errorf("lease expires %v, want %v", st.LeaseExpiresAt, want)
	}
	// Usage is kept on disk: there is no server to send it to.
	lic.Add("apiCalls", 5)
	if err := lic.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if n := lic.Pending(); n != 1 {
		t.Errorf("pending batches got %d, want 1", n)
	}
	if err := lic.Deactivate(context.Background()); err == nil {
		t.Error("Deactivate without a server: got nil, want an error")
	}
}

func TestOfflineLicenseFileRefusals(t *testing.T) {
	k := newOfflineKit(t)
	other := newOfflineKit(t)
	now := time.Now()
	good := k.file(t, "site-7", now, 24*time.Hour)
	f, _ := client.ParseOfflineLicense(good)
	// Change one character of the lease's payload (the middle part).
	parts := strings.Split(f.Lease, ".")
	payload := []byte(parts[1])
	payload[10] ^= 0x01
	if payload[10] == '.' || payload[10] == '\n' {
		payload[10] = 'A'
	}
	edited := armorFile([][2]string{{"Deployment", "site-7"}}, parts[0]+"."+string(payload)+"."+parts[2])
	tests := []struct {
		name       string
		file       []byte
		deployment string
		keys       []byte
		now        time.Time
		want       licensing.ValidationCode
	}{
		{"another deployment", good, "site-8", k.jwks, now, client.CodeLeaseInvalid},
		{"once its window ends", good, "site-7", k.jwks, now.Add(24*time.Hour + time.Second), client.CodeLeaseExpired},
		{"edited by hand", edited, "site-7", k.jwks, now, client.CodeLeaseInvalid},
		{"signed by another vendor", good, "site-7", other.jwks, now, client.CodeLeaseInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := k.airGapped(t, tc.file, tc.deployment)
			cfg.PublicKeys = tc.keys
			at := tc.now
			cfg.Now = func() time.Time { return at }
			lic := mustNew(t, cfg)
			err := lic.Start(context.Background())
			defer lic.Close()
			var le *client.LicenseError
			if !errors.As(err, &le) || le.Code != tc.want {
				t.Fatalf("Start: got %v, want a LicenseError %s", err, tc.want)
			}
			if lic.Valid() || lic.HasFeature("reports") {
				t.Fatal("the client is valid on a refused file")
			}
			if tc.name == "another deployment" && !strings.Contains(le.Message, `"site-7"`) {
				t.Errorf("message %q does not name the file's deployment", le.Message)
			}
		})
	}
}

func TestOfflineLicenseFileExpiresWhileRunning(t *testing.T) {
	k := newOfflineKit(t)
	now := time.Now()
	at := now
	cfg := k.airGapped(t, k.file(t, "site-7", now, time.Hour), "site-7")
	cfg.Now = func() time.Time { return at }
	lic := mustNew(t, cfg)
	if err := lic.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer lic.Close()
	at = now.Add(59 * time.Minute)
	if !lic.Valid() {
		t.Fatal("invalid before the file's window ends")
	}
	at = now.Add(time.Hour)
	if lic.Valid() || lic.Status().Code != client.CodeLeaseExpired {
		t.Fatalf("at the window's end: got %+v, want LEASE_EXPIRED", lic.Status())
	}
}

// A clock set back before a time already seen is refused, as for any lease:
// winding the clock back cannot stretch an offline file.
func TestOfflineLicenseFileRefusesAClockSetBack(t *testing.T) {
	k := newOfflineKit(t)
	now := time.Now()
	file := k.file(t, "site-7", now.Add(-48*time.Hour), 30*24*time.Hour)
	cfg := k.airGapped(t, file, "site-7")
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A previous run saw today's date.
	if err := os.WriteFile(filepath.Join(cfg.StateDir, "last-seen"), []byte(strconv.FormatInt(now.Unix(), 10)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	at := now.Add(-24 * time.Hour) // within the file's window, but behind what was seen
	cfg.Now = func() time.Time { return at }
	lic := mustNew(t, cfg)
	err := lic.Start(context.Background())
	defer lic.Close()
	var le *client.LicenseError
	if !errors.As(err, &le) || le.Code != client.CodeClockTampered {
		t.Fatalf("Start: got %v, want CLOCK_TAMPERED", err)
	}
	at = now
	if !lic.Valid() {
		t.Fatalf("with the clock corrected: got %+v, want valid", lic.Status())
	}
}

func TestOfflineLicenseConfigErrors(t *testing.T) {
	k := newOfflineKit(t)
	dir := t.TempDir()
	if _, err := client.New(client.Config{OfflineLicenseFile: filepath.Join(dir, "missing.txt"), PublicKeys: k.jwks,
		DeploymentID: "site-7", StateDir: dir, Logger: quietLogger()}); err == nil {
		t.Error("a missing file: got nil, want an error")
	}
	junk := filepath.Join(dir, "junk.txt")
	if err := os.WriteFile(junk, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(client.Config{OfflineLicenseFile: junk, PublicKeys: k.jwks, DeploymentID: "site-7",
		StateDir: dir, Logger: quietLogger()}); !errors.Is(err, client.ErrNotOfflineLicense) {
		t.Errorf("a file that is not an offline license: got %v, want ErrNotOfflineLicense", err)
	}
	if _, err := client.New(client.Config{OfflineLicenseFile: junk, DeploymentID: "site-7", Logger: quietLogger()}); err == nil {
		t.Error("no server and no public keys: got nil, want an error")
	}
	if _, err := client.New(client.Config{DeploymentID: "site-7", StateDir: dir}); err == nil {
		t.Error("neither a server nor a file: got nil, want an error")
	}
}

// With a server configured too, the file stands in until the server is
// reached, like a saved lease.
func TestOfflineLicenseFileWithAnUnreachableServer(t *testing.T) {
	k := newOfflineKit(t)
	cfg := k.airGapped(t, k.file(t, "site-7", time.Now(), 24*time.Hour), "site-7")
	key, err := k.ring.IssueKey(licensing.KeyClaims{LicenseID: "6f1c2b1e-3d4a-4c55-9a8e-1b2c3d4e5f60",
		KeyID: "6f1c2b1e-3d4a-4c55-9a8e-1b2c3d4e5f61", StartsAt: time.Now()}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ServerURL, cfg.LicenseKey = "http://127.0.0.1:1", key
	lic := mustNew(t, cfg)
	if err := lic.Start(context.Background()); err != nil {
		t.Fatalf("Start: got %v, want nil (answered from the file)", err)
	}
	defer lic.Close()
	if st := lic.Status(); !st.Valid || !st.Offline || !lic.HasFeature("reports") {
		t.Fatalf("got %+v, want valid and offline", st)
	}
}

func TestLoadOfflineLicenseWhileRunning(t *testing.T) {
	k := newOfflineKit(t)
	now := time.Now()
	cfg := k.airGapped(t, k.file(t, "site-7", now.Add(-time.Hour), time.Hour+time.Minute), "site-7")
	lic := mustNew(t, cfg)
	_ = lic.Start(context.Background())
	defer lic.Close()
	short := lic.Status().LeaseExpiresAt
	if err := lic.LoadOfflineLicense(k.file(t, "site-8", now, 24*time.Hour)); err == nil {
		t.Fatal("a file for another deployment: got nil, want an error")
	}
	if err := lic.LoadOfflineLicense(k.file(t, "site-7", now, 24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := lic.Status().LeaseExpiresAt; !got.After(short) {
		t.Fatalf("lease expiry after loading a newer file: got %v, want after %v", got, short)
	}
}
