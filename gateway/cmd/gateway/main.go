// Command gateway is the idgate gateway: a drop-in proxy in front of the
// identity authority with keys, rate limits, daily quotas, local validation
// and a billing ledger. See configs/gateway.yaml for every setting.
//
// `gateway reconcile -statement file [-from day -to day]` compares the
// ledger with the authority's statement and resolves unknown entries; it
// exits 1 when they do not agree.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/idgate/idgate/gateway/config"
	"github.com/idgate/idgate/gateway/server"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "reconcile" {
		if err := reconcileCmd(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "gateway reconcile:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run() error {
	cfgPath := flag.String("config", "", "YAML config file (default: the embedded demo config, same as configs/gateway.yaml)")
	listen := flag.String("listen", "", "client listener address (overrides config and "+config.EnvPrefix+"LISTEN)")
	adminListen := flag.String("admin-listen", "", "admin listener address (overrides config and "+config.EnvPrefix+"ADMIN_LISTEN)")
	initLedger := flag.Bool("initialize-ledger", false, "start an empty ledger where the store's file is empty, holds no ledger, or is missing beside its journal (store.initialize); otherwise such a start is refused")
	flag.Parse()

	// The flags win over the file on every load, reloads included, so a
	// reload never reports them as changed settings.
	load := func() (config.Config, error) {
		cfg, err := config.Load(*cfgPath)
		if *listen != "" {
			cfg.Listen = *listen
		}
		if *adminListen != "" {
			cfg.Admin.Listen = *adminListen
		}
		if *initLedger {
			cfg.Store.Initialize = true
		}
		return cfg, err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	level, _ := cfg.SlogLevel() // validated at load
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	srv, err := server.New(cfg, *cfgPath, log, server.WithLoader(load))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		_ = srv.Shutdown(context.Background())
		return fmt.Errorf("listen: %w", err)
	}
	if cfg.TLS.Enabled() {
		tc, err := cfg.TLS.ServerConfig()
		if err != nil {
			ln.Close()
			_ = srv.Shutdown(context.Background())
			return err
		}
		ln = tls.NewListener(ln, tc)
	}
	adminLn, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		ln.Close()
		_ = srv.Shutdown(context.Background())
		return fmt.Errorf("admin listen: %w", err)
	}
	srv.Serve(ln, adminLn)
	log.Info("gateway started", "listen", ln.Addr().String(), "admin", adminLn.Addr().String(),
		"upstream", cfg.Upstream.URL, "store", cfg.Store.Path, "tenants", len(cfg.Auth.Tenants), "tls", cfg.TLS.Enabled())

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			_, _ = srv.Reload() // logs what it applied, ignored or refused
			continue
		}
		log.Info("shutting down", "signal", sig.String())
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
		err := srv.Shutdown(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		log.Info("stopped; ledger flushed")
		return nil
	}
	return nil
}
