package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/internal/testkit"
)

// TestBinary builds and runs the real simulator on its embedded defaults
// plus a -listen flag, checks an identity, reads the stats and stops it
// with SIGTERM.
func TestBinary(t *testing.T) {
	sim := testkit.StartSim(t, "IDGATE_SIM_CONFIG=")

	a := testkit.Check(t, sim.URL, "sim-token", `{"name":"张三","id_card":"11010519491231002X"}`)
	if a.Status != 200 || a.Code != string(contracts.ResultConsistent) {
		t.Fatalf("check: %d %s", a.Status, a.Body)
	}
	a = testkit.Check(t, sim.URL, "sim-token", `{"name":"张三","id_card":"11010519491231002X"}`, "Prefer", "result=-5")
	if a.Status != 200 || !strings.Contains(a.Body, `"result":"-5"`) {
		t.Fatalf("prefer: %d %s", a.Status, a.Body)
	}
	a = testkit.Check(t, sim.URL, "wrong", `{}`)
	if a.Status != 401 || !strings.Contains(a.Body, "invalid_token") {
		t.Fatalf("bad token: %d %s", a.Status, a.Body)
	}

	if s := sim.Stats(t); s.Totals.Requests != 3 || s.Tokens["sim-token"].Billed != 1 || s.Totals.Statuses["401"] != 1 {
		t.Fatalf("stats %+v", s)
	}

	sim.Terminate(t)
	if out := sim.Output(); strings.Contains(out, "11010519491231002X") || strings.Contains(out, "张三") {
		t.Errorf("personal data in the log:\n%s", out)
	}
}

// TestBinaryConfigAndEnv runs the binary with the shipped config file and
// environment overrides.
func TestBinaryConfigAndEnv(t *testing.T) {
	root, err := testkit.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	addr := testkit.FreeAddr(t)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testkit.Start(t, testkit.Build(t, "./simulator/cmd/simulator"), []string{"-config", filepath.Join(root, "configs", "simulator.yaml")}, []string{
		"IDGATE_SIM_LISTEN=" + addr,
		"IDGATE_SIM_TOKENS=env-token",
		"IDGATE_SIM_TOKENS_FILE=" + tokens,
	}, "http://"+addr+"/healthz")
	for tok, want := range map[string]int{"env-token": 200, "file-token": 200, "sim-token": 401} {
		if a := testkit.Check(t, "http://"+addr, tok, `{"name":"张三","id_card":"11010519491231002X"}`); a.Status != want {
			t.Errorf("token %s: %d %s, want %d", tok, a.Status, a.Body, want)
		}
	}
}

func TestBinaryRejectsBadConfig(t *testing.T) {
	bin := testkit.Build(t, "./simulator/cmd/simulator")
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(cfg, []byte("body_limit: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-config", cfg, "-listen", testkit.FreeAddr(t)).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "body_limit") {
		t.Errorf("exit %v, output:\n%s", err, out)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8081": true, "localhost:1": true, "[::1]:80": true,
		"0.0.0.0:8081": false, ":8081": false, "10.0.0.5:80": false, "nonsense": false,
	} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v", addr, got)
		}
	}
}
