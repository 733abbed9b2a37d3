package sessions

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/idcard"
	"github.com/idgate/idgate/gateway/admission"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/internal/httpurl"
)

// Register mounts the tenant routes and the webhook receiver.
func (s *Service) Register(app fiber.Router) {
	app.Post(contracts.SessionsPath, func(c *fiber.Ctx) error { s.create(c.Context()); return nil })
	app.Get(contracts.SessionRoute, func(c *fiber.Ctx) error {
		s.poll(c.Context(), RouteStatus, c.Params("request_id"), "")
		return nil
	})
	app.Get(contracts.SessionResultRoute, func(c *fiber.Ctx) error {
		s.poll(c.Context(), RouteResult, c.Params("request_id"), "/result")
		return nil
	})
	app.Get(contracts.SessionQRRoute, func(c *fiber.Ctx) error {
		s.poll(c.Context(), RouteQR, c.Params("request_id"), "/qr")
		return nil
	})
	app.Post(contracts.SessionQRRoute, func(c *fiber.Ctx) error { s.regenerate(c.Context(), c.Params("request_id")); return nil })
	app.Post(WebhookPath, func(c *fiber.Ctx) error { s.receive(c.Context()); return nil })
}

// refuseSession answers with a session error (session_not_found, ...).
func (s *Service) refuseSession(x *admission.Exchange, class billing.Class, code contracts.ErrorCode, msg string) {
	info, _ := contracts.LookupSessionError(code)
	b, _ := json.Marshal(contracts.NewSessionError(code, msg, x.RequestID))
	s.Finish(x, class, info.Status, "application/json", b)
}
func writeJSON(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

// forward calls the upstream and classifies the answer: ok is false when
// the gateway answered itself (api_error, or a repeated Prefer refused).
func (s *Service) forward(x *admission.Exchange, method, path string, body []byte, resp *fasthttp.Response) bool {
	var prefer []byte
	if s.cfg.ForwardPrefer {
		if x.RepeatedPrefer() {
			// Which of two Prefer headers would pick the outcome is not
			// the gateway's to guess: refused, never forwarded.
			s.Refuse(x, billing.LocalReject, contracts.ErrTokenMismatched, contracts.HeaderPrefer.Refusal())
			return false
		}
		prefer = x.Ctx.Request.Header.Peek("Prefer")
	}
	t0 := s.Now()
	err := s.Upstream.Do(method, path, body, prefer, []byte(x.RequestID), resp)
	x.UpstreamLatency = s.Now().Sub(t0)
	s.Metrics.ObserveUpstream(x.Route, x.UpstreamLatency)
	status := resp.StatusCode()
	problem := ""
	switch {
	case err != nil:
		problem = "upstream unavailable"
	case status == fasthttp.StatusUnauthorized || status == fasthttp.StatusForbidden:
		problem = "upstream refused the gateway's credential"
	case status >= 200 && status < 300 && x.Route == RouteQR:
		if !isPNG(resp.Body()) {
			problem = "upstream QR code is not a PNG"
		}
	case !json.Valid(resp.Body()) || len(resp.Body()) == 0 || resp.Body()[0] != '{':
		problem = "upstream answer unreadable"
	}
	if problem != "" {
		s.Log.Warn("upstream answer unusable", "request_id", x.RequestID, "route", x.Route, "tenant", x.Key.Tenant.ID, "status", status, "problem", problem)
		s.Refuse(x, billing.UpstreamError, contracts.ErrAPIError, problem)
		return false
	}
	return true
}

func isPNG(b []byte) bool { return len(b) > 8 && string(b[:8]) == "\x89PNG\r\n\x1a\n" }

// pass answers with the upstream's answer unchanged.
func (s *Service) pass(x *admission.Exchange, class billing.Class, resp *fasthttp.Response) {
	if ra := resp.Header.Peek(fasthttp.HeaderRetryAfter); len(ra) > 0 {
		x.Ctx.Response.Header.SetBytesV(fasthttp.HeaderRetryAfter, ra)
	}
	if loc := resp.Header.Peek(fasthttp.HeaderLocation); len(loc) > 0 {
		x.Ctx.Response.Header.SetBytesV(fasthttp.HeaderLocation, loc)
	}
	if pa := resp.Header.Peek("Preference-Applied"); len(pa) > 0 {
		x.Ctx.Response.Header.SetBytesV("Preference-Applied", pa)
	}
	if cc := resp.Header.Peek(fasthttp.HeaderCacheControl); len(cc) > 0 {
		x.Ctx.Response.Header.SetBytesV(fasthttp.HeaderCacheControl, cc)
	}
	s.Finish(x, class, resp.StatusCode(), string(resp.Header.ContentType()), resp.Body())
}

// create opens a session: admission steps 1–4 (the unit is held by the
// session until its outcome is known), then the upstream's create.
func (s *Service) create(ctx *fasthttp.RequestCtx) {
	x := s.NewExchange(ctx, RouteCreate)
	defer s.End(&x)
	body := ctx.Request.Body()
	if !s.Admit(&x) || !s.Idempotent(&x, contracts.SessionsPath, body) {
		return
	}
	if len(body) > s.MaxBody {
		s.Refuse(&x, billing.LocalReject, contracts.ErrTokenMismatched, "request body exceeds "+strconv.Itoa(s.MaxBody)+" bytes")
		return
	}
	// Read under the check body's key rules: the body is forwarded as
	// sent, so the upstream must not be able to read another request
	// (a repeated id_card, an ID_CARD) from it than the one the gateway
	// checked and recorded.
	var req contracts.CreateSessionRequest
	if err := contracts.DecodeObject(body, &contracts.CreateSessionSchema, &req); err != nil {
		s.Refuse(&x, billing.LocalReject, contracts.ErrTokenMismatched, err.Error())
		return
	}
	if req.IDCard != "" {
		x.IDMasked = idcard.Mask(req.IDCard)
	}
	tenantCallback := req.CallbackURL
	if tenantCallback != "" {
		if httpurl.Check(tenantCallback) != nil {
			s.Refuse(&x, billing.LocalReject, contracts.ErrTokenMismatched, "callback_url must be an absolute http(s) URL")
			return
		}
		if s.relay == nil || !s.relay.HasSecret(x.Key.Tenant.ID) {
			s.Refuse(&x, billing.LocalReject, contracts.ErrTokenMismatched, "callback_url needs a webhook secret for this tenant in the gateway's configuration")
			return
		}
		// Where the gateway may post is the gateway's to decide: refused
		// here, before any quota unit or upstream call.
		if err := s.relay.CheckCallback(x.Key.Tenant.ID, tenantCallback); err != nil {
			s.Refuse(&x, billing.LocalReject, contracts.ErrTokenMismatched, strings.TrimPrefix(err.Error(), errCallbackRefused.Error()+": "))
			return
		}
		// The upstream calls the gateway, which bills on what it sees and
		// re-signs the event for the tenant.
		req.CallbackURL = s.callbackURL
		b, err := json.Marshal(req)
		if err != nil {
			s.Refuse(&x, billing.LocalReject, contracts.ErrTokenMismatched, "request body cannot be re-encoded")
			return
		}
		body = b
	}

	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if _, ok := s.open(&x, body, tenantCallback, resp); !ok {
		return
	}
	s.pass(&x, billing.NotBilled, resp)
}

// open is a create's work once its request is accepted, whatever dialect
// it came in: reserve the quota unit (402 used_up), forward the
// aggregator's create body, remember the session and hand it the unit,
// which its outcome settles (billing.go). It returns false when it
// answered itself (the unit released); otherwise resp holds the
// upstream's 201 and the session is returned for the caller to answer.
func (s *Service) open(x *admission.Exchange, body []byte, tenantCallback string, resp *fasthttp.Response) (contracts.Session, bool) {
	if !s.ReserveFor(x, s.hold()) {
		return contracts.Session{}, false
	}
	s.creating.Add(1)
	defer s.creating.Add(-1)
	if !s.forward(x, fasthttp.MethodPost, contracts.SessionsPath, body, resp) {
		s.Settle(x, false)
		return contracts.Session{}, false
	}
	if resp.StatusCode() != fasthttp.StatusCreated {
		s.Settle(x, false)
		s.pass(x, billing.UpstreamError, resp)
		return contracts.Session{}, false
	}
	var sess contracts.Session
	if err := json.Unmarshal(resp.Body(), &sess); err != nil || sess.RequestID == "" {
		s.Settle(x, false)
		s.Refuse(x, billing.UpstreamError, contracts.ErrAPIError, "upstream session unreadable")
		return contracts.Session{}, false
	}
	// The session holds the unit from here on: its outcome settles it
	// (billing.go). The record names the reservation, so in a fleet any
	// replica can settle it.
	ticket := x.TakeTicket()
	rec := Record{
		RequestID: sess.RequestID, Tenant: x.Key.Tenant.ID, KeyID: x.Key.ID, Status: Open,
		Day: s.Calendar.Day(x.Start), Callback: tenantCallback, IDMasked: x.IDMasked,
		CreatedAt: x.Start, ExpiresAt: sess.ExpiresAt, Lease: ticket.Lease, Epoch: ticket.Epoch,
	}
	// Stored before the tenant learns the request ID: a poll after a
	// restart must find it.
	if err := s.Store.Insert(context.Background(), rec); err != nil {
		s.Quota.Release(ticket)
		s.Log.Error("session not stored; the upstream session is orphaned", "request_id", x.RequestID, "tenant", x.Key.Tenant.ID, "err", err)
		s.Refuse(x, billing.UpstreamError, contracts.ErrAPIError, "the session could not be stored")
		return contracts.Session{}, false
	}
	t := &tracked{rec: rec, ticket: ticket, version: sess.Version, seen: x.Start}
	s.mu.Lock()
	s.byID[rec.RequestID] = t
	s.mu.Unlock()
	x.Result = string(contracts.StateCreated)
	return sess, true
}

// session finds the tenant's session id for x; an unknown, swept or
// another tenant's session is answered 404 session_not_found, never
// forwarded, and session returns nil.
func (s *Service) session(x *admission.Exchange, id string) *tracked {
	t, err := s.lookup(x.Key.Tenant.ID, id)
	if err != nil {
		s.storeUnavailable(x)
		return nil
	}
	if t == nil {
		s.refuseSession(x, billing.LocalReject, contracts.ErrSessionNotFound, "no session with this request ID")
		return nil
	}
	x.IDMasked = t.rec.IDMasked
	return t
}

// storeUnavailable answers a request whose session the store could not
// be asked about (a fleet's PostgreSQL down or slow): 503 with
// Retry-After, not 404, which would tell the tenant the session is gone.
func (s *Service) storeUnavailable(x *admission.Exchange) {
	x.Ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "1")
	s.Refuse(x, billing.StoreUnavailable, contracts.ErrServiceUnavailable, "The gateway cannot read its sessions right now; retry later")
}

// poll serves status, result and QR: forward, learn the outcome, pass on.
func (s *Service) poll(ctx *fasthttp.RequestCtx, route, id, suffix string) {
	x := s.NewExchange(ctx, route)
	defer s.End(&x)
	if !s.Admit(&x) {
		return
	}
	t := s.session(&x, id)
	if t == nil {
		return
	}
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if !s.forward(&x, fasthttp.MethodGet, contracts.SessionPath(id)+suffix, nil, resp) {
		return
	}
	if resp.StatusCode() == fasthttp.StatusOK && (route == RouteStatus || route == RouteResult) {
		s.learn(&x, t, resp.Body())
	}
	s.pass(&x, pollClass(resp.StatusCode()), resp)
}

// learn reads a 200 status or result answer for billing: the session's
// unit is settled the first time an outcome shows, however many reads,
// in whatever dialect, show it. Only the fields billing needs are
// decoded: a result carries the card and a portrait the gateway has no
// business decoding.
func (s *Service) learn(x *admission.Exchange, t *tracked, body []byte) {
	var v outcome
	if json.Unmarshal(body, &v) != nil {
		return
	}
	x.Result = string(v.State)
	code := v.Code
	if v.Error != nil {
		code = v.Error.Code
	}
	s.observe(t, v.State, code, v.Version, x.Route)
}

// pollClass is the ledger class of a read by the upstream's status.
func pollClass(status int) billing.Class {
	if status >= 300 {
		return billing.UpstreamError
	}
	return billing.NotBilled
}

// regenerate gives an expired session a new QR code. The session released
// its unit when it expired, so it reserves one again.
func (s *Service) regenerate(ctx *fasthttp.RequestCtx, id string) {
	x := s.NewExchange(ctx, RouteRegenerate)
	defer s.End(&x)
	if !s.Admit(&x) || !s.Idempotent(&x, contracts.SessionPath(id)+"/qr", ctx.Request.Body()) {
		return
	}
	// The body is not read (nothing is forwarded), but it is bounded as
	// every session body is.
	if n := len(ctx.Request.Body()); n > s.MaxBody {
		s.Refuse(&x, billing.LocalReject, contracts.ErrTokenMismatched, "request body exceeds "+strconv.Itoa(s.MaxBody)+" bytes")
		return
	}
	t := s.session(&x, id)
	if t == nil {
		return
	}
	// Held across the upstream call: two regenerations of one session must
	// not both reserve a unit.
	t.mu.Lock()
	defer t.mu.Unlock()
	if s.fleet != nil && !t.rec.Status.Final() {
		// Another replica may have expired or reopened it.
		s.refresh(t)
	}
	// An expired session is reopened in the store BEFORE the regeneration
	// is forwarded, and reverted if the authority does not regenerate it:
	// the store is never left Expired while a QR code the client holds can
	// still be billed (the outcome's Open→Billed would match no row and
	// its ledger entry would be lost). A store that cannot reopen it gets
	// 503 and nothing is forwarded.
	reopened := false
	var tk quota.Ticket
	if t.rec.Status == Expired {
		if !s.ReserveFor(&x, s.hold()) {
			return
		}
		tk = x.TakeTicket()
		ok, err := s.Store.Transition(context.Background(), id, Expired, Open, tk, x.Start, nil)
		switch {
		case err != nil:
			s.Quota.Release(tk)
			s.Log.Error("session reopen not stored; refused", "request_id", id, "tenant", t.rec.Tenant, "err", err)
			ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "1")
			s.Refuse(&x, billing.StoreUnavailable, contracts.ErrServiceUnavailable,
				"The gateway cannot store the session right now; nothing was sent to the authority; retry later")
			return
		case !ok:
			// Another replica reopened (or settled) it first and holds
			// its own unit for it.
			s.Quota.Release(tk)
			if !s.refresh(t) {
				t.ticket = quota.Ticket{}
			}
		default:
			reopened = true
			t.rec.Status, t.rec.Day, t.rec.Lease, t.rec.Epoch, t.ticket = Open, tk.Day, tk.Lease, tk.Epoch, tk
		}
	}
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if !s.forward(&x, fasthttp.MethodPost, contracts.SessionPath(id)+"/qr", nil, resp) {
		if reopened {
			s.unreopen(t, tk)
		}
		return
	}
	var v contracts.Session
	if resp.StatusCode() != fasthttp.StatusOK || json.Unmarshal(resp.Body(), &v) != nil {
		if reopened {
			s.unreopen(t, tk)
		}
		s.pass(&x, billing.UpstreamError, resp)
		return
	}
	if v.Version > t.version {
		t.version = v.Version
	}
	t.seen = x.Start
	t.rec.ExpiresAt = v.ExpiresAt
	x.Result = string(v.State)
	s.pass(&x, billing.NotBilled, resp)
}

// unreopen reverts a reopening whose regeneration the authority did not
// make: the store goes back to Expired and tk's unit is released. When the
// store cannot revert it, the session stays open with its unit held (the
// safe side): the reconciler observes the authority's expired state and
// releases it.
func (s *Service) unreopen(t *tracked, tk quota.Ticket) {
	ok, err := s.Store.Transition(context.Background(), t.rec.RequestID, Open, Expired, quota.Ticket{}, time.Now(), nil)
	switch {
	case err != nil:
		s.Log.Error("session reopen not reverted; left to the reconciler", "request_id", t.rec.RequestID, "tenant", t.rec.Tenant, "err", err)
	case !ok:
		// Settled meanwhile by whoever moved it; that one settled the unit.
		if !s.refresh(t) {
			t.ticket = quota.Ticket{}
		}
	default:
		s.Quota.Release(tk)
		t.rec.Status, t.ticket = Expired, quota.Ticket{}
	}
}
