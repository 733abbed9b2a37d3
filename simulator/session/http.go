package session

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/idgate/idgate/contracts"
)

// Auth decides who may call the tenant and admin routes. The phone routes
// need no token: the phone knows only the QR code or the Request ID.
type Auth struct {
	// Tenant returns the caller's bearer token, or false when the request
	// carries no accepted token.
	Tenant func(c *fiber.Ctx) (string, bool)
	// Admin reports whether the request may read the admin routes.
	Admin func(c *fiber.Ctx) bool
	// Known reports whether token is one of the credentials sessions are kept
	// under (API tokens and Tencent SecretIds);
	// the admin scenario route programs no other (nil: any token).
	Known func(token string) bool
}

// TokenAuth accepts "authorization: Bearer <t>" for any t in tokens, and
// the admin token the same way on admin routes (as the check API does).
//
// otherTenants are the other credentials sessions are kept under (the
// Tencent dialect's SecretIds): they may have session scenarios, but they
// are no bearer tokens.
func TokenAuth(tokens []string, adminToken string, otherTenants ...string) Auth {
	toks := make([][]byte, len(tokens))
	for i, t := range tokens {
		toks[i] = []byte(t)
	}
	admin := []byte(adminToken)
	known := make(map[string]bool, len(tokens)+len(otherTenants))
	for _, t := range append(slices.Clip(tokens), otherTenants...) {
		known[t] = true
	}
	return Auth{
		Known: func(token string) bool { return known[token] },
		Tenant: func(c *fiber.Ctx) (string, bool) {
			got, ok := bearer(c)
			if !ok {
				return "", false
			}
			found := 0
			for _, t := range toks {
				found |= subtle.ConstantTimeCompare(got, t)
			}
			return string(got), found == 1
		},
		Admin: func(c *fiber.Ctx) bool {
			got, ok := bearer(c)
			return ok && len(admin) > 0 && subtle.ConstantTimeCompare(got, admin) == 1
		},
	}
}

func bearer(c *fiber.Ctx) ([]byte, bool) {
	return contracts.BearerToken(c.Request().Header.Peek(fiber.HeaderAuthorization))
}

// Phone-side and admin paths (simulator only; the gateway routes the
// tenant paths of contracts).
const (
	PhonePrefix      = "/phone"
	PhoneSessions    = PhonePrefix + "/sessions"
	PhoneOpen        = PhonePrefix + "/open"
	PhoneCodes       = PhonePrefix + "/codes"
	PhoneQR          = PhonePrefix + "/qr/:token"
	AdminWebhookPath = "/admin/sessions/webhooks"
	// AdminScenarioPath programs a token's sessions at run time, as
	// sessions.scenarios does at start-up.
	AdminScenarioPath = "/admin/sessions/scenarios/:token"
)

// DefaultBodyLimit bounds the JSON body of a session, phone or admin
// route when Register is not given WithBodyLimit: the simulator's default
// body_limit.
const DefaultBodyLimit = 64 << 10

// HTTPOption configures the routes Register mounts.
type HTTPOption func(*handlers)

// WithBodyLimit bounds every JSON body the routes read (the simulator's
// body_limit): a larger one is refused with 400 token_mismatched before it
// is parsed.
func WithBodyLimit(n int) HTTPOption {
	return func(h *handlers) {
		if n > 0 {
			h.bodyLimit = n
		}
	}
}

// Register mounts the session API, the phone side and the admin journal
// on r.
func Register(r fiber.Router, svc *Service, auth Auth, opts ...HTTPOption) {
	h := &handlers{svc: svc, auth: auth, bodyLimit: DefaultBodyLimit}
	for _, o := range opts {
		o(h)
	}
	r.Post(contracts.SessionsPath, h.tenant(h.create))
	r.Get(contracts.SessionRoute, h.tenant(h.status))
	r.Get(contracts.SessionResultRoute, h.tenant(h.result))
	r.Get(contracts.SessionQRRoute, h.tenant(h.qr))
	r.Post(contracts.SessionQRRoute, h.tenant(h.regenerate))

	r.Get(PhoneSessions, h.tenant(h.list))
	r.Get(PhoneCodes, h.codes)
	r.Get(PhoneQR, h.scanRedirect)
	r.Post(PhoneOpen, h.open)
	r.Get(PhoneSessions+"/:request_id", h.phoneStatus)
	r.Post(PhoneSessions+"/:request_id/nfc", h.nfc)
	r.Post(PhoneSessions+"/:request_id/confirm", h.confirm)
	r.Post(PhoneSessions+"/:request_id/liveness", h.liveness)
	r.Post(PhoneSessions+"/:request_id/authorize", h.authorize)

	r.Get(AdminWebhookPath, h.webhooks)
	r.Get(AdminScenarioPath, h.admin(h.scenarioGet))
	r.Put(AdminScenarioPath, h.admin(h.scenarioPut))
	r.Delete(AdminScenarioPath, h.admin(h.scenarioDelete))
}

type handlers struct {
	svc       *Service
	auth      Auth
	bodyLimit int
}

type tenantHandler func(c *fiber.Ctx, token string) error

func (h *handlers) tenant(next tenantHandler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		tok, ok := h.auth.Tenant(c)
		if !ok {
			return fail(c, &Error{Code: contracts.ErrInvalidToken})
		}
		return next(c, tok)
	}
}

// fail answers with the session error body; unknown errors are 500s whose
// detail stays in the log.
func fail(c *fiber.Ctx, err error) error {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: contracts.ErrAPIError}
	}
	info, ok := contracts.LookupSessionError(e.Code)
	status := 500
	if ok {
		status = info.Status
	}
	trace := c.GetRespHeader("X-Request-Id")
	if trace == "" {
		trace = uuid.NewString()
	}
	return c.Status(status).JSON(contracts.NewSessionError(e.Code, e.Message, trace))
}

// The members of the bodies the routes read, exactly as spelt.
var (
	openSchema     = contracts.KeySchema{Fields: []string{"qr_token", "request_id", "permission_granted"}}
	nfcSchema      = contracts.KeySchema{Fields: []string{"device"}, Nested: "device", NestedFields: []string{"platform", "model", "os_version"}}
	livenessSchema = contracts.KeySchema{Fields: []string{"mode"}}
	scenarioSchema = contracts.KeySchema{Fields: []string{"prefer"}}
)

// decode reads an optional JSON body into v, as the gateway reads the
// session bodies it forwards: at most the body limit, then empty (v is left
// alone) or one JSON object with no key repeated and no field name in
// another case; other unknown keys are ignored, as the contract allows
// (contracts.DecodeObject). Refusals are 400 token_mismatched.
func (h *handlers) decode(c *fiber.Ctx, schema *contracts.KeySchema, v any) error {
	b := c.Body()
	if len(b) > h.bodyLimit {
		return errf(contracts.ErrTokenMismatched, "request body exceeds %d bytes", h.bodyLimit)
	}
	if err := contracts.DecodeObject(b, schema, v); err != nil {
		return errf(contracts.ErrTokenMismatched, "%s", err.Error())
	}
	return nil
}

// decodeAdmin is decode for the admin routes, which also refuse unknown
// keys: an operator's misspelt setting must not be dropped silently.
func (h *handlers) decodeAdmin(c *fiber.Ctx, schema *contracts.KeySchema, v any) error {
	if err := h.decode(c, schema, v); err != nil {
		return err
	}
	var keys map[string]json.RawMessage
	if json.Unmarshal(c.Body(), &keys) != nil {
		return nil // empty: nothing to check
	}
	for k := range keys {
		if !slices.Contains(schema.Fields, k) {
			return errf(contracts.ErrTokenMismatched, "unknown field in the request body: the fields are %s", strings.Join(schema.Fields, ", "))
		}
	}
	return nil
}

func prefer(c *fiber.Ctx) string {
	// Several Prefer headers are equivalent to one comma-joined list.
	var parts []string
	c.Request().Header.VisitAll(func(k, v []byte) {
		if strings.EqualFold(string(k), "Prefer") {
			parts = append(parts, string(v))
		}
	})
	return strings.Join(parts, ",")
}

// applied sets Preference-Applied after a step that honoured prefer; a
// phone step ignores ttl, so it is not reported there.
func applied(c *fiber.Ctx, prefer string, step bool) {
	if prefer == "" {
		return
	}
	p, err := ParsePlan(prefer)
	if err != nil {
		return
	}
	if step {
		p.TTL = nil
	}
	if a := p.Applied(); a != "" {
		c.Set("Preference-Applied", a)
	}
}

func (h *handlers) create(c *fiber.Ctx, tok string) error {
	var req contracts.CreateSessionRequest
	if err := h.decode(c, &contracts.CreateSessionSchema, &req); err != nil {
		return fail(c, err)
	}
	pref := prefer(c)
	s, err := h.svc.CreateAs(tok, "", strings.Clone(c.Get("X-Request-Id")), req, pref, strings.Clone(c.BaseURL()))
	if err != nil {
		return fail(c, err)
	}
	applied(c, pref, false)
	c.Location(contracts.SessionPath(s.RequestID))
	return c.Status(fiber.StatusCreated).JSON(s)
}

func (h *handlers) status(c *fiber.Ctx, tok string) error {
	s, err := h.svc.Status(tok, c.Params("request_id"))
	if err != nil {
		return fail(c, err)
	}
	return c.JSON(s)
}

func (h *handlers) result(c *fiber.Ctx, tok string) error {
	r, err := h.svc.Result(tok, c.Params("request_id"))
	if err != nil {
		return fail(c, err)
	}
	return c.JSON(r)
}

func (h *handlers) qr(c *fiber.Ctx, tok string) error {
	png, err := h.svc.QR(tok, c.Params("request_id"))
	if err != nil {
		return fail(c, err)
	}
	c.Set(fiber.HeaderContentType, "image/png")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(png)
}

func (h *handlers) regenerate(c *fiber.Ctx, tok string) error {
	s, err := h.svc.Regenerate(tok, c.Params("request_id"))
	if err != nil {
		return fail(c, err)
	}
	return c.JSON(s)
}

type codeJSON struct {
	Code      contracts.SessionCode `json:"code"`
	Stage     contracts.CodeStage   `json:"stage"`
	Message   string                `json:"message"`
	Billing   contracts.Billing     `json:"billing"`
	Retryable bool                  `json:"retryable"`
}

// codes lists every session code, so the console's menus follow the table.
func (h *handlers) codes(c *fiber.Ctx) error {
	out := make([]codeJSON, len(contracts.SessionCodes))
	for i, x := range contracts.SessionCodes {
		out[i] = codeJSON{x.Code, x.Stage, x.Message, x.Billing, x.Retryable}
	}
	return c.JSON(fiber.Map{"codes": out})
}

// list is the console's session list: the caller's tenant only, so the
// Request IDs of other tenants are not handed out.
func (h *handlers) list(c *fiber.Ctx, tok string) error {
	limit, _ := strconv.Atoi(c.Query("limit", "100"))
	return c.JSON(fiber.Map{"sessions": h.svc.Live(tok, limit)})
}

// scanRedirect is where the QR code points: a phone camera opens it, and
// the simulator hands it to the console, which plays the mini program.
func (h *handlers) scanRedirect(c *fiber.Ctx) error {
	return c.Redirect("/console/?qr="+url.QueryEscape(c.Params("token")), fiber.StatusFound)
}

func (h *handlers) open(c *fiber.Ctx) error {
	var req OpenRequest
	if err := h.decode(c, &openSchema, &req); err != nil {
		return fail(c, err)
	}
	v, err := h.svc.Open(req)
	if err != nil {
		return fail(c, err)
	}
	return c.JSON(v)
}

func (h *handlers) phoneStatus(c *fiber.Ctx) error {
	v, err := h.svc.PhoneStatus(c.Params("request_id"))
	if err != nil {
		return fail(c, err)
	}
	return c.JSON(v)
}

// NFCRequest is the body of the NFC read.
type NFCRequest struct {
	Device Device `json:"device"`
}

func (h *handlers) nfc(c *fiber.Ctx) error {
	var req NFCRequest
	if err := h.decode(c, &nfcSchema, &req); err != nil {
		return fail(c, err)
	}
	pref := prefer(c)
	v, err := h.svc.ReadCard(c.Params("request_id"), req.Device, pref)
	if err != nil {
		return fail(c, err)
	}
	applied(c, pref, true)
	return c.JSON(v)
}

func (h *handlers) confirm(c *fiber.Ctx) error {
	v, err := h.svc.Confirm(c.Params("request_id"))
	if err != nil {
		return fail(c, err)
	}
	return c.JSON(v)
}

func (h *handlers) liveness(c *fiber.Ctx) error {
	var req LivenessRequest
	if err := h.decode(c, &livenessSchema, &req); err != nil {
		return fail(c, err)
	}
	pref := prefer(c)
	v, err := h.svc.Liveness(c.Params("request_id"), req, pref)
	if err != nil {
		return fail(c, err)
	}
	applied(c, pref, true)
	return c.JSON(v)
}

func (h *handlers) authorize(c *fiber.Ctx) error {
	pref := prefer(c)
	v, err := h.svc.Authorize(c.Params("request_id"), pref)
	if err != nil {
		return fail(c, err)
	}
	applied(c, pref, true)
	return c.JSON(v)
}

func (h *handlers) admin(next fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if h.auth.Admin == nil || !h.auth.Admin(c) {
			return fail(c, &Error{Code: contracts.ErrInvalidToken})
		}
		return next(c)
	}
}

// ScenarioBody is the body of GET and PUT AdminScenarioPath.
type ScenarioBody struct {
	Prefer string `json:"prefer"`
}

func (h *handlers) scenarioGet(c *fiber.Ctx) error {
	return c.JSON(ScenarioBody{Prefer: h.svc.Scenario(c.Params("token"))})
}

func (h *handlers) scenarioPut(c *fiber.Ctx) error {
	if h.auth.Known != nil && !h.auth.Known(c.Params("token")) {
		return fail(c, errf(contracts.ErrTokenMismatched, "no such API token or Tencent SecretId in this simulator's configuration"))
	}
	var b ScenarioBody
	if err := h.decodeAdmin(c, &scenarioSchema, &b); err != nil {
		return fail(c, err)
	}
	if err := h.svc.SetScenario(c.Params("token"), b.Prefer); err != nil {
		return fail(c, err)
	}
	return c.JSON(b)
}

func (h *handlers) scenarioDelete(c *fiber.Ctx) error {
	_ = h.svc.SetScenario(c.Params("token"), "")
	return c.SendStatus(fiber.StatusNoContent)
}

func (h *handlers) webhooks(c *fiber.Ctx) error {
	if h.auth.Admin == nil || !h.auth.Admin(c) {
		return fail(c, &Error{Code: contracts.ErrInvalidToken})
	}
	limit, _ := strconv.Atoi(c.Query("limit", "100"))
	return c.JSON(fiber.Map{"deliveries": h.svc.Journal().List(c.Query("request_id"), limit)})
}
