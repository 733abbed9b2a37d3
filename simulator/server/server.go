// Package server is the simulator's HTTP surface: the authority's check API
// (exactly as the authority documents it), the admin API that programs and reads
// it, /healthz and /metrics.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"golang.org/x/time/rate"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/simulator/config"
	"github.com/idgate/idgate/simulator/dailylimit"
	"github.com/idgate/idgate/simulator/fault"
	"github.com/idgate/idgate/simulator/journal"
	"github.com/idgate/idgate/simulator/outcome"
	"github.com/idgate/idgate/simulator/session"
	"github.com/idgate/idgate/simulator/statement"
	"github.com/idgate/idgate/simulator/stats"
)

// MountEnv is what a mounted route group may use from the server.
type MountEnv struct {
	Config   config.Config
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// Now is the server's clock (WithClock), for code that must agree
	// with the check API on dates.
	Now func() time.Time
	// Statement is the authority's billing statement; groups whose
	// answers the authority bills record them there.
	Statement *statement.Statement
}

// Option configures New.
type Option func(*options)

type options struct {
	mounts   []func(*fiber.App, MountEnv)
	logger   *slog.Logger
	now      func() time.Time
	sessions *session.Service
}

// WithSessions lets the Tencent Cloud API 3.0 session actions (DetectAuth,
// GetEidToken, GetNFCToken and their results) drive svc, the same
// sessions the aggregator's session API and the phone routes serve. The
// server records the end of every session of svc on its statement
// (svc.OnEnd).
func WithSessions(svc *session.Service) Option { return func(o *options) { o.sessions = svc } }

// WithMount adds route groups to the app. Mounts run inside New, in order,
// after the core routes (check API, /admin/, /healthz, /metrics) and
// before the catch-all that answers every other path with 400
// api_not_implemented, so a mount may claim any path the core does not.
func WithMount(fn func(app *fiber.App)) Option {
	return WithMountEnv(func(app *fiber.App, _ MountEnv) { fn(app) })
}

// WithMountEnv is WithMount for groups that need the server's logger,
// metrics registry, clock or configuration.
func WithMountEnv(fn func(app *fiber.App, env MountEnv)) Option {
	return func(o *options) { o.mounts = append(o.mounts, fn) }
}

// WithLogger sets the logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the clock that validity checks and the daily limit use;
// tests pin it to a date.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Server is one simulator instance. Several can run in one process.
type Server struct {
	cfg config.Config
	app *fiber.App
	// handler is the fasthttp handler the server runs: Fiber's, behind
	// the method check.
	handler fasthttp.RequestHandler
	log     *slog.Logger
	now     func() time.Time
	// clock is the WithClock override, nil for the wall clock: the hot
	// path then reuses the one time.Now it takes anyway.
	clock      func() time.Time
	maxLatency time.Duration

	tokens     map[string]*tokenState
	adminToken []byte
	book       *stats.Book
	statement  *statement.Statement
	journal    *journal.Journal
	daily      *dailylimit.Limiter // nil: no daily limit
	faults     *fault.Injector
	metrics    *metrics
	crypto     *receiver // nil: encryption off

	// tooLarge is the message of an oversized body.
	tooLarge string
	// answers are the complete bodies of answers without sim, built once.
	answers [8][]byte
	// dateAnswers are the same for the date route.
	dateAnswers [9][]byte

	// secretIDs are the Tencent Cloud API 3.0 credentials by SecretId.
	secretIDs map[string]*secretState
	verifier  tencent.Verifier
	// sessions serves the session actions of API 3.0 (nil: they answer
	// UnsupportedOperation).
	sessions *session.Service
}

// secretState is a Tencent credential: its SecretKey and the state it
// shares with a token (counters, limiter, scenario).
type secretState struct {
	key string
	*tokenState
}

type tokenState struct {
	name string
	// cred is the token's index among the statement's credentials.
	cred     int
	counter  *stats.Counter
	limiter  atomic.Pointer[rate.Limiter] // nil: unlimited
	scenario atomic.Pointer[outcome.Scenario]
}

// New builds a server from a validated configuration.
func New(cfg config.Config, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	clock := o.now
	if o.now == nil {
		o.now = time.Now
	}
	s := &Server{
		cfg:        cfg,
		log:        o.logger,
		now:        o.now,
		clock:      clock,
		maxLatency: cfg.MaxLatency.D(),
		tooLarge:   "request body exceeds " + strconv.Itoa(cfg.BodyLimit) + " bytes",
		tokens:     make(map[string]*tokenState, len(cfg.Tokens)),
		secretIDs:  make(map[string]*secretState, len(cfg.Tencent.Credentials)),
		adminToken: []byte(cfg.AdminToken),
		book:       stats.NewBook(credentials(&cfg)),
		sessions:   o.sessions,
		journal:    journal.New(cfg.Journal.Size, cfg.Journal.Enabled),
		faults:     fault.NewInjector(cfg.MaxHang.D()),
	}
	s.metrics = newMetrics(func() float64 { return float64(s.faults.Hanging()) })
	loc, err := cfg.Location()
	if err != nil {
		return nil, err
	}
	s.statement, err = statement.New(statement.Config{
		Authority: cfg.Statement.Authority, Calendar: loc, CalendarName: cfg.DailyLimit.TimeZone,
		Credentials: credentials(&cfg), MaxLines: cfg.Statement.MaxLines,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	for i, t := range cfg.Tokens {
		ts := &tokenState{name: t, cred: i, counter: s.book.Token(t)}
		if cfg.RateLimit.PerSecond > 0 {
			ts.limiter.Store(rate.NewLimiter(rate.Limit(cfg.RateLimit.PerSecond), cfg.RateLimit.Burst))
		}
		s.tokens[t] = ts
	}
	for i, c := range cfg.Tencent.Credentials {
		ts := &tokenState{name: c.SecretID, cred: len(cfg.Tokens) + i, counter: s.book.Token(c.SecretID)}
		if cfg.RateLimit.PerSecond > 0 {
			ts.limiter.Store(rate.NewLimiter(rate.Limit(cfg.RateLimit.PerSecond), cfg.RateLimit.Burst))
		}
		s.secretIDs[c.SecretID] = &secretState{key: c.SecretKey, tokenState: ts}
	}
	for tok, spec := range cfg.Scenarios {
		sc, err := outcome.NewScenario(spec, s.maxLatency)
		if err != nil {
			return nil, fmt.Errorf("server: scenario for a configured token: %w", err)
		}
		s.credential(tok).scenario.Store(sc)
	}
	if cfg.DailyLimit.PerIDNumber > 0 {
		s.daily = dailylimit.New(cfg.DailyLimit.PerIDNumber, loc, cfg.DailyLimit.MaxTracked, s.metrics.untracked.Inc)
	}
	if cfg.Encryption.Enabled {
		r, err := newReceiver(cfg.Encryption)
		if err != nil {
			return nil, err
		}
		s.crypto = r
	}
	for i, r := range contracts.Results {
		s.answers[i] = contracts.AppendResponse(nil, contracts.CheckResponse{Result: r.Code, Description: r.Description})
	}
	for i, r := range contracts.DateResults {
		s.dateAnswers[i] = contracts.AppendResponse(nil, contracts.CheckResponse{Result: r.Code, Description: r.Description})
	}
	if s.sessions != nil {
		s.sessions.OnEnd(s.sessionEnded)
	}

	s.app = fiber.New(fiber.Config{
		AppName:               "idgate-simulator",
		DisableStartupMessage: true,
		// The authority's paths are exact; a gateway that sends
		// /Identity/... or a trailing slash should find out here.
		CaseSensitive: true,
		StrictRouting: true,
		// fasthttp refuses an oversized body without reading it, and the
		// close then resets the client's upload before it can read the
		// answer. Reading up to contracts.BodyReadCap and refusing in the
		// handler lets every client within the cap see its 400.
		BodyLimit:    max(cfg.BodyLimit, contracts.BodyReadCap),
		ReadTimeout:  cfg.HTTP.ReadTimeout.D(),
		WriteTimeout: cfg.HTTP.WriteTimeout.D(),
		IdleTimeout:  cfg.HTTP.IdleTimeout.D(),
		Network:      "tcp",
		ErrorHandler: s.fiberError,
	})
	// A panic anywhere (a mounted group included) becomes a 500 api_error
	// and a log line, not a dead simulator in the middle of a load test.
	s.app.Use(recover.New(recover.Config{
		EnableStackTrace: true,
		StackTraceHandler: func(c *fiber.Ctx, r any) {
			s.log.Error("simulator: panic in a handler", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		},
	}))
	s.app.Get("/healthz", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.SendString(`{"status":"ok"}`)
	})
	metricsHandler := fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	s.app.Get("/metrics", func(c *fiber.Ctx) error {
		metricsHandler(c.Context())
		return nil
	})
	s.app.Get(PublicKeysPath, s.publicKeys)
	s.registerAdmin()
	s.app.Post(contracts.CheckPath, s.check)
	s.app.Post(contracts.CheckDatePath, s.checkDate)
	// API 3.0 calls; a request to / without X-TC-Action falls through to
	// the catch-all, as before.
	s.app.All("/", s.tencentAPI)
	env := MountEnv{Config: cfg, Logger: s.log, Registry: s.metrics.reg, Now: s.now, Statement: s.statement}
	for _, m := range o.mounts {
		m(s.app, env)
	}
	s.app.Use(s.notImplemented)
	s.handler = s.withKnownMethods(s.app.Server().Handler)
	s.app.Server().Handler = s.handler
	return s, nil
}

// credentials are the statement's and the stats' credentials: the API
// tokens, then the Tencent SecretIds (Validate keeps them apart).
func credentials(cfg *config.Config) []string {
	return append(append([]string(nil), cfg.Tokens...), cfg.Tencent.SecretIDs()...)
}

// credential is the state of an API token or a Tencent SecretId, nil for
// neither.
func (s *Server) credential(name string) *tokenState {
	if t := s.tokens[name]; t != nil {
		return t
	}
	if c := s.secretIDs[name]; c != nil {
		return c.tokenState
	}
	return nil
}

// App is the Fiber application, for tests that use app.Test.
func (s *Server) App() *fiber.App { return s.app }

// Handler is the server's fasthttp handler, for in-memory benchmarks. It
// first has Fiber build its routes, which serving on a listener does.
func (s *Server) Handler() fasthttp.RequestHandler {
	s.app.Handler()
	return s.handler
}

// Registry is the server's own Prometheus registry.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

// Stats copies the current counts.
func (s *Server) Stats() stats.Snapshot { return s.book.Snapshot() }

// Statement is the authority's billing statement.
func (s *Server) Statement() *statement.Statement { return s.statement }

// Journal is the request journal.
func (s *Server) Journal() *journal.Journal { return s.journal }

// Serve answers on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.app.Listener(ln); err != nil {
		return fmt.Errorf("server: serve: %w", err)
	}
	return nil
}

// ListenAndServe listens on cfg.Listen.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("server: listen %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ln)
}

// Shutdown releases hanging connections, then stops accepting and waits
// for in-flight requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.faults.Close()
	if err := s.app.ShutdownWithContext(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	return nil
}
