package tencent

import (
	"fmt"

	"github.com/valyala/fasthttp"

	tc "github.com/idgate/idgate/contracts/tencent"
)

// Path is the dialect's one endpoint.
const Path = "/"

// Mux serves POST Path: it checks X-TC-Action and X-TC-Version
// (tc.CheckHeaders: MissingParameter, InvalidAction, NoSuchVersion, as the
// envelope, HTTP 200) and hands the request to the action's handler. The
// server registers the check routes' actions; other packages (the
// verification sessions) register theirs the same way. Handlers are
// registered before the server starts; Serve only reads the map.
type Mux struct {
	handlers map[string]fasthttp.RequestHandler
	// IDs makes the request id of a refusal (X-Request-Id and RequestId).
	IDs interface{ Next() string }
	// Refused, when set, is told of each request refused before any
	// handler (for metrics).
	Refused func(ctx *fasthttp.RequestCtx)
}

// NewMux returns an empty mux.
func NewMux(ids interface{ Next() string }) *Mux {
	return &Mux{handlers: map[string]fasthttp.RequestHandler{}, IDs: ids}
}

// Handle serves action with h. An action is served once, and only one the
// dialect knows (tc.IsAction).
func (m *Mux) Handle(action string, h fasthttp.RequestHandler) error {
	if !tc.IsAction(action) {
		return fmt.Errorf("tencent: %s is not a FaceID action this gateway knows", action)
	}
	if _, dup := m.handlers[action]; dup {
		return fmt.Errorf("tencent: action %s is served twice", action)
	}
	m.handlers[action] = h
	return nil
}

// Actions lists the served actions.
func (m *Mux) Actions() []string {
	out := make([]string, 0, len(m.handlers))
	for a := range m.handlers {
		out = append(out, a)
	}
	return out
}

var (
	hdrAction    = []byte(tc.HeaderAction)
	hdrVersion   = []byte(tc.HeaderVersion)
	hdrRequestID = []byte("X-Request-Id")
)

// Serve dispatches one request by its action.
func (m *Mux) Serve(ctx *fasthttp.RequestCtx) {
	h := &ctx.Request.Header
	action := h.PeekBytes(hdrAction)
	if err := tc.CheckHeaders(action, h.PeekBytes(hdrVersion)); err != nil {
		m.refuse(ctx, err)
		return
	}
	handler := m.handlers[string(action)]
	if handler == nil {
		m.refuse(ctx, &tc.Error{Code: tc.CodeInvalidAction, Message: "The action `" + string(action) + "` is not served by this gateway."})
		return
	}
	handler(ctx)
}

// ServeOtherMethod answers an API 3.0 request (X-TC-Action on Path) made
// with a method other than POST, such as an SDK configured with
// reqMethod GET: UnsupportedProtocol in the envelope, so the client reads
// an error code rather than an HTTP failure.
func (m *Mux) ServeOtherMethod(ctx *fasthttp.RequestCtx) {
	m.refuse(ctx, &tc.Error{Code: tc.CodeUnsupportedProtocol, Message: "Only POST with a JSON body is served; the GET and form-encoded styles of API 3.0 are not."})
}

// IsCall reports whether ctx is an API 3.0 call: X-TC-Action on Path.
func IsCall(ctx *fasthttp.RequestCtx) bool {
	return string(ctx.URI().PathOriginal()) == Path && len(ctx.Request.Header.PeekBytes(hdrAction)) > 0
}

// refuse answers a request no handler took.
func (m *Mux) refuse(ctx *fasthttp.RequestCtx, e *tc.Error) {
	id := m.IDs.Next()
	ctx.Response.Header.SetCanonical(hdrRequestID, []byte(id))
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(tc.AppendError(nil, e, id))
	if m.Refused != nil {
		m.Refused(ctx)
	}
}
