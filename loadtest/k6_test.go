// Package loadtest runs the k6 smoke script against the real binaries, so
// the scripts users run for capacity tests are themselves tested.
package loadtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/idgate/idgate/internal/testkit"
	"github.com/idgate/idgate/loadtest/bench/load"
)

// k6Binary finds the pinned k6 that `make setup` installs into bin/.
func k6Binary(t *testing.T) string {
	root, err := testkit.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if p := filepath.Join(root, "bin", "k6"); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath("k6"); err == nil {
		return p
	}
	testkit.Need(t, false, "k6 not found: run `make setup` (installs go.k6.io/k6@v1.8.1 into bin/)")
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
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
	_, gw := testkit.StartStack(t)
	runK6(t, "smoke.js", "BASE_URL="+gw.URL, "API_KEY="+testkit.DemoKey, "GATEWAY=true")
}

func TestK6SmokeAgainstSimulator(t *testing.T) {
	sim := testkit.StartSim(t)
	runK6(t, "smoke.js", "BASE_URL="+sim.URL, "API_KEY="+testkit.SimToken, "GATEWAY=false")
}

// The quota script admits exactly QUOTA billed answers under 32 concurrent
// clients; its thresholds fail the run otherwise.
func TestK6QuotaThroughGateway(t *testing.T) {
	_, gw := testkit.StartStack(t)
	runK6(t, "quota.js", "BASE_URL="+gw.URL, "ADMIN_URL="+gw.AdminURL, "QUOTA=40", "VUS=32", "REQUESTS=120")
}

// The cache script at a low rate: every answer correct, hot and cold
// latencies within their thresholds.
func TestK6CacheThroughGateway(t *testing.T) {
	_, gw := testkit.StartStack(t)
	runK6(t, "cache.js", "BASE_URL="+gw.URL, "RATE=100", "DURATION=4s", "HOT=50")
}
