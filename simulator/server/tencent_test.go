package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/simulator/config"
	"github.com/idgate/idgate/simulator/session"
)

const (
	tcSecretID  = "sim-secret-id"
	tcSecretKey = "sim-secret-key"
	// tcService is what the SDKs put in the credential scope for an
	// endpoint 127.0.0.1:port: its first label.
	tcService = "127"
)

// startTC runs a simulator with the session service mounted (phone
// routes included), as the binary does, and a second Tencent credential.
func startTC(t *testing.T, mutate func(*config.Config)) *testServer {
	t.Helper()
	cfg := config.Default()
	svc, err := session.New(cfg.Sessions, nil, session.WithQRRenderer(func(string) ([]byte, error) { return []byte("png"), nil }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return start(t, func(c *config.Config) {
		c.Tencent.Credentials = append(c.Tencent.Credentials, config.TencentCredential{SecretID: "other-id", SecretKey: "other-key"})
		if mutate != nil {
			mutate(c)
		}
	}, WithSessions(svc), WithMount(func(app *fiber.App) {
		session.Register(app, svc, session.TokenAuth(cfg.Tokens, cfg.AdminToken, cfg.Tencent.SecretIDs()...))
	}))
}

// tcReq is one API 3.0 call; the zero value of every field but action
// and body is what tencentcloud-sdk-nodejs sends.
type tcReq struct {
	action, body string
	version      string // "": tencent.Version; "-": absent
	id, key      string // "": the default pair
	ts           int64  // 0: now
	signHost     string // "": 127.0.0.1, the host without its port, as the Node SDK signs
	// signAction signs x-tc-action too (SignedHeaders content-type;host;x-tc-action).
	signAction bool
	// after alters the request once signed.
	after func(*http.Request)
}

// tcAnswer is an envelope's Response.
type tcAnswer map[string]json.RawMessage

func (a tcAnswer) str(k string) string {
	var s string
	_ = json.Unmarshal(a[k], &s)
	return s
}

func (a tcAnswer) err() *tencent.Error {
	if a["Error"] == nil {
		return nil
	}
	var e tencent.Error
	_ = json.Unmarshal(a["Error"], &e)
	return &e
}

func (a tcAnswer) into(t *testing.T, k string, v any) {
	t.Helper()
	if err := json.Unmarshal(a[k], v); err != nil {
		t.Fatalf("%s: %s: %v", k, a[k], err)
	}
}

// sign computes a TC3-HMAC-SHA256 Authorization over any signed headers,
// independently of package tencent's signer.
func sign(id, key, service string, ts int64, names []string, hdr func(string) string, body string) string {
	date := time.Unix(ts, 0).UTC().Format(time.DateOnly)
	var canon strings.Builder
	canon.WriteString("POST\n/\n\n")
	for _, n := range names {
		canon.WriteString(n + ":" + strings.ToLower(hdr(n)) + "\n")
	}
	sum := sha256.Sum256([]byte(body))
	canon.WriteString("\n" + strings.Join(names, ";") + "\n" + hex.EncodeToString(sum[:]))
	c := sha256.Sum256([]byte(canon.String()))
	sts := "TC3-HMAC-SHA256\n" + strconv.FormatInt(ts, 10) + "\n" + date + "/" + service + "/tc3_request\n" + hex.EncodeToString(c[:])
	k := tencent.DeriveKey(key, date, service)
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte(sts))
	return "TC3-HMAC-SHA256 Credential=" + id + "/" + date + "/" + service + "/tc3_request, SignedHeaders=" +
		strings.Join(names, ";") + ", Signature=" + hex.EncodeToString(m.Sum(nil))
}

// tcDo sends an API 3.0 call; it fails the test unless the answer is a
// 200 envelope with a RequestId also in X-Tc-Traceid and X-Trace-Id.
func (ts *testServer) tcDo(t *testing.T, r tcReq, opts ...reqOpt) tcAnswer {
	t.Helper()
	resp, err := ts.tcSend(r, opts...)
	if err != nil {
		t.Fatalf("%s: %v", r.action, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: status %d: %s", r.action, resp.StatusCode, b)
	}
	var env struct{ Response tcAnswer }
	if err := json.Unmarshal(b, &env); err != nil || env.Response == nil {
		t.Fatalf("%s: not an envelope: %s", r.action, b)
	}
	id := env.Response.str("RequestId")
	if len(id) != 36 || resp.Header.Get("X-Tc-Traceid") != id || resp.Header.Get("X-Trace-Id") != id {
		t.Errorf("%s: RequestId %q, X-Tc-Traceid %q, X-Trace-Id %q", r.action, id, resp.Header.Get("X-Tc-Traceid"), resp.Header.Get("X-Trace-Id"))
	}
	return env.Response
}

func (ts *testServer) tcSend(r tcReq, opts ...reqOpt) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/", strings.NewReader(r.body))
	if err != nil {
		return nil, err
	}
	if r.id == "" {
		r.id, r.key = tcSecretID, tcSecretKey
	}
	if r.ts == 0 {
		r.ts = time.Now().Unix()
	}
	host := r.signHost
	if host == "" {
		host = "127.0.0.1"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TC-Action", r.action)
	switch r.version {
	case "":
		req.Header.Set("X-TC-Version", tencent.Version)
	case "-":
	default:
		req.Header.Set("X-TC-Version", r.version)
	}
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(r.ts, 10))
	req.Header.Set("X-TC-Region", "ap-guangzhou")
	if r.signAction {
		hdr := func(n string) string {
			switch n {
			case "host":
				return host
			case "content-type":
				return "application/json"
			}
			return req.Header.Get(n)
		}
		req.Header.Set("Authorization", sign(r.id, r.key, tcService, r.ts, []string{"content-type", "host", "x-tc-action"}, hdr, r.body))
	} else {
		signer := tencent.Signer{SecretID: r.id, SecretKey: r.key, Service: tcService}
		req.Header.Set("Authorization", signer.Authorization(host, "application/json", []byte(r.body), r.ts))
	}
	if r.after != nil {
		r.after(req)
	}
	for _, o := range opts {
		o(req)
	}
	if req.Method == http.MethodGet {
		req.Body, req.ContentLength = nil, 0
	}
	return ts.client.Do(req)
}

func idBody(id, name string) string {
	b, _ := json.Marshal(map[string]string{"IdCard": id, "Name": name})
	return string(b)
}

func dateBody(id, name, begin, end string) string {
	b, _ := json.Marshal(map[string]string{"IdCard": id, "Name": name, "ValidityBegin": begin, "ValidityEnd": end})
	return string(b)
}

func magic(result contracts.ResultCode, status int) contracts.MagicIdentity {
	for _, m := range contracts.MagicIdentities {
		if m.Result == result && m.Status == status && m.Sim == 0 && m.Fault == "" {
			return m
		}
	}
	panic("no magic identity")
}

// TestTencentCheckResults covers every result and decided error of both
// check actions, with the aggregator's magic identities, Prefer header
// and validation.
func TestTencentCheckResults(t *testing.T) {
	ts := startTC(t, nil)
	m := func(r contracts.ResultCode) contracts.MagicIdentity { return magic(r, 0) }
	const born = "19960101" // the holder of validID, born 1949: long-term from 46
	tests := []struct {
		name, action, body string
		prefer             string
		result, errCode    string
	}{
		{"consistent", tencent.ActionIdCardVerification, idBody(validID, validName), "", "0", ""},
		{"magic -1", tencent.ActionIdCardVerification, idBody(m("-1").IDCard, validName), "", "-1", ""},
		{"illegal id", tencent.ActionIdCardVerification, idBody("110105194912310021", validName), "", "-2", ""},
		{"illegal name", tencent.ActionIdCardVerification, idBody(validID, "Bob"), "", "-3", ""},
		{"magic -4", tencent.ActionIdCardVerification, idBody(m("-4").IDCard, validName), "", "-4", ""},
		{"magic -5", tencent.ActionIdCardVerification, idBody(m("-5").IDCard, validName), "", "-5", ""},
		{"magic -6", tencent.ActionIdCardVerification, idBody(m("-6").IDCard, validName), "", "-6", ""},
		{"magic -7", tencent.ActionIdCardVerification, idBody(m("-7").IDCard, validName), "", "-7", ""},
		{"magic 429", tencent.ActionIdCardVerification, idBody(magic("", 429).IDCard, validName), "", "", tencent.CodeRequestLimitExceeded},
		{"magic 500", tencent.ActionIdCardVerification, idBody(magic("", 500).IDCard, validName), "", "", tencent.CodeInternalError},
		{"prefer result", tencent.ActionIdCardVerification, idBody(validID, validName), "result=-5", "-5", ""},
		{"prefer status 400", tencent.ActionIdCardVerification, idBody(validID, validName), "status=400", "", tencent.CodeInvalidParameter},
		{"prefer bad", tencent.ActionIdCardVerification, idBody(validID, validName), "result=9", "", tencent.CodeInvalidParameter},

		{"date consistent", tencent.ActionCheckIdNameDate, dateBody(validID, validName, born, "00000000"), "", "0", ""},
		{"date magic -1", tencent.ActionCheckIdNameDate, dateBody(m("-1").IDCard, validName, "20200101", "00000000"), "", "-1", ""},
		{"date illegal id", tencent.ActionCheckIdNameDate, dateBody("110105194912310021", validName, born, "00000000"), "", "-2", ""},
		{"date illegal name", tencent.ActionCheckIdNameDate, dateBody(validID, "Bob", born, "00000000"), "", "-3", ""},
		{"date bad format", tencent.ActionCheckIdNameDate, dateBody(validID, validName, "1996-01-01", "00000000"), "", "-4", ""},
		{"date reversed", tencent.ActionCheckIdNameDate, dateBody(validID, validName, "20000101", "19900101"), "", "-4", ""},
		{"date wrong length", tencent.ActionCheckIdNameDate, dateBody(validID, validName, born, "20060101"), "", "-4", ""},
		{"date before birth", tencent.ActionCheckIdNameDate, dateBody(validID, validName, "19400101", "19500101"), "", "-5", ""},
		{"date magic db -4", tencent.ActionCheckIdNameDate, dateBody(m("-4").IDCard, validName, "20200101", "00000000"), "", "-6", ""},
		{"date magic upgrading -6", tencent.ActionCheckIdNameDate, dateBody(m("-6").IDCard, validName, "20200101", "00000000"), "", "-6", ""},
		{"date magic no record -5", tencent.ActionCheckIdNameDate, dateBody(m("-5").IDCard, validName, "20200101", "00000000"), "", "-7", ""},
		{"date magic limit -7", tencent.ActionCheckIdNameDate, dateBody(m("-7").IDCard, validName, "20200101", "00000000"), "", "-8", ""},
		{"date prefer -7", tencent.ActionCheckIdNameDate, dateBody(validID, validName, born, "00000000"), "result=-7", "-8", ""},
		{"date magic 500", tencent.ActionCheckIdNameDate, dateBody(magic("", 500).IDCard, validName, "20200101", "00000000"), "", "", tencent.CodeInternalError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []reqOpt
			if tt.prefer != "" {
				opts = append(opts, withPrefer(tt.prefer))
			}
			a := ts.tcDo(t, tcReq{action: tt.action, body: tt.body}, opts...)
			if e := a.err(); e != nil || tt.errCode != "" {
				if e == nil || e.Code != tt.errCode || e.Message == "" {
					t.Fatalf("error %+v, want %s", e, tt.errCode)
				}
				return
			}
			if got := a.str("Result"); got != tt.result || a.str("Description") == "" {
				t.Errorf("Result %q (%s), want %q", got, a.str("Description"), tt.result)
			}
		})
	}
	// Billing: "0" and "-1" of each action, per credential and action.
	snap := ts.stats(t)
	for _, action := range []string{"IdCardVerification", "CheckIdNameDate"} {
		if c := snap.Tokens[tcSecretID].APIs[action]; c.Billed != 2 {
			t.Errorf("%s: billed %d (%+v)", action, c.Billed, c)
		}
	}
	st, b := ts.admin(t, http.MethodGet, "/admin/statement", "")
	var stmt contracts.Statement
	if err := json.Unmarshal(b, &stmt); st != 200 || err != nil {
		t.Fatalf("statement %d %s", st, b)
	}
	for _, row := range stmt.Days {
		if row.Credential != "1a47a9f0" || row.Billed != 2 {
			t.Errorf("statement row %+v: want credential sha256(sim-secret-id)[:8] and 2 billed", row)
		}
	}
	if len(stmt.Days) != 2 {
		t.Errorf("statement rows %+v", stmt.Days)
	}
	// The journal names the action and masks the number; never the name.
	_, j := ts.admin(t, http.MethodGet, "/admin/journal?limit=1000", "")
	if js := string(j); !strings.Contains(js, `"action":"CheckIdNameDate"`) || !strings.Contains(js, "110105********002X") || strings.Contains(js, validName) || strings.Contains(js, validID) {
		t.Errorf("journal %s", j)
	}
}

// TestTencentFaults: magic fault identities and Prefer faults break the
// connection, as on the aggregator's route.
func TestTencentFaults(t *testing.T) {
	ts := startTC(t, nil)
	for _, m := range contracts.MagicIdentities {
		if m.Fault == "" {
			continue
		}
		t.Run(m.Fault, func(t *testing.T) {
			resp, err := ts.tcSend(tcReq{action: tencent.ActionIdCardVerification, body: idBody(m.IDCard, validName)})
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				t.Fatalf("fault %s answered %d %s", m.Fault, resp.StatusCode, b)
			}
		})
	}
	resp, err := ts.tcSend(tcReq{action: tencent.ActionGetNFCToken, body: "{}"}, withPrefer("fault=connection_reset"))
	if err == nil {
		resp.Body.Close()
		t.Fatal("Prefer fault on a session action answered")
	}
	if f := ts.stats(t).Tokens[tcSecretID].Faults; f["connection_reset"] != 2 || f["empty_response"] != 1 {
		t.Errorf("faults %v", f)
	}
}

// TestTencentErrors covers every error class of the dialect.
func TestTencentErrors(t *testing.T) {
	ts := startTC(t, func(c *config.Config) { c.BodyLimit = 1024 })
	good := idBody(validID, validName)
	now := time.Now().Unix()
	tests := []struct {
		name string
		r    tcReq
		want string
	}{
		{"unknown action", tcReq{action: "DescribeInstances", body: good}, tencent.CodeInvalidAction},
		{"bad version", tcReq{action: tencent.ActionIdCardVerification, body: good, version: "2017-01-01"}, tencent.CodeNoSuchVersion},
		{"no version", tcReq{action: tencent.ActionIdCardVerification, body: good, version: "-"}, tencent.CodeMissingParameter},
		{"GET", tcReq{action: tencent.ActionIdCardVerification, after: func(r *http.Request) { r.Method = http.MethodGet }}, tencent.CodeUnsupportedProtocol},
		{"body too large", tcReq{action: tencent.ActionIdCardVerification, body: `{"Name":"` + strings.Repeat("x", 2000) + `"}`}, tencent.CodeRequestSizeLimit},
		{"form body", tcReq{action: tencent.ActionIdCardVerification, body: good, after: func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }}, tencent.CodeInvalidParameter},
		{"no authorization", tcReq{action: tencent.ActionIdCardVerification, body: good, after: func(r *http.Request) { r.Header.Del("Authorization") }}, tencent.CodeInvalidAuthorization},
		{"bearer", tcReq{action: tencent.ActionIdCardVerification, body: good, after: func(r *http.Request) { r.Header.Set("Authorization", "Bearer sim-token") }}, tencent.CodeInvalidAuthorization},
		{"no timestamp", tcReq{action: tencent.ActionIdCardVerification, body: good, after: func(r *http.Request) { r.Header.Del("X-TC-Timestamp") }}, tencent.CodeMissingParameter},
		{"stale timestamp", tcReq{action: tencent.ActionIdCardVerification, body: good, ts: now - 600}, tencent.CodeSignatureExpire},
		{"future timestamp", tcReq{action: tencent.ActionIdCardVerification, body: good, ts: now + 600}, tencent.CodeSignatureExpire},
		{"unknown SecretId", tcReq{action: tencent.ActionIdCardVerification, body: good, id: "nobody", key: "k"}, tencent.CodeSecretIDNotFound},
		{"wrong SecretKey", tcReq{action: tencent.ActionIdCardVerification, body: good, id: tcSecretID, key: "wrong"}, tencent.CodeSignatureFailure},
		{"another pair's key", tcReq{action: tencent.ActionIdCardVerification, body: good, id: tcSecretID, key: "other-key"}, tencent.CodeSignatureFailure},
		{"altered body", tcReq{action: tencent.ActionIdCardVerification, body: good, after: func(r *http.Request) {
			b := idBody(magic("-1", 0).IDCard, validName)
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(b)), int64(len(b))
		}}, tencent.CodeSignatureFailure},
		{"altered host", tcReq{action: tencent.ActionIdCardVerification, body: good, signHost: "faceid.tencentcloudapi.com"}, tencent.CodeSignatureFailure},
		{"altered signed action", tcReq{action: tencent.ActionCheckIdNameDate, body: dateBody(validID, validName, "19960101", "00000000"), signAction: true,
			after: func(r *http.Request) { r.Header.Set("X-TC-Action", tencent.ActionIdCardVerification) }}, tencent.CodeSignatureFailure},
		{"missing IdCard", tcReq{action: tencent.ActionIdCardVerification, body: `{"Name":"张三"}`}, tencent.CodeMissingParameter},
		{"missing ValidityEnd", tcReq{action: tencent.ActionCheckIdNameDate, body: `{"Name":"张三","IdCard":"11010519491231002X","ValidityBegin":"19960101"}`}, tencent.CodeMissingParameter},
		{"wrong type", tcReq{action: tencent.ActionIdCardVerification, body: `{"Name":"张三","IdCard":110105}`}, tencent.CodeInvalidParameter},
		{"duplicate key", tcReq{action: tencent.ActionIdCardVerification, body: `{"Name":"张三","Name":"李四","IdCard":"11010519491231002X"}`}, tencent.CodeInvalidParameter},
		{"case variant key", tcReq{action: tencent.ActionIdCardVerification, body: `{"name":"张三","Name":"张三","IdCard":"11010519491231002X"}`}, tencent.CodeInvalidParameter},
		{"not JSON", tcReq{action: tencent.ActionIdCardVerification, body: `IdCard=1`}, tencent.CodeInvalidParameter},
		{"repeated Prefer", tcReq{action: tencent.ActionIdCardVerification, body: good, after: func(r *http.Request) {
			r.Header.Add("Prefer", "result=0")
			r.Header.Add("Prefer", "result=-1")
		}}, tencent.CodeInvalidParameter},
		{"DetectAuth without RuleId", tcReq{action: tencent.ActionDetectAuth, body: `{}`}, tencent.CodeMissingParameter},
		{"DetectAuth long Extra", tcReq{action: tencent.ActionDetectAuth, body: `{"RuleId":"1","Extra":"` + strings.Repeat("x", 129) + `"}`}, tencent.CodeInvalidParameterVal},
		{"DetectAuth bad identity", tcReq{action: tencent.ActionDetectAuth, body: `{"RuleId":"1","Name":"张三","IdCard":"110105194912310021"}`}, tencent.CodeInvalidParameterVal},
		{"GetEidToken without MerchantId", tcReq{action: tencent.ActionGetEidToken, body: `{}`}, tencent.CodeMissingParameter},
		{"unknown BizToken", tcReq{action: tencent.ActionGetDetectInfoEnhanced, body: `{"BizToken":"0123456789abcdef0123456789abcdef","RuleId":"1"}`}, tencent.CodeBizTokenIllegal},
		{"unknown EidToken", tcReq{action: tencent.ActionGetEidResult, body: `{"EidToken":"nope"}`}, tencent.CodeBizTokenIllegal},
		{"unknown NFCToken", tcReq{action: tencent.ActionGetWxNFCResult, body: `{"NFCToken":"nope"}`}, tencent.CodeBizTokenIllegal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ts.tcDo(t, tt.r)
			if e := a.err(); e == nil || e.Code != tt.want || e.Message == "" {
				t.Errorf("error %+v, want %s", e, tt.want)
			}
		})
	}
	// Without X-TC-Action, POST / is what it always was.
	st, h, b := ts.do(t, "/", good)
	expectError(t, st, h, b, 400, contracts.ErrAPINotImplemented)
	// Nothing above reached the statement but the refusals of a signed
	// request, none billed.
	snap := ts.stats(t)
	if snap.Totals.Billed != 0 || snap.Totals.Requests != int64(len(tests))+1 {
		t.Errorf("totals %+v", snap.Totals)
	}
}

// TestTencentRateLimitAndScenario: the SecretId has the token's rate
// limit and per-credential scenario.
func TestTencentRateLimitAndScenario(t *testing.T) {
	ts := startTC(t, func(c *config.Config) { c.RateLimit = config.RateLimit{PerSecond: 0.001, Burst: 2} })
	ts.setScenario(t, tcSecretID, `{"seed":1,"outcomes":[{"result":"-5","weight":1}]}`)
	if a := ts.tcDo(t, tcReq{action: tencent.ActionIdCardVerification, body: idBody(validID, validName)}); a.str("Result") != "-5" {
		t.Errorf("scenario: %v", a)
	}
	if a := ts.tcDo(t, tcReq{action: tencent.ActionCheckIdNameDate, body: dateBody(validID, validName, "19960101", "00000000")}); a.str("Result") != "-7" {
		t.Errorf("scenario on the date check: %v", a)
	}
	if e := ts.tcDo(t, tcReq{action: tencent.ActionIdCardVerification, body: idBody(validID, validName)}).err(); e == nil || e.Code != tencent.CodeRequestLimitExceeded {
		t.Errorf("rate limit: %+v", e)
	}
	// The other credential has its own bucket and no scenario.
	if a := ts.tcDo(t, tcReq{action: tencent.ActionIdCardVerification, body: idBody(validID, validName), id: "other-id", key: "other-key"}); a.str("Result") != "0" {
		t.Errorf("other credential: %v", a)
	}
}

// TestCheckDateRoute: the aggregator dialect's check with validity period.
func TestCheckDateRoute(t *testing.T) {
	ts := start(t, nil)
	body := func(id, begin, end string) string {
		b, _ := json.Marshal(contracts.CheckRequest{Name: validName, IDCard: id, ValidityBegin: begin, ValidityEnd: end})
		return string(b)
	}
	tests := []struct {
		body, prefer, want string
	}{
		{body(validID, "19960101", "00000000"), "", "0"},
		{body(validID, "19960101", "20160101"), "", "-4"},
		{body(validID, "19400101", "19500101"), "", "-5"},
		{body(magic("-5", 0).IDCard, "20200101", "00000000"), "", "-7"},
		{body(validID, "19960101", "00000000"), "result=-4", "-6"},
	}
	for _, tt := range tests {
		var opts []reqOpt
		if tt.prefer != "" {
			opts = append(opts, withPrefer(tt.prefer))
		}
		st, _, b := ts.do(t, contracts.CheckDatePath, tt.body, opts...)
		var r contracts.CheckResponse
		if err := json.Unmarshal(b, &r); st != 200 || err != nil || string(r.Result) != tt.want {
			t.Errorf("%s: %d %s, want %s", tt.body, st, b, tt.want)
		}
	}
	st, h, b := ts.do(t, contracts.CheckDatePath, checkBody(validName, validID))
	expectError(t, st, h, b, 400, contracts.ErrTokenMismatched)
	st, h, b = ts.do(t, contracts.CheckDatePath, body(magic("", 429).IDCard, "20200101", "00000000"))
	expectError(t, st, h, b, 429, contracts.ErrTooManyRequests)
	api := ts.stats(t).Tokens[testToken].APIs["check-id-name-date"]
	if api.Requests != 7 || api.Billed != 1 || api.Outcomes["-7"] != 1 || api.Outcomes["too_many_requests"] != 1 {
		t.Errorf("stats %+v", api)
	}
}

// phone drives a session's phone side.
func (ts *testServer) phone(t *testing.T, path, body string, opts ...reqOpt) map[string]any {
	t.Helper()
	st, _, b := ts.do(t, path, body, append([]reqOpt{withToken("")}, opts...)...)
	var v map[string]any
	if err := json.Unmarshal(b, &v); st != 200 || err != nil {
		t.Fatalf("%s: %d %s", path, st, b)
	}
	return v
}

func (ts *testServer) statementRows(t *testing.T) map[string]contracts.StatementRow {
	t.Helper()
	_, b := ts.admin(t, http.MethodGet, "/admin/statement", "")
	var stmt contracts.Statement
	if err := json.Unmarshal(b, &stmt); err != nil {
		t.Fatalf("statement %s", b)
	}
	out := map[string]contracts.StatementRow{}
	for _, r := range stmt.Days {
		out[r.Credential+" "+r.API] = r
	}
	return out
}

// poll asks again until done says the answer is final.
func poll(t *testing.T, ask func() tcAnswer, done func(tcAnswer) bool) tcAnswer {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		a := ask()
		if done(a) || time.Now().After(deadline) {
			return a
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var android = `{"device":{"platform":"android","model":"Mi 14"}}`

// TestTencentDetectAuth drives DetectAuth sessions through the phone
// routes to their results, billed as the session API bills them.
func TestTencentDetectAuth(t *testing.T) {
	ts := startTC(t, nil)
	sm := func(code string) contracts.SessionMagic {
		for _, m := range contracts.SessionMagics {
			if strings.HasSuffix(m.Prefer, code) {
				return m
			}
		}
		panic(code)
	}
	tests := []struct {
		name     string
		idCard   string
		person   string
		prefer   string
		wantCode int
		billed   bool
	}{
		{"approved", "", "", "", 0, true},
		{"magic mismatch 2006", sm("2006").IDCard, sm("2006").Name, "", 2006, true},
		{"magic no record 2005", sm("2005").IDCard, sm("2005").Name, "", 2005, false},
		{"prefer similarity 2016", "", "", ", review=2016", 2016, true},
	}
	billed := int64(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"RuleId": "1", "IdCard": tt.idCard, "Name": tt.person, "Extra": "order-42", "TerminalType": "WEB"})
			a := ts.tcDo(t, tcReq{action: tencent.ActionDetectAuth, body: string(body)}, withPrefer("review_delay=0s"+tt.prefer))
			token, u := a.str("BizToken"), a.str("Url")
			if len(token) != 32 || !strings.Contains(u, "/phone/qr/") {
				t.Fatalf("DetectAuth %v", a)
			}
			info := func() tcAnswer {
				return ts.tcDo(t, tcReq{action: tencent.ActionGetDetectInfoEnhanced, body: `{"BizToken":"` + token + `","RuleId":"1","InfoType":"0"}`})
			}
			var text tencent.DetectInfoText
			info().into(t, "Text", &text)
			if text.ErrCode == nil || *text.ErrCode != 17 {
				t.Fatalf("before the flow: %+v", text)
			}
			// The phone opens the QR code's session and goes through it.
			qr, _ := url.Parse(u)
			ts.phone(t, "/phone/open", `{"qr_token":"`+strings.TrimPrefix(qr.Path, "/phone/qr/")+`"}`)
			ts.phone(t, "/phone/sessions/"+token+"/nfc", android)
			ts.phone(t, "/phone/sessions/"+token+"/confirm", "")
			ts.phone(t, "/phone/sessions/"+token+"/liveness", `{"mode":"action"}`)
			a = poll(t, info, func(a tcAnswer) bool {
				var x tencent.DetectInfoText
				a.into(t, "Text", &x)
				return x.ErrCode != nil && *x.ErrCode != 17
			})
			text = tencent.DetectInfoText{}
			a.into(t, "Text", &text)
			if text.ErrCode == nil || *text.ErrCode != tt.wantCode || text.IdInfoFrom != "NFC" || text.Extra != "order-42" ||
				text.OcrName == "" || text.OcrIdCard == "" || text.OcrValidDate == "" || text.Sim == "" || text.LiveStatus == nil || *text.LiveStatus != 0 {
				t.Errorf("Text %+v", text)
			}
			if tt.idCard != "" && text.OcrIdCard != tt.idCard {
				t.Errorf("card %s, want the expected %s", text.OcrIdCard, tt.idCard)
			}
			if tt.billed {
				billed++
			}
			// Reading the result again bills nothing more.
			info()
			if row := ts.statementRows(t)["1a47a9f0 DetectAuth"]; row.Billed != billed {
				t.Errorf("statement %+v, want %d billed", row, billed)
			}
		})
	}
	// Another credential does not know these tokens.
	a := ts.tcDo(t, tcReq{action: tencent.ActionDetectAuth, body: `{"RuleId":"1"}`})
	other := ts.tcDo(t, tcReq{action: tencent.ActionGetDetectInfoEnhanced, body: `{"BizToken":"` + a.str("BizToken") + `","RuleId":"1"}`, id: "other-id", key: "other-key"})
	if e := other.err(); e == nil || e.Code != tencent.CodeBizTokenIllegal {
		t.Errorf("other credential: %+v", e)
	}
	// Nor does another action's result.
	if e := ts.tcDo(t, tcReq{action: tencent.ActionGetWxNFCResult, body: `{"NFCToken":"` + a.str("BizToken") + `"}`}).err(); e == nil || e.Code != tencent.CodeBizTokenIllegal {
		t.Errorf("another flow's token: %+v", e)
	}
	// An expired session's token.
	a = ts.tcDo(t, tcReq{action: tencent.ActionDetectAuth, body: `{"RuleId":"1"}`}, withPrefer("ttl=1ms"))
	time.Sleep(20 * time.Millisecond)
	if e := ts.tcDo(t, tcReq{action: tencent.ActionGetDetectInfoEnhanced, body: `{"BizToken":"` + a.str("BizToken") + `","RuleId":"1"}`}).err(); e == nil || e.Code != tencent.CodeBizTokenExpired {
		t.Errorf("expired: %+v", e)
	}
}

// TestTencentEid drives an eID session to an approved, billed result.
func TestTencentEid(t *testing.T) {
	ts := startTC(t, nil)
	a := ts.tcDo(t, tcReq{action: tencent.ActionGetEidToken, body: `{"MerchantId":"m-1","Name":"张三","IdCard":"11010519491231002X","Extra":"x"}`})
	token := a.str("EidToken")
	if len(token) != 32 || !strings.Contains(a.str("Url"), "/phone/qr/") {
		t.Fatalf("GetEidToken %v", a)
	}
	result := func() tcAnswer {
		return ts.tcDo(t, tcReq{action: tencent.ActionGetEidResult, body: `{"EidToken":"` + token + `"}`})
	}
	var text tencent.DetectInfoText
	result().into(t, "Text", &text)
	if text.ErrCode == nil || *text.ErrCode != 17 {
		t.Fatalf("before: %+v", text)
	}
	ts.phone(t, "/phone/open", `{"request_id":"`+token+`"}`)
	ts.phone(t, "/phone/sessions/"+token+"/authorize", "")
	a = result()
	a.into(t, "Text", &text)
	// EidInfo only for merchants who applied for it; never here.
	if *text.ErrCode != 0 || string(a["EidInfo"]) != "null" {
		t.Fatalf("result %v", a)
	}
	raw := string(a["EidInfo"]) + string(a["Text"])
	if strings.Contains(raw, validID) || strings.Contains(raw, validName) {
		t.Errorf("the eID result carries the identity in clear: %s", raw)
	}
	if row := ts.statementRows(t)["1a47a9f0 GetEidToken"]; row.Billed != 1 || row.Total != 1 {
		t.Errorf("statement %+v", row)
	}
}

// TestTencentNFC: a successful read is billed once; a failed read is
// answered -1 and not billed; before the read there is no result.
func TestTencentNFC(t *testing.T) {
	ts := startTC(t, nil)
	token := func() string {
		a := ts.tcDo(t, tcReq{action: tencent.ActionGetNFCToken, body: `{}`})
		if len(a.str("Token")) != 32 {
			t.Fatalf("GetNFCToken %v", a)
		}
		return a.str("Token")
	}
	result := func(tok string) tcAnswer {
		return ts.tcDo(t, tcReq{action: tencent.ActionGetWxNFCResult, body: `{"NFCToken":"` + tok + `"}`})
	}
	good := token()
	if e := result(good).err(); e == nil || e.Code != tencent.CodeFailedOperationUnknown {
		t.Fatalf("before the read: %+v", e)
	}
	ts.phone(t, "/phone/open", `{"request_id":"`+good+`"}`)
	if v := ts.phone(t, "/phone/sessions/"+good+"/nfc", android); v["state"] != "approved" {
		t.Fatalf("read: %v", v)
	}
	for range 2 {
		var r tencent.GetWxNFCResultResponse
		b, _ := json.Marshal(result(good))
		_ = json.Unmarshal(b, &r)
		if r.ResultCode != "0" || len(r.IdNum) != 18 || r.Name == "" || r.Sex == "" || r.Nation == "" || len(r.BirthDate) != 8 ||
			r.Address == "" || r.BeginTime == "" || r.EndTime == "" || r.SigningOrganization == "" || r.IdType != "01" {
			t.Errorf("result %+v", r)
		}
	}
	bad := token()
	ts.phone(t, "/phone/open", `{"request_id":"`+bad+`"}`)
	ts.phone(t, "/phone/sessions/"+bad+"/nfc", android, withPrefer("nfc=66664024"))
	if a := result(bad); a.str("ResultCode") != "-1" || a["IdNum"] != nil {
		t.Errorf("failed read: %v", a)
	}
	// The credential's session scenario plans its sessions.
	if st, b := ts.admin(t, http.MethodPut, "/admin/sessions/scenarios/"+tcSecretID, `{"prefer":"nfc=302"}`); st != 200 {
		t.Fatalf("session scenario: %d %s", st, b)
	}
	expired := token()
	ts.phone(t, "/phone/open", `{"request_id":"`+expired+`"}`)
	if v := ts.phone(t, "/phone/sessions/"+expired+"/nfc", android); v["state"] != "failed" {
		t.Errorf("scenario nfc=302: %v", v)
	}
	if a := result(expired); a.str("ResultCode") != "-1" {
		t.Errorf("expired card: %v", a)
	}
	if row := ts.statementRows(t)["1a47a9f0 GetNFCToken"]; row.Billed != 1 || row.NotBilled != 2 {
		t.Errorf("statement %+v", row)
	}
}
