package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/config"
	"github.com/idgate/idgate/simulator/outcome"
	"github.com/idgate/idgate/simulator/stats"
)

const (
	testToken = "sim-token"
	testAdmin = "sim-admin-token"
	validID   = "11010519491231002X"
	validName = "张三"
)

// testServer runs a simulator on a loopback TCP port.
type testServer struct {
	*Server
	URL    string
	client *http.Client
}

func start(t *testing.T, mutate func(*config.Config), opts ...Option) *testServer {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.MaxHang = config.Duration(5 * time.Second)
	if mutate != nil {
		mutate(&cfg)
	}
	opts = append([]Option{WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	s, err := New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-done
	})
	// A fresh transport per server: a fault must not poison a pooled
	// connection another test reuses.
	tr := &http.Transport{DisableKeepAlives: false, MaxIdleConnsPerHost: 4}
	t.Cleanup(tr.CloseIdleConnections)
	return &testServer{Server: s, URL: "http://" + ln.Addr().String(), client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

type reqOpt func(*http.Request)

func withPrefer(v string) reqOpt { return func(r *http.Request) { r.Header.Set("Prefer", v) } }
func withToken(v string) reqOpt {
	return func(r *http.Request) {
		if v == "" {
			r.Header.Del("Authorization")
		} else {
			r.Header.Set("Authorization", "Bearer "+v)
		}
	}
}
func withHeader(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }
func withMethod(m string) reqOpt    { return func(r *http.Request) { r.Method = m } }

func checkBody(name, id string) string {
	b, _ := json.Marshal(contracts.CheckRequest{Name: name, IDCard: id})
	return string(b)
}

// do sends a check request (JSON, sim-token) and returns status, headers
// and body.
func (ts *testServer) do(t *testing.T, path, body string, opts ...reqOpt) (int, http.Header, []byte) {
	t.Helper()
	resp, err := ts.send(path, body, opts...)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, resp.Header, b
}

func (ts *testServer) send(path, body string, opts ...reqOpt) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testToken)
	for _, o := range opts {
		o(req)
	}
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		req.Body, req.ContentLength = nil, 0
	}
	return ts.client.Do(req)
}

// check posts a valid-by-default request and decodes the 200 answer.
func (ts *testServer) check(t *testing.T, body string, opts ...reqOpt) contracts.CheckResponse {
	t.Helper()
	st, _, b := ts.do(t, contracts.CheckPath, body, opts...)
	if st != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", st, b)
	}
	var r contracts.CheckResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return r
}

// expectError asserts an error answer in the authority's shape.
func expectError(t *testing.T, st int, h http.Header, b []byte, wantStatus int, wantCode contracts.ErrorCode) contracts.ErrorBody {
	t.Helper()
	if st != wantStatus {
		t.Fatalf("status %d, want %d; body %s", st, wantStatus, b)
	}
	if ct := h.Get("Content-Type"); !contracts.IsJSONContentType(ct) {
		t.Errorf("content-type %q", ct)
	}
	var e contracts.ErrorBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s: %v", b, err)
	}
	if e.Success || e.Error.Code != wantCode || e.Error.Message == "" || len(e.TraceID) != 36 {
		t.Errorf("error body %+v, want code %s, a message and a trace id", e, wantCode)
	}
	return e
}

func (ts *testServer) admin(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatalf("admin %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (ts *testServer) stats(t *testing.T) stats.Snapshot {
	t.Helper()
	st, b := ts.admin(t, http.MethodGet, "/admin/stats", "")
	if st != 200 {
		t.Fatalf("stats: %d %s", st, b)
	}
	var s stats.Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("stats %s: %v", b, err)
	}
	return s
}

func (ts *testServer) setScenario(t *testing.T, token, spec string) {
	t.Helper()
	st, b := ts.admin(t, http.MethodPut, "/admin/scenarios/"+token, spec)
	if st != 200 {
		t.Fatalf("set scenario: %d %s", st, b)
	}
}

type outcomeSpec = outcome.ScenarioSpec
