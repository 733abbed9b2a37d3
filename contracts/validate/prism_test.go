package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts/conformance"
	"github.com/idgate/idgate/internal/testkit"
	"github.com/idgate/idgate/loadtest/bench/load"
)

// TestPrismProxy puts Prism's validating proxy in front of the simulator
// and, separately, in front of the gateway, and runs the conformance suite
// and the k6 smoke script through each. Prism compares every request and
// every answer with contracts/openapi.yaml and reports what differs in the
// sl-violations header of the answer; the test fails on:
//
//   - any violation of an answer (the program answered outside the
//     document), and
//   - any violation of a request the server accepted with a 2xx (the
//     document refuses what the program serves).
//
// Requests that break the contract on purpose (no token, a wrong content
// type or field type, an unknown path) carry request violations and must
// be refused by the server; that is what the checks themselves assert.
//
// Prism runs without --errors: with it, Prism answers a request that breaks
// the document itself (401, 422) instead of forwarding it, so the server's
// own answers to bad input would go unchecked, and it turns an answer's
// violations into its own 500; the header reports request and answer
// violations either way.
//
// The conformance suite runs without the Tencent Cloud API 3.0 checks:
// that dialect (POST / with the action in X-TC-Action) is not part of
// openapi.yaml, and its TC3 signature covers the Host header, which Prism
// replaces with the target's when it forwards, and the body's bytes, which
// Prism parses and serialises again.
func TestPrismProxy(t *testing.T) {
	prism := tool(t, "prism")
	k6 := k6Binary(t)
	fastReview := "IDGATE_SIM_SESSIONS_TIME_SCALE=0.001"
	sim, gw := testkit.StartStack(t, fastReview)

	simProxy := startValidatingProxy(t, prism, sim.URL)
	gwProxy := startValidatingProxy(t, prism, gw.URL)

	t.Run("simulator", func(t *testing.T) {
		runConformance(t, []*validatingProxy{simProxy}, conformance.Target{BaseURL: simProxy.URL,
			Token: testkit.SimToken, Prefer: true, Magic: true, Sessions: true, PhoneURL: simProxy.URL})
		runSmoke(t, k6, simProxy, "BASE_URL="+simProxy.URL, "API_KEY="+testkit.SimToken, "GATEWAY=false")
	})
	t.Run("gateway", func(t *testing.T) {
		// The phone side talks to the simulator, through its own proxy.
		runConformance(t, []*validatingProxy{gwProxy, simProxy}, conformance.Target{BaseURL: gwProxy.URL,
			Token: testkit.DemoKey, Prefer: true, Magic: true, Gateway: true, Sessions: true, PhoneURL: simProxy.URL})
		runSmoke(t, k6, gwProxy, "BASE_URL="+gwProxy.URL, "API_KEY="+testkit.DemoKey, "GATEWAY=true")
	})
	if t.Failed() {
		t.Logf("prism in front of the simulator:\n%s", simProxy.prism.Output())
		t.Logf("prism in front of the gateway:\n%s", gwProxy.prism.Output())
	}
}

// runConformance runs every conformance check as a subtest and fails it
// on the violations its requests drew from the proxies.
func runConformance(t *testing.T, proxies []*validatingProxy, target conformance.Target) {
	t.Helper()
	env, err := conformance.NewEnv(target)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conformance.Checks(target) {
		t.Run(c.Name, func(t *testing.T) {
			for _, p := range proxies {
				p.take()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := c.Run(ctx, env); err != nil {
				t.Error(err)
			}
			for _, p := range proxies {
				p.report(t)
			}
		})
	}
}

// runSmoke runs loadtest/k6/smoke.js through the proxy.
func runSmoke(t *testing.T, k6 string, p *validatingProxy, env ...string) {
	t.Run("k6 smoke", func(t *testing.T) {
		p.take()
		root, err := testkit.ModuleRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		data := filepath.Join(dir, "data.json")
		f, err := os.Create(data)
		if err != nil {
			t.Fatal(err)
		}
		if err := load.WriteData(f, 100, 7); err != nil {
			t.Fatal(err)
		}
		f.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, k6, "run", "--quiet", "--no-usage-report", filepath.Join(root, "loadtest", "k6", "smoke.js"))
		cmd.Env = append(os.Environ(), append(env, "DATA_FILE="+data, "RESULTS_DIR="+dir, "K6_NO_USAGE_REPORT=true")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("k6 smoke.js through prism: %v\n%s", err, out)
		}
		p.report(t)
	})
}

// k6Binary finds the pinned k6 that `make setup` installs into bin/.
func k6Binary(t *testing.T) string {
	root, err := testkit.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if p := filepath.Join(root, "bin", "k6"); isFile(p) {
		return p
	}
	if p, err := exec.LookPath("k6"); err == nil {
		return p
	}
	testkit.Need(t, false, "k6 not found: run `make setup` (installs go.k6.io/k6 into bin/)")
	return ""
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// violation is one entry of Prism's sl-violations header.
type violation struct {
	Location []string `json:"location"`
	Severity string   `json:"severity"`
	Code     any      `json:"code"`
	Message  string   `json:"message"`
}

func (v violation) String() string {
	s := fmt.Sprintf("%s %s: %s", v.Severity, strings.Join(v.Location, "."), v.Message)
	if v.Code != nil {
		s += fmt.Sprintf(" (%v)", v.Code)
	}
	return s
}

// exchange is one request through the proxy and what Prism said of it.
type exchange struct {
	method, path string
	status       int
	violations   []violation
	raw          string // the header when it is not a JSON list
	bypassed     bool   // sent to the target directly (see validatingProxy)
	broken       string // the exchange with Prism broke: why
}

// problems lists what fails the test: any answer violation, and request
// violations of a request the server accepted.
func (x exchange) problems() []string {
	var out []string
	if x.raw != "" {
		out = append(out, "unreadable sl-violations: "+x.raw)
	}
	for _, v := range x.violations {
		answer := len(v.Location) > 0 && v.Location[0] == "response"
		if answer || (x.status >= 200 && x.status < 300) {
			out = append(out, v.String())
		}
	}
	return out
}

// validatingProxy is Prism in front of a target, behind a recorder that
// keeps every exchange's status and violations.
//
// A request whose JSON body does not parse goes to the target directly:
// Prism parses JSON bodies before anything else and answers an unparsable
// one itself (400 invalid_json), so it can neither forward it nor validate
// anything of it; the server's own answer is still checked by the suite.
type validatingProxy struct {
	URL   string // the recorder, for clients
	prism *testkit.Proc

	mu        sync.Mutex
	exchanges []exchange
}

func startValidatingProxy(t *testing.T, prism, target string) *validatingProxy {
	t.Helper()
	p := &validatingProxy{}
	var prismURL string
	p.prism = testkit.StartOnFreePorts(t, prism, nil, func() ([]string, string) {
		_, port, _ := net.SplitHostPort(testkit.FreeAddr(t))
		prismURL = "http://127.0.0.1:" + port
		// The target's /healthz is not in the document: Prism forwards it
		// with a "route not found" warning, and its 200 means both are up.
		return []string{"proxy", "../openapi.yaml", target, "--host", "127.0.0.1", "--port", port, "--cors=false"}, prismURL + "/healthz"
	})
	pu, err := url.Parse(prismURL)
	if err != nil {
		t.Fatal(err)
	}
	tu, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			to := pu
			if unparsableJSON(r.Out) {
				to = tu
			}
			r.SetURL(to)
			r.Out.Host = r.In.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			x := exchange{method: resp.Request.Method, path: resp.Request.URL.Path, status: resp.StatusCode,
				bypassed: resp.Request.URL.Host == tu.Host}
			if !x.bypassed && resp.Request.Method == http.MethodGet && binary(resp.Header.Get("Content-Type")) {
				if err := targetBody(resp, tu); err != nil {
					return err
				}
			}
			if h := resp.Header.Get("sl-violations"); h != "" {
				if err := json.Unmarshal([]byte(h), &x.violations); err != nil {
					x.raw = h
				}
			}
			p.mu.Lock()
			p.exchanges = append(p.exchanges, x)
			p.mu.Unlock()
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// The exchange with Prism broke: pass the break on, as the
			// target's own fault would reach a client, and keep the cause.
			p.mu.Lock()
			p.exchanges = append(p.exchanges, exchange{method: r.Method, path: r.URL.Path, broken: err.Error()})
			p.mu.Unlock()
			panic(http.ErrAbortHandler)
		},
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// unparsableJSON reports a request with a JSON content type and a body
// that is not JSON, restoring the body for forwarding.
func unparsableJSON(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" || r.Body == nil {
		return false
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	return err == nil && len(b) > 0 && !json.Valid(b)
}

// binary reports a content type whose bodies are not text.
func binary(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return strings.HasPrefix(mt, "image/") || mt == "application/octet-stream"
}

// targetBody replaces the body of Prism's answer to a GET with the
// target's own: Prism reads every upstream body that is not JSON as UTF-8
// text and so garbles binary ones (the session's QR code PNG). Its verdict
// on the answer (status, headers, violations) stands.
func targetBody(resp *http.Response, target *url.URL) error {
	u := *resp.Request.URL
	u.Scheme, u.Host = target.Scheme, target.Host
	req, err := http.NewRequestWithContext(resp.Request.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header = resp.Request.Header.Clone()
	direct, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("validate: %s directly: %w", u.Path, err)
	}
	defer direct.Body.Close()
	b, err := io.ReadAll(direct.Body)
	if err != nil {
		return fmt.Errorf("validate: %s directly: %w", u.Path, err)
	}
	if direct.StatusCode != resp.StatusCode || direct.Header.Get("Content-Type") != resp.Header.Get("Content-Type") {
		return fmt.Errorf("validate: %s directly answered %d %s, through prism %d %s", u.Path,
			direct.StatusCode, direct.Header.Get("Content-Type"), resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
	return nil
}

// take returns and forgets the exchanges recorded so far.
func (p *validatingProxy) take() []exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	x := p.exchanges
	p.exchanges = nil
	return x
}

// report fails t on the problems of the exchanges recorded since the last
// take, and logs the expected request violations.
func (p *validatingProxy) report(t *testing.T) {
	t.Helper()
	for _, x := range p.take() {
		if probs := x.problems(); len(probs) > 0 {
			t.Errorf("prism: %s %s answered %d: %s", x.method, x.path, x.status, strings.Join(probs, "; "))
		} else if len(x.violations) > 0 {
			t.Logf("prism: %s %s answered %d, request refused as the document says: %v", x.method, x.path, x.status, x.violations)
		}
		if x.broken != "" {
			t.Logf("%s %s: no answer through prism: %s", x.method, x.path, x.broken)
		}
		if x.bypassed {
			t.Logf("%s %s: body not JSON, sent to the target directly (answered %d)", x.method, x.path, x.status)
		}
	}
}
