// Command simulator serves a stand-in for the identity authority's check
// API, for QA environments and load tests.
//
//	simulator [-config FILE] [-listen ADDR]
//
// Without -config it runs on built-in defaults (token "sim-token", admin
// token "sim-admin-token", 127.0.0.1:8081). Settings come from the
// defaults, then the file, then IDGATE_SIM_* environment variables, then
// flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gofiber/fiber/v2"

	"github.com/idgate/idgate/simulator/config"
	"github.com/idgate/idgate/simulator/console"
	"github.com/idgate/idgate/simulator/server"
	"github.com/idgate/idgate/simulator/session"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "simulator:", err)
		os.Exit(1)
	}
}

func run() error {
	configPath := flag.String("config", os.Getenv("IDGATE_SIM_CONFIG"), "YAML configuration file (env IDGATE_SIM_CONFIG); empty: built-in defaults")
	listen := flag.String("listen", "", "listen address, overrides the config and IDGATE_SIM_LISTEN (default 127.0.0.1:8081)")
	flag.Parse()

	cfg, err := config.Load(*configPath, os.LookupEnv)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level(cfg.LogLevel)}))
	if cfg.AdminToken == config.Default().AdminToken && !loopback(cfg.Listen) {
		log.Warn("simulator: the admin API is reachable beyond this host with the default admin token; set admin_token or IDGATE_SIM_ADMIN_TOKEN", "addr", cfg.Listen)
	}

	sessions, err := session.New(cfg.Sessions, log)
	if err != nil {
		return err
	}
	defer sessions.Close()
	sessions.StartSweeper()
	log.Info("simulator: verification sessions", "seed", sessions.Seed(), "time_scale", cfg.Sessions.TimeScale)
	// WithSessions also puts every session's end on the statement.
	srv, err := server.New(cfg, server.WithLogger(log), server.WithSessions(sessions), server.WithMountEnv(func(app *fiber.App, env server.MountEnv) {
		if err := sessions.Instrument(env.Registry); err != nil {
			log.Error("simulator: session metrics", "err", err)
		}
		session.Register(app, sessions, session.TokenAuth(env.Config.Tokens, env.Config.AdminToken), session.WithBodyLimit(env.Config.BodyLimit))
		console.Register(app)
	}))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("simulator: listening", "addr", cfg.Listen, "tokens", len(cfg.Tokens),
		"journal", cfg.Journal.Enabled, "rate_limit_per_second", cfg.RateLimit.PerSecond,
		"daily_limit_per_id_number", cfg.DailyLimit.PerIDNumber)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("simulator: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout.D())
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("simulator: stopped")
	return nil
}

// loopback reports whether addr listens on this host only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func level(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
