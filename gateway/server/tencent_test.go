package server

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/config"
	"github.com/idgate/idgate/internal/testkit"
)

// dualUpstream speaks both dialects: the aggregator's on its paths (bearer
// up-token) and Tencent Cloud API 3.0 on POST / (the gateway's pair
// up-id/up-key, verified as FaceID does). Prefer: result=… picks the
// result in both.
type dualUpstream struct {
	url            string
	agg, tc        atomic.Int64
	verifier       tencent.Verifier
	lastTencentReq atomic.Value // string
}

func startDualUpstream(t *testing.T) *dualUpstream {
	u := &dualUpstream{}
	u.url = "http://" + testkit.Serve(t, func(ctx *fasthttp.RequestCtx) {
		h := &ctx.Request.Header
		res := "0"
		if p := string(h.Peek("Prefer")); strings.HasPrefix(p, "result=") {
			res = strings.TrimPrefix(p, "result=")
		}
		ctx.SetContentType("application/json")
		if string(ctx.Path()) != "/" {
			u.agg.Add(1)
			if string(h.Peek("Authorization")) != "Bearer up-token" {
				ctx.SetStatusCode(401)
				return
			}
			fmt.Fprintf(ctx, `{"result":%q,"description":"aggregator"}`, res)
			return
		}
		u.tc.Add(1)
		u.lastTencentReq.Store(string(ctx.Request.Body()))
		a, err := tencent.ParseAuthorization(h.Peek("Authorization"))
		var ts int64
		if err == nil {
			ts, err = tencent.ParseTimestamp(h.Peek(tencent.HeaderTimestamp))
		}
		if err == nil && a.SecretID != "up-id" {
			err = &tencent.Error{Code: tencent.CodeSecretIDNotFound, Message: "unknown"}
		}
		if err == nil {
			err = u.verifier.Verify(&tencent.Request{Method: "POST", Path: "/", Body: ctx.Request.Body(), Header: func(n string) []byte {
				if n == "host" {
					return h.Host()
				}
				return h.ContentType()
			}}, &a, ts, "up-key", time.Now())
		}
		if err != nil {
			ctx.SetBody(tencent.AppendError(nil, err, "tc-up-err"))
			return
		}
		ctx.SetBody(tencent.AppendCheckResult(nil, res, "tencent "+string(h.Peek(tencent.HeaderAction)), "tc-up-"+res))
	})
	return u
}

// tcSignedCheck sends body as action to the gateway, signed with the pair
// as the Node SDK signs (host without port, service = the host's first
// label).
func tcSignedCheck(t *testing.T, gwURL, secretID, secretKey, action, body, prefer string) (resp map[string]any, requestID string) {
	t.Helper()
	s := &tencent.Signer{SecretID: secretID, SecretKey: secretKey, Service: "127"}
	if prefer == "" {
		return testkit.TencentCall(t, gwURL, s, action, body)
	}
	return testkit.TencentCall(t, gwURL, s, action, body, "Prefer", prefer)
}

func tencentConfig(t *testing.T, upURL string) (cfgPath string, g *gw) {
	cfg := testConfig(t, upURL, filepath.Join(t.TempDir(), "l.db"))
	cfg.Upstream.Tencent.SecretID, cfg.Upstream.Tencent.SecretKey = "up-id", "up-key"
	// The check actions alone: the session actions are the sessions'.
	cfg.Sessions.Enabled = false
	cfg.Auth.Tenants[0].Keys[0].SecretID = "AKIDacme"
	cfg.Auth.Tenants[0].Keys[0].SecretKey = "acme-tc-secret"
	cfg.Auth.Tenants = append(cfg.Auth.Tenants, auth.TenantConfig{ID: "off", Rate: 1, Burst: 1, Keys: []auth.KeyConfig{
		{ID: "off-1", Key: "off-secret", Disabled: true, SecretID: "AKIDoff", SecretKey: "off-tc-secret"}}})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfgPath = writeConfig(t, cfg)
	return cfgPath, startGateway(t, cfg, cfgPath)
}

// Both client dialects against both upstream dialects, one key, one quota,
// one ledger.
func TestTencentBothWays(t *testing.T) {
	up := startDualUpstream(t)
	_, g := tencentConfig(t, up.url)
	const dateBody = `"validity_begin":"20100101","validity_end":"00000000"`
	aggDate := fmt.Sprintf(`{"name":%q,"id_card":%q,%s}`, goodName, goodID, dateBody)
	tcCheck := fmt.Sprintf(`{"IdCard":%q,"Name":%q}`, goodID, goodName)
	tcDate := fmt.Sprintf(`{"IdCard":%q,"Name":%q,"ValidityBegin":"20100101","ValidityEnd":"00000000"}`, goodID, goodName)

	// 1. aggregator → aggregator (as ever).
	if code, body := check(t, g.url, "acme-secret", ""); code != 200 || !strings.Contains(body, `"result":"0"`) {
		t.Fatalf("aggregator→aggregator: %d %s", code, body)
	}
	// 2. Tencent → aggregator.
	if r, _ := tcSignedCheck(t, g.url, "AKIDacme", "acme-tc-secret", tencent.ActionIdCardVerification, tcCheck, "result=-1"); r["Result"] != "-1" || r["Description"] != "aggregator" {
		t.Fatalf("tencent→aggregator: %v", r)
	}
	// 3. aggregator → Tencent.
	status, answer := testkit.Call(t, "POST", g.url+"/identity/idcard/check-id-name-date", "acme-secret", aggDate,
		"Content-Type", "application/json", "Prefer", "result=-7")
	if status != 200 || answer != `{"result":"-7","description":"tencent CheckIdNameDate"}` {
		t.Fatalf("aggregator→tencent: %d %s", status, answer)
	}
	if got, _ := up.lastTencentReq.Load().(string); !strings.Contains(got, `"ValidityBegin":"20100101"`) || !strings.Contains(got, `"IdCard":"`+goodID) {
		t.Fatalf("the Tencent upstream got %s", got)
	}
	// 4. Tencent → Tencent.
	if r, _ := tcSignedCheck(t, g.url, "AKIDacme", "acme-tc-secret", tencent.ActionCheckIdNameDate, tcDate, ""); r["Result"] != "0" || r["Description"] != "tencent CheckIdNameDate" {
		t.Fatalf("tencent→tencent: %v", r)
	}
	if up.agg.Load() != 2 || up.tc.Load() != 2 {
		t.Fatalf("upstream calls: aggregator %d, tencent %d", up.agg.Load(), up.tc.Load())
	}

	// Refused before admission: nothing recorded, nothing forwarded.
	for _, c := range []struct {
		name, id, key, action, want string
	}{
		{"unknown SecretId", "AKIDnope", "x", tencent.ActionIdCardVerification, tencent.CodeSecretIDNotFound},
		{"disabled key", "AKIDoff", "off-tc-secret", tencent.ActionIdCardVerification, tencent.CodeSecretIDNotFound},
		{"wrong secret", "AKIDacme", "wrong", tencent.ActionIdCardVerification, tencent.CodeSignatureFailure},
		{"unknown action", "AKIDacme", "acme-tc-secret", "DescribeThings", tencent.CodeInvalidAction},
		{"action not served", "AKIDacme", "acme-tc-secret", tencent.ActionGetEidToken, tencent.CodeInvalidAction},
	} {
		if r, _ := tcSignedCheck(t, g.url, c.id, c.key, c.action, tcCheck, ""); testkit.TencentErrorCode(r) != c.want {
			t.Errorf("%s: %v, want %s", c.name, r, c.want)
		}
	}
	if up.agg.Load() != 2 || up.tc.Load() != 2 {
		t.Fatal("a refused request was forwarded")
	}

	// The ledger: four entries of one key, route names shared by both
	// dialects, the Tencent upstream's RequestId kept as the upstream id.
	if err := g.s.Ledger().Flush(); err != nil {
		t.Fatal(err)
	}
	var entries []ledgerRow
	code, body := adminDo(t, g, "GET", "/admin/ledger.csv?tenant=acme", "gateway-admin-token", "")
	if code != 200 {
		t.Fatalf("ledger.csv %d", code)
	}
	entries = parseLedgerCSV(t, body)
	routes := map[string]int{}
	for _, e := range entries {
		routes[e.route]++
		if e.route == "check-id-name-date" && !strings.HasPrefix(e.upstreamID, "tc-up-") {
			t.Errorf("upstream id %q: want the Tencent upstream's RequestId", e.upstreamID)
		}
	}
	if len(entries) != 4 || routes["check-2e"] != 2 || routes["check-id-name-date"] != 2 {
		t.Fatalf("ledger %+v", entries)
	}
	if q, _ := g.s.Quota().Key("acme-1", time.Now()); q.Used != 3 { // "-7" on the date route is not billed
		t.Fatalf("quota used %d, want 3", q.Used)
	}
}

type ledgerRow struct{ route, class, upstreamID string }

func parseLedgerCSV(t *testing.T, body []byte) []ledgerRow {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	head := strings.Split(lines[0], ",")
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	var out []ledgerRow
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		out = append(out, ledgerRow{route: f[col["route"]], class: f[col["class"]], upstreamID: f[col["upstream_id"]]})
	}
	return out
}

// A pair made through the admin API: shown once, sealed in the store,
// usable at once, replaced by a rotation, kept across a restart.
func TestAdminTencentPair(t *testing.T) {
	up := startDualUpstream(t)
	cfgPath, g := tencentConfig(t, up.url)
	const tok = "gateway-admin-token"
	tcCheck := fmt.Sprintf(`{"IdCard":%q,"Name":%q}`, goodID, goodName)
	code, body := adminDo(t, g, "POST", "/admin/tenants/globex/keys", tok, `{"id":"globex-tc","tencent_pair":true}`)
	type pair struct {
		Key       string `json:"key"`
		SecretID  string `json:"secret_id"`
		SecretKey string `json:"secret_key"`
	}
	var created pair
	if code != 201 || json.Unmarshal(body, &created) != nil || created.SecretID == "" || created.SecretKey == "" || created.Key == "" {
		t.Fatalf("create: %d %s", code, body)
	}
	if !strings.HasPrefix(created.SecretID, "AKID") {
		t.Fatalf("SecretId %q", created.SecretID)
	}
	if r, _ := tcSignedCheck(t, g.url, created.SecretID, created.SecretKey, tencent.ActionIdCardVerification, tcCheck, ""); r["Result"] != "0" {
		t.Fatalf("new pair: %v", r)
	}
	code, body = adminDo(t, g, "GET", "/admin/tenants/globex", tok, "")
	if code != 200 || !strings.Contains(string(body), created.SecretID) || strings.Contains(string(body), created.SecretKey) {
		t.Fatalf("tenant view: %d %s", code, body)
	}
	if strings.Contains(g.logs.String(), created.SecretKey) {
		t.Fatal("the SecretKey is in the logs")
	}

	// Rotating the pair: the old one stops at once, the bearer key stays.
	code, body = adminDo(t, g, "POST", "/admin/keys/globex-tc/rotate", tok, `{"rotate":"tencent_pair"}`)
	var rotated pair
	if code != 200 || json.Unmarshal(body, &rotated) != nil || rotated.SecretKey == "" || rotated.SecretID == created.SecretID || rotated.Key != "" {
		t.Fatalf("rotate: %d %s", code, body)
	}
	if r, _ := tcSignedCheck(t, g.url, created.SecretID, created.SecretKey, tencent.ActionIdCardVerification, tcCheck, ""); testkit.TencentErrorCode(r) != tencent.CodeSecretIDNotFound {
		t.Fatalf("old pair after rotation: %v", r)
	}
	if code, _ := check(t, g.url, created.Key, ""); code != 200 {
		t.Fatalf("bearer key after a pair rotation: %d", code)
	}
	// Disabling the key disables the pair; a config key's pair stays in
	// the config (the store needs no sealing for it).
	if code, _ := adminDo(t, g, "POST", "/admin/keys/globex-tc/disable", tok, ""); code != 200 {
		t.Fatal("disable")
	}
	if r, _ := tcSignedCheck(t, g.url, rotated.SecretID, rotated.SecretKey, tencent.ActionIdCardVerification, tcCheck, ""); testkit.TencentErrorCode(r) != tencent.CodeSecretIDNotFound {
		t.Fatalf("disabled key's pair: %v", r)
	}
	adminDo(t, g, "POST", "/admin/keys/globex-tc/enable", tok, "")
	for _, bad := range []string{`{"rotate":"everything"}`, `{"rotate":1}`, `{"other":true}`} {
		if code, _ := adminDo(t, g, "POST", "/admin/keys/globex-tc/rotate", tok, bad); code != 400 {
			t.Errorf("rotate %s: %d", bad, code)
		}
	}

	// Restart on the same store: the pair opens with the sealing key.
	g.s.Shutdown(context.Background())
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	g2 := startGateway(t, cfg, cfgPath)
	if r, _ := tcSignedCheck(t, g2.url, rotated.SecretID, rotated.SecretKey, tencent.ActionIdCardVerification, tcCheck, ""); r["Result"] != "0" {
		t.Fatalf("pair after restart: %v", r)
	}
	// Without the sealing key the store's pairs cannot be opened: the
	// gateway refuses to start rather than drop them.
	cfg.Auth.Secrets.SecretEncryptionKey = ""
	g2.s.Shutdown(context.Background())
	if _, err := New(cfg, cfgPath, g2.s.log); err == nil || !strings.Contains(err.Error(), "secret_encryption_key") {
		t.Fatalf("start without the sealing key: %v", err)
	}
}

// The cache is the route's, whatever the dialect: an answer billed to an
// aggregator client is a cached answer for a Tencent client of the same
// tenant, rendered in the envelope.
func TestTencentSharesTheRoutesCache(t *testing.T) {
	up := startDualUpstream(t)
	cfg := testConfig(t, up.url, filepath.Join(t.TempDir(), "l.db"))
	cfg.Sessions.Enabled = false
	cfg.Upstream.Tencent.SecretID, cfg.Upstream.Tencent.SecretKey = "up-id", "up-key"
	cfg.Auth.Tenants[0].Keys[0].SecretID, cfg.Auth.Tenants[0].Keys[0].SecretKey = "AKIDacme", "acme-tc-secret"
	cfg.Cache.Enabled, cfg.Cache.KeySecret = true, "server-test-cache-secret"
	g := startGateway(t, cfg, "")
	if code, _ := check(t, g.url, "acme-secret", ""); code != 200 {
		t.Fatalf("check: %d", code)
	}
	r, rid := tcSignedCheck(t, g.url, "AKIDacme", "acme-tc-secret", tencent.ActionIdCardVerification,
		fmt.Sprintf(`{"IdCard":%q,"Name":%q}`, goodID, goodName), "")
	if r["Result"] != "0" || r["Description"] != "aggregator" {
		t.Fatalf("tencent: %v", r)
	}
	if n := up.agg.Load(); n != 1 {
		t.Fatalf("%d upstream calls, want 1 (the second from the cache)", n)
	}
	if err := g.s.Ledger().Flush(); err != nil {
		t.Fatal(err)
	}
	_, body := adminDo(t, g, "GET", "/admin/ledger.csv?tenant=acme", "gateway-admin-token", "")
	if !strings.Contains(string(body), rid+",acme,acme-1,check-2e,0,cached,") {
		t.Fatalf("ledger %s: want %s cached on check-2e", body, rid)
	}
}
