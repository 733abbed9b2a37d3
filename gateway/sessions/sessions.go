// Package sessions routes the verification-session API (seeds 000/002:
// POST /identity/sessions, its status, result and QR code) through the
// gateway the way the pipeline routes checks: the same keys, per-key rate
// limits, the daily quota and a ledger entry per request. What differs is
// billing: a session is one billable verification spread over many
// requests, so
//
//	create       reserves one quota unit (402 used_up when none is left)
//	any poll, result fetch or upstream webhook that first shows a billed
//	outcome (approved, rejected 2006/2016) commits it and writes the one
//	billing entry; an unbilled end (failed, rejected 2005) releases it,
//	and so does expiry (regenerating the QR code reserves a unit again)
//
// The billing event is a compare-and-set on the session's row in the
// ledger's SQLite database, in the same transaction as its ledger entry, so
// 20 concurrent pollers, a webhook and a restart bill it exactly once.
//
// Sessions are scoped to the tenant that created them: the gateway answers
// 404 session_not_found for another tenant's request ID itself (upstream,
// every session belongs to the gateway's one credential). Webhooks: see
// relay.go.
package sessions

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/idcard"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/billing"
	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/gateway/ratelimit"
)

// Authenticator finds the active key of an Authorization header.
type Authenticator interface {
	Authenticate(authorization []byte) (*auth.Key, bool)
}

// RateLimiter takes one token from a key's bucket.
type RateLimiter interface {
	Allow(keyID string, rate float64, burst int, now time.Time) ratelimit.Decision
}

// Quota reserves, commits and releases daily units.
type Quota interface {
	Reserve(l quota.Limits, now time.Time) (quota.Ticket, quota.Scope)
	Commit(quota.Ticket)
	Release(quota.Ticket)
}

// Ledger records an entry per request.
type Ledger interface {
	Record(ledger.Entry) error
}

// Calendar names the quota day.
type Calendar interface {
	Day(now time.Time) string
}

// Metrics observes finished requests and upstream calls.
type Metrics interface {
	Observe(route, class, tenant string, d time.Duration)
	ObserveUpstream(route string, d time.Duration)
}

// IDs makes the gateway's request ids (X-Request-Id, trace_id).
type IDs interface{ Next() string }

// Route names in the ledger and metrics. RouteBilling is the session's one
// outcome entry, keyed by the session's request ID rather than an HTTP
// request's.
const (
	RouteCreate     = "sessions.create"
	RouteStatus     = "sessions.status"
	RouteResult     = "sessions.result"
	RouteQR         = "sessions.qr"
	RouteRegenerate = "sessions.regenerate"
	RouteBilling    = "sessions"
	// WebhookPath is the gateway's receiver of the upstream's webhooks.
	WebhookPath = "/webhooks/sessions"
)

// Deps are the pipeline's steps, shared with the check API.
type Deps struct {
	Auth     Authenticator
	Limits   RateLimiter
	Quota    Quota
	Ledger   Ledger
	Calendar Calendar
	Metrics  Metrics
	IDs      IDs
	Upstream Upstream
	Store    Store
	Log      *slog.Logger
	// MaxBody bounds a create body (400 token_mismatched above it).
	MaxBody int
	// Listen is the gateway's listen address, for the default callback URL.
	Listen string
	Now    func() time.Time
}

// Service serves the session routes.
type Service struct {
	Deps
	cfg         Config
	callbackURL string
	relay       *Relay

	mu   sync.RWMutex
	byID map[string]*tracked
	// creating counts creates between forwarding and storing: a webhook
	// for a session not stored yet waits for them (see receive).
	creating atomic.Int64

	stop chan struct{}
	done chan struct{}
}

// tracked is a session in memory: its record plus the quota ticket held
// while it is open.
type tracked struct {
	mu      sync.Mutex
	rec     Record
	ticket  quota.Ticket
	version int64 // highest upstream version seen; older news is ignored
	seen    time.Time
}

// New loads the remembered sessions, re-reserves the quota units of
// today's open ones (the counters restart from the ledger's billed count
// only) and starts the reconciler.
func New(cfg Config, d Deps, relay *Relay) (*Service, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	s := &Service{Deps: d, cfg: cfg, relay: relay, byID: map[string]*tracked{}, stop: make(chan struct{}), done: make(chan struct{})}
	s.callbackURL = cfg.CallbackURL
	if s.callbackURL == "" {
		s.callbackURL = "http://" + d.Listen + WebhookPath
	}
	recs, err := d.Store.LoadLive(context.Background())
	if err != nil {
		return nil, err
	}
	now := d.Now()
	today := d.Calendar.Day(now)
	for _, r := range recs {
		t := &tracked{rec: r, seen: now}
		if r.Status == Open && r.Day == today {
			// Limits of 0: the unit was admitted before the restart; it must
			// count again, not be refused.
			t.ticket, _ = d.Quota.Reserve(quota.Limits{TenantID: r.Tenant, KeyID: r.KeyID}, now)
		}
		s.byID[r.RequestID] = t
	}
	go s.maintain()
	return s, nil
}

// Close stops the reconciler.
func (s *Service) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

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

// exchange is one tenant request.
type exchange struct {
	ctx       *fasthttp.RequestCtx
	route     string
	start     time.Time
	requestID string
	key       *auth.Key
	result    string
	idMasked  string
	upstream  time.Duration
}

// begin authenticates and rate-limits; false means it answered already.
func (s *Service) begin(ctx *fasthttp.RequestCtx, route string) (*exchange, bool) {
	x := &exchange{ctx: ctx, route: route, start: s.Now(), requestID: s.IDs.Next()}
	ctx.Response.Header.Set("X-Request-Id", x.requestID)
	key, ok := s.Auth.Authenticate(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	if !ok {
		writeJSON(ctx, contracts.ErrInvalidToken.Status(), contracts.AppendError(nil, contracts.NewError(contracts.ErrInvalidToken, "", x.requestID)))
		s.Metrics.Observe(route, "unauthenticated", "", s.Now().Sub(x.start))
		return nil, false
	}
	x.key = key
	d := s.Limits.Allow(key.ID, key.Rate, key.Burst, x.start)
	h := &ctx.Response.Header
	h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.Reset)))
	if !d.Allowed {
		h.Set(fasthttp.HeaderRetryAfter, strconv.Itoa(ceilSeconds(d.RetryAfter)))
		s.refuse(x, billing.RateLimited, contracts.ErrTooManyRequests, "")
		return nil, false
	}
	return x, true
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// refuse answers with a check-API error (invalid_token, too_many_requests,
// token_mismatched, used_up, api_error) and records it.
func (s *Service) refuse(x *exchange, class billing.Class, code contracts.ErrorCode, msg string) {
	s.finish(x, class, code.Status(), "application/json", contracts.AppendError(nil, contracts.NewError(code, msg, x.requestID)))
}

// refuseSession answers with a session error (session_not_found, ...).
func (s *Service) refuseSession(x *exchange, class billing.Class, code contracts.ErrorCode, msg string) {
	info, _ := contracts.LookupSessionError(code)
	b, _ := json.Marshal(contracts.NewSessionError(code, msg, x.requestID))
	s.finish(x, class, info.Status, "application/json", b)
}

// finish records the request's ledger entry, then writes the answer.
func (s *Service) finish(x *exchange, class billing.Class, status int, contentType string, body []byte) {
	err := s.Ledger.Record(ledger.Entry{
		Time: x.start, Day: s.Calendar.Day(x.start), RequestID: x.requestID,
		Tenant: x.key.Tenant.ID, KeyID: x.key.ID, Route: x.route, Result: x.result,
		Class: string(class), HTTPStatus: status, UpstreamLatency: x.upstream, IDMasked: x.idMasked,
	})
	if err != nil {
		s.Log.Error("ledger entry not recorded", "request_id", x.requestID, "tenant", x.key.Tenant.ID, "route", x.route, "err", err)
	}
	x.ctx.SetStatusCode(status)
	if contentType == "" {
		contentType = "application/json"
	}
	x.ctx.SetContentType(contentType)
	x.ctx.SetBody(body)
	s.Metrics.Observe(x.route, string(class), x.key.Tenant.ID, s.Now().Sub(x.start))
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

// forward calls the upstream and classifies the answer: ok is false when
// the gateway answered api_error itself.
func (s *Service) forward(x *exchange, method, path string, body []byte, resp *fasthttp.Response) bool {
	var prefer []byte
	if s.cfg.ForwardPrefer {
		prefer = x.ctx.Request.Header.Peek("Prefer")
	}
	t0 := s.Now()
	err := s.Upstream.Do(method, path, body, prefer, []byte(x.requestID), resp)
	x.upstream = s.Now().Sub(t0)
	s.Metrics.ObserveUpstream(x.route, x.upstream)
	status := resp.StatusCode()
	problem := ""
	switch {
	case err != nil:
		problem = "upstream unavailable"
	case status == fasthttp.StatusUnauthorized || status == fasthttp.StatusForbidden:
		problem = "upstream refused the gateway's credential"
	case status >= 200 && status < 300 && x.route == RouteQR:
		if !isPNG(resp.Body()) {
			problem = "upstream QR code is not a PNG"
		}
	case !json.Valid(resp.Body()) || len(resp.Body()) == 0 || resp.Body()[0] != '{':
		problem = "upstream answer unreadable"
	}
	if problem != "" {
		s.Log.Warn("upstream answer unusable", "request_id", x.requestID, "route", x.route, "tenant", x.key.Tenant.ID, "status", status, "problem", problem)
		s.refuse(x, billing.UpstreamError, contracts.ErrAPIError, problem)
		return false
	}
	return true
}

func isPNG(b []byte) bool { return len(b) > 8 && string(b[:8]) == "\x89PNG\r\n\x1a\n" }

// pass answers with the upstream's answer unchanged.
func (s *Service) pass(x *exchange, class billing.Class, resp *fasthttp.Response) {
	if ra := resp.Header.Peek(fasthttp.HeaderRetryAfter); len(ra) > 0 {
		x.ctx.Response.Header.SetBytesV(fasthttp.HeaderRetryAfter, ra)
	}
	if loc := resp.Header.Peek(fasthttp.HeaderLocation); len(loc) > 0 {
		x.ctx.Response.Header.SetBytesV(fasthttp.HeaderLocation, loc)
	}
	if pa := resp.Header.Peek("Preference-Applied"); len(pa) > 0 {
		x.ctx.Response.Header.SetBytesV("Preference-Applied", pa)
	}
	if cc := resp.Header.Peek(fasthttp.HeaderCacheControl); len(cc) > 0 {
		x.ctx.Response.Header.SetBytesV(fasthttp.HeaderCacheControl, cc)
	}
	s.finish(x, class, resp.StatusCode(), string(resp.Header.ContentType()), resp.Body())
}

func (s *Service) create(ctx *fasthttp.RequestCtx) {
	x, ok := s.begin(ctx, RouteCreate)
	if !ok {
		return
	}
	body := ctx.Request.Body()
	if len(body) > s.MaxBody {
		s.refuse(x, billing.LocalReject, contracts.ErrTokenMismatched, "request body exceeds "+strconv.Itoa(s.MaxBody)+" bytes")
		return
	}
	var req contracts.CreateSessionRequest
	if len(trimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			s.refuse(x, billing.LocalReject, contracts.ErrTokenMismatched, "request body is not a valid JSON object of the expected shape")
			return
		}
	}
	if req.IDCard != "" {
		x.idMasked = idcard.Mask(req.IDCard)
	}
	tenantCallback := req.CallbackURL
	if tenantCallback != "" {
		u, err := url.Parse(tenantCallback)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			s.refuse(x, billing.LocalReject, contracts.ErrTokenMismatched, "callback_url must be an absolute http(s) URL")
			return
		}
		if s.relay == nil || !s.relay.HasSecret(x.key.Tenant.ID) {
			s.refuse(x, billing.LocalReject, contracts.ErrTokenMismatched, "callback_url needs a webhook secret for this tenant in the gateway's configuration")
			return
		}
		// The upstream calls the gateway, which bills on what it sees and
		// re-signs the event for the tenant.
		req.CallbackURL = s.callbackURL
		b, err := json.Marshal(req)
		if err != nil {
			s.refuse(x, billing.LocalReject, contracts.ErrTokenMismatched, "request body cannot be re-encoded")
			return
		}
		body = b
	}

	ticket, scope := s.Quota.Reserve(quota.Limits{
		TenantID: x.key.Tenant.ID, TenantQuota: x.key.Tenant.DailyQuota, KeyID: x.key.ID, KeyQuota: x.key.DailyQuota,
	}, x.start)
	if scope != quota.ScopeNone {
		s.refuse(x, billing.QuotaExceeded, contracts.ErrUsedUp, "The daily verification quota of this "+string(scope)+" is used up")
		return
	}
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	s.creating.Add(1)
	defer s.creating.Add(-1)
	if !s.forward(x, fasthttp.MethodPost, contracts.SessionsPath, body, resp) {
		s.Quota.Release(ticket)
		return
	}
	if resp.StatusCode() != fasthttp.StatusCreated {
		s.Quota.Release(ticket)
		s.pass(x, billing.UpstreamError, resp)
		return
	}
	var sess contracts.Session
	if err := json.Unmarshal(resp.Body(), &sess); err != nil || sess.RequestID == "" {
		s.Quota.Release(ticket)
		s.refuse(x, billing.UpstreamError, contracts.ErrAPIError, "upstream session unreadable")
		return
	}
	rec := Record{
		RequestID: sess.RequestID, Tenant: x.key.Tenant.ID, KeyID: x.key.ID, Status: Open,
		Day: s.Calendar.Day(x.start), Callback: tenantCallback, IDMasked: x.idMasked,
		CreatedAt: x.start, ExpiresAt: sess.ExpiresAt,
	}
	// Stored before the tenant learns the request ID: a poll after a
	// restart must find it.
	if err := s.Store.Insert(context.Background(), rec); err != nil {
		s.Quota.Release(ticket)
		s.Log.Error("session not stored; the upstream session is orphaned", "request_id", x.requestID, "tenant", x.key.Tenant.ID, "err", err)
		s.refuse(x, billing.UpstreamError, contracts.ErrAPIError, "the session could not be stored")
		return
	}
	t := &tracked{rec: rec, ticket: ticket, version: sess.Version, seen: x.start}
	s.mu.Lock()
	s.byID[rec.RequestID] = t
	s.mu.Unlock()
	x.result = string(contracts.StateCreated)
	s.pass(x, billing.NotBilled, resp)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// lookup finds a session of this tenant.
func (s *Service) lookup(tenant, id string) *tracked {
	t := s.find(id)
	if t == nil || t.rec.Tenant != tenant {
		return nil
	}
	return t
}

// find returns a session from memory, or from the store for a settled one
// that memory let go of (see sweep). Open and expired sessions are always
// in memory: they hold quota tickets.
func (s *Service) find(id string) *tracked {
	s.mu.RLock()
	t := s.byID[id]
	s.mu.RUnlock()
	if t != nil || id == "" || len(id) > 128 {
		return t
	}
	r, ok, err := s.Store.Get(context.Background(), id)
	if err != nil {
		s.Log.Error("session lookup failed", "err", err)
		return nil
	}
	if !ok || !r.Status.Final() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t = s.byID[id]; t == nil {
		t = &tracked{rec: r, seen: s.Now()}
		s.byID[id] = t
	}
	return t
}

// poll serves status, result and QR: forward, learn the outcome, pass on.
func (s *Service) poll(ctx *fasthttp.RequestCtx, route, id, suffix string) {
	x, ok := s.begin(ctx, route)
	if !ok {
		return
	}
	t := s.lookup(x.key.Tenant.ID, id)
	if t == nil {
		// Unknown, swept, or another tenant's: never forwarded.
		s.refuseSession(x, billing.LocalReject, contracts.ErrSessionNotFound, "no session with this request ID")
		return
	}
	x.idMasked = t.rec.IDMasked
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if !s.forward(x, fasthttp.MethodGet, contracts.SessionPath(id)+suffix, nil, resp) {
		return
	}
	if resp.StatusCode() == fasthttp.StatusOK {
		switch route {
		case RouteStatus, RouteResult:
			// Only the fields billing needs: a result carries the card and a
			// portrait the gateway has no business decoding.
			var v outcome
			if json.Unmarshal(resp.Body(), &v) == nil {
				x.result = string(v.State)
				code := v.Code
				if v.Error != nil {
					code = v.Error.Code
				}
				s.observe(t, v.State, code, v.Version, route)
			}
		}
	}
	class := billing.NotBilled
	if resp.StatusCode() >= 300 {
		class = billing.UpstreamError
	}
	s.pass(x, class, resp)
}

// outcome is what billing reads of a status (state, version, error) or a
// result (state, code; version absent, so 0).
type outcome struct {
	State   contracts.SessionState `json:"state"`
	Version int64                  `json:"version"`
	Code    contracts.SessionCode  `json:"code"`
	Error   *struct {
		Code contracts.SessionCode `json:"code"`
	} `json:"error"`
}

func failureCode(f *contracts.SessionFailure) contracts.SessionCode {
	if f == nil {
		return contracts.CodeOK
	}
	return f.Code
}

// regenerate gives an expired session a new QR code. The session released
// its unit when it expired, so it reserves one again.
func (s *Service) regenerate(ctx *fasthttp.RequestCtx, id string) {
	x, ok := s.begin(ctx, RouteRegenerate)
	if !ok {
		return
	}
	t := s.lookup(x.key.Tenant.ID, id)
	if t == nil {
		s.refuseSession(x, billing.LocalReject, contracts.ErrSessionNotFound, "no session with this request ID")
		return
	}
	x.idMasked = t.rec.IDMasked
	// Held across the upstream call: two regenerations of one session must
	// not both reserve a unit.
	t.mu.Lock()
	defer t.mu.Unlock()
	var ticket quota.Ticket
	reserved := false
	if t.rec.Status == Expired {
		var scope quota.Scope
		ticket, scope = s.Quota.Reserve(quota.Limits{
			TenantID: x.key.Tenant.ID, TenantQuota: x.key.Tenant.DailyQuota, KeyID: x.key.ID, KeyQuota: x.key.DailyQuota,
		}, x.start)
		if scope != quota.ScopeNone {
			s.refuse(x, billing.QuotaExceeded, contracts.ErrUsedUp, "The daily verification quota of this "+string(scope)+" is used up")
			return
		}
		reserved = true
	}
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if !s.forward(x, fasthttp.MethodPost, contracts.SessionPath(id)+"/qr", nil, resp) {
		if reserved {
			s.Quota.Release(ticket)
		}
		return
	}
	var v contracts.Session
	if resp.StatusCode() != fasthttp.StatusOK || json.Unmarshal(resp.Body(), &v) != nil {
		if reserved {
			s.Quota.Release(ticket)
		}
		s.pass(x, billing.UpstreamError, resp)
		return
	}
	if v.Version > t.version {
		t.version = v.Version
	}
	t.seen = x.start
	if reserved {
		day := s.Calendar.Day(x.start)
		ok, err := s.Store.Transition(context.Background(), id, Expired, Open, day, x.start, nil)
		if err != nil || !ok {
			s.Log.Error("session reopen not stored", "request_id", id, "tenant", t.rec.Tenant, "err", err)
		}
		t.rec.Status, t.rec.Day, t.ticket = Open, day, ticket
	}
	t.rec.ExpiresAt = v.ExpiresAt
	x.result = string(v.State)
	s.pass(x, billing.NotBilled, resp)
}

// observe learns a session's state from a poll, a result, a webhook or the
// reconciler, and settles its quota unit the first time an outcome shows.
// version 0 (results) skips the staleness check; results only carry final
// states, which never change.
func (s *Service) observe(t *tracked, state contracts.SessionState, code contracts.SessionCode, version int64, via string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if version > 0 {
		if version < t.version {
			return // an older event delivered late
		}
		t.version = version
	}
	now := s.Now()
	t.seen = now
	if t.rec.Status != Open {
		return
	}
	var to Status
	switch state {
	case contracts.StateApproved, contracts.StateRejected:
		to = Released
		if info, ok := contracts.LookupSessionCode(code); state == contracts.StateApproved || (ok && info.Billing == contracts.Billed) {
			to = Billed
		}
	case contracts.StateFailed:
		to = Released
	case contracts.StateExpired:
		if version == 0 {
			return // without a version it may predate a regeneration
		}
		to = Expired
	default:
		return
	}
	var entry *ledger.Entry
	if to.Final() {
		class := billing.NotBilled
		if to == Billed {
			class = billing.Billed
		}
		entry = &ledger.Entry{
			Time: now, Day: s.Calendar.Day(now), RequestID: t.rec.RequestID, Tenant: t.rec.Tenant, KeyID: t.rec.KeyID,
			Route: RouteBilling, Result: strconv.Itoa(int(code)), Class: string(class), Billed: to == Billed,
			HTTPStatus: fasthttp.StatusOK, IDMasked: t.rec.IDMasked,
		}
	}
	ok, err := s.Store.Transition(context.Background(), t.rec.RequestID, Open, to, "", now, entry)
	if err != nil {
		// Left open: the next observation tries again.
		s.Log.Error("session outcome not stored; will retry on the next observation", "request_id", t.rec.RequestID, "tenant", t.rec.Tenant, "to", to, "err", err)
		return
	}
	if !ok {
		s.Log.Warn("session was not open in the store", "request_id", t.rec.RequestID, "tenant", t.rec.Tenant, "to", to)
	}
	if to == Billed {
		s.Quota.Commit(t.ticket)
	} else {
		s.Quota.Release(t.ticket)
	}
	t.ticket = quota.Ticket{}
	t.rec.Status = to
	s.Log.Debug("session settled", "request_id", t.rec.RequestID, "tenant", t.rec.Tenant, "status", to, "code", int(code), "via", via)
}

// maintain reconciles abandoned sessions and sweeps old ones.
func (s *Service) maintain() {
	defer close(s.done)
	tick := time.NewTicker(s.cfg.ReconcileInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			s.Reconcile()
			s.sweep()
		}
	}
}

// Reconcile polls the upstream for open sessions past their QR deadline
// that nobody asked about lately, so their quota units settle even when the
// tenant never polls again.
func (s *Service) Reconcile() {
	now := s.Now()
	after := s.cfg.ReconcileAfter
	var due []*tracked
	s.mu.RLock()
	for _, t := range s.byID {
		t.mu.Lock()
		if t.rec.Status == Open && now.Sub(t.rec.ExpiresAt) > after && now.Sub(t.seen) > after {
			due = append(due, t)
		}
		t.mu.Unlock()
	}
	s.mu.RUnlock()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	for _, t := range due {
		resp.Reset()
		id := t.rec.RequestID
		if err := s.Upstream.Do(fasthttp.MethodGet, contracts.SessionPath(id), nil, nil, nil, resp); err != nil {
			s.Log.Warn("reconcile: upstream unavailable", "request_id", id)
			return
		}
		var v contracts.Session
		switch {
		case resp.StatusCode() == fasthttp.StatusOK && json.Unmarshal(resp.Body(), &v) == nil:
			s.observe(t, v.State, failureCode(v.Error), v.Version, "reconcile")
		case resp.StatusCode() == fasthttp.StatusNotFound:
			// The upstream swept it without an outcome we saw: not billed.
			s.observe(t, contracts.StateFailed, contracts.CodeTokenExpired, 0, "reconcile")
		}
	}
}

// memoryTTL is how long a settled session stays in memory after its last
// observation; later polls read it back from the store. It bounds memory
// to the sessions in flight plus a few minutes of finished ones.
const memoryTTL = 10 * time.Minute

func (s *Service) sweep() {
	now := s.Now()
	cutoff := now.Add(-s.cfg.Retention)
	if _, err := s.Store.Sweep(context.Background(), cutoff); err != nil {
		s.Log.Error("sessions sweep failed", "err", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.byID {
		t.mu.Lock()
		drop := t.rec.CreatedAt.Before(cutoff) || (t.rec.Status.Final() && now.Sub(t.seen) > memoryTTL)
		t.mu.Unlock()
		if drop {
			delete(s.byID, id)
		}
	}
}

// Open counts the sessions holding a quota unit (a metric).
func (s *Service) Open() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, t := range s.byID {
		t.mu.Lock()
		if t.rec.Status == Open {
			n++
		}
		t.mu.Unlock()
	}
	return n
}

// Status returns the billing status of a session (tests, admin).
func (s *Service) Status(id string) (Status, bool) {
	s.mu.RLock()
	t := s.byID[id]
	s.mu.RUnlock()
	if t == nil {
		return "", false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rec.Status, true
}
