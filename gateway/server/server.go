// Package server wires the gateway: it builds every pipeline step from the
// config, serves the client and admin listeners, reloads tenants and keys on
// demand, and shuts down without losing a ledger entry.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/pprof"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/gateway/admin"
	"github.com/idgate/idgate/gateway/admission"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/config"
	"github.com/idgate/idgate/gateway/console"
	"github.com/idgate/idgate/gateway/encryption"
	"github.com/idgate/idgate/gateway/keystore"
	"github.com/idgate/idgate/gateway/metrics"
	"github.com/idgate/idgate/gateway/pipeline"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/gateway/reconcile"
	"github.com/idgate/idgate/gateway/sessions"
	gwtencent "github.com/idgate/idgate/gateway/tencent"
	"github.com/idgate/idgate/gateway/upstream"
)

// Server is one gateway instance.
type Server struct {
	// cfg is the configuration in force: as started, with the reloadable
	// settings of every later reload (reload.go).
	cfg     config.Config
	cfgPath string
	// load reads the configuration again on Reload.
	load func() (config.Config, error)
	log  *slog.Logger

	dir      *auth.Store
	calendar *quota.Calendar
	upstream *upstream.Client
	Metrics  *metrics.Metrics
	// The stores of the configured mode (stores.go).
	backends
	pipeline *pipeline.Pipeline
	// sessions serves the verification-session API (nil when disabled).
	sessions *sessions.Service
	relay    *sessions.Relay
	// crypto holds the encryption modes' keys (nil: every route passthrough).
	crypto *encryption.Engine
	// res: the response cache, circuit breaker and idempotency store (resilience.go).
	res resilience
	// front and tc: the Tencent dialect's authentication and rendering,
	// and its endpoint POST / (tencent.go).
	front *gwtencent.Front
	tc    *gwtencent.Mux

	app      *fiber.App
	adminApp *fiber.App
	ln       *trackingListener
	adminLn  *trackingListener

	reloadMu sync.Mutex
	stopOnce sync.Once
	stopErr  error
}

// Option adjusts a server before it starts.
type Option func(*Server)

// WithLoader replaces how Reload reads the configuration (default:
// config.Load(cfgPath)); the command uses it to keep its flags in force.
func WithLoader(load func() (config.Config, error)) Option {
	return func(s *Server) { s.load = load }
}

// New builds a server from a validated config. cfgPath is re-read on
// Reload ("" means the embedded defaults). On error, whatever it had opened
// or started is closed again.
func New(cfg config.Config, cfgPath string, log *slog.Logger, opts ...Option) (_ *Server, err error) {
	s := &Server{cfg: cfg, cfgPath: cfgPath, log: log}
	defer func() {
		if err == nil {
			return
		}
		s.stopSessions()
		s.stopResilience()
		s.closeStores()
		if s.upstream != nil {
			s.upstream.CloseIdle()
		}
	}()
	s.load = func() (config.Config, error) { return config.Load(s.cfgPath) }
	for _, o := range opts {
		o(s)
	}
	s.calendar = quota.NewCalendar(cfg.Quota.Location())
	s.Metrics = metrics.New()

	up, err := upstream.New(cfg.Upstream)
	if err != nil {
		return nil, err
	}
	s.upstream = up

	// The stores of the configured mode (stores.go): in-process and SQLite
	// for one gateway, Redis and PostgreSQL for a fleet. Every step below
	// sees them through the same interfaces.
	if cfg.Stores.IsShared() {
		err = s.openShared()
	} else {
		err = s.openEmbedded()
	}
	if err != nil {
		return nil, err
	}
	if err = s.openDirectory(); err != nil {
		return nil, err
	}

	s.Metrics.Gauge("ledger_queue_length", "Ledger entries waiting to be written.", func() float64 { return float64(s.ledger.QueueLen()) })
	s.Metrics.Counter("ledger_written_total", "Ledger entries written since start.", func() float64 { return float64(s.ledger.Written()) })
	s.Metrics.Gauge("ledger_journal_pending_bytes", "Journal bytes not yet released (the database does not hold them yet, or a request they cover may still run).",
		func() float64 { return float64(s.ledger.JournalPending()) })
	s.Metrics.Gauge("ledger_writable", "1 while the ledger can take billable requests, 0 while it refuses them (full disk, write errors, file lost).", func() float64 {
		if s.ledger.Err() != nil {
			return 0
		}
		return 1
	})
	s.registerQuotaMetric()

	if cfg.NeedsEncryption() {
		if s.crypto, err = encryption.New(cfg.Encryption); err == nil {
			err = s.crypto.Register(s.Metrics.Registry)
		}
		if err != nil {
			return nil, err
		}
	}
	routes := make([]*pipeline.Route, 0, len(cfg.Routes))
	for _, rc := range cfg.Routes {
		r, err := pipeline.NewRoute(rc)
		if err != nil {
			return nil, err
		}
		if s.crypto != nil {
			if rcr := s.crypto.Route(rc.Name, rc.Encryption.Mode); rcr != nil {
				r.Crypto = rcr
			}
		}
		routes = append(routes, r)
	}
	s.pipeline = &pipeline.Pipeline{
		Gate: admission.Gate{
			Auth: s.dir, Limits: s.limits, Quota: s.quota, Ledger: s.ledger, RateQuota: s.rateQuota,
			Calendar: s.calendar, Metrics: s.Metrics, IDs: admission.NewIDs(), Log: log, Now: time.Now,
		},
		Forward: s.upstream, MaxBody: cfg.MaxBodyBytes,
	}
	if err = s.startResilience(); err != nil {
		return nil, err
	}
	if err = s.startTencent(routes); err != nil {
		return nil, err
	}
	if err = s.startSessions(); err != nil {
		return nil, err
	}
	s.app = s.newMainApp(routes)
	s.adminApp = s.newAdminApp()
	return s, nil
}

// openDirectory builds the tenants' and keys' directory from the config
// and the stored key changes. Under reloadMu: in shared mode a change
// another replica makes is rebuilt (keysChanged) after this read, never
// lost before the directory exists.
func (s *Server) openDirectory() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	overrides, err := s.keys.Overrides(context.Background())
	if err != nil {
		return err
	}
	d, err := auth.NewDirectory(s.cfg.Auth.Tenants, overrides)
	if err != nil {
		return err
	}
	s.dir = auth.NewStore(d)
	return nil
}

func (s *Server) newMainApp(routes []*pipeline.Route) *fiber.App {
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		// The authority's paths are exact: /Check-2e and check-2e/ are
		// unknown APIs, as the simulator has them.
		CaseSensitive: true,
		StrictRouting: true,
		// Bodies over max_body_bytes are read (up to contracts.BodyReadCap)
		// and refused by the pipeline: refusing an unread body resets the
		// client's upload and it never sees the 400. Beyond the cap the
		// connection is closed.
		BodyLimit:    max(s.cfg.MaxBodyBytes, contracts.BodyReadCap),
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  90 * time.Second,
		// Errors raised by the server itself (oversized body, malformed
		// HTTP) get the contract's vocabulary too.
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			code := contracts.ErrAPIError
			var fe *fiber.Error
			switch {
			case !errors.As(err, &fe):
				s.log.Error("unexpected handler error", "err", err)
			case fe.Code == fiber.StatusNotFound || fe.Code == fiber.StatusMethodNotAllowed:
				code = contracts.ErrAPINotImplemented
			case fe.Code < 500:
				code = contracts.ErrTokenMismatched
			}
			admission.WriteError(c.Context(), code, "", s.pipeline.IDs.Next())
			return nil
		},
	})
	checks := make(map[string]*pipeline.Route, len(routes))
	for _, rt := range routes {
		rt := rt
		checks[rt.Path] = rt
		app.Post(rt.Path, func(c *fiber.Ctx) error {
			s.pipeline.Serve(c.Context(), rt)
			return nil
		})
	}
	app.Post(gwtencent.Path, func(c *fiber.Ctx) error {
		s.tc.Serve(c.Context())
		return nil
	})
	if s.sessions != nil {
		s.sessions.Register(app)
	}
	s.health(app)
	// The gateway's public keys for clients of terminate routes; read per
	// request so a reload (key rotation) shows at once. A gateway without
	// private keys says that encryption is not enabled, in the API's
	// words for an API it does not serve.
	app.Get(encryption.PublicKeysPath, func(c *fiber.Ctx) error {
		var b []byte
		var err error = fieldcrypto.ErrNotEnabled
		if s.crypto != nil {
			b, err = s.crypto.PublicKeysJSON()
		}
		if errors.Is(err, fieldcrypto.ErrNotEnabled) {
			admission.WriteError(c.Context(), contracts.ErrAPINotImplemented, fieldcrypto.NotEnabled, s.pipeline.IDs.Next())
			return nil
		}
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(b)
	})
	app.Use(func(c *fiber.Ctx) error {
		s.unknownRoute(c.Context())
		return nil
	})
	// The check routes, the hot path, go straight to the pipeline: Fiber's
	// router and context cost about a microsecond a request under load for
	// a lookup this map does. The match is Fiber's own (POST, exact
	// case-sensitive path, query ignored), and the routes stay registered
	// above, so everything else, and app.Test, sees the same app.
	fiberHandler := recovering(app.Server().Handler, s.log, s.pipeline.IDs)
	app.Server().Handler = func(ctx *fasthttp.RequestCtx) {
		if ctx.IsPost() {
			path := ctx.URI().PathOriginal()
			if rt := checks[string(path)]; rt != nil {
				s.pipeline.Serve(ctx, rt)
				return
			}
			if string(path) == gwtencent.Path {
				s.tc.Serve(ctx)
				return
			}
		} else if gwtencent.IsCall(ctx) {
			s.tc.ServeOtherMethod(ctx)
			return
		} else if !knownMethod(ctx.Method()) {
			s.unknownRoute(ctx)
			return
		}
		fiberHandler(ctx)
	}
	return app
}

func (s *Server) newAdminApp() *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true, ReadTimeout: 30 * time.Second, WriteTimeout: 5 * time.Minute,
		// The largest admin body, a statement to reconcile; every JSON
		// route refuses more than admin.MaxJSONBytes itself.
		BodyLimit:    admin.BodyLimit,
		ErrorHandler: admin.ErrorHandler(s.pipeline.IDs)})
	s.health(app)
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{})))
	// The console's page is public; its calls are the admin API's, with
	// the token. Mounted first: the /admin group asks everything for it.
	console.Register(app)
	admin.Register(app, admin.Options{
		Token: s.cfg.Admin.Token, Dir: s.dir, Keys: s, Quota: s.quota, Ledger: s.ledger,
		Calendar: s.calendar, Reload: s.Reload, Now: time.Now, Reconcile: s.reconcile, IDs: s.pipeline.IDs,
	})
	s.registerCacheAdmin(app)
	// Profiles under /admin/debug/pprof/, behind the admin token (the
	// /admin group's middleware runs first).
	app.Use(pprof.New(pprof.Config{Prefix: "/admin"}))
	app.Server().Handler = recovering(app.Server().Handler, s.log, s.pipeline.IDs)
	return app
}

// health mounts /healthz (the process runs) and /readyz (the upstream
// accepts connections and the ledger is writable).
func (s *Server) health(app *fiber.App) {
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	app.Get("/readyz", func(c *fiber.Ctx) error {
		checks := fiber.Map{}
		ready := true
		if err := s.upstream.Ping(); err != nil {
			checks["upstream"], ready = err.Error(), false
		} else {
			checks["upstream"] = "ok"
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		if err := s.ledger.Ping(ctx); err != nil {
			checks["ledger"], ready = err.Error(), false
		} else {
			checks["ledger"] = "ok"
		}
		if !s.storesReady(ctx, checks) {
			ready = false
		}
		if !s.breakerReady(checks) {
			ready = false
		}
		status := fiber.StatusOK
		if !ready {
			status = fiber.StatusServiceUnavailable
		}
		return c.Status(status).JSON(fiber.Map{"ready": ready, "checks": checks})
	})
}

// Serve starts both listeners and returns at once.
func (s *Server) Serve(ln, adminLn net.Listener) {
	s.ln, s.adminLn = newTrackingListener(ln), newTrackingListener(adminLn)
	go func() {
		if err := s.app.Listener(s.ln); err != nil {
			s.log.Error("gateway listener stopped", "err", err)
		}
	}()
	go func() {
		if err := s.adminApp.Listener(s.adminLn); err != nil {
			s.log.Error("admin listener stopped", "err", err)
		}
	}()
}

// PutKey persists an admin key change and rebuilds the directory with it.
func (s *Server) PutKey(ctx context.Context, o auth.Override) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if err := s.keys.Put(ctx, o); err != nil {
		return err
	}
	return s.rebuild(ctx, s.cfg.Auth.Tenants)
}

// CreateKey is PutKey for a new key id; it refuses an id in use.
func (s *Server) CreateKey(ctx context.Context, o auth.Override) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if _, exists := s.dir.Current().Key(o.KeyID); exists {
		return admin.ErrKeyExists
	}
	// A fleet's key store checks the id itself: another replica may have
	// created it a moment ago, before this one heard of it.
	put := s.keys.Put
	if c, ok := s.keys.(interface {
		Create(context.Context, auth.Override) error
	}); ok {
		put = c.Create
	}
	if err := put(ctx, o); err != nil {
		if errors.Is(err, keystore.ErrExists) {
			return admin.ErrKeyExists
		}
		return err
	}
	return s.rebuild(ctx, s.cfg.Auth.Tenants)
}

// CanSealPairs reports whether the key store can keep Tencent pairs.
func (s *Server) CanSealPairs() bool { return s.keys.CanSeal() }

// rebuild must hold reloadMu.
func (s *Server) rebuild(ctx context.Context, tenants []auth.TenantConfig) error {
	overrides, err := s.keys.Overrides(ctx)
	if err != nil {
		return err
	}
	d, err := auth.NewDirectory(tenants, overrides)
	if err != nil {
		return err
	}
	s.dir.Swap(d)
	s.limits.Prune(func(id string) bool { _, ok := d.Key(id); return ok })
	return nil
}

// Shutdown stops accepting, lets in-flight requests finish (bounded by
// ctx), then flushes and closes the ledger. Entries of every answered
// request are written before it returns.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		var errs []error
		stopReaper := s.reapUnused()
		defer stopReaper()
		if err := s.app.ShutdownWithContext(ctx); err != nil {
			errs = append(errs, fmt.Errorf("gateway listener: %w", err))
		}
		if err := s.adminApp.ShutdownWithContext(ctx); err != nil {
			errs = append(errs, fmt.Errorf("admin listener: %w", err))
		}
		s.stopSessions()
		if err := s.closeStores(); err != nil {
			errs = append(errs, err)
		}
		s.upstream.CloseIdle()
		s.stopResilience()
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// reapUnused closes never-used connections while shutdown waits.
func (s *Server) reapUnused() (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, l := range []*trackingListener{s.ln, s.adminLn} {
					if l != nil {
						l.closeUnused(200 * time.Millisecond)
					}
				}
			}
		}
	}()
	return func() { close(done) }
}

// reconcile runs a reconciliation on the running ledger, once every entry
// queued so far is stored, against the configured upstream credential.
func (s *Server) reconcile(ctx context.Context, st contracts.Statement, from, to string, resolve bool) (reconcile.Report, error) {
	if err := s.ledger.Flush(); err != nil {
		return reconcile.Report{}, err
	}
	return reconcile.Run(ctx, s.ledger, st, from, to, reconcile.CredentialID(s.cfg.Upstream.Token.Reveal()), resolve)
}

// Ledger exposes the ledger (tests reconcile against it).
func (s *Server) Ledger() LedgerStore { return s.ledger }

// Quota exposes the quota counters.
func (s *Server) Quota() QuotaStore { return s.quota }

// Crypto exposes the encryption engine (nil when every route is passthrough).
func (s *Server) Crypto() *encryption.Engine { return s.crypto }
