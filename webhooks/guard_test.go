package webhooks_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/nectarcloud/nls/webhooks"
)

type names map[string]string

func (n names) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	ip, ok := n[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []netip.Addr{netip.MustParseAddr(ip)}, nil
}

var dns = names{"hooks.example.com": "93.184.216.34", "internal.example.com": "10.1.2.3",
	"meta.example.com": "169.254.169.254", "v6.example.com": "2606:4700::1111", "ula.example.com": "fd12::1", "localhost": "127.0.0.1"}

func TestGuardRefusesInternalTargetsAtSaveTime(t *testing.T) {
	strict := webhooks.Guard{Resolver: dns}
	refused := []struct{ url, why string }{
		{"http://127.0.0.1/", "https"},
		{"http://169.254.169.254/latest/meta-data", "https"},
		{"http://[::1]/", "https"},
		{"https://127.0.0.1/", "loopback"},
		{"https://127.1.2.3:8443/", "loopback"},
		{"https://169.254.169.254/latest/meta-data", "metadata"},
		{"https://[::1]/", "loopback"},
		{"https://[::ffff:127.0.0.1]/", "loopback"},
		{"https://[::ffff:10.0.0.1]/", "private"},
		{"https://[64:ff9b::a9fe:a9fe]/", "metadata"},
		{"https://10.0.0.1/", "private"},
		{"https://172.16.5.4/", "private"},
		{"https://192.168.1.1/", "private"},
		{"https://100.64.0.1/", "shared"},
		{"https://169.254.1.1/", "link-local"},
		{"https://[fe80::1]/", "link-local"},
		{"https://[fd00:ec2::254]/", "metadata"},
		{"https://[fc00::5]/", "private"},
		{"https://0.0.0.0/", "unspecified"},
		{"https://[::]/", "unspecified"},
		{"https://224.0.0.1/", "multicast"},
		{"https://255.255.255.255/", "broadcast"},
		{"https://localhost/", "loopback"},
		{"https://api.localhost/", "loopback"},
		{"https://internal.example.com/", "private"},
		{"https://meta.example.com/", "metadata"},
		{"https://ula.example.com/", "private"},
		{"https://nowhere.example.com/", "does not resolve"},
		{"https://user:pw@hooks.example.com/", "user name"},
		{"ftp://hooks.example.com/", "https"},
		{"hooks.example.com/x", "absolute"},
		{"https://hooks.example.com:99999/", "port"},
	}
	for _, tc := range refused {
		err := strict.CheckURL(context.Background(), tc.url)
		var r *webhooks.RefusedError
		if !errors.As(err, &r) || !strings.Contains(r.Reason, tc.why) {
			t.Errorf("%s: got %v, want refused (%s)", tc.url, err, tc.why)
		}
	}
	for _, ok := range []string{"https://hooks.example.com/nls", "https://v6.example.com:8443/x?y=1", "https://93.184.216.34/"} {
		if err := strict.CheckURL(context.Background(), ok); err != nil {
			t.Errorf("%s: got %v, want accepted", ok, err)
		}
	}
}

func TestAllowPrivateStillRefusesMetadata(t *testing.T) {
	lax := webhooks.Guard{AllowPrivate: true, Resolver: dns}
	for _, ok := range []string{"http://127.0.0.1:8080/hook", "http://localhost:9000/", "https://10.0.0.1/", "http://[::1]/",
		"https://internal.example.com/"} {
		if err := lax.CheckURL(context.Background(), ok); err != nil {
			t.Errorf("%s: got %v, want accepted with private targets allowed", ok, err)
		}
	}
	for _, no := range []string{"http://169.254.169.254/", "https://meta.example.com/", "http://0.0.0.0:8080/", "http://[fd00:ec2::254]/"} {
		if err := lax.CheckURL(context.Background(), no); err == nil {
			t.Errorf("%s: accepted, want refused even with private targets allowed", no)
		}
	}
}

// The dialler checks the address it connects to, whatever the name said
// at save time.
func TestDialRefusesRefusedAddresses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	strict := webhooks.Guard{Resolver: names{"rebound.example.com": "127.0.0.1"}}
	for _, addr := range []string{"127.0.0.1:" + port, "rebound.example.com:" + port, "[::ffff:127.0.0.1]:" + port} {
		if c, err := strict.DialContext(context.Background(), "tcp", addr); err == nil {
			c.Close()
			t.Errorf("dialled %s", addr)
		}
	}
	lax := webhooks.Guard{AllowPrivate: true}
	c, err := lax.DialContext(context.Background(), "tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatalf("with private targets allowed: %v", err)
	}
	c.Close()
}
