package testkit

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
)

// Client sends the kit's requests: pooled connections for many concurrent
// clients, and a timeout above every answer the tests wait for.
var Client = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}}

// Answer is what a request got back.
type Answer struct {
	Status int
	Header http.Header
	Body   string
	// Code is a check answer's result code (200) or error code (others).
	Code string
	Took time.Duration
	Err  error // no answer: the request or the connection failed
}

// RequestID is the answer's X-Request-Id.
func (a Answer) RequestID() string { return a.Header.Get("X-Request-Id") }

// Check posts a check request body to baseURL+contracts.CheckPath as JSON,
// with token as bearer credentials (none when "") and header as name,
// value pairs (a pair with an empty value is left out). A transport error
// is a test error (t.Errorf: client goroutines may call it) and is in Err.
func Check(t testing.TB, baseURL, token, body string, header ...string) Answer {
	t.Helper()
	a := TryCheck(baseURL, token, body, header...)
	if a.Err != nil {
		t.Errorf("testkit: check request: %v", a.Err)
	}
	return a
}

// TryCheck is Check for tests that expect requests to fail (a gateway
// shutting down under load) or count the failures themselves: the error is
// only in Err.
func TryCheck(baseURL, token, body string, header ...string) Answer {
	a := do(http.MethodPost, baseURL+contracts.CheckPath, token, body, header)
	if a.Err != nil {
		return a
	}
	if a.Status == http.StatusOK {
		var r contracts.CheckResponse
		if json.Unmarshal([]byte(a.Body), &r) == nil {
			a.Code = string(r.Result)
		}
	} else {
		var e contracts.ErrorBody
		if json.Unmarshal([]byte(a.Body), &e) == nil {
			a.Code = string(e.Error.Code)
		}
	}
	return a
}

// Call sends any request (a JSON body unless body is "") with token as
// bearer credentials (none when "") and header as name, value pairs, and
// returns the status and body. A transport error fails t.
func Call(t testing.TB, method, url, token, body string, header ...string) (int, string) {
	t.Helper()
	a := do(method, url, token, body, header)
	if a.Err != nil {
		t.Fatalf("testkit: %s %s: %v", method, url, a.Err)
	}
	return a.Status, a.Body
}

func do(method, url, token, body string, header []string) Answer {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return Answer{Err: err}
	}
	if body != "" || method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] != "" {
			req.Header.Set(header[i], header[i+1])
		}
	}
	start := time.Now()
	resp, err := Client.Do(req)
	if err != nil {
		return Answer{Err: err, Took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return Answer{Status: resp.StatusCode, Header: resp.Header, Body: string(b), Took: time.Since(start), Err: err}
}
