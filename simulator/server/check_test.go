package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/config"
	"github.com/idgate/idgate/simulator/fault"
)

func TestDefaultAnswerIsConsistentAndStable(t *testing.T) {
	ts := start(t, nil)
	for i := 0; i < 3; i++ {
		r := ts.check(t, checkBody(validName, validID))
		info, _ := contracts.LookupResult(contracts.ResultConsistent)
		if r.Result != contracts.ResultConsistent || r.Description != info.Description || r.Sim != nil {
			t.Fatalf("answer %+v", r)
		}
	}
	// With image_url: a passing similarity, the same for the same input.
	body := `{"name":"张三","id_card":"11010519491231002X","image_url":"https://example.test/a.jpg"}`
	a, b := ts.check(t, body), ts.check(t, body)
	if a.Sim == nil || b.Sim == nil || *a.Sim != *b.Sim || *a.Sim < contracts.FaceThreshold || *a.Sim > 100 {
		t.Fatalf("sim %v %v", a.Sim, b.Sim)
	}
	other := ts.check(t, `{"name":"张三","id_card":"11010519491231002X","image_url":"https://example.test/b.jpg"}`)
	if other.Sim == nil {
		t.Fatal("no sim")
	}
}

func TestEveryResultViaPrefer(t *testing.T) {
	ts := start(t, nil)
	for _, r := range contracts.Results {
		t.Run(string(r.Code), func(t *testing.T) {
			got := ts.check(t, checkBody(validName, validID), withPrefer("result="+string(r.Code)))
			if got.Result != r.Code || got.Description != r.Description {
				t.Errorf("got %+v, want %s", got, r.Code)
			}
		})
	}
}

func TestEveryResultViaMagicIdentity(t *testing.T) {
	ts := start(t, nil)
	for _, m := range contracts.MagicIdentities {
		if m.Result == "" {
			continue
		}
		t.Run(m.IDCard, func(t *testing.T) {
			body := fmt.Sprintf(`{"name":%q,"id_card":%q,"image_url":"https://example.test/face.jpg"}`, m.Name, m.IDCard)
			got := ts.check(t, body)
			if got.Result != m.Result {
				t.Errorf("result %s, want %s", got.Result, m.Result)
			}
			if m.Sim != 0 && (got.Sim == nil || *got.Sim != m.Sim) {
				t.Errorf("sim %v, want %v", got.Sim, m.Sim)
			}
		})
	}
	// -2 and -3 need no magic: the real validation answers them.
	invalid := []struct {
		name, body string
		want       contracts.ResultCode
	}{
		{"bad check char", checkBody(validName, "110105194912310021"), contracts.ResultIllegalID},
		{"lower-case x", checkBody(validName, "11010519491231002x"), contracts.ResultIllegalID},
		{"short number", checkBody(validName, "1101051949"), contracts.ResultIllegalID},
		{"latin name", checkBody("Zhang San", validID), contracts.ResultIllegalName},
		{"look-alike dot", checkBody("买买提.艾力", validID), contracts.ResultIllegalName},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			// Even a Prefer header cannot turn invalid input into "0".
			if got := ts.check(t, tc.body, withPrefer("result=0")); got.Result != tc.want {
				t.Errorf("result %s, want %s", got.Result, tc.want)
			}
		})
	}
}

func TestEveryResultViaScenario(t *testing.T) {
	ts := start(t, nil)
	for _, r := range contracts.Results {
		t.Run(string(r.Code), func(t *testing.T) {
			ts.setScenario(t, testToken, fmt.Sprintf(`{"seed":1,"outcomes":[{"result":%q,"weight":1}]}`, r.Code))
			if got := ts.check(t, checkBody(validName, validID)); got.Result != r.Code {
				t.Errorf("result %s, want %s", got.Result, r.Code)
			}
		})
	}
}

func TestEveryHTTPErrorViaEachPath(t *testing.T) {
	ts := start(t, nil)
	magicByStatus := map[int]contracts.MagicIdentity{}
	for _, m := range contracts.MagicIdentities {
		if m.Status != 0 {
			magicByStatus[m.Status] = m
		}
	}
	for _, st := range []int{400, 401, 429, 500} {
		code := statusCode(st)
		t.Run("prefer/"+strconv.Itoa(st), func(t *testing.T) {
			s, h, b := ts.do(t, contracts.CheckPath, checkBody(validName, validID), withPrefer("status="+strconv.Itoa(st)))
			expectError(t, s, h, b, st, code)
			if st == 429 && h.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		})
		t.Run("scenario/"+strconv.Itoa(st), func(t *testing.T) {
			ts.setScenario(t, testToken, fmt.Sprintf(`{"outcomes":[{"status":%d,"weight":1}]}`, st))
			defer ts.admin(t, http.MethodDelete, "/admin/scenarios/"+testToken, "")
			s, h, b := ts.do(t, contracts.CheckPath, checkBody(validName, validID))
			expectError(t, s, h, b, st, code)
		})
		if m, ok := magicByStatus[st]; ok {
			t.Run("magic/"+strconv.Itoa(st), func(t *testing.T) {
				s, h, b := ts.do(t, contracts.CheckPath, checkBody(m.Name, m.IDCard))
				expectError(t, s, h, b, st, code)
			})
		}
	}
}

func TestAuthentication(t *testing.T) {
	ts := start(t, nil)
	cases := []struct {
		name string
		opt  reqOpt
	}{
		{"missing", withToken("")},
		{"unknown", withToken("not-a-token")},
		{"admin token is not an API token", withToken(testAdmin)},
		{"wrong scheme", withHeader("Authorization", "Basic c2ltLXRva2Vu")},
		{"scheme only", withHeader("Authorization", "Bearer ")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, h, b := ts.do(t, contracts.CheckPath, checkBody(validName, validID), tc.opt)
			expectError(t, s, h, b, 401, contracts.ErrInvalidToken)
		})
	}
	// The scheme is case-insensitive (RFC 7235).
	ts.check(t, checkBody(validName, validID), withHeader("Authorization", "bearer "+testToken))
}

func TestBadInput(t *testing.T) {
	ts := start(t, func(c *config.Config) { c.BodyLimit = 1024 })
	big := `{"name":"张三","id_card":"11010519491231002X","image_url":"` + strings.Repeat("a", 2000) + `"}`
	cases := []struct {
		name string
		path string
		body string
		opts []reqOpt
		code contracts.ErrorCode
	}{
		{"malformed JSON", contracts.CheckPath, `{"name":"张三",`, nil, contracts.ErrTokenMismatched},
		{"not an object", contracts.CheckPath, `["张三"]`, nil, contracts.ErrTokenMismatched},
		{"empty body", contracts.CheckPath, ``, nil, contracts.ErrTokenMismatched},
		{"wrong content type", contracts.CheckPath, checkBody(validName, validID), []reqOpt{withHeader("Content-Type", "text/plain")}, contracts.ErrTokenMismatched},
		{"form content type", contracts.CheckPath, `name=x`, []reqOpt{withHeader("Content-Type", "application/x-www-form-urlencoded")}, contracts.ErrTokenMismatched},
		{"missing content type", contracts.CheckPath, checkBody(validName, validID), []reqOpt{withHeader("Content-Type", "")}, contracts.ErrTokenMismatched},
		{"gzip body", contracts.CheckPath, checkBody(validName, validID), []reqOpt{withHeader("Content-Encoding", "gzip")}, contracts.ErrTokenMismatched},
		{"latin-1 charset", contracts.CheckPath, checkBody(validName, validID), []reqOpt{withHeader("Content-Type", "application/json; charset=latin1")}, contracts.ErrTokenMismatched},
		{"oversize body", contracts.CheckPath, big, nil, contracts.ErrTokenMismatched},
		{"id_card a number", contracts.CheckPath, `{"name":"张三","id_card":110105194912310021}`, nil, contracts.ErrTokenMismatched},
		{"name an array", contracts.CheckPath, `{"name":["张三"],"id_card":"11010519491231002X"}`, nil, contracts.ErrTokenMismatched},
		{"encryption a string", contracts.CheckPath, `{"name":"张三","id_card":"11010519491231002X","encryption":"yes"}`, nil, contracts.ErrTokenMismatched},
		{"repeated name", contracts.CheckPath, `{"name":"a","name":"张三","id_card":"11010519491231002X"}`, nil, contracts.ErrTokenMismatched},
		{"repeated key in encryption", contracts.CheckPath, `{"name":"张三","id_card":"11010519491231002X","encryption":{"encrypt_list":["name"],"iv":"AA==","iv":"AA=="}}`, nil, contracts.ErrTokenMismatched},
		{"upper-case field names", contracts.CheckPath, `{"NAME":"张三","ID_CARD":"11010519491231002X"}`, nil, contracts.ErrTokenMismatched},
		{"field name in another case", contracts.CheckPath, `{"name":"张三","id_card":"110105194912310021","Id_Card":"11010519491231002X"}`, nil, contracts.ErrTokenMismatched},
		{"missing id_card", contracts.CheckPath, `{"name":"张三"}`, nil, contracts.ErrTokenMismatched},
		{"missing name", contracts.CheckPath, `{"id_card":"11010519491231002X"}`, nil, contracts.ErrTokenMismatched},
		{"validity end without begin", contracts.CheckPath, `{"name":"张三","id_card":"11010519491231002X","validity_end":"00000000"}`, nil, contracts.ErrTokenMismatched},
		{"validity not a date", contracts.CheckPath, `{"name":"张三","id_card":"11010519491231002X","validity_begin":"20201340","validity_end":"00000000"}`, nil, contracts.ErrTokenMismatched},
		{"validity wrong length for age", contracts.CheckPath, `{"name":"张三","id_card":"11010519491231002X","validity_begin":"20200101","validity_end":"20300101"}`, nil, contracts.ErrTokenMismatched},
		{"encrypted request", contracts.CheckPath, `{"name":"x","id_card":"y","encryption":{"encrypt_list":["name"],"ciphertext_blob":"AA==","iv":"AA==","algorithm":"AES-256-CBC"}}`, nil, contracts.ErrTokenMismatched},
		{"bad Prefer value", contracts.CheckPath, checkBody(validName, validID), []reqOpt{withPrefer("result=9")}, contracts.ErrTokenMismatched},
		{"Prefer latency over the cap", contracts.CheckPath, checkBody(validName, validID), []reqOpt{withPrefer("latency=2h")}, contracts.ErrTokenMismatched},
		{"Prefer latency NaN", contracts.CheckPath, checkBody(validName, validID), []reqOpt{withPrefer("latency=NaN")}, contracts.ErrTokenMismatched},
		{"Prefer latency infinite", contracts.CheckPath, checkBody(validName, validID), []reqOpt{withPrefer("latency=Inf")}, contracts.ErrTokenMismatched},
		{"Prefer latency negative", contracts.CheckPath, checkBody(validName, validID), []reqOpt{withPrefer("latency=-1")}, contracts.ErrTokenMismatched},
		{"Prefer latency overflowing", contracts.CheckPath, checkBody(validName, validID), []reqOpt{withPrefer("latency=1e308")}, contracts.ErrTokenMismatched},
		{"unknown path", "/identity/idcard/check-3e", checkBody(validName, validID), nil, contracts.ErrAPINotImplemented},
		{"trailing slash", contracts.CheckPath + "/", checkBody(validName, validID), nil, contracts.ErrAPINotImplemented},
		{"upper-case path", strings.ToUpper(contracts.CheckPath), checkBody(validName, validID), nil, contracts.ErrAPINotImplemented},
		{"GET on the API path", contracts.CheckPath, "", []reqOpt{withMethod(http.MethodGet)}, contracts.ErrAPINotImplemented},
		{"PUT on the API path", contracts.CheckPath, checkBody(validName, validID), []reqOpt{withMethod(http.MethodPut)}, contracts.ErrAPINotImplemented},
		{"root", "/", "", []reqOpt{withMethod(http.MethodGet)}, contracts.ErrAPINotImplemented},
		{"unknown method", contracts.CheckPath, checkBody(validName, validID), []reqOpt{withMethod("FOO")}, contracts.ErrAPINotImplemented},
		{"unknown method elsewhere", "/healthz", "", []reqOpt{withMethod("PROPFIND")}, contracts.ErrAPINotImplemented},
		{"lower-case method", contracts.CheckPath, checkBody(validName, validID), []reqOpt{withMethod("post")}, contracts.ErrAPINotImplemented},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, h, b := ts.do(t, tc.path, tc.body, tc.opts...)
			expectError(t, s, h, b, 400, tc.code)
		})
	}
	// A long-term card for a holder born in 1949 is valid.
	ts.check(t, `{"name":"张三","id_card":"11010519491231002X","validity_begin":"20200101","validity_end":"00000000"}`)
	// None of the above was billed.
	if s := ts.stats(t); s.Totals.Billed != 1 {
		t.Errorf("billed %d, want 1 (only the valid request)", s.Totals.Billed)
	}
}

func TestPreferCombinations(t *testing.T) {
	ts := start(t, nil)
	begin := time.Now()
	r := ts.check(t, checkBody(validName, validID), withPrefer(`result="-6", latency=60ms, respond-async, wait=10`))
	if r.Result != contracts.ResultUpgrading {
		t.Errorf("result %s", r.Result)
	}
	// A lower bound only: sleeping can take longer, never shorter.
	if time.Since(begin) < 60*time.Millisecond {
		t.Errorf("latency not applied")
	}
	if e := ts.Journal().Last(1)[0]; e.LatencyMS != 60 || e.Source != "prefer" {
		t.Errorf("journal entry %+v", e)
	}
	// Status beats result; the first of repeated preferences wins.
	s, h, b := ts.do(t, contracts.CheckPath, checkBody(validName, validID), withPrefer("result=0, status=500, status=400"))
	expectError(t, s, h, b, 500, contracts.ErrAPIError)
	if got := h.Get("Preference-Applied"); got != "result=0, status=500" {
		t.Errorf("Preference-Applied %q", got)
	}
	// sim= sets the similarity when image_url is sent.
	r = ts.check(t, `{"name":"张三","id_card":"11010519491231002X","image_url":"u"}`, withPrefer("sim=12.5"))
	if r.Sim == nil || *r.Sim != 12.5 {
		t.Errorf("sim %v", r.Sim)
	}
	// Prefer beats a magic identity.
	m := contracts.MagicIdentities[0]
	if r := ts.check(t, checkBody(m.Name, m.IDCard), withPrefer("result=-1")); r.Result != contracts.ResultInconsistent {
		t.Errorf("result %s", r.Result)
	}
	// Prefer beats a scenario.
	ts.setScenario(t, testToken, `{"outcomes":[{"result":"-4","weight":1}]}`)
	if r := ts.check(t, checkBody(validName, validID), withPrefer("result=-5")); r.Result != contracts.ResultNoRecord {
		t.Errorf("result %s", r.Result)
	}
}

func TestRateLimit(t *testing.T) {
	ts := start(t, func(c *config.Config) { c.RateLimit = config.RateLimit{PerSecond: 0.5, Burst: 2} })
	for i := 0; i < 2; i++ {
		ts.check(t, checkBody(validName, validID))
	}
	s, h, b := ts.do(t, contracts.CheckPath, checkBody(validName, validID))
	expectError(t, s, h, b, 429, contracts.ErrTooManyRequests)
	ra, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 2 {
		t.Errorf("Retry-After %q, want 1..2 seconds at 0.5/s", h.Get("Retry-After"))
	}
	// Reset refills the bucket.
	ts.admin(t, http.MethodPost, "/admin/reset", "")
	ts.check(t, checkBody(validName, validID))
	st := ts.stats(t)
	if st.Tokens[testToken].Statuses["429"] != 0 || st.Tokens[testToken].Requests != 1 {
		t.Errorf("stats after reset %+v", st.Tokens[testToken])
	}
}

func TestDailyLimit(t *testing.T) {
	now := time.Date(2026, 3, 1, 15, 59, 0, 0, time.UTC) // 23:59 in Shanghai
	clock := func() time.Time { return now }
	ts := start(t, func(c *config.Config) { c.DailyLimit.PerIDNumber = 2 }, WithClock(clock))
	for i := 0; i < 2; i++ {
		if r := ts.check(t, checkBody(validName, validID)); r.Result != contracts.ResultConsistent {
			t.Fatalf("request %d: %s", i, r.Result)
		}
	}
	if r := ts.check(t, checkBody(validName, validID)); r.Result != contracts.ResultDailyLimit {
		t.Fatalf("third request: %s, want -7", r.Result)
	}
	// Another number has its own count; explicit outcomes do not count.
	if r := ts.check(t, checkBody(validName, "440524188001010014")); r.Result != contracts.ResultConsistent {
		t.Errorf("other number: %s", r.Result)
	}
	if r := ts.check(t, checkBody(validName, validID), withPrefer("result=-1")); r.Result != contracts.ResultInconsistent {
		t.Errorf("prefer: %s", r.Result)
	}
	// A new day in China resets the count.
	now = now.Add(2 * time.Minute)
	if r := ts.check(t, checkBody(validName, validID)); r.Result != contracts.ResultConsistent {
		t.Errorf("next day: %s", r.Result)
	}
	if r := ts.check(t, checkBody(validName, validID)); r.Result != contracts.ResultConsistent {
		t.Errorf("next day, second: %s", r.Result)
	}
	if r := ts.check(t, checkBody(validName, validID)); r.Result != contracts.ResultDailyLimit {
		t.Errorf("next day, third: %s", r.Result)
	}
	// Admin reset forgets the counts.
	ts.admin(t, http.MethodPost, "/admin/reset", "")
	if r := ts.check(t, checkBody(validName, validID)); r.Result != contracts.ResultConsistent {
		t.Errorf("after reset: %s", r.Result)
	}
}

// TestFaultsAsSeenByAClient checks each fault through a real net/http
// client over TCP, through each selection path.
func TestFaultsAsSeenByAClient(t *testing.T) {
	ts := start(t, nil)
	magic := map[string]contracts.MagicIdentity{}
	for _, m := range contracts.MagicIdentities {
		if m.Fault != "" {
			magic[m.Fault] = m
		}
	}
	cases := []struct {
		fault fault.Kind
		check func(t *testing.T, resp *http.Response, err error)
	}{
		{fault.ConnectionReset, func(t *testing.T, resp *http.Response, err error) {
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("err = %v, want ECONNRESET", err)
			}
		}},
		{fault.EmptyResponse, func(t *testing.T, resp *http.Response, err error) {
			if !errors.Is(err, io.EOF) {
				t.Errorf("err = %v, want EOF", err)
			}
		}},
		{fault.MalformedChunk, func(t *testing.T, resp *http.Response, err error) {
			if err != nil {
				t.Fatalf("headers should arrive: %v", err)
			}
			defer resp.Body.Close()
			if _, err := io.ReadAll(resp.Body); err == nil || !strings.Contains(err.Error(), "chunk") {
				t.Errorf("body read err = %v, want a chunk error", err)
			}
		}},
		{fault.RandomThenClose, func(t *testing.T, resp *http.Response, err error) {
			if err == nil || !strings.Contains(err.Error(), "malformed HTTP") {
				t.Errorf("err = %v, want malformed HTTP response", err)
			}
		}},
		{fault.Hang, func(t *testing.T, resp *http.Response, err error) {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("err = %v, want a client timeout", err)
			}
		}},
	}
	for _, tc := range cases {
		paths := map[string]func() (*http.Response, error){
			"prefer": func() (*http.Response, error) {
				return ts.send(contracts.CheckPath, checkBody(validName, validID), withPrefer("fault="+tc.fault.String()))
			},
			"scenario": func() (*http.Response, error) {
				ts.setScenario(t, testToken, fmt.Sprintf(`{"fault_rate":1,"faults":[{"fault":%q,"weight":1}]}`, tc.fault))
				defer ts.admin(t, http.MethodDelete, "/admin/scenarios/"+testToken, "")
				return ts.send(contracts.CheckPath, checkBody(validName, validID))
			},
		}
		if m, ok := magic[tc.fault.String()]; ok {
			paths["magic"] = func() (*http.Response, error) {
				return ts.send(contracts.CheckPath, checkBody(m.Name, m.IDCard))
			}
		}
		for path, send := range paths {
			t.Run(tc.fault.String()+"/"+path, func(t *testing.T) {
				ts.client.Timeout = 10 * time.Second
				if tc.fault == fault.Hang {
					ts.client.Timeout = 300 * time.Millisecond
				}
				defer func() { ts.client.Timeout = 10 * time.Second }()
				resp, err := send()
				tc.check(t, resp, err)
			})
		}
	}
	st := ts.stats(t)
	for _, k := range fault.Kinds {
		if st.Totals.Faults[k.String()] < 2 {
			t.Errorf("fault %s counted %d times", k, st.Totals.Faults[k.String()])
		}
	}
	if st.Totals.Billed != 0 || st.Totals.Statuses["200"] != 0 {
		t.Errorf("faults were billed or answered: %+v", st.Totals)
	}
}

func TestLatencyFromScenario(t *testing.T) {
	ts := start(t, nil)
	ts.setScenario(t, testToken, `{"latency":{"distribution":"fixed","value":"50ms"}}`)
	begin := time.Now()
	ts.check(t, checkBody(validName, validID))
	if time.Since(begin) < 50*time.Millisecond {
		t.Error("scenario latency not applied")
	}
	if e := ts.Journal().Last(1)[0]; e.LatencyMS != 50 || e.ScenarioSeq != 1 {
		t.Errorf("journal entry %+v", e)
	}
	st, b := ts.admin(t, http.MethodPut, "/admin/scenarios/"+testToken, `{"latency":{"distribution":"fixed","value":"2h"}}`)
	if st != 400 || !strings.Contains(string(b), "latency") {
		t.Errorf("latency above the cap: %d %s", st, b)
	}
}

func TestScenarioReplaysAfterReset(t *testing.T) {
	ts := start(t, nil)
	ts.setScenario(t, testToken, `{"seed":7,"outcomes":[{"result":"0","weight":5},{"result":"-1","weight":3},{"status":429,"weight":1},{"result":"-4","weight":1}],"fault_rate":0.1,"faults":[{"fault":"empty_response","weight":1}]}`)
	run := func() []string {
		var seq []string
		for i := 0; i < 40; i++ {
			resp, err := ts.send(contracts.CheckPath, checkBody(validName, validID))
			if err != nil {
				seq = append(seq, "fault")
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var r contracts.CheckResponse
			_ = json.Unmarshal(b, &r)
			seq = append(seq, strconv.Itoa(resp.StatusCode)+":"+string(r.Result))
		}
		return seq
	}
	first := run()
	ts.admin(t, http.MethodPost, "/admin/reset", "")
	second := run()
	if strings.Join(first, ",") != strings.Join(second, ",") {
		t.Fatalf("replay differs:\n%v\n%v", first, second)
	}
	kinds := map[string]bool{}
	for _, s := range first {
		kinds[s] = true
	}
	if len(kinds) < 4 {
		t.Errorf("40 draws of a five-way mix gave only %v", kinds)
	}
	st, b := ts.admin(t, http.MethodGet, "/admin/scenarios/"+testToken, "")
	var ss ScenarioStatus
	if st != 200 || json.Unmarshal(b, &ss) != nil || ss.Draws != 40 || ss.Scenario.Seed != 7 {
		t.Errorf("scenario status %d %s", st, b)
	}
}

func TestScenarioFromConfig(t *testing.T) {
	ts := start(t, func(c *config.Config) {
		c.Scenarios[testToken] = mustSpec(t, `{"outcomes":[{"result":"-5","weight":1}]}`)
	})
	if r := ts.check(t, checkBody(validName, validID)); r.Result != contracts.ResultNoRecord {
		t.Errorf("result %s", r.Result)
	}
	if st, _ := ts.admin(t, http.MethodDelete, "/admin/scenarios/"+testToken, ""); st != 204 {
		t.Errorf("delete: %d", st)
	}
	if r := ts.check(t, checkBody(validName, validID)); r.Result != contracts.ResultConsistent {
		t.Errorf("after delete: %s", r.Result)
	}
}

func TestHealthzAndMetrics(t *testing.T) {
	ts := start(t, nil)
	ts.check(t, checkBody(validName, validID))
	ts.do(t, contracts.CheckPath, checkBody(validName, validID), withPrefer("status=429"))
	ts.send(contracts.CheckPath, checkBody(validName, validID), withPrefer("fault=empty_response"))
	resp, err := ts.client.Get(ts.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = ts.client.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`idgate_simulator_requests_total{fault="",result="0",status="200"} 1`,
		`idgate_simulator_requests_total{fault="",result="",status="429"} 1`,
		`idgate_simulator_requests_total{fault="empty_response",result="",status=""} 1`,
		`idgate_simulator_request_duration_seconds_count 3`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(string(b), validID) || strings.Contains(string(b), testToken) {
		t.Error("metrics leak an ID number or a token")
	}
}

func TestMountHook(t *testing.T) {
	var env MountEnv
	ts := start(t, nil,
		WithMount(func(app *fiber.App) {
			app.Get("/session/ping", func(c *fiber.Ctx) error { return c.SendString("pong") })
		}),
		WithMountEnv(func(app *fiber.App, e MountEnv) { env = e }),
		WithMount(func(app *fiber.App) {
			app.Get("/session/boom", func(c *fiber.Ctx) error { panic("boom") })
		}),
	)
	// A panicking handler is a 500 api_error, and the server lives on.
	s, h, body := ts.do(t, "/session/boom", "", withMethod(http.MethodGet))
	expectError(t, s, h, body, 500, contracts.ErrAPIError)
	resp, err := ts.client.Get(ts.URL + "/session/ping")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "pong" {
		t.Errorf("mounted route: %d %s", resp.StatusCode, b)
	}
	if env.Registry == nil || env.Logger == nil || env.Now == nil || env.Config.Listen == "" {
		t.Errorf("mount env incomplete: %+v", env)
	}
	s, h, body = ts.do(t, "/session/other", "")
	expectError(t, s, h, body, 400, contracts.ErrAPINotImplemented)
}

func mustSpec(t *testing.T, js string) (spec outcomeSpec) {
	t.Helper()
	if err := json.Unmarshal([]byte(js), &spec); err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestShutdownReleasesHangingClients(t *testing.T) {
	ts := start(t, nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := ts.send(contracts.CheckPath, checkBody(validName, validID), withPrefer("fault=hang"))
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	for deadline := time.Now().Add(5 * time.Second); ts.faults.Hanging() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the hang never started")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Error("the hanging client got an answer")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hanging client was not released by shutdown")
	}
}

// TestOversizeBodyIsAnsweredNotReset: a body over body_limit but within
// contracts.BodyReadCap is read and refused with the API's 400, so the
// client sees the answer instead of a reset upload.
func TestOversizeBodyIsAnsweredNotReset(t *testing.T) {
	ts := start(t, nil)
	body := `{"name":"张三","id_card":"11010519491231002X","image_url":"` + strings.Repeat("a", contracts.BodyReadCap-200) + `"}`
	for i := 0; i < 5; i++ {
		s, h, b := ts.do(t, contracts.CheckPath, body)
		e := expectError(t, s, h, b, 400, contracts.ErrTokenMismatched)
		if !strings.Contains(e.Error.Message, "exceeds 65536 bytes") {
			t.Errorf("message %q", e.Error.Message)
		}
	}
	st := ts.stats(t)
	if got := st.Tokens[testToken].Statuses["400"]; got != 5 {
		t.Errorf("oversize bodies counted %d times under the token, want 5", got)
	}
}
