package tencent

import (
	"testing"

	"github.com/valyala/fasthttp"

	tc "github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/gateway/admission"
)

func TestMux(t *testing.T) {
	m := NewMux(admission.NewIDs())
	served := 0
	if err := m.Handle(tc.ActionIdCardVerification, func(*fasthttp.RequestCtx) { served++ }); err != nil {
		t.Fatal(err)
	}
	if err := m.Handle(tc.ActionIdCardVerification, func(*fasthttp.RequestCtx) {}); err == nil {
		t.Fatal("an action served twice")
	}
	if err := m.Handle("DeleteEverything", func(*fasthttp.RequestCtx) {}); err == nil {
		t.Fatal("an action FaceID does not have")
	}
	refused := 0
	m.Refused = func(*fasthttp.RequestCtx) { refused++ }
	cases := []struct {
		name, action, version string
		want                  string // "" served
	}{
		{"served", tc.ActionIdCardVerification, tc.Version, ""},
		{"no action", "", tc.Version, tc.CodeMissingParameter},
		{"unknown action", "DescribeInstances", tc.Version, tc.CodeInvalidAction},
		{"known, not served here", tc.ActionDetectAuth, tc.Version, tc.CodeInvalidAction},
		{"no version", tc.ActionIdCardVerification, "", tc.CodeMissingParameter},
		{"other version", tc.ActionIdCardVerification, "2017-03-12", tc.CodeNoSuchVersion},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, beforeRefused := served, refused
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.SetMethod("POST")
			ctx.Request.SetRequestURI("/")
			if c.action != "" {
				ctx.Request.Header.Set(tc.HeaderAction, c.action)
			}
			if c.version != "" {
				ctx.Request.Header.Set(tc.HeaderVersion, c.version)
			}
			m.Serve(&ctx)
			if c.want == "" {
				if served != before+1 {
					t.Fatal("not dispatched")
				}
				return
			}
			r := envelope(t, ctx.Response.Body())
			if served != before || refused != beforeRefused+1 || ctx.Response.StatusCode() != 200 ||
				r.Error == nil || r.Error.Code != c.want || r.RequestID != string(ctx.Response.Header.Peek("X-Request-Id")) {
				t.Fatalf("answer %d %s, want %s", ctx.Response.StatusCode(), ctx.Response.Body(), c.want)
			}
		})
	}
}
