// Tests of the machine fingerprint: stable across restarts, different on
// another machine or container, never the raw machine id, and equal to the
// cross-client vector the Node client checks too.
package client_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/licensing/client"
)

var updateFingerprint = flag.Bool("update-fingerprint-vector", false, "rewrite testdata/fingerprint-v1.json")

// fakeMachine writes a machine's identity files under dir and returns a
// source reading them.
func fakeMachine(t *testing.T, dir, machineID, cgroup, cpu string, disks []string, host string, macs []string) client.FingerprintSource {
	t.Helper()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "by-id"), 0o755))
	src := client.FingerprintSource{MachineIDFiles: []string{filepath.Join(dir, "machine-id"), filepath.Join(dir, "dbus-machine-id")},
		CgroupFiles: []string{filepath.Join(dir, "cgroup")}, CPUInfoFile: filepath.Join(dir, "cpuinfo"),
		DiskByIDDir: filepath.Join(dir, "by-id"),
		Hostname:    func() (string, error) { return host, nil }, HardwareAddrs: func() ([]string, error) { return macs, nil }}
	if machineID != "" {
		must(os.WriteFile(src.MachineIDFiles[0], []byte(machineID+"\n"), 0o644))
	}
	must(os.WriteFile(src.CgroupFiles[0], []byte(cgroup), 0o644))
	must(os.WriteFile(src.CPUInfoFile, []byte("processor\t: 0\nmodel name\t: "+cpu+"\nflags\t: fpu\n"), 0o644))
	for _, d := range disks {
		must(os.WriteFile(filepath.Join(src.DiskByIDDir, d), nil, 0o644))
	}
	return src
}

const fpLicense = "6f1c2a9e-3b7d-4c1e-9a51-0d2b8e7f4a10"

func TestFingerprintStableAndDistinct(t *testing.T) {
	disks := []string{"ata-SSD_860_S3Z1", "ata-SSD_860_S3Z1-part1"}
	macs := []string{"02:42:AC:11:00:02", "00:00:00:00:00:00"}
	a := fakeMachine(t, t.TempDir(), "4c4c4544004a3510", "0::/init.scope\n", "Intel Xeon", disks, "build-01", macs)
	b := fakeMachine(t, t.TempDir(), "9f1d0a77ee2b4c01", "0::/init.scope\n", "Intel Xeon", disks, "build-01", macs)

	fa, err := client.ComputeFingerprint(fpLicense, a)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := client.ComputeFingerprint(fpLicense, a)
	if !fa.Equal(again) || len(fa.ID) != 64 || len(fa.Components) != 4 {
		t.Errorf("got %+v then %+v, want the same 64-hex id with 4 components", fa, again)
	}
	fb, _ := client.ComputeFingerprint(fpLicense, b)
	if fb.ID == fa.ID {
		t.Errorf("two machine-id files: got the same id %s", fa.ID)
	}
	if fb.Components["disk"] != fa.Components["disk"] || fb.Components["host"] != fa.Components["host"] {
		t.Errorf("components read from equal parts must be equal: %v vs %v", fa.Components, fb.Components)
	}
	other, _ := client.ComputeFingerprint("0b9e5d2c-7a41-4f8e-b3c6-1e2d3f4a5b6c", a)
	if other.ID == fa.ID || other.Components["cpu"] == fa.Components["cpu"] {
		t.Errorf("another license must see unrelated values: got %v and %v", other, fa)
	}

	// Never the raw machine id, nor its plain hash, in what is sent.
	sent, _ := json.Marshal(fa)
	raw := "4c4c4544004a3510"
	sum := sha256.Sum256([]byte(raw))
	for _, secret := range []string{raw, hex.EncodeToString(sum[:]), "build-01", "Intel Xeon", "ata-SSD", "02:42"} {
		if strings.Contains(strings.ToLower(string(sent)), strings.ToLower(secret)) {
			t.Errorf("the fingerprint %s contains %q", sent, secret)
		}
	}

	// Restart: a client made anew over the same state reads the same.
	key := vectorKey(t)
	c1, err := client.New(client.Config{ServerURL: "http://127.0.0.1:1", LicenseKey: key, StateDir: t.TempDir(), FingerprintSource: &a})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := client.New(client.Config{ServerURL: "http://127.0.0.1:1", LicenseKey: key, StateDir: t.TempDir(), FingerprintSource: &a})
	if err != nil {
		t.Fatal(err)
	}
	if c1.Fingerprint().ID == "" || !c1.Fingerprint().Equal(c2.Fingerprint()) {
		t.Errorf("restart: got %+v and %+v, want the same fingerprint", c1.Fingerprint(), c2.Fingerprint())
	}
}

func TestFingerprintFallbacks(t *testing.T) {
	const c1 = "d4f0b1e2a3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e"
	const c2 = "e5f0b1e2a3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e"
	dockerA := fakeMachine(t, t.TempDir(), "", "0::/system.slice/docker-"+c1+".scope\n", "", nil, "web", nil)
	dockerB := fakeMachine(t, t.TempDir(), "", "12:pids:/docker/"+c2+"\n", "", nil, "web", nil)
	src, v, err := dockerA.MachineIdentity()
	if err != nil || src != "container" || v != c1 {
		t.Fatalf("got %s %s %v, want the container id", src, v, err)
	}
	fa, _ := client.ComputeFingerprint(fpLicense, dockerA)
	fb, _ := client.ComputeFingerprint(fpLicense, dockerB)
	if fa.ID == fb.ID {
		t.Errorf("two containers: got the same id")
	}
	bare := fakeMachine(t, t.TempDir(), "", "0::/\n", "", nil, "Host-7", nil)
	if src, v, err := bare.MachineIdentity(); err != nil || src != "hostname" || v != "host-7" {
		t.Errorf("got %s %s %v, want the host name", src, v, err)
	}
	dbus := fakeMachine(t, t.TempDir(), "", "", "", nil, "h", nil)
	if err := os.WriteFile(dbus.MachineIDFiles[1], []byte("abc123\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if src, v, _ := dbus.MachineIdentity(); src != "machine-id" || v != "abc123" {
		t.Errorf("got %s %s, want the dbus machine id", src, v)
	}
}

// fingerprintVector is testdata/fingerprint-v1.json: inputs and the
// fingerprint both clients must compute from them.
type fingerprintVector struct {
	LicenseID   string                `json:"licenseId"`
	Source      string                `json:"source"`
	Value       string                `json:"value"`
	Host        string                `json:"host"`
	MACs        []string              `json:"macs"`
	CPU         string                `json:"cpu"`
	Disks       []string              `json:"disks"`
	Fingerprint licensing.Fingerprint `json:"fingerprint"`
}

func TestFingerprintVector(t *testing.T) {
	path := filepath.Join("testdata", "fingerprint-v1.json")
	v := fingerprintVector{LicenseID: fpLicense, Source: "machine-id", Value: "4c4c4544004a3510",
		Host: "build-01", MACs: []string{"02:42:ac:11:00:02", "3c:22:fb:00:00:01"}, CPU: "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz",
		Disks: []string{"ata-SSD_860_S3Z1", "nvme-eui.0025385"}}
	src := fakeMachine(t, t.TempDir(), v.Value, "", v.CPU, v.Disks, v.Host, v.MACs)
	got, err := client.ComputeFingerprint(v.LicenseID, src)
	if err != nil {
		t.Fatal(err)
	}
	if *updateFingerprint {
		v.Fingerprint = got
		b, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want fingerprintVector
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want.Fingerprint) {
		t.Errorf("got %+v, want the recorded %+v", got, want.Fingerprint)
	}
}

// The client's state folder copied to a second machine: under a plan that
// locks deployments to machines, the copy is refused offline (its saved
// lease names the first machine) and by the server; the first machine
// keeps running.
func TestCopiedStateFolderRefusedOnAnotherMachine(t *testing.T) {
	p := startPortal(t)
	code := "locked-plan"
	p.api("POST", "/api/plans", map[string]any{"code": code, "name": "Locked", "maxDeployments": 5,
		"fingerprintPolicy": "lock"}, http.StatusCreated)
	cust := p.api("POST", "/api/customers", map[string]any{"name": "Acme", "email": "ops@acme.test"}, http.StatusCreated)
	ans := p.api("POST", "/api/licenses", map[string]any{"customerId": cust["id"], "plan": code}, http.StatusCreated)
	lic := license{ID: ans["license"].(map[string]any)["id"].(string), Key: ans["licenseKey"].(string)}
	machineA := fakeMachine(t, t.TempDir(), "aaaa0000aaaa0000", "", "cpu", nil, "a", nil)
	machineB := fakeMachine(t, t.TempDir(), "bbbb1111bbbb1111", "", "cpu", nil, "b", nil)

	dirA := t.TempDir()
	cfgA := testConfig(p, lic, dirA, &fakeClock{})
	cfgA.FingerprintSource = &machineA
	first := startClient(t, cfgA)
	if !first.Valid() {
		t.Fatalf("first machine: got %+v, want valid", first.Status())
	}
	_ = first.Close()

	dirB := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(dirB, os.DirFS(dirA)); err != nil {
		t.Fatal(err)
	}
	cfgB := testConfig(p, lic, dirB, &fakeClock{})
	cfgB.FingerprintSource = &machineB
	copied, err := client.New(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = copied.Close() })
	if st := copied.Status(); st.Valid || st.Code != licensing.CodeFingerprintMismatch {
		t.Fatalf("copy before reaching the server: got %v %s, want FINGERPRINT_MISMATCH from the saved lease", st.Valid, st.Code)
	}
	_ = copied.Start(context.Background())
	if st := copied.Status(); st.Valid || st.Code != licensing.CodeFingerprintMismatch || copied.DeploymentID() != first.DeploymentID() {
		t.Fatalf("copy after the server: got %v %s (%s), want FINGERPRINT_MISMATCH for the same deployment", st.Valid, st.Code, st.Detail)
	}

	again := startClient(t, cfgA)
	if !again.Valid() {
		t.Errorf("first machine after the copy was refused: got %+v, want valid", again.Status())
	}
}
