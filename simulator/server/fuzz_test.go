package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/config"
)

// decodeSeeds are bodies of every shape the decoder tells apart.
var decodeSeeds = []string{
	`{"name":"张三","id_card":"11010519491231002X"}`,
	` {"name":"张三" , "id_card":"11010519491231002X","image_url":"https://x/y.jpg","validity_begin":"20200101","validity_end":"00000000"} `,
	`{}`, `{"name":"a","name":"b"}`, `{"NAME":"张三"}`, `{"name":"\u5f20"}`, `{"name":null}`,
	`{"name":"张三","id_card":"11010519491231002X","encryption":{"encrypt_list":["name"],"ciphertext_blob":"AA==","iv":"AA==","algorithm":"SM4-GCM"}}`,
	`{"name":"a"}x`, `{"name":"a",}`, `{"name":"` + "\xff" + `"}`, "\u00a0{}", `{"other":1}`, `[]`, ``,
}

// FuzzCheckRequest drives the whole handler with arbitrary bodies, content
// types and Prefer headers: it must never panic, always answer in the
// contract's shapes, and answer 200 only to a body the contract accepts.
func FuzzCheckRequest(f *testing.F) {
	cfg := config.Default()
	cfg.Journal.Size = 16
	cfg.MaxLatency = config.Duration(1000) // 1µs: fuzzing must not sleep
	s, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	for _, b := range decodeSeeds {
		f.Add([]byte(b), "application/json", "")
	}
	f.Add([]byte(decodeSeeds[0]), "application/json; charset=utf-8", "result=-1, latency=1us")
	f.Add([]byte(decodeSeeds[0]), "text/plain", "status=500")
	f.Add([]byte(decodeSeeds[0]), "application/json", "fault=hang")
	f.Add([]byte(`{"name":"测试一致","id_card":"110101191111110010","image_url":"x"}`), "application/json", "sim=1")
	f.Fuzz(func(t *testing.T, body []byte, contentType, prefer string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(fasthttp.MethodPost)
		ctx.Request.SetRequestURI(contracts.CheckPath)
		ctx.Request.Header.Set("Authorization", "Bearer sim-token")
		ctx.Request.Header.SetContentType(contentType)
		if prefer != "" {
			ctx.Request.Header.Set("Prefer", prefer)
		}
		ctx.Request.SetBody(body)
		h(&ctx)
		if ctx.Hijacked() {
			return // a fault was asked for: no response by design
		}
		st := ctx.Response.StatusCode()
		out := ctx.Response.Body()
		if st != 200 {
			var e contracts.ErrorBody
			if err := json.Unmarshal(out, &e); err != nil || e.Success || e.Error.Code == "" {
				t.Fatalf("status %d with body %q", st, out)
			}
			return
		}
		var r contracts.CheckResponse
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("200 with body %q", out)
		}
		if _, ok := contracts.LookupResult(r.Result); !ok {
			t.Fatalf("unknown result %q", r.Result)
		}
		if !contracts.IsJSONContentType(contentType) {
			t.Fatalf("200 for content type %q", contentType)
		}
		req, err := contracts.DecodeCheckRequest(body)
		if err != nil {
			t.Fatalf("200 for a body the contract rejects (%v): %q", err, body)
		}
		if rej := contracts.Validate(&req, s.now()); rej != nil && rej.Result == "" {
			t.Fatalf("200 for an invalid request (%s): %q", rej.Reason, body)
		}
	})
}
