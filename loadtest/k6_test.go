// Package loadtest runs the k6 smoke script against the real binaries, so
// the scripts users run for capacity tests are themselves tested.
package loadtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/idgate/idgate/internal/testbin"
	"github.com/idgate/idgate/internal/testenv"
	"github.com/idgate/idgate/loadtest/bench/load"
)

// k6Binary finds the pinned k6 that `make setup` installs into bin/.
func k6Binary(t *testing.T) string {
	root, err := testbin.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if p := filepath.Join(root, "bin", "k6"); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath("k6"); err == nil {
		return p
	}
	msg := "k6 not found: run `make setup` (installs go.k6.io/k6@v1.8.1 into bin/)"
	if testenv.CI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// stack starts the simulator and the gateway in front of it on free ports
// and returns the gateway's base URL.
func stack(t *testing.T) (gatewayURL, simulatorURL string) {
	gw, sim, _ := stackWithAdmin(t)
	return gw, sim
}

// stackWithAdmin is stack plus the gateway's admin URL; simEnv is added to
// the simulator's environment.
func stackWithAdmin(t *testing.T, simEnv ...string) (gatewayURL, simulatorURL, adminURL string) {
	t.Helper()
	simAddr, gwAddr, adminAddr := testbin.FreeAddr(t), testbin.FreeAddr(t), testbin.FreeAddr(t)
	sim := testbin.Build(t, "./simulator/cmd/simulator")
	gw := testbin.Build(t, "./gateway/cmd/gateway")
	testbin.Start(t, sim, []string{"-listen", simAddr}, simEnv, "http://"+simAddr+"/healthz")
	testbin.Start(t, gw, []string{"-listen", gwAddr, "-admin-listen", adminAddr},
		[]string{"IDGATE_GW_UPSTREAM_URL=http://" + simAddr, "IDGATE_GW_STORE_PATH=" + filepath.Join(t.TempDir(), "ledger.db")},
		"http://"+gwAddr+"/healthz")
	return "http://" + gwAddr, "http://" + simAddr, "http://" + adminAddr
}

func runK6(t *testing.T, script string, env ...string) {
	t.Helper()
	k6 := k6Binary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data.json")
	f, err := os.Create(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := load.WriteData(f, 2000, 7); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cmd := exec.Command(k6, "run", "--quiet", "--no-usage-report", filepath.Join("k6", script))
	cmd.Env = append(os.Environ(), append(env, "DATA_FILE="+data, "RESULTS_DIR="+dir, "K6_NO_USAGE_REPORT=true")...)
	out, err := cmd.CombinedOutput()
	t.Logf("k6 %s:\n%s", script, out)
	if err != nil {
		t.Fatalf("k6 %s failed: %v", script, err)
	}
	if !fileExists(filepath.Join(dir, script[:len(script)-3]+"-summary.json")) {
		t.Fatalf("handleSummary wrote no JSON summary")
	}
}

func TestK6SmokeThroughGateway(t *testing.T) {
	gw, _ := stack(t)
	runK6(t, "smoke.js", "BASE_URL="+gw, "API_KEY=demo-key", "GATEWAY=true")
}

func TestK6SmokeAgainstSimulator(t *testing.T) {
	addr := testbin.FreeAddr(t)
	sim := testbin.Build(t, "./simulator/cmd/simulator")
	testbin.Start(t, sim, []string{"-listen", addr}, nil, "http://"+addr+"/healthz")
	runK6(t, "smoke.js", "BASE_URL=http://"+addr, "API_KEY=sim-token", "GATEWAY=false")
}

// The quota script admits exactly QUOTA billed answers under 32 concurrent
// clients; its thresholds fail the run otherwise.
func TestK6QuotaThroughGateway(t *testing.T) {
	gw, _, admin := stackWithAdmin(t)
	runK6(t, "quota.js", "BASE_URL="+gw, "ADMIN_URL="+admin, "QUOTA=40", "VUS=32", "REQUESTS=120")
}

// The cache script at a low rate: every answer correct, hot and cold
// latencies within their thresholds.
func TestK6CacheThroughGateway(t *testing.T) {
	gw, _ := stack(t)
	runK6(t, "cache.js", "BASE_URL="+gw, "RATE=100", "DURATION=4s", "HOT=50")
}
