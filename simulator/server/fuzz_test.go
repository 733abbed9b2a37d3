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

var decodeSeeds = []string{
	`{"name":"张三","id_card":"11010519491231002X"}`,
	` {"name":"张三" , "id_card":"11010519491231002X","image_url":"https://x/y.jpg","validity_begin":"20200101","validity_end":"00000000"} `,
	`{}`, `{"name":"a","name":"b"}`, `{"NAME":"张三"}`, `{"name":"\u5f20"}`, `{"name":null}`,
	`{"name":"张三","id_card":"11010519491231002X","encryption":{"encrypt_list":["name"],"ciphertext_blob":"AA==","iv":"AA==","algorithm":"SM4-GCM"}}`,
	`{"name":"a"}x`, `{"name":"a",}`, `{"name":"` + "\xff" + `"}`, "\u00a0{}", `{"other":1}`, `[]`, ``,
}

func TestDecodeFast(t *testing.T) {
	cases := []struct {
		body string
		ok   bool
		want contracts.CheckRequest
	}{
		{decodeSeeds[0], true, contracts.CheckRequest{Name: "张三", IDCard: "11010519491231002X"}},
		{decodeSeeds[1], true, contracts.CheckRequest{Name: "张三", IDCard: "11010519491231002X", ImageURL: "https://x/y.jpg", ValidityBegin: "20200101", ValidityEnd: "00000000"}},
		{`{}`, true, contracts.CheckRequest{}},
		{`{"name":"a","name":"b"}`, true, contracts.CheckRequest{Name: "b"}},
		{`{"NAME":"张三"}`, false, contracts.CheckRequest{}},
		{`{"name":"\u5f20"}`, false, contracts.CheckRequest{}},
		{`{"name":null}`, false, contracts.CheckRequest{}},
		{decodeSeeds[7], false, contracts.CheckRequest{}},
		{`{"name":"a"}x`, false, contracts.CheckRequest{}},
		{`{"name":"a",}`, false, contracts.CheckRequest{}},
		{"{\"name\":\"\xff\"}", false, contracts.CheckRequest{}},
		{`{"name":"a` + "\n" + `"}`, false, contracts.CheckRequest{}},
		{`{"other":"x"}`, false, contracts.CheckRequest{}},
	}
	for _, tc := range cases {
		var got contracts.CheckRequest
		ok := decodeFast([]byte(tc.body), &got)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("decodeFast(%q) = %v %+v, want %v %+v", tc.body, ok, got, tc.ok, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		var r contracts.CheckRequest
		decodeFast([]byte(decodeSeeds[0]), &r)
	}); n > 1 {
		t.Errorf("%v allocations, want at most 1", n)
	}
}

// FuzzDecodeFastAgrees: wherever the fast decoder answers, the contract's
// decoder gives the same request.
func FuzzDecodeFastAgrees(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast contracts.CheckRequest
		if !decodeFast(body, &fast) {
			return
		}
		slow, err := contracts.DecodeCheckRequest(body)
		if err != nil {
			t.Fatalf("fast path accepted %q, contract decoder: %v", body, err)
		}
		if slow.Encryption != nil || fast != (contracts.CheckRequest{Name: slow.Name, IDCard: slow.IDCard, ImageURL: slow.ImageURL, ValidityBegin: slow.ValidityBegin, ValidityEnd: slow.ValidityEnd}) {
			t.Fatalf("%q: fast %+v, contract %+v", body, fast, slow)
		}
	})
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
