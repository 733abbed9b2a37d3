package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgate/idgate/internal/testkit"
)

// promConfigDir holds the rules, their unit tests and the example scrape
// config; promDashboard is the Grafana dashboard on the same series.
const (
	promConfigDir = "configs/prometheus"
	promDashboard = "configs/grafana/idgate.json"
)

// needPrometheus returns the paths of promtool and prometheus, or skips
// (fails under CI) when either is missing.
func needPrometheus(t *testing.T) (promtool, prometheus string) {
	t.Helper()
	promtool, err1 := exec.LookPath("promtool")
	prometheus, err2 := exec.LookPath("prometheus")
	testkit.Need(t, err1 == nil && err2 == nil,
		"promtool and prometheus are not installed (make setup installs Debian's prometheus package)")
	return promtool, prometheus
}

// TestPrometheusRules runs promtool on the shipped rules: they parse and
// their unit tests (rules_test.yml: every alert firing and silent) pass.
func TestPrometheusRules(t *testing.T) {
	promtool, _ := needPrometheus(t)
	root, err := testkit.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, promConfigDir)
	for _, args := range [][]string{
		{"check", "rules", "rules.yml"},
		{"test", "rules", "rules_test.yml"},
		{"check", "config", "prometheus.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestPrometheusScrapesBilling runs a real Prometheus against the real
// simulator and gateway, sends a mix of billed, unbilled, failed and
// locally rejected checks, and holds Prometheus's view of the money to the
// other records: the gateway's billed counter and the demo tenant's quota
// gauge equal the billed answers the clients saw, the gateway ledger's billed count (admin usage API) and the
// simulator's billed count (admin stats and its own counter). It also
// lints both /metrics pages with promtool, checks that every series the
// rules and the dashboard read is scraped and that every recording rule
// yields data, so a renamed metric cannot silently empty them.
func TestPrometheusScrapesBilling(t *testing.T) {
	promtool, prometheus := needPrometheus(t)
	root, err := testkit.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(root, promConfigDir, "rules.yml")
	sim, gw := testkit.StartStack(t, "IDGATE_SIM_JOURNAL_ENABLED=false")
	prom := startPrometheus(t, prometheus, rules, gw.AdminURL, sim.URL)

	// Both targets up before the load, so the first scrape sees zeros.
	waitQuery(t, prom, `sum(up{job=~"idgate-gateway|idgate-simulator"})`, 2)

	// One upstream call in five fails: enough for the error-ratio alert to
	// go pending, far below the breaker's failure ratio.
	prefers := []string{"", "", "result=-1", "result=-5", "", "status=500", "", "result=-1", "status=500", ""}
	bodies := []string{checkBody(people[0].name, people[0].id), checkBody(people[2].name, people[2].id),
		checkBody(people[3].name, people[3].id), checkBody("W", people[0].id)}
	const workers, perWorker = 8, 40
	var billed, failed atomic.Int64
	testkit.Load{Workers: workers, PerWorker: perWorker}.Run(func(w, i int) bool {
		n := w*perWorker + i
		a := testkit.Check(t, gw.URL, testkit.DemoKey, bodies[n%len(bodies)], "Prefer", prefers[n%len(prefers)])
		switch {
		case a.Status == http.StatusOK && (a.Code == "0" || a.Code == "-1"):
			billed.Add(1)
		case a.Status == http.StatusInternalServerError:
			failed.Add(1)
		}
		return a.Err == nil
	})
	want := billed.Load()
	if want == 0 || failed.Load() == 0 {
		t.Fatalf("the load produced %d billed and %d failed answers; want some of each", want, failed.Load())
	}

	// Prometheus catches up within a few scrapes; the ledger writes in
	// batches off the request path.
	gwBilled := waitQuery(t, prom, `sum(idgate_gateway_requests_total{class="billed"})`, float64(want))
	gwFailed := waitQuery(t, prom, `sum(idgate_gateway_requests_total{class="upstream_error"})`, float64(failed.Load()))
	simBilled := waitQuery(t, prom, `sum(idgate_simulator_requests_total{status="200",result=~"0|-1"})`, float64(want))
	// The demo tenant's quota gauge counts the same billed answers, over
	// its daily_quota (configs/gateway.yaml, 10,000,000); nothing is in
	// flight once the load is done.
	quotaUsed := waitQuery(t, prom, `round(idgate_gateway_quota_used_ratio{tenant="demo"} * 10000000)`, float64(want))
	var ledgerBilled int64
	if _, ok := waitFor(10*time.Second, func() bool { ledgerBilled = gatewayUsageBilled(t, gw); return ledgerBilled == want }); !ok {
		t.Errorf("ledger billed %d, clients saw %d", ledgerBilled, want)
	}
	stats := sim.Stats(t).Tokens[testkit.SimToken]
	t.Logf("clients billed %d failed %d; prometheus: gateway billed %v upstream_error %v, demo quota used %v, simulator billed %v; ledger %d; simulator stats %d",
		want, failed.Load(), gwBilled, gwFailed, quotaUsed, simBilled, ledgerBilled, stats.Billed)
	if stats.Billed != want {
		t.Errorf("simulator stats billed %d, clients saw %d", stats.Billed, want)
	}

	// Both pages follow Prometheus's naming conventions (promtool's lint:
	// _total only on counters, base units, no reserved names) once every
	// label set the load produced is there.
	lintMetrics(t, promtool, gw.AdminURL+"/metrics")
	lintMetrics(t, promtool, sim.URL+"/metrics")

	// Every raw series the rules and the dashboard read is scraped.
	names := seriesNamed(t, rules, filepath.Join(root, promDashboard))
	if len(names) < 5 {
		t.Fatalf("only %d series found in the rules and the dashboard: %v", len(names), names)
	}
	for _, name := range names {
		if sharedOnly[name] {
			continue
		}
		if v, ok := query(t, prom, `count({__name__="`+name+`"})`); !ok || v == 0 {
			t.Errorf("%s: named by the rules or the dashboard, not scraped", name)
		}
	}
	// Every recording rule evaluates to something on the real series.
	for _, rec := range recordingRules(t, rules) {
		waitPresent(t, prom, `{__name__="`+rec+`"}`)
	}
	// The error-ratio alert's expression matches the real series: pending
	// (it fires only after 5 minutes). Nothing fires.
	waitPresent(t, prom, `ALERTS{alertname="IdgateUpstreamErrorRatioHigh",alertstate="pending",route="check-2e"}`)
	if v, ok := query(t, prom, `count(ALERTS{alertstate="firing"})`); ok {
		t.Errorf("%v alerts firing", v)
	}
}

// sharedOnly are the series only a gateway on the shared stores exports
// (cluster mode); this test runs an embedded one.
var sharedOnly = map[string]bool{"idgate_gateway_store_up": true, "idgate_gateway_store_breaker_open": true}

// startPrometheus runs prometheus on a free port with a temporary storage
// directory, scraping the gateway's admin listener and the simulator every
// 250 ms and evaluating rules as often, and returns its base URL.
func startPrometheus(t *testing.T, bin, rules, gatewayAdminURL, simURL string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 250ms
  scrape_timeout: 250ms
  evaluation_interval: 250ms
rule_files: [%q]
scrape_configs:
  - job_name: idgate-gateway
    static_configs: [{targets: [%q]}]
  - job_name: idgate-simulator
    static_configs: [{targets: [%q]}]
`, rules, strings.TrimPrefix(gatewayAdminURL, "http://"), strings.TrimPrefix(simURL, "http://"))
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var base string
	testkit.StartOnFreePorts(t, bin, nil, func() ([]string, string) {
		addr := testkit.FreeAddr(t)
		base = "http://" + addr
		return []string{"--config.file=" + path, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr, "--log.level=warn"}, base + "/-/ready"
	})
	return base
}

// lintMetrics feeds the exposition at url to promtool check metrics.
func lintMetrics(t *testing.T, promtool, url string) {
	t.Helper()
	status, body := testkit.Call(t, http.MethodGet, url, "", "")
	if status != http.StatusOK {
		t.Fatalf("%s: %d", url, status)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics %s: %v\n%s", url, err, out)
	}
}

// query runs an instant query and returns its single sample's value; ok
// is false when the result is empty. More than one sample fails t.
func query(t *testing.T, prom, q string) (v float64, ok bool) {
	t.Helper()
	status, body := testkit.Call(t, http.MethodGet, prom+"/api/v1/query?query="+url.QueryEscape(q), "", "")
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &r) != nil || r.Status != "success" {
		t.Fatalf("prometheus query %s: %d %s", q, status, body)
	}
	switch len(r.Data.Result) {
	case 0:
		return 0, false
	case 1:
	default:
		t.Fatalf("prometheus query %s: %d samples, want one: %s", q, len(r.Data.Result), body)
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("prometheus query %s: value %q: %v", q, s, err)
	}
	return v, true
}

// waitQuery polls q until it equals want (10 s at most) and returns the
// last value; a different value at the deadline fails t.
func waitQuery(t *testing.T, prom, q string, want float64) float64 {
	t.Helper()
	var v float64
	if _, ok := waitFor(10*time.Second, func() bool { v, _ = query(t, prom, q); return v == want }); !ok {
		t.Errorf("prometheus: %s = %v, want %v", q, v, want)
	}
	return v
}

// waitPresent polls until the selector (a metric name, or a name with
// label matchers) has at least one sample (10 s at most).
func waitPresent(t *testing.T, prom, selector string) {
	t.Helper()
	if _, ok := waitFor(10*time.Second, func() bool { _, ok := query(t, prom, "count("+selector+")"); return ok }); !ok {
		t.Errorf("prometheus: %s has no data", selector)
	}
}

var (
	exprLine   = regexp.MustCompile(`(?m)"?expr"?:\s*(.*)$`)
	seriesName = regexp.MustCompile(`\bidgate_(?:gateway|simulator)_[a-z0-9_]+`)
	recordName = regexp.MustCompile(`(?m)^\s*- record: (\S+)`)
)

// seriesNamed lists the raw idgate series the files' expressions read
// (rules.yml's expr: lines, the dashboard's "expr" members; recording
// rules' names, idgate:…, are not raw series). Expressions are one line.
func seriesNamed(t *testing.T, files ...string) []string {
	t.Helper()
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".json") && !json.Valid(b) {
			t.Errorf("%s is not valid JSON", f)
		}
		for _, m := range exprLine.FindAllStringSubmatch(string(b), -1) {
			out = append(out, seriesName.FindAllString(m[1], -1)...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func recordingRules(t *testing.T, rules string) []string {
	t.Helper()
	b, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range recordName.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatalf("%s: no recording rules found", rules)
	}
	return out
}
