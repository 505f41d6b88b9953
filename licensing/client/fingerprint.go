// The machine fingerprint the client sends with validations: stable across
// restarts, different on another machine or container, and private — only
// HMACs keyed by the license id leave the machine, so a fingerprint cannot
// be correlated across vendors or licenses, nor turned back into the
// machine id.

package client

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/nectarcloud/nls/licensing"
)

// FingerprintVersion names the algorithm below; the Node client implements
// the same one, pinned by a shared test vector.
//
//	K         = "nls-fingerprint-v1:" + licenseID (lower case)
//	id        = hex(HMAC-SHA256(K, "machine\n" + source + ":" + value))
//	component = hex(HMAC-SHA256(K, name + "\n" + value))
//
// source/value is the first of: "machine-id" and the trimmed content of
// /etc/machine-id or /var/lib/dbus/machine-id; "container" and the 64-hex
// container id found in /proc/self/cgroup or /proc/self/mountinfo (Docker,
// containerd, Podman); "hostname" and the host name (a container without
// either — its name is then its identity).
//
// Components, each omitted when unknown: host (the host name, lower case),
// mac (the sorted, de-duplicated hardware addresses of the non-loopback
// interfaces, virtual bridges and veth pairs excluded, joined by ","), cpu
// (the first "model name" of /proc/cpuinfo), disk (the sorted entries of
// /dev/disk/by-id without partitions, joined by ",").
const FingerprintVersion = "v1"

// FingerprintSource is where the fingerprint is read from. The zero value
// reads the real machine; tests point it at files of their own.
type FingerprintSource struct {
	MachineIDFiles []string // default /etc/machine-id, /var/lib/dbus/machine-id
	CgroupFiles    []string // default /proc/self/cgroup, /proc/self/mountinfo
	CPUInfoFile    string   // default /proc/cpuinfo
	DiskByIDDir    string   // default /dev/disk/by-id
	// Hostname and HardwareAddrs default to os.Hostname and the machine's
	// interfaces.
	Hostname      func() (string, error)
	HardwareAddrs func() ([]string, error)
}

func (s FingerprintSource) withDefaults() FingerprintSource {
	if s.MachineIDFiles == nil {
		s.MachineIDFiles = []string{"/etc/machine-id", "/var/lib/dbus/machine-id"}
	}
	if s.CgroupFiles == nil {
		s.CgroupFiles = []string{"/proc/self/cgroup", "/proc/self/mountinfo"}
	}
	if s.CPUInfoFile == "" {
		s.CPUInfoFile = "/proc/cpuinfo"
	}
	if s.DiskByIDDir == "" {
		s.DiskByIDDir = "/dev/disk/by-id"
	}
	if s.Hostname == nil {
		s.Hostname = os.Hostname
	}
	if s.HardwareAddrs == nil {
		s.HardwareAddrs = interfaceAddrs
	}
	return s
}

// virtualIface are interface name prefixes whose addresses come and go with
// containers and VMs, not with the machine.
var virtualIface = []string{"veth", "docker", "br-", "virbr", "cni", "flannel", "cali", "tun", "tap", "vnet"}

func interfaceAddrs() ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 || len(i.HardwareAddr) == 0 || isVirtual(i.Name) {
			continue
		}
		out = append(out, i.HardwareAddr.String())
	}
	return out, nil
}

func isVirtual(name string) bool {
	for _, p := range virtualIface {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

var containerIDRE = regexp.MustCompile(`[0-9a-f]{64}`)

// MachineIdentity is the raw identity the fingerprint id is made from and
// its source (machine-id, container or hostname). It never leaves the
// machine: only its HMAC does.
func (s FingerprintSource) MachineIdentity() (source, value string, err error) {
	s = s.withDefaults()
	for _, f := range s.MachineIDFiles {
		if b, err := os.ReadFile(f); err == nil {
			if v := strings.TrimSpace(string(b)); v != "" {
				return "machine-id", v, nil
			}
		}
	}
	for _, f := range s.CgroupFiles {
		if b, err := os.ReadFile(f); err == nil {
			if id := containerIDRE.Find(b); id != nil {
				return "container", string(id), nil
			}
		}
	}
	h, err := s.Hostname()
	if err != nil || strings.TrimSpace(h) == "" {
		return "", "", errors.New("nls client: no machine id, container id or host name to fingerprint this machine with")
	}
	return "hostname", strings.ToLower(strings.TrimSpace(h)), nil
}

// ComputeFingerprint is the fingerprint of the machine src describes, for
// the license licenseID.
func ComputeFingerprint(licenseID string, src FingerprintSource) (licensing.Fingerprint, error) {
	src = src.withDefaults()
	source, value, err := src.MachineIdentity()
	if err != nil {
		return licensing.Fingerprint{}, err
	}
	key := []byte("nls-fingerprint-" + FingerprintVersion + ":" + strings.ToLower(licenseID))
	mac := func(msg string) string {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return hex.EncodeToString(h.Sum(nil))
	}
	fp := licensing.Fingerprint{ID: mac(licensing.MachineComponent + "\n" + source + ":" + value),
		Components: map[string]string{}}
	for name, v := range fingerprintComponents(src) {
		if v != "" {
			fp.Components[name] = mac(name + "\n" + v)
		}
	}
	return fp, nil
}

// fingerprintComponents reads the raw component values ("" when unknown).
func fingerprintComponents(s FingerprintSource) map[string]string {
	out := map[string]string{}
	if h, err := s.Hostname(); err == nil {
		out["host"] = strings.ToLower(strings.TrimSpace(h))
	}
	if addrs, err := s.HardwareAddrs(); err == nil {
		var clean []string
		for _, a := range addrs {
			a = strings.ToLower(strings.TrimSpace(a))
			if a != "" && strings.Trim(a, "0:") != "" {
				clean = append(clean, a)
			}
		}
		slices.Sort(clean)
		out["mac"] = strings.Join(slices.Compact(clean), ",")
	}
	if b, err := os.ReadFile(s.CPUInfoFile); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				out["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if ents, err := os.ReadDir(s.DiskByIDDir); err == nil {
		var disks []string
		for _, e := range ents {
			if !strings.Contains(e.Name(), "-part") {
				disks = append(disks, e.Name())
			}
		}
		slices.Sort(disks)
		out["disk"] = strings.Join(disks, ",")
	}
	return out
}
