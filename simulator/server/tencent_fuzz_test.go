package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/simulator/config"
	"github.com/idgate/idgate/simulator/session"
)

var tcActions = []string{
	tencent.ActionIdCardVerification, tencent.ActionCheckIdNameDate, tencent.ActionDetectAuth, tencent.ActionGetDetectInfoEnhanced,
	tencent.ActionGetEidToken, tencent.ActionGetEidResult, tencent.ActionGetNFCToken, tencent.ActionGetWxNFCResult,
}

// FuzzTencentAction drives the API 3.0 dispatcher with correctly signed
// calls of every action, arbitrary bodies and Prefer headers: it must
// never panic, and always answer HTTP 200 with an envelope that holds a
// RequestId and either an Error with a code or the action's members.
func FuzzTencentAction(f *testing.F) {
	cfg := config.Default()
	cfg.Journal.Size = 16
	cfg.MaxLatency = config.Duration(1000) // 1µs: fuzzing must not sleep
	cfg.Sessions.MaxSessions = 1000
	svc, err := session.New(cfg.Sessions, nil, session.WithQRRenderer(func(string) ([]byte, error) { return nil, nil }))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(svc.Close)
	s, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), WithSessions(svc))
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	signer := tencent.Signer{SecretID: tcSecretID, SecretKey: tcSecretKey, Service: tcService}
	seeds := []string{
		`{"IdCard":"11010519491231002X","Name":"张三"}`,
		`{"IdCard":"11010519491231002X","Name":"张三","ValidityBegin":"19960101","ValidityEnd":"00000000"}`,
		`{"RuleId":"1","Extra":"x","Name":"张三","IdCard":"11010519491231002X"}`,
		`{"BizToken":"0123456789abcdef0123456789abcdef","RuleId":"1","InfoType":"12"}`,
		`{"MerchantId":"m","Config":{"InputType":"1"}}`, `{"EidToken":"x"}`, `{}`, `{"NFCToken":"x"}`,
		`{"IdCard":"1","IdCard":"2"}`, `{"idcard":"x","IdCard":"y"}`, `{"Encryption":{"EncryptList":["Name"],"CiphertextBlob":"AA==","Iv":"AA=="}}`,
		`null`, `[]`, ``, `{"Name":"` + "\xff" + `"}`,
	}
	for i, b := range seeds {
		f.Add(uint8(i), []byte(b), "")
	}
	f.Add(uint8(0), []byte(seeds[0]), "result=-3")
	f.Add(uint8(1), []byte(seeds[1]), "status=429")
	f.Add(uint8(2), []byte(seeds[2]), "nfc=600103, review=2016")
	f.Fuzz(func(t *testing.T, which uint8, body []byte, prefer string) {
		action := tcActions[int(which)%len(tcActions)]
		ts := time.Now().Unix()
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(fasthttp.MethodPost)
		ctx.Request.SetRequestURI("/")
		ctx.Request.Header.SetHost("127.0.0.1:8081")
		ctx.Request.Header.SetContentType("application/json")
		ctx.Request.Header.Set("X-TC-Action", action)
		ctx.Request.Header.Set("X-TC-Version", tencent.Version)
		ctx.Request.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
		ctx.Request.Header.Set("Authorization", signer.Authorization("127.0.0.1", "application/json", body, ts))
		if prefer != "" {
			ctx.Request.Header.Set("Prefer", prefer)
		}
		ctx.Request.SetBody(body)
		h(&ctx)
		if ctx.Hijacked() {
			return // a fault was asked for: no response by design
		}
		out := ctx.Response.Body()
		if st := ctx.Response.StatusCode(); st != 200 {
			t.Fatalf("%s: status %d: %q", action, st, out)
		}
		var env struct {
			Response map[string]json.RawMessage
		}
		if err := json.Unmarshal(out, &env); err != nil || env.Response == nil || len(env.Response["RequestId"]) != 38 {
			t.Fatalf("%s: not an envelope: %q", action, out)
		}
		if raw := env.Response["Error"]; raw != nil {
			var e tencent.Error
			if err := json.Unmarshal(raw, &e); err != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("%s: bad error %s", action, raw)
			}
			// InternalError only when asked for: Prefer, or the magic
			// identity of HTTP 500.
			if e.Code == tencent.CodeInternalError && prefer == "" && !bytes.Contains(body, []byte(magic("", 500).IDCard)) {
				t.Fatalf("%s: InternalError for client input %q: %s", action, body, raw)
			}
			return
		}
		if len(env.Response) < 2 {
			t.Fatalf("%s: answer without members: %q", action, out)
		}
	})
}
