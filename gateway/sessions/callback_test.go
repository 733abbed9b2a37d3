package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/internal/secret"
)

// Every non-public range is refused at its first and last address, and its
// neighbours outside are public.
func TestAddrKind(t *testing.T) {
	for _, tc := range []struct {
		addr, kind string
	}{
		{"0.0.0.0", "unspecified"}, {"0.255.255.255", "unspecified"}, {"1.0.0.0", ""},
		{"9.255.255.255", ""}, {"10.0.0.0", "private"}, {"10.255.255.255", "private"}, {"11.0.0.0", ""},
		{"100.63.255.255", ""}, {"100.64.0.0", "CGNAT"}, {"100.127.255.255", "CGNAT"}, {"100.128.0.0", ""},
		{"126.255.255.255", ""}, {"127.0.0.0", "loopback"}, {"127.0.0.1", "loopback"}, {"127.255.255.255", "loopback"}, {"128.0.0.0", ""},
		{"169.253.255.255", ""}, {"169.254.0.0", "link-local"}, {"169.254.169.254", "link-local"}, {"169.254.255.255", "link-local"}, {"169.255.0.0", ""},
		{"172.15.255.255", ""}, {"172.16.0.0", "private"}, {"172.31.255.255", "private"}, {"172.32.0.0", ""},
		{"192.0.0.0", "reserved"}, {"192.0.0.255", "reserved"}, {"192.0.1.0", ""},
		{"192.167.255.255", ""}, {"192.168.0.0", "private"}, {"192.168.255.255", "private"}, {"192.169.0.0", ""},
		{"198.17.255.255", ""}, {"198.18.0.0", "reserved"}, {"198.19.255.255", "reserved"}, {"198.20.0.0", ""},
		{"223.255.255.255", ""}, {"224.0.0.0", "multicast"}, {"239.255.255.255", "multicast"},
		{"240.0.0.0", "reserved"}, {"255.255.255.255", "reserved"},
		{"8.8.8.8", ""}, {"93.184.216.34", ""},
		// IPv6.
		{"::", "unspecified"}, {"::1", "loopback"}, {"::2", "IPv4-compatible"}, {"::7f00:1", "IPv4-compatible"},
		{"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""}, {"fc00::", "unique-local"}, {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique-local"}, {"fe00::", ""},
		{"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""}, {"fe80::", "link-local"}, {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local"},
		{"fec0::", "site-local"}, {"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "site-local"},
		{"feff::1", "site-local"}, {"ff00::", "multicast"}, {"ff02::1", "multicast"}, {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast"},
		{"2001:4860:4860::8888", ""}, {"2606:4700::1111", ""},
		// IPv4 inside IPv6: judged by the IPv4 address.
		{"::ffff:127.0.0.1", "loopback"}, {"::ffff:7f00:1", "loopback"}, {"::ffff:169.254.169.254", "link-local"},
		{"::ffff:10.0.0.1", "private"}, {"::ffff:8.8.8.8", ""}, {"::ffff:0.0.0.0", "unspecified"},
		{"64:ff9b::7f00:1", "loopback"}, {"64:ff9b::a9fe:a9fe", "link-local"}, {"64:ff9b::808:808", ""},
		{"2002:7f00:1::", "loopback"}, {"2002:c0a8:101::1", "private"}, {"2002:808:808::1", ""},
	} {
		a := netip.MustParseAddr(tc.addr)
		if got := addrKind(a); got != tc.kind {
			t.Errorf("%s: %q, want %q", tc.addr, got, tc.kind)
		}
	}
}

// The create-time check: scheme, userinfo, host patterns, literal
// addresses in every form.
func TestCheckURL(t *testing.T) {
	def := mustPolicy(t, CallbackConfig{})
	cfg := mustPolicy(t, CallbackConfig{
		Schemes:       []string{"HTTPS", "http"},
		Hosts:         []string{"hooks.example.com", "*.example.net", "203.0.113.7"},
		TenantHosts:   map[string][]string{"acme": {"*.acme.example"}},
		AllowNetworks: []string{"127.0.0.0/8", "::1/128", "10.1.2.0/24"},
	})
	for _, tc := range []struct {
		name   string
		p      *callbackPolicy
		tenant string
		url    string
		refuse string // "" = allowed; else part of the message
	}{
		{"public https", def, "t", "https://hooks.example.com/x?token=1", ""},
		{"uppercase scheme", def, "t", "HTTPS://hooks.example.com/x", ""},
		{"uppercase host", def, "t", "https://HOOKS.Example.COM/x", ""},
		{"trailing dot", def, "t", "https://hooks.example.com./x", ""},
		{"port", def, "t", "https://hooks.example.com:8443/x", ""},
		{"public IPv4", def, "t", "https://93.184.216.34/x", ""},
		{"public IPv6", def, "t", "https://[2606:4700::1111]:443/x", ""},
		{"http by default", def, "t", "http://hooks.example.com/x", `scheme "http"`},
		{"HTTP by default", def, "t", "HTTP://hooks.example.com/x", `scheme "http"`},
		{"ftp", def, "t", "ftp://hooks.example.com/x", "scheme"},
		{"relative", def, "t", "/hook", "absolute"},
		{"no host", def, "t", "https:///hook", "absolute"},
		{"opaque", def, "t", "https:hooks.example.com", "absolute"},
		{"userinfo", def, "t", "https://user:pw@hooks.example.com/x", "user information"},
		{"userinfo host confusion", def, "t", "https://hooks.example.com@127.0.0.1/x", "user information"},
		{"loopback", def, "t", "https://127.0.0.1/x", "loopback"},
		{"loopback with port", def, "t", "https://127.0.0.1:8080/x", "loopback"},
		{"metadata", def, "t", "https://169.254.169.254/latest/meta-data", "link-local"},
		{"private", def, "t", "https://192.168.1.1/x", "private"},
		{"CGNAT", def, "t", "https://100.64.0.1/x", "CGNAT"},
		{"unspecified", def, "t", "https://0.0.0.0/x", "unspecified"},
		{"multicast", def, "t", "https://224.0.0.1/x", "multicast"},
		{"broadcast", def, "t", "https://255.255.255.255/x", "reserved"},
		{"IPv6 loopback", def, "t", "https://[::1]/x", "loopback"},
		{"IPv6 unspecified", def, "t", "https://[::]/x", "unspecified"},
		{"IPv6 link-local", def, "t", "https://[fe80::1]/x", "link-local"},
		{"IPv6 zone", def, "t", "https://[fe80::1%25eth0]/x", "zone"},
		{"IPv6 unique-local", def, "t", "https://[fd00::1]/x", "unique-local"},
		{"IPv6 multicast", def, "t", "https://[ff02::1]/x", "multicast"},
		{"mapped loopback", def, "t", "https://[::ffff:127.0.0.1]/x", "loopback"},
		{"mapped metadata hex", def, "t", "https://[::ffff:a9fe:a9fe]/x", "link-local"},
		{"NAT64 private", def, "t", "https://[64:ff9b::a00:1]/x", "private"},
		{"decimal IPv4", def, "t", "https://2130706433/x", "neither"},
		{"hex IPv4", def, "t", "https://0x7f.1/x", "neither"},
		{"short IPv4", def, "t", "https://127.1/x", "neither"},
		{"octal IPv4", def, "t", "https://0177.0.0.1/x", "neither"},
		{"bad name", def, "t", "https://bad_host!.example/x", "DNS name"},
		{"bad port", def, "t", "https://hooks.example.com:99999/x", "port"},
		{"port zero", def, "t", "https://hooks.example.com:0/x", "port"},
		// Configured.
		{"http when configured", cfg, "t", "http://hooks.example.com/x", ""},
		{"exact host", cfg, "t", "https://hooks.example.com/x", ""},
		{"other host", cfg, "t", "https://evil.example.com/x", "allow-list"},
		{"suffix host", cfg, "t", "https://a.b.example.net/x", ""},
		{"suffix apex", cfg, "t", "https://example.net/x", "allow-list"},
		{"suffix look-alike", cfg, "t", "https://evilexample.net/x", "allow-list"},
		{"IP pattern", cfg, "t", "https://203.0.113.7/x", ""},
		{"tenant patterns replace global", cfg, "acme", "https://hooks.example.com/x", "allow-list"},
		{"tenant pattern", cfg, "acme", "https://in.acme.example/x", ""},
		{"allowed loopback", cfg, "t", "http://127.0.0.1:9000/x", "allow-list"}, // host patterns still apply
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.checkURL(tc.tenant, tc.url)
			switch {
			case tc.refuse == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.refuse != "" && err == nil:
				t.Fatal("allowed")
			case tc.refuse != "" && (!strings.Contains(err.Error(), tc.refuse) || !errors.Is(err, errCallbackRefused)):
				t.Fatalf("%v, want a refusal mentioning %q", err, tc.refuse)
			}
		})
	}
	// allow_networks opens exactly its prefixes.
	open := mustPolicy(t, CallbackConfig{Schemes: []string{"http"}, AllowNetworks: []string{"127.0.0.0/8", "::1/128", "10.1.2.0/24"}})
	for u, ok := range map[string]bool{
		"http://127.0.0.1:9000/x":        true,
		"http://[::1]/x":                 true,
		"http://[::ffff:127.0.0.1]/x":    true,
		"http://10.1.2.255/x":            true,
		"http://10.1.3.0/x":              false,
		"http://169.254.169.254/x":       false,
		"http://[fe80::1]/x":             false,
		"http://localhost.example.com/x": true, // names: checked on connection
	} {
		if err := open.checkURL("t", u); (err == nil) != ok {
			t.Errorf("%s: %v, want allowed=%v", u, err, ok)
		}
	}
}

func TestCallbackConfigValidation(t *testing.T) {
	for _, c := range []CallbackConfig{
		{Schemes: []string{"ftp"}},
		{Hosts: []string{""}},
		{Hosts: []string{"*"}},
		{Hosts: []string{"a.*.example"}},
		{Hosts: []string{"https://a.example"}},
		{TenantHosts: map[string][]string{"acme": {"*.*.example"}}},
		{AllowNetworks: []string{"127.0.0.1"}},
		{AllowNetworks: []string{"localhost"}},
	} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if err := (CallbackConfig{Hosts: []string{"a.example", "*.b.example", "::1"}, AllowNetworks: []string{"fd00::/8"}}).Validate(); err != nil {
		t.Error(err)
	}
}

func mustPolicy(t *testing.T, c CallbackConfig) *callbackPolicy {
	t.Helper()
	p, err := newCallbackPolicy(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A host name the allow-list accepts that resolves to the loopback
// interface at delivery time (DNS rebinding) is never connected to; with
// loopback explicitly allowed the same delivery goes through.
func TestDialerRefusesRebinding(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	url := "http://hook.tenant.example:" + port + "/hook"

	newRelay := func(c CallbackConfig, answer ...string) *Relay {
		cfg := DemoConfig()
		cfg.Callbacks = c
		cfg.TenantWebhookSecrets = map[string]secret.Secret{"acme": "acme-secret"}
		r, err := NewRelay(cfg, nil, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		r.dial.lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
			if host != "hook.tenant.example" {
				t.Errorf("resolved %q", host)
			}
			var out []netip.Addr
			for _, a := range answer {
				out = append(out, netip.MustParseAddr(a))
			}
			return out, nil
		}
		return r
	}
	strict := CallbackConfig{Schemes: []string{"http"}, Hosts: []string{"*.tenant.example"}}
	for _, answer := range [][]string{
		{"127.0.0.1"},
		{"::ffff:127.0.0.1"},
		{"93.184.216.34", "127.0.0.1"}, // one bad address refuses the name
		{"169.254.169.254"},
	} {
		r := newRelay(strict, answer...)
		if err := r.CheckCallback("acme", url); err != nil {
			t.Fatalf("create-time check refused an allowed name: %v", err)
		}
		_, err := r.post(&delivery{tenant: "acme", url: url, eventID: "ev", body: []byte(`{}`)}, "1", "v1=00")
		if !errors.Is(err, errCallbackRefused) {
			t.Errorf("%v: %v, want refused", answer, err)
		}
	}
	// The connection-level check alone, for an address no lookup saw.
	if err := mustPolicy(t, strict).control("tcp4", "127.0.0.1:80", nil); !errors.Is(err, errCallbackRefused) {
		t.Errorf("control: %v", err)
	}
	if err := mustPolicy(t, strict).control("tcp6", "[::1]:80", nil); !errors.Is(err, errCallbackRefused) {
		t.Errorf("control: %v", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("receiver reached %d times", hits.Load())
	}
	allowed := strict
	allowed.AllowNetworks = []string{"127.0.0.0/8"}
	r := newRelay(allowed, "127.0.0.1")
	if st, err := r.post(&delivery{tenant: "acme", url: url, eventID: "ev", body: []byte(`{}`)}, "1", "v1=00"); err != nil || st != 200 {
		t.Fatalf("allowed loopback: %d %v", st, err)
	}
	if hits.Load() != 1 {
		t.Fatalf("receiver reached %d times, want 1", hits.Load())
	}
}

// A receiver that answers without end is cut off at the body bound and
// the timeout, and the attempt still counts by its status.
func TestRelayBoundsTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		chunk := []byte(strings.Repeat("x", 32<<10))
		for range 1 << 10 { // 32 MiB offered
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	cfg := DemoConfig()
	cfg.TenantWebhookSecrets = map[string]secret.Secret{"acme": "acme-secret"}
	cfg.Delivery.Timeout = 2 * time.Second
	r, err := NewRelay(cfg, nil, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := time.Now()
	st, err := r.post(&delivery{tenant: "acme", url: srv.URL, eventID: "ev", body: []byte(`{}`)}, "1", "v1=00")
	if err != nil || st != 200 {
		t.Fatalf("%d %v", st, err)
	}
	if d := time.Since(start); d > cfg.Delivery.Timeout {
		t.Fatalf("took %s", d)
	}
}

// A refused callback is answered by the gateway: never forwarded, no quota
// unit taken, not billed.
func TestCreateRefusesCallbackNotForwarded(t *testing.T) {
	f := newFixture(t, 0, "")
	f.up.set("POST "+contracts.SessionsPath, 201, sessionJSON("never", contracts.StateCreated, 1, 0))
	for _, cb := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"http://[::ffff:10.0.0.1]/hook",
		"https://192.168.0.10/hook",
		"https://user:pw@hooks.example.com/hook",
		"gopher://hooks.example.com/hook",
		"http://2130706433/hook",
	} {
		body, _ := json.Marshal(contracts.CreateSessionRequest{CallbackURL: cb})
		st, b := f.do(t, "POST", contracts.SessionsPath, "acme-key", string(body))
		var eb contracts.ErrorBody
		json.Unmarshal([]byte(b), &eb)
		if st != 400 || eb.Error.Code != contracts.ErrTokenMismatched || !strings.Contains(eb.Error.Message, "callback") {
			t.Errorf("%s: %d %s, want 400 token_mismatched naming the callback", cb, st, b)
		}
	}
	if n := f.up.calls["POST "+contracts.SessionsPath]; n != 0 {
		t.Fatalf("forwarded %d times", n)
	}
	if u, _ := f.quota.Tenant("acme", time.Now()); u.Used != 0 || u.Reserved != 0 {
		t.Fatalf("quota %+v", u)
	}
	for _, e := range f.led.Entries() {
		if e.Billed || e.HTTPStatus != 400 {
			t.Fatalf("ledger entry %+v", e)
		}
	}
}

// The create-time check never panics, and what it accepts has an allowed
// scheme, no userinfo and no literal non-public address.
func FuzzCheckCallback(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/x", "http://127.0.0.1:1/", "https://[::ffff:7f00:1]/", "HTTPS://u@h/", "https://[fe80::1%25eth0]/", "https://0x7f.1/"} {
		f.Add(s)
	}
	p, err := newCallbackPolicy(CallbackConfig{Hosts: []string{"*.example.com", "::ffff:7f00:1", "0x7f.1"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if p.checkURL("t", raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || !strings.EqualFold(u.Scheme, "https") || u.User != nil {
			t.Fatalf("accepted %q", raw)
		}
		if a, err := netip.ParseAddr(u.Hostname()); err == nil && addrKind(a) != "" {
			t.Fatalf("accepted %q: %s", raw, addrKind(a))
		}
	})
}
