package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/admission"
)

func TestRecoveringAnswersAPIErrorWithoutPersonalData(t *testing.T) {
	const secret = "11010519491231002X"
	var logs bytes.Buffer
	h := recovering(func(ctx *fasthttp.RequestCtx) {
		ctx.SetStatusCode(200)
		ctx.SetBodyString("partial")
		panic("cannot handle " + secret)
	}, slog.New(slog.NewJSONHandler(&logs, nil)), admission.NewIDs())
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/readyz")
	h(&ctx)
	var e contracts.ErrorBody
	if err := json.Unmarshal(ctx.Response.Body(), &e); err != nil || ctx.Response.StatusCode() != 500 ||
		e.Error.Code != contracts.ErrAPIError || e.TraceID != string(ctx.Response.Header.Peek("X-Request-Id")) {
		t.Fatalf("status %d body %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if strings.Contains(logs.String(), secret) || !strings.Contains(logs.String(), "/readyz") {
		t.Fatalf("log %s", logs.String())
	}
}
