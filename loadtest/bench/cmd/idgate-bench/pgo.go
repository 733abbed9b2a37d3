package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/loadtest/bench/load"
)

// pgo records the CPU profile the gateway is built with (profile-guided
// optimisation, gateway/cmd/gateway/default.pgo): the gateway in front of
// the simulator, as `run` sets them up, driven at saturation on the miss
// path with every step on, which is what a deployment spends its CPU on.
func pgo(args []string) error {
	fs := flag.NewFlagSet("pgo", flag.ExitOnError)
	binDir := fs.String("bin", "bin", "directory holding simulator and gateway")
	out := fs.String("o", "gateway/cmd/gateway/default.pgo", "profile to write")
	dur := fs.Duration("duration", 30*time.Second, "profiled load")
	conns := fs.Int("conns", 64, "connections in the closed loop")
	_ = fs.Parse(args)

	tmp, err := os.MkdirTemp("", "idgate-pgo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ln := &launcher{dir: tmp}
	defer ln.stop()

	_, simAddr, err := ln.simulator(*binDir)
	if err != nil {
		return err
	}
	conf, err := benchGatewayConfig(tmp, "gateway.yaml", nil)
	if err != nil {
		return err
	}
	const adminToken = "idgate-pgo-admin-token"
	_, gwAddr, gwAdmin, err := ln.gateway("gateway", *binDir, simAddr, conf, "IDGATE_GW_ADMIN_TOKEN="+adminToken)
	if err != nil {
		return err
	}
	t := load.Target{Addr: gwAddr, Path: contracts.CheckPath, Token: "demo-key", Bodies: load.Bodies(20000, 1)}
	load.Saturate(t, *conns, 2*time.Second) // connections, pools and the ledger warm

	// The load outlasts the profile by a second at each end.
	done := make(chan load.Result, 1)
	go func() { done <- load.Saturate(t, *conns, *dur+2*time.Second) }()
	time.Sleep(time.Second)
	prof, perr := fetchProfile(fmt.Sprintf("http://%s/admin/debug/pprof/profile?seconds=%d", gwAdmin, int(dur.Seconds())), adminToken, *dur)
	res := <-done
	if perr != nil {
		return perr
	}
	if res.Errors > 0 || res.Non200 > 0 {
		return fmt.Errorf("pgo: the profiled load had %d errors and %d non-200 answers", res.Errors, res.Non200)
	}
	if err := os.WriteFile(*out, prof, 0o644); err != nil {
		return fmt.Errorf("pgo: %w", err)
	}
	fmt.Printf("pgo: %s, %d bytes, from %.0f req/s for %v\n", *out, len(prof), res.RPS(), *dur)
	return nil
}

func fetchProfile(url, token string, d time.Duration) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: d + 30*time.Second}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("pgo: profile: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("pgo: profile: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("pgo: profile: %s: %.200s", resp.Status, b)
	}
	return b, nil
}
