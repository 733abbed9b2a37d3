package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/internal/testbin"
	"github.com/idgate/idgate/simulator/stats"
)

func post(t *testing.T, url, token, body string, header ...string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestBinary builds and runs the real simulator on its embedded defaults
// plus a -listen flag, checks an identity, reads the stats and stops it
// with SIGTERM.
func TestBinary(t *testing.T) {
	bin := testbin.Build(t, "./simulator/cmd/simulator")
	addr := testbin.FreeAddr(t)
	p := testbin.Start(t, bin, []string{"-listen", addr}, []string{"IDGATE_SIM_CONFIG="}, "http://"+addr+"/healthz")
	base := "http://" + addr

	st, b := post(t, base+contracts.CheckPath, "sim-token", `{"name":"张三","id_card":"11010519491231002X"}`)
	var r contracts.CheckResponse
	if st != 200 || json.Unmarshal(b, &r) != nil || r.Result != contracts.ResultConsistent {
		t.Fatalf("check: %d %s", st, b)
	}
	st, b = post(t, base+contracts.CheckPath, "sim-token", `{"name":"张三","id_card":"11010519491231002X"}`, "Prefer", "result=-5")
	if st != 200 || !strings.Contains(string(b), `"result":"-5"`) {
		t.Fatalf("prefer: %d %s", st, b)
	}
	st, b = post(t, base+contracts.CheckPath, "wrong", `{}`)
	if st != 401 || !strings.Contains(string(b), "invalid_token") {
		t.Fatalf("bad token: %d %s", st, b)
	}

	req, _ := http.NewRequest(http.MethodGet, base+"/admin/stats", nil)
	req.Header.Set("Authorization", "Bearer sim-admin-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var s stats.Snapshot
	err = json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	if err != nil || s.Totals.Requests != 3 || s.Tokens["sim-token"].Billed != 1 || s.Totals.Statuses["401"] != 1 {
		t.Fatalf("stats %+v (%v)", s, err)
	}

	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(15 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.Output())
	}
	if out := p.Output(); strings.Contains(out, "11010519491231002X") || strings.Contains(out, "张三") {
		t.Errorf("personal data in the log:\n%s", out)
	}
}

// TestBinaryConfigAndEnv runs the binary with the shipped config file and
// environment overrides.
func TestBinaryConfigAndEnv(t *testing.T) {
	bin := testbin.Build(t, "./simulator/cmd/simulator")
	root, err := testbin.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	addr := testbin.FreeAddr(t)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testbin.Start(t, bin, []string{"-config", filepath.Join(root, "configs", "simulator.yaml")}, []string{
		"IDGATE_SIM_LISTEN=" + addr,
		"IDGATE_SIM_TOKENS=env-token",
		"IDGATE_SIM_TOKENS_FILE=" + tokens,
	}, "http://"+addr+"/healthz")
	for tok, want := range map[string]int{"env-token": 200, "file-token": 200, "sim-token": 401} {
		if st, b := post(t, "http://"+addr+contracts.CheckPath, tok, `{"name":"张三","id_card":"11010519491231002X"}`); st != want {
			t.Errorf("token %s: %d %s, want %d", tok, st, b, want)
		}
	}
}

func TestBinaryRejectsBadConfig(t *testing.T) {
	bin := testbin.Build(t, "./simulator/cmd/simulator")
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(cfg, []byte("body_limit: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-config", cfg, "-listen", testbin.FreeAddr(t)).CombinedOutput()
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
