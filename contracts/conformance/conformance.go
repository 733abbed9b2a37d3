// Package conformance checks that a server speaks the authority's contract:
// every documented status and body shape, content types, error bodies and
// result codes. It runs against any base URL — the simulator, the gateway in
// front of it, or a staging authority — from Go tests (Run) or the
// conformance command.
package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/idgate/idgate/contracts"
)

// Target describes the server under test.
type Target struct {
	BaseURL string // e.g. http://127.0.0.1:8081
	Token   string // a valid bearer token
	// Prefer says the server honours the simulator's Prefer header (the
	// simulator, or a gateway that forwards it).
	Prefer bool
	// Magic says the server answers the magic identities (the simulator, or
	// a gateway in front of it).
	Magic bool
	// Gateway says an idgate gateway sits in front: network faults come back
	// as 500 api_error and every answer carries X-Request-Id.
	Gateway bool
	// Sessions says the server serves the verification-session API.
	Sessions bool
	// PhoneURL is the simulator's base URL for the phone side of sessions
	// (/phone/...): the phone talks to the authority, never through the
	// tenant's gateway. Empty skips the checks that walk a session.
	PhoneURL string
	// TencentSecretID and TencentSecretKey, when set, add the checks of
	// the Tencent Cloud API 3.0 dialect (FaceID 2018-03-01), signed with
	// this pair as the official SDKs sign.
	TencentSecretID  string
	TencentSecretKey string
	Client           *http.Client
}

// Check is one conformance check.
type Check struct {
	Name string
	Run  func(ctx context.Context, e *Env) error
}

// Env is what a check sees.
type Env struct {
	Target
	spec *openapi3.T
}

var (
	specOnce sync.Once
	spec     *openapi3.T
	specErr  error
)

func loadSpec() (*openapi3.T, error) {
	specOnce.Do(func() {
		spec, specErr = openapi3.NewLoader().LoadFromData(contracts.OpenAPI)
		if specErr == nil {
			specErr = spec.Validate(context.Background())
		}
	})
	return spec, specErr
}

// NewEnv prepares a target for checks.
func NewEnv(t Target) (*Env, error) {
	s, err := loadSpec()
	if err != nil {
		return nil, fmt.Errorf("conformance: openapi: %w", err)
	}
	if t.Client == nil {
		t.Client = &http.Client{Timeout: 10 * time.Second}
	}
	t.BaseURL = strings.TrimRight(t.BaseURL, "/")
	return &Env{Target: t, spec: s}, nil
}

// Run runs every applicable check as a subtest.
func Run(t *testing.T, target Target) {
	t.Helper()
	env, err := NewEnv(target)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Checks(target) {
		t.Run(c.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := c.Run(ctx, env); err != nil {
				t.Error(err)
			}
		})
	}
}

// Answer is a decoded HTTP answer.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Request is one call to the server.
type Request struct {
	Method      string
	Path        string
	Token       string // "" sends no authorization header
	ContentType string
	Body        []byte
	Header      map[string]string
}

// Do sends a request and reads the whole answer.
func (e *Env) Do(ctx context.Context, r Request) (*Answer, error) {
	if r.Method == "" {
		r.Method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, e.BaseURL+r.Path, bytes.NewReader(r.Body))
	if err != nil {
		return nil, err
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	req.Header.Set("Accept", "application/json")
	if r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	resp, err := e.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return &Answer{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// Check sends a check-2e request with a valid token and JSON content type.
func (e *Env) Check(ctx context.Context, body any, header map[string]string) (*Answer, error) {
	b, ok := body.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	return e.Do(ctx, Request{Path: contracts.CheckPath, Token: e.Token, ContentType: "application/json", Body: b, Header: header})
}

// ExpectResult asserts a 200 answer with the given result code whose body
// matches the CheckResponse schema.
func (e *Env) ExpectResult(a *Answer, want contracts.ResultCode) (contracts.CheckResponse, error) {
	var r contracts.CheckResponse
	if a.Status != http.StatusOK {
		return r, fmt.Errorf("status %d, want 200 (body %s)", a.Status, a.Body)
	}
	if err := e.common(a, "CheckResponse"); err != nil {
		return r, err
	}
	if err := json.Unmarshal(a.Body, &r); err != nil {
		return r, fmt.Errorf("decode: %w", err)
	}
	if r.Result != want {
		return r, fmt.Errorf("result %q, want %q (%s)", r.Result, want, r.Description)
	}
	if r.Description == "" {
		return r, errors.New("empty description")
	}
	return r, nil
}

// ExpectError asserts an error answer with the given code and its status.
func (e *Env) ExpectError(a *Answer, want contracts.ErrorCode) (contracts.ErrorBody, error) {
	var b contracts.ErrorBody
	if a.Status != want.Status() {
		return b, fmt.Errorf("status %d, want %d %s (body %s)", a.Status, want.Status(), want, a.Body)
	}
	if err := e.common(a, "ErrorBody"); err != nil {
		return b, err
	}
	if err := json.Unmarshal(a.Body, &b); err != nil {
		return b, fmt.Errorf("decode: %w", err)
	}
	if b.Success || b.Error.Code != want || b.Error.Message == "" || b.TraceID == "" {
		return b, fmt.Errorf("error body %s, want code %s with message and trace_id", a.Body, want)
	}
	return b, nil
}

// common checks what every answer shares: JSON content type, a body valid
// against the named schema, and X-Request-Id behind a gateway.
func (e *Env) common(a *Answer, schema string) error {
	if ct := a.Header.Get("Content-Type"); !contracts.IsJSONContentType(ct) {
		return fmt.Errorf("content type %q, want application/json", ct)
	}
	if e.Gateway && a.Header.Get("X-Request-Id") == "" {
		return errors.New("gateway answer without X-Request-Id")
	}
	return e.ValidateSchema(schema, a.Body)
}

// ValidateSchema validates a JSON body against a component schema of the
// OpenAPI document.
func (e *Env) ValidateSchema(schema string, body []byte) error {
	ref, ok := e.spec.Components.Schemas[schema]
	if !ok {
		return fmt.Errorf("schema %s not in openapi.yaml", schema)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("body is not JSON: %w (%q)", err, truncate(body))
	}
	if err := ref.Value.VisitJSON(v); err != nil {
		return fmt.Errorf("body does not match %s: %v (%s)", schema, err, truncate(body))
	}
	return nil
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
