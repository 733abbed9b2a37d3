package sessions

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
)

// CallbackConfig limits where a tenant's callback_url may point. The
// gateway calls that URL from its own network, so without limits a tenant
// could make it post to the loopback interface, the cloud metadata service
// (169.254.169.254) or any host on the private network.
type CallbackConfig struct {
	// Schemes a callback URL may use; empty: https only. http must be
	// named to be allowed.
	Schemes []string `yaml:"schemes"`
	// Hosts a callback URL may name, for every tenant without its own
	// entry in TenantHosts: an exact host ("hooks.example.com") or a
	// suffix pattern ("*.example.com": any subdomain, not the apex). Empty:
	// any host whose addresses are public.
	Hosts []string `yaml:"hosts"`
	// TenantHosts replaces Hosts for the tenants it names.
	TenantHosts map[string][]string `yaml:"tenant_hosts"`
	// AllowNetworks are CIDR prefixes ("127.0.0.0/8", "10.1.2.0/24") that
	// callbacks may reach although they are loopback, private, link-local,
	// unique-local, multicast, unspecified, CGNAT or reserved addresses.
	// Empty: none of those.
	AllowNetworks []string `yaml:"allow_networks"`
}

// Validate checks the patterns and prefixes.
func (c CallbackConfig) Validate() error {
	_, err := newCallbackPolicy(c)
	return err
}

// callbackPolicy is a CallbackConfig ready for checks.
type callbackPolicy struct {
	schemes     []string
	hosts       []string
	tenantHosts map[string][]string
	allow       []netip.Prefix
}

func newCallbackPolicy(c CallbackConfig) (*callbackPolicy, error) {
	p := &callbackPolicy{schemes: []string{"https"}, tenantHosts: map[string][]string{}}
	var errs []error
	if len(c.Schemes) > 0 {
		p.schemes = nil
		for _, s := range c.Schemes {
			s = strings.ToLower(s)
			if s != "http" && s != "https" {
				errs = append(errs, fmt.Errorf("sessions.callbacks.schemes: %q is not http or https", s))
			}
			p.schemes = append(p.schemes, s)
		}
	}
	hosts := func(field string, in []string) []string {
		out := make([]string, 0, len(in))
		for _, h := range in {
			h = strings.TrimSuffix(strings.ToLower(h), ".")
			if err := checkPattern(h); err != nil {
				errs = append(errs, fmt.Errorf("%s: %q: %w", field, h, err))
			}
			out = append(out, h)
		}
		return out
	}
	p.hosts = hosts("sessions.callbacks.hosts", c.Hosts)
	for t, hs := range c.TenantHosts {
		p.tenantHosts[t] = hosts("sessions.callbacks.tenant_hosts["+t+"]", hs)
	}
	for _, n := range c.AllowNetworks {
		pr, err := netip.ParsePrefix(n)
		if err != nil {
			errs = append(errs, fmt.Errorf("sessions.callbacks.allow_networks: %q is not a CIDR prefix", n))
			continue
		}
		p.allow = append(p.allow, pr.Masked())
	}
	return p, errors.Join(errs...)
}

// checkPattern accepts "host" or "*.suffix", with no other wildcard.
func checkPattern(h string) error {
	rest := strings.TrimPrefix(h, "*.")
	if rest == "" || !isIP(rest) && !dnsName(rest) {
		return errors.New("not a host name or *.suffix pattern")
	}
	return nil
}

func isIP(s string) bool { _, err := netip.ParseAddr(s); return err == nil }

// errCallbackRefused marks a callback URL or address the policy refuses.
var errCallbackRefused = errors.New("callback refused")

// checkURL is the create-time check of a tenant's callback_url; its error
// text is fit for the tenant. Host names are not resolved here (an answer
// now says nothing about the answer at delivery): the dialer checks every
// address it connects to.
func (p *callbackPolicy) checkURL(tenant, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" {
		return fmt.Errorf("%w: callback_url must be an absolute URL with a host", errCallbackRefused)
	}
	scheme := strings.ToLower(u.Scheme)
	if !slices.Contains(p.schemes, scheme) {
		return fmt.Errorf("%w: callback_url scheme %q is not allowed (allowed: %s)", errCallbackRefused, scheme, strings.Join(p.schemes, ", "))
	}
	if u.User != nil {
		return fmt.Errorf("%w: callback_url must not carry user information", errCallbackRefused)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return fmt.Errorf("%w: callback_url must name a host", errCallbackRefused)
	}
	if port := u.Port(); port != "" {
		if n, ok := parsePort(port); !ok || n == 0 {
			return fmt.Errorf("%w: callback_url port %q is not a port number", errCallbackRefused, port)
		}
	}
	if !p.hostAllowed(tenant, host) {
		return fmt.Errorf("%w: callback_url host %q is not in the gateway's allow-list for this tenant", errCallbackRefused, host)
	}
	if strings.Contains(host, "%") {
		return fmt.Errorf("%w: callback_url must not name an IPv6 zone", errCallbackRefused)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if err := p.checkAddr(a); err != nil {
			return err
		}
		return nil
	}
	if numericHost(host) {
		// 2130706433, 0x7f.1, 127.1: forms some resolvers read as an IPv4
		// address; never a DNS name, since no top-level domain is numeric.
		return fmt.Errorf("%w: callback_url host %q is neither a dotted IPv4 address nor a DNS name", errCallbackRefused, host)
	}
	if !dnsName(host) {
		return fmt.Errorf("%w: callback_url host %q is not a DNS name", errCallbackRefused, host)
	}
	return nil
}

func parsePort(s string) (int, bool) {
	if len(s) == 0 || len(s) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= 65535
}

// numericHost reports a host whose last label is a number (decimal, octal
// or 0x hex).
func numericHost(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
	if strings.HasPrefix(last, "0x") {
		return true
	}
	return last != "" && strings.Trim(last, "0123456789") == ""
}

// dnsName accepts letters, digits, hyphens and underscores in dot-separated
// labels of 1 to 63 bytes.
func dnsName(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// hostAllowed matches host against the tenant's patterns (or the global
// ones); no patterns allow any host.
func (p *callbackPolicy) hostAllowed(tenant, host string) bool {
	pats, ok := p.tenantHosts[tenant]
	if !ok {
		pats = p.hosts
	}
	if len(pats) == 0 {
		return true
	}
	for _, pat := range pats {
		if suffix, ok := strings.CutPrefix(pat, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
		} else if host == pat {
			return true
		}
	}
	return false
}

// checkAddr refuses a non-public address outside allow_networks.
func (p *callbackPolicy) checkAddr(a netip.Addr) error {
	a = a.WithZone("")
	kind := addrKind(a)
	if kind == "" {
		return nil
	}
	for _, pr := range p.allow {
		if pr.Contains(a) || pr.Contains(a.Unmap()) {
			return nil
		}
	}
	return fmt.Errorf("%w: callback address %s is %s", errCallbackRefused, a, kind)
}

// Ranges a callback may not reach unless allow_networks names them.
var nonPublic = []struct {
	kind   string
	prefix netip.Prefix
}{
	{"unspecified", netip.MustParsePrefix("0.0.0.0/8")},
	{"private", netip.MustParsePrefix("10.0.0.0/8")},
	{"CGNAT", netip.MustParsePrefix("100.64.0.0/10")},
	{"loopback", netip.MustParsePrefix("127.0.0.0/8")},
	{"link-local", netip.MustParsePrefix("169.254.0.0/16")},
	{"private", netip.MustParsePrefix("172.16.0.0/12")},
	{"reserved", netip.MustParsePrefix("192.0.0.0/24")},
	{"private", netip.MustParsePrefix("192.168.0.0/16")},
	{"reserved", netip.MustParsePrefix("198.18.0.0/15")},
	{"multicast", netip.MustParsePrefix("224.0.0.0/4")},
	{"reserved", netip.MustParsePrefix("240.0.0.0/4")}, // with 255.255.255.255
	{"unspecified", netip.MustParsePrefix("::/128")},
	{"loopback", netip.MustParsePrefix("::1/128")},
	{"IPv4-compatible", netip.MustParsePrefix("::/96")},
	{"unique-local", netip.MustParsePrefix("fc00::/7")},
	{"link-local", netip.MustParsePrefix("fe80::/10")},
	{"site-local", netip.MustParsePrefix("fec0::/10")},
	{"multicast", netip.MustParsePrefix("ff00::/8")},
}

// Prefixes that embed an IPv4 address a gateway may translate to.
var (
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	six4  = netip.MustParsePrefix("2002::/16")
)

// addrKind names the non-public range a is in, "" for a public address.
// IPv4-mapped (::ffff:a.b.c.d), NAT64 and 6to4 addresses are judged by the
// IPv4 address they carry.
func addrKind(a netip.Addr) string {
	if !a.IsValid() {
		return "invalid"
	}
	a = a.Unmap()
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			return addrKind(netip.AddrFrom4([4]byte(b[12:16])))
		case six4.Contains(a):
			return addrKind(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	for _, r := range nonPublic {
		if r.prefix.Contains(a) {
			return r.kind
		}
	}
	return ""
}

// control is the dialer's last word: it runs after name resolution with
// the address actually being connected to, so a name that resolved to a
// public address at create time and to 127.0.0.1 now (DNS rebinding) is
// refused.
func (p *callbackPolicy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: dial address %q unreadable", errCallbackRefused, address)
	}
	return p.checkAddr(ap.Addr())
}

// dialer connects only to allowed addresses: every address the name
// resolves to must pass (one refused address refuses the delivery, so a
// mixed answer cannot be raced), then the connection itself is checked
// again in control.
type dialer struct {
	policy *callbackPolicy
	net    net.Dialer
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

func (d *dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = d.lookup(ctx, host); err != nil {
		return nil, fmt.Errorf("callback: resolve: %w", err)
	}
	if len(addrs) == 0 {
		return nil, errors.New("callback: resolve: no address")
	}
	for _, a := range addrs {
		if err := d.policy.checkAddr(a); err != nil {
			return nil, err
		}
	}
	var last error
	for _, a := range addrs {
		c, err := d.net.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}
