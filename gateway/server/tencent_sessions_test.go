package server

import (
	"encoding/json"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/internal/testkit"
)

// FaceID's session actions are served on POST / next to the check
// actions: signed by a key's Tencent pair, billed once through the session
// service.
func TestTencentSessionActions(t *testing.T) {
	var results atomic.Int64
	up := "http://" + testkit.Serve(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		switch p := string(ctx.Path()); {
		case ctx.IsPost() && p == contracts.SessionsPath:
			var req contracts.CreateSessionRequest
			if json.Unmarshal(ctx.PostBody(), &req) != nil || req.Flow != contracts.FlowNFC || req.Reference != "order-7" {
				ctx.SetStatusCode(400)
				ctx.SetBodyString(`{"success":false,"error":{"code":"token_mismatched","message":"bad create"},"trace_id":"t"}`)
				return
			}
			b, _ := json.Marshal(contracts.Session{RequestID: "sess-1", Flow: req.Flow, State: contracts.StateCreated, Version: 1,
				QRURL: "http://sim/phone/qr/sess-1", ExpiresAt: time.Now().Add(10 * time.Minute)})
			ctx.SetStatusCode(201)
			ctx.SetBody(b)
		case p == contracts.SessionPath("sess-1")+"/result":
			results.Add(1)
			b, _ := json.Marshal(contracts.SessionResult{RequestID: "sess-1", Flow: contracts.FlowNFC, State: contracts.StateApproved,
				Decision: contracts.StateApproved, Code: 0, Message: "ok", Billing: contracts.Billed, Reference: "order-7"})
			ctx.SetBody(b)
		default:
			ctx.SetStatusCode(404)
			ctx.SetBodyString(`{"success":false,"error":{"code":"session_not_found","message":"x"},"trace_id":"t"}`)
		}
	})
	cfg := testConfig(t, up, filepath.Join(t.TempDir(), "ledger.db"))
	cfg.Sessions.Enabled = true
	cfg.Auth.Tenants[0].Keys[0].SecretID, cfg.Auth.Tenants[0].Keys[0].SecretKey = "acme-sid", "acme-skey"
	cfg.Auth.Tenants = append(cfg.Auth.Tenants, auth.TenantConfig{ID: "rival", Rate: 1000, Burst: 1000,
		Keys: []auth.KeyConfig{{ID: "rival-1", Key: "rival-secret", SecretID: "rival-sid", SecretKey: "rival-skey"}}})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, cfg, "")

	acme := &tencent.Signer{SecretID: "acme-sid", SecretKey: "acme-skey", Service: "127"}
	r, _ := testkit.TencentCall(t, g.url, acme, tencent.ActionDetectAuth, `{"RuleId":"1","Extra":"order-7"}`)
	if r["BizToken"] != "sess-1" || r["Url"] != "http://sim/phone/qr/sess-1" {
		t.Fatalf("DetectAuth: %v", r)
	}
	for range 3 {
		r, _ = testkit.TencentCall(t, g.url, acme, tencent.ActionGetDetectInfoEnhanced, `{"BizToken":"sess-1","RuleId":"1"}`)
		text, _ := r["Text"].(map[string]any)
		if text == nil || text["ErrCode"] != float64(0) || text["Extra"] != "order-7" {
			t.Fatalf("GetDetectInfoEnhanced: %v", r)
		}
	}
	if st, _ := g.s.Sessions().Status("sess-1"); st != "billed" {
		t.Fatalf("session status %s", st)
	}
	if n := results.Load(); n != 3 {
		t.Fatalf("%d upstream result reads", n)
	}
	rival := &tencent.Signer{SecretID: "rival-sid", SecretKey: "rival-skey", Service: "127"}
	if r, _ := testkit.TencentCall(t, g.url, rival, tencent.ActionGetDetectInfoEnhanced, `{"BizToken":"sess-1","RuleId":"1"}`); testkit.TencentErrorCode(r) != tencent.CodeBizTokenIllegal {
		t.Fatalf("another tenant's token: %v", r)
	}
	bad := &tencent.Signer{SecretID: "acme-sid", SecretKey: "wrong", Service: "127"}
	if r, _ := testkit.TencentCall(t, g.url, bad, tencent.ActionDetectAuth, `{"RuleId":"1","Extra":"order-7"}`); testkit.TencentErrorCode(r) != tencent.CodeSignatureFailure {
		t.Fatalf("bad signature: %v", r)
	}
	if r, _ := testkit.TencentCall(t, g.url, acme, tencent.ActionDetectAuth, `{"Extra":"order-7"}`); testkit.TencentErrorCode(r) != tencent.CodeMissingParameter {
		t.Fatalf("missing RuleId: %v", r)
	}
	if n := results.Load(); n != 3 {
		t.Fatalf("refusals reached the upstream: %d result reads", n)
	}
}
