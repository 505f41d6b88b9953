// Server-side request forgery: a webhook URL must not let an admin (or a
// stolen admin session) make the portal call its own network. The guard
// refuses internal addresses when an endpoint is saved and again on every
// connection, after resolving the name itself and dialling the address it
// checked, so that a name re-pointed after the save (DNS rebinding) gains
// nothing.

package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// Resolver finds a host name's addresses; *net.Resolver is one, tests give
// their own.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard decides which addresses deliveries may reach.
type Guard struct {
	// AllowPrivate lets endpoints reach loopback, private, shared (CGNAT) and
	// link-local addresses: self-hosted setups and tests
	// (NLS_WEBHOOK_ALLOW_PRIVATE). Cloud metadata, unspecified and multicast
	// addresses stay refused even then.
	AllowPrivate bool
	Resolver     Resolver // nil: net.DefaultResolver
}

// RefusedError says why an address or URL may not be used.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

var (
	cgnat        = netip.MustParsePrefix("100.64.0.0/10")
	thisNetwork  = netip.MustParsePrefix("0.0.0.0/8")
	ietf         = netip.MustParsePrefix("192.0.0.0/24")
	benchmarking = netip.MustParsePrefix("198.18.0.0/15")
	reserved     = netip.MustParsePrefix("240.0.0.0/4")
	siteLocal    = netip.MustParsePrefix("fec0::/10")
	nat64        = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour    = netip.MustParsePrefix("2002::/16")
	metadata     = []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254"),
		netip.MustParseAddr("100.100.100.200")}
)

// Check says why ip may not be reached, or nil.
func (g Guard) Check(ip netip.Addr) error {
	ip = ip.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if ip.Is6() && (nat64.Contains(ip) || sixToFour.Contains(ip)) {
		// Addresses that carry an IPv4 address inside them answer for it.
		b := ip.As16()
		var v4 [4]byte
		if nat64.Contains(ip) {
			copy(v4[:], b[12:16])
		} else {
			copy(v4[:], b[2:6])
		}
		if err := g.Check(netip.AddrFrom4(v4)); err != nil {
			return err
		}
	}
	for _, m := range metadata {
		if ip == m {
			return &RefusedError{"refused: " + ip.String() + " is a cloud metadata address"}
		}
	}
	switch {
	case !ip.IsValid():
		return &RefusedError{"refused: not an IP address"}
	case ip.IsUnspecified() || thisNetwork.Contains(ip):
		return &RefusedError{"refused: " + ip.String() + " is an unspecified address"}
	case ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || reserved.Contains(ip):
		return &RefusedError{"refused: " + ip.String() + " is a multicast, broadcast or reserved address"}
	}
	if g.AllowPrivate {
		return nil
	}
	switch {
	case ip.IsLoopback():
		return &RefusedError{"refused: " + ip.String() + " is a loopback address"}
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return &RefusedError{"refused: " + ip.String() + " is a link-local address"}
	case ip.IsPrivate() || siteLocal.Contains(ip):
		return &RefusedError{"refused: " + ip.String() + " is a private address"}
	case cgnat.Contains(ip) || ietf.Contains(ip) || benchmarking.Contains(ip):
		return &RefusedError{"refused: " + ip.String() + " is a shared or special-purpose address"}
	}
	return nil
}

// CheckURL is the save-time check of an endpoint URL: absolute https (http
// only when private targets are allowed), no credentials or fragment, and a
// host whose every address passes Check.
func (g Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return &RefusedError{"must be an absolute URL such as https://hooks.example.com/nls"}
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !g.AllowPrivate {
			return &RefusedError{"must use https (plain http only with NLS_WEBHOOK_ALLOW_PRIVATE=true)"}
		}
	default:
		return &RefusedError{"must use https"}
	}
	if u.User != nil {
		return &RefusedError{"must not carry a user name or password"}
	}
	if u.Fragment != "" {
		return &RefusedError{"must not have a #fragment"}
	}
	if p := u.Port(); p != "" {
		if _, err := net.LookupPort("tcp", p); err != nil {
			return &RefusedError{"has an invalid port"}
		}
	}
	_, err = g.resolve(ctx, u.Hostname())
	return err
}

// resolve returns the host's addresses that may be reached; an address
// that may not makes the whole host refused, so that a save-time answer
// cannot depend on which address comes first.
func (g Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if host == "" {
		return nil, &RefusedError{"has no host"}
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") ||
			strings.HasSuffix(strings.ToLower(strings.TrimSuffix(host, ".")), ".localhost") {
			if !g.AllowPrivate {
				return nil, &RefusedError{"refused: " + host + " is a loopback name"}
			}
		}
		r := g.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		addrs, err = r.LookupNetIP(ctx, "ip", host)
		if err != nil {
			var dns *net.DNSError
			if errors.As(err, &dns) && dns.IsNotFound {
				return nil, &RefusedError{"host " + host + " does not resolve"}
			}
			return nil, fmt.Errorf("resolving %s: %w", host, err)
		}
		if len(addrs) == 0 {
			return nil, &RefusedError{"host " + host + " does not resolve"}
		}
	}
	for _, ip := range addrs {
		if err := g.Check(ip); err != nil {
			return nil, &RefusedError{fmt.Sprintf("%s (%s resolves to %s)", err, host, ip.Unmap())}
		}
	}
	return addrs, nil
}

// DialContext is the transport's dialler: it resolves the host itself,
// checks every address, and dials the checked address, never the name. The
// dialer's Control checks the address of the socket once more, so that no
// other path (a proxy, a happy-eyeballs fallback) can reach a refused one.
func (g Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Control: g.control}
	var last error
	for _, ip := range addrs {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

func (g Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedError{"refused: cannot tell the address of " + address}
	}
	return g.Check(ap.Addr())
}
