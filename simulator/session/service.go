// Package session simulates the authority's phone-based verification
// sessions: a tenant creates a session and shows its QR
// code, the phone opens it, reads the ID card over NFC, confirms, passes
// liveness, and a review approves or rejects it. Every step can be made to
// fail the way the real one does, selected by Prefer header, magic
// identity or per-token scenario, reproducibly from a seed.
package session

import (
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/idcard"
	"github.com/idgate/idgate/internal/httpurl"
	"github.com/idgate/idgate/simulator/identity"
)

// Error is a refused step; Code is the API's error vocabulary.
type Error struct {
	Code    contracts.ErrorCode
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

func errf(code contracts.ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// PhoneView is what the phone sees of a session: its status plus the card
// once read (the user confirms it) and the last liveness outcome.
type PhoneView struct {
	contracts.Session
	AttemptsLeft int                       `json:"attempts_left"`
	Card         *contracts.CardData       `json:"card,omitempty"`
	Liveness     *contracts.LivenessResult `json:"liveness,omitempty"`
}

// Summary is one line of the console's session list: no personal data.
type Summary struct {
	RequestID string                 `json:"request_id"`
	Flow      contracts.SessionFlow  `json:"flow"`
	State     contracts.SessionState `json:"state"`
	Version   int64                  `json:"version"`
	QRURL     string                 `json:"qr_url"`
	CreatedAt time.Time              `json:"created_at"`
	ExpiresAt time.Time              `json:"expires_at"`
}

type session struct {
	mu        sync.Mutex
	id        string
	tenant    string // hash of the bearer token
	qrToken   string
	baseURL   string
	flow      contracts.SessionFlow
	state     contracts.SessionState
	version   int64
	reference string
	// clientID is the X-Request-Id of the create request, for the
	// authority's statement.
	clientID string
	// api names the API that created the session on the statement (""
	// for the session API itself).
	api      string
	callback string
	expName  string
	expID    string
	plan     Plan
	rng      *rand.Rand
	created  time.Time
	updated  time.Time
	expires  time.Time
	attempts int
	failure  *contracts.SessionFailure
	card     *contracts.CardData
	liveness *contracts.LivenessResult
	sim      *float64
	qrPNG    []byte
	review   Timer
	removed  bool // swept; a holder of a stale pointer must not revive it
}

// Service holds every session of one simulator instance.
type Service struct {
	cfg      Config
	clock    Clock
	log      *slog.Logger
	hooks    *Dispatcher
	identity IdentityGenerator
	renderQR func(payload string) ([]byte, error)
	seed     uint64
	ordinal  atomic.Uint64
	metrics  atomic.Pointer[metrics]
	onEnd    atomic.Pointer[func(End)]
	scenMu   sync.RWMutex
	scen     map[string]scenario // tenant hash → plan

	mu       sync.RWMutex
	sessions map[string]*session
	byQR     map[string]*session

	stopSweep chan struct{}
	sweepDone chan struct{}
}

// Option adjusts a Service.
type Option func(*Service)

// WithClock replaces the wall clock (tests).
func WithClock(c Clock) Option { return func(s *Service) { s.clock = c } }

// WithQRRenderer replaces the QR code renderer; tests that do not look at
// the image skip its cost (about 3 ms and 1 MB of garbage per code).
func WithQRRenderer(f func(payload string) ([]byte, error)) Option {
	return func(s *Service) { s.renderQR = f }
}

// RenderQR draws payload as a 256×256 PNG with medium (15 %) error
// correction, enough for a phone camera at arm's length from a screen.
func RenderQR(payload string) ([]byte, error) { return qrcode.Encode(payload, qrcode.Medium, 256) }

// WithIdentityGenerator replaces the built-in holder generator.
func WithIdentityGenerator(g IdentityGenerator) Option { return func(s *Service) { s.identity = g } }

// New builds a service; cfg must have passed Validate. Call Close to stop
// its sweeper and webhook workers.
func New(cfg Config, log *slog.Logger, opts ...Option) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		cfg: cfg, clock: RealClock{}, log: log, identity: identity.CardData, renderQR: RenderQR, seed: cfg.Seed,
		sessions: map[string]*session{}, byQR: map[string]*session{}, scen: map[string]scenario{},
	}
	for _, o := range opts {
		o(s)
	}
	if s.seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		s.seed = binary.LittleEndian.Uint64(b[:]) | 1
	}
	for tok, p := range cfg.Scenarios {
		if err := s.SetScenario(tok, p); err != nil {
			return nil, err // Validate parsed it already
		}
	}
	s.hooks = NewDispatcher(cfg.Webhook, s.clock, nil, log)
	return s, nil
}

// Seed is the seed in use (drawn at start when the config said 0).
func (s *Service) Seed() uint64 { return s.seed }

// Journal is the webhook delivery journal.
func (s *Service) Journal() *Journal { return s.hooks.Journal() }

// StartSweeper closes expired sessions and removes old ones every
// SweepInterval until Close.
func (s *Service) StartSweeper() {
	s.stopSweep, s.sweepDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.sweepDone)
		t := time.NewTicker(s.cfg.SweepInterval)
		defer t.Stop()
		for {
			select {
			case <-s.stopSweep:
				return
			case <-t.C:
				s.Sweep()
			}
		}
	}()
}

// Close stops the sweeper, pending reviews and webhook delivery.
func (s *Service) Close() {
	if s.stopSweep != nil {
		close(s.stopSweep)
		<-s.sweepDone
		s.stopSweep = nil
	}
	for _, x := range s.snapshot() {
		x.mu.Lock()
		if x.review != nil {
			x.review.Stop()
		}
		x.mu.Unlock()
	}
	s.hooks.Close()
}

// tenantKey identifies a tenant without keeping its token.
func tenantKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:12])
}

// End is how a session ended, as the authority bills it.
type End struct {
	// RequestID is the session's request_id.
	RequestID string
	// ClientRequestID is the X-Request-Id of the request that created it.
	ClientRequestID string
	// Tenant is the first 24 hex digits of the SHA-256 of the token that
	// created it; never the token.
	Tenant string
	State  contracts.SessionState
	Code   contracts.SessionCode
	// API is the name the creator gave (CreateAs), "" for the session API.
	API string
	// Billed: the session completed (approved, or rejected by review) with
	// a billed code, exactly as its result reports billing.
	Billed bool
	At     time.Time
}

// OnEnd has fn told of every session reaching a final state (approved,
// rejected, failed), once per session, before any client can see that
// state. fn runs with the session locked and must not call the service.
func (s *Service) OnEnd(fn func(End)) { s.onEnd.Store(&fn) }

// Create opens a session for the tenant holding token. prefer is the
// request's Prefer header; baseURL the request's own base URL, used for the
// QR payload when no public URL is configured.
func (s *Service) Create(token string, req contracts.CreateSessionRequest, prefer, baseURL string) (contracts.Session, error) {
	return s.CreateAs(token, "", "", req, prefer, baseURL)
}

// CreateAs is Create for a request that carried the client's request id
// (X-Request-Id, "" for none), which the session's statement line keeps,
// and for a session another API creates (the Tencent Cloud API 3.0
// actions): api names it in End, so the statement lists the session under
// that API ("" for the session API).
func (s *Service) CreateAs(token, api, clientRequestID string, req contracts.CreateSessionRequest, prefer, baseURL string) (contracts.Session, error) {
	now := s.clock.Now()
	switch req.Flow {
	case "":
		req.Flow = contracts.FlowNFC
	case contracts.FlowNFC, contracts.FlowAppAuth, contracts.FlowNFCRead:
	default:
		return contracts.Session{}, errf(contracts.ErrTokenMismatched, "flow must be %q, %q or %q", contracts.FlowNFC, contracts.FlowAppAuth, contracts.FlowNFCRead)
	}
	if (req.Name == "") != (req.IDCard == "") {
		return contracts.Session{}, errf(contracts.ErrTokenMismatched, "name and id_card must be given together")
	}
	if req.IDCard != "" {
		if _, err := idcard.ParseAt(req.IDCard, now); err != nil {
			return contracts.Session{}, errf(contracts.ErrTokenMismatched, "id_card: %v", err)
		}
		if err := idcard.ValidateName(req.Name); err != nil {
			return contracts.Session{}, errf(contracts.ErrTokenMismatched, "name: %v", err)
		}
	}
	if req.CallbackURL != "" {
		if err := httpurl.Check(req.CallbackURL); err != nil {
			return contracts.Session{}, errf(contracts.ErrTokenMismatched, "callback_url must be an absolute http(s) URL")
		}
	}
	if len(req.Reference) > 128 {
		return contracts.Session{}, errf(contracts.ErrTokenMismatched, "reference must be at most 128 bytes")
	}
	hdr, err := ParsePlan(prefer)
	if err != nil {
		return contracts.Session{}, errf(contracts.ErrTokenMismatched, "%v", err)
	}
	tenant := tenantKey(token)
	s.scenMu.RLock()
	plan := s.scen[tenant].plan
	s.scenMu.RUnlock()
	if m, ok := contracts.LookupSessionMagic(req.IDCard); ok {
		mp, _ := ParsePlan(m.Prefer)
		plan = plan.Merge(mp)
	}
	plan = plan.Merge(hdr)
	if s.cfg.PublicURL != "" {
		baseURL = s.cfg.PublicURL
	}

	n := s.ordinal.Add(1)
	rng := rand.New(rand.NewPCG(s.seed, n))
	x := &session{
		tenant: tenant, baseURL: strings.TrimRight(baseURL, "/"), flow: req.Flow,
		reference: req.Reference, clientID: clientRequestID, api: api, callback: req.CallbackURL, expName: req.Name, expID: req.IDCard,
		plan: plan, rng: rng, created: now,
	}
	x.id = randHex(rng)
	if err := s.newQR(x, now); err != nil {
		return contracts.Session{}, err
	}
	// x is not shared yet: no lock needed until it is in the map.
	ev := x.change(now, contracts.StateCreated, nil)
	v := x.view()
	v.QRPNG = base64.StdEncoding.EncodeToString(x.qrPNG)

	s.mu.Lock()
	if len(s.sessions) >= s.cfg.MaxSessions {
		s.mu.Unlock()
		return contracts.Session{}, errf(contracts.ErrSessionCapacity, "the simulator holds %d sessions, its limit", s.cfg.MaxSessions)
	}
	if _, dup := s.sessions[x.id]; dup {
		// Only a reused seed and ordinal can collide; refuse rather than
		// hand one tenant another's session.
		s.mu.Unlock()
		return contracts.Session{}, errf(contracts.ErrAPIError, "request ID collision")
	}
	s.sessions[x.id] = x
	s.byQR[x.qrToken] = x
	s.mu.Unlock()
	s.emit(x, ev)
	return v, nil
}

// newQR draws a fresh QR token and renders its PNG; x.mu is held or x is
// not yet shared.
func (s *Service) newQR(x *session, now time.Time) error {
	x.qrToken = randHex(x.rng)
	ttl := s.cfg.TTL
	if x.plan.TTL != nil {
		ttl = *x.plan.TTL
	}
	x.expires = now.Add(ttl)
	png, err := s.renderQR(x.qrURL())
	if err != nil {
		return errf(contracts.ErrAPIError, "render QR code: %v", err)
	}
	x.qrPNG = png
	return nil
}

func randHex(r *rand.Rand) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], r.Uint64())
	binary.LittleEndian.PutUint64(b[8:], r.Uint64())
	return hex.EncodeToString(b[:])
}

func (x *session) qrURL() string { return x.baseURL + "/phone/qr/" + x.qrToken }

// change moves x to state and returns the event; x.mu is held.
func (x *session) change(now time.Time, to contracts.SessionState, f *contracts.SessionFailure) contracts.SessionEvent {
	prev := x.state
	if x.version == 0 {
		prev = ""
	}
	x.state, x.updated, x.version = to, now, x.version+1
	if f != nil {
		x.failure = f
	}
	return contracts.SessionEvent{
		ID: x.id + "-" + strconv.FormatInt(x.version, 10), Type: contracts.SessionEventType,
		RequestID: x.id, Reference: x.reference, State: to, Previous: prev, Version: x.version,
		Error: f, OccurredAt: now,
	}
}

// emit counts, logs and sends a state change; x.mu is held. The log line
// carries no personal data: the request ID is random, the card is not in it.
func (s *Service) emit(x *session, ev contracts.SessionEvent) {
	s.countTransition(ev.State)
	if ev.State.Final() {
		if fn := s.onEnd.Load(); fn != nil {
			(*fn)(x.end())
		}
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		code := contracts.CodeOK
		if ev.Error != nil {
			code = ev.Error.Code
		}
		s.log.Debug("session: state change", "request_id", ev.RequestID, "state", ev.State, "previous", ev.Previous, "code", int(code))
	}
	if x.callback != "" {
		s.hooks.Send(x.callback, ev)
	}
}

// end is the session's final outcome, billed as Result reports it; x.mu
// is held.
func (x *session) end() End {
	code, _ := x.outcome()
	return End{RequestID: x.id, ClientRequestID: x.clientID, Tenant: x.tenant, State: x.state, Code: code, API: x.api, At: x.updated,
		Billed: x.billing(code) == contracts.Billed}
}

// outcome is the session's code and message: its failure's, or ok.
func (x *session) outcome() (contracts.SessionCode, string) {
	if x.failure != nil {
		return x.failure.Code, x.failure.Message
	}
	return contracts.CodeOK, contracts.CodeOK.Message()
}

// billing is how the authority bills a session that ended with code: a
// completed session as its code says, any other not at all.
func (x *session) billing(code contracts.SessionCode) contracts.Billing {
	if x.state.Completed() {
		if info, ok := contracts.LookupSessionCode(code); ok {
			return info.Billing
		}
	}
	return contracts.NotBilled
}

func (x *session) view() contracts.Session {
	return contracts.Session{
		RequestID: x.id, Flow: x.flow, State: x.state, Version: x.version, Reference: x.reference,
		QRURL: x.qrURL(), CreatedAt: x.created, UpdatedAt: x.updated, ExpiresAt: x.expires,
		Attempts: x.attempts, Error: x.failure,
	}
}

func (s *Service) phoneView(x *session) PhoneView {
	v := PhoneView{Session: x.view(), AttemptsLeft: s.cfg.MaxAttempts - x.attempts, Card: x.card, Liveness: x.liveness}
	if v.AttemptsLeft < 0 {
		v.AttemptsLeft = 0
	}
	return v
}

// expireIfDue closes a session whose QR/flow deadline passed before review;
// x.mu is held.
func (s *Service) expireIfDue(x *session, now time.Time) {
	switch x.state {
	case contracts.StateCreated, contracts.StateScanned, contracts.StateCardRead, contracts.StateConfirmed:
		if !now.Before(x.expires) {
			// Dated when it expired, not when someone noticed: retention
			// and the webhook's occurred_at count from the deadline.
			s.emit(x, x.change(x.expires, contracts.StateExpired, contracts.Failure(contracts.CodeTokenExpired)))
		}
	}
}

// lookup finds a session; tenant "" means the phone side, which knows the
// request ID but no token.
func (s *Service) lookup(tenant, id string) (*session, error) {
	s.mu.RLock()
	x := s.sessions[id]
	s.mu.RUnlock()
	if x == nil || (tenant != "" && x.tenant != tenant) {
		return nil, errf(contracts.ErrSessionNotFound, "no session with this request ID")
	}
	return x, nil
}

// Status is the tenant's poll.
func (s *Service) Status(token, id string) (contracts.Session, error) {
	x, err := s.lookup(tenantKey(token), id)
	if err != nil {
		return contracts.Session{}, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	s.expireIfDue(x, s.clock.Now())
	return x.view(), nil
}

// QR is the PNG of the session's current QR code.
func (s *Service) QR(token, id string) ([]byte, error) {
	x, err := s.lookup(tenantKey(token), id)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	s.expireIfDue(x, s.clock.Now())
	if x.state == contracts.StateExpired {
		return nil, errf(contracts.ErrSessionExpired, "the QR code expired at %s; regenerate it", x.expires.UTC().Format(time.RFC3339))
	}
	return x.qrPNG, nil
}

// Regenerate gives an expired session a new QR code and deadline; the
// session starts over from created. The old QR code stops working.
func (s *Service) Regenerate(token, id string) (contracts.Session, error) {
	x, err := s.lookup(tenantKey(token), id)
	if err != nil {
		return contracts.Session{}, err
	}
	now := s.clock.Now()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.removed {
		return contracts.Session{}, errf(contracts.ErrSessionNotFound, "no session with this request ID")
	}
	s.expireIfDue(x, now)
	if x.state != contracts.StateExpired {
		if x.state.Final() {
			return contracts.Session{}, errf(contracts.ErrSessionCompleted, "the session is %s", x.state)
		}
		return contracts.Session{}, errf(contracts.ErrStepOutOfOrder, "only an expired session gets a new QR code; this one is %s", x.state)
	}
	old := x.qrToken
	if err := s.newQR(x, now); err != nil {
		return contracts.Session{}, err
	}
	s.mu.Lock()
	delete(s.byQR, old)
	s.byQR[x.qrToken] = x
	s.mu.Unlock()
	x.attempts, x.failure, x.card, x.liveness, x.sim = 0, nil, nil, nil, nil
	s.emit(x, x.change(now, contracts.StateCreated, nil))
	v := x.view()
	v.QRPNG = base64.StdEncoding.EncodeToString(x.qrPNG)
	return v, nil
}

// Result is the outcome of a finished session.
func (s *Service) Result(token, id string) (contracts.SessionResult, error) {
	x, err := s.lookup(tenantKey(token), id)
	if err != nil {
		return contracts.SessionResult{}, err
	}
	now := s.clock.Now()
	x.mu.Lock()
	defer x.mu.Unlock()
	s.expireIfDue(x, now)
	switch {
	case x.state == contracts.StateExpired:
		return contracts.SessionResult{}, errf(contracts.ErrSessionExpired, "the session expired before it finished")
	case !x.state.Final():
		return contracts.SessionResult{}, errf(contracts.ErrFlowNotFinished, "the session is %s", x.state)
	}
	r := contracts.SessionResult{
		RequestID: x.id, Flow: x.flow, State: x.state, Decision: x.state, Liveness: x.liveness, Reference: x.reference,
		FaceSimilarity: x.sim, CompletedAt: x.updated, AvailableUntil: x.updated.Add(s.cfg.Retention),
	}
	r.Code, r.Message = x.outcome()
	r.Billing = x.billing(r.Code)
	if x.card != nil {
		c := *x.card
		c.PhotoPNG = base64.StdEncoding.EncodeToString(placeholderPhoto)
		r.Card = &c
	}
	return r, nil
}

// Live lists the tenant's sessions that are neither final nor expired,
// newest first, for the console.
func (s *Service) Live(token string, limit int) []Summary {
	tenant := tenantKey(token)
	all := s.snapshot()
	now := s.clock.Now()
	out := make([]Summary, 0, len(all))
	for _, x := range all {
		if x.tenant != tenant {
			continue // immutable after creation: no lock needed
		}
		x.mu.Lock()
		s.expireIfDue(x, now)
		if !x.state.Final() && x.state != contracts.StateExpired {
			out = append(out, Summary{RequestID: x.id, Flow: x.flow, State: x.state, Version: x.version,
				QRURL: x.qrURL(), CreatedAt: x.created, ExpiresAt: x.expires})
		}
		x.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].RequestID < out[j].RequestID
		}
		return out[i].CreatedAt.After(out[j].CreatedAt)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Len is the number of stored sessions.
func (s *Service) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.sessions)
}

// Sweep expires sessions past their deadline and removes final or expired
// ones older than the retention. It returns how many of each.
func (s *Service) Sweep() (expired, removed int) {
	now := s.clock.Now()
	all := s.snapshot()
	for _, x := range all {
		// Lock order everywhere: session, then service.
		x.mu.Lock()
		before := x.state
		s.expireIfDue(x, now)
		if before != x.state {
			expired++
		}
		if (x.state.Final() || x.state == contracts.StateExpired) && now.Sub(x.updated) >= s.cfg.Retention {
			x.removed = true
			s.mu.Lock()
			delete(s.sessions, x.id)
			delete(s.byQR, x.qrToken)
			s.mu.Unlock()
			removed++
		}
		x.mu.Unlock()
	}
	return expired, removed
}

// snapshot copies the session set so that no caller holds the service lock
// while taking a session lock (the order is session, then service).
func (s *Service) snapshot() []*session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	all := make([]*session, 0, len(s.sessions))
	for _, x := range s.sessions {
		all = append(all, x)
	}
	return all
}

func marshal(v any) ([]byte, error) { return json.Marshal(v) }

func newRand(n uint64) *rand.Rand { return rand.New(rand.NewPCG(0x5eed, n)) }

type scenario struct {
	prefer string
	plan   Plan
}

// SetScenario makes every session the token creates from now on follow
// prefer (the Prefer header's grammar); "" clears it.
func (s *Service) SetScenario(token, prefer string) error {
	plan, err := ParsePlan(prefer)
	if err != nil {
		return errf(contracts.ErrTokenMismatched, "%v", err)
	}
	s.scenMu.Lock()
	defer s.scenMu.Unlock()
	if strings.TrimSpace(prefer) == "" {
		delete(s.scen, tenantKey(token))
		return nil
	}
	s.scen[tenantKey(token)] = scenario{prefer: prefer, plan: plan}
	return nil
}

// Scenario is the token's scenario, "" when it has none.
func (s *Service) Scenario(token string) string {
	s.scenMu.RLock()
	defer s.scenMu.RUnlock()
	return s.scen[tenantKey(token)].prefer
}
