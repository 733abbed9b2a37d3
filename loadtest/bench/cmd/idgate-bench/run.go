package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/gateway/auth"
	gwconfig "github.com/idgate/idgate/gateway/config"
	"github.com/idgate/idgate/loadtest/bench/load"
)

type proc struct {
	name string
	cmd  *exec.Cmd
}

// launcher starts servers for one run, each logging to its own file in
// dir, and stops them all.
type launcher struct {
	dir string
	all []*proc
}

// start runs bin with args and env added to this process's environment,
// and waits until health answers.
func (ln *launcher) start(name, health string, env []string, bin string, a ...string) (*proc, error) {
	cmd := exec.Command(bin, a...)
	cmd.Env = append(os.Environ(), env...)
	logf, err := os.Create(filepath.Join(ln.dir, name+".log"))
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer logf.Close() // the child holds its own descriptor
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd}
	ln.all = append(ln.all, p)
	if err := waitUp(health); err != nil {
		log, _ := os.ReadFile(filepath.Join(ln.dir, name+".log"))
		return nil, fmt.Errorf("%s: %w\n%s", name, err, log)
	}
	return p, nil
}

// simulator starts bin/simulator with its journal off, env added, and
// returns it with its address.
func (ln *launcher) simulator(binDir string, env ...string) (*proc, string, error) {
	addr := free()
	p, err := ln.start("simulator", "http://"+addr+"/healthz",
		append([]string{"IDGATE_SIM_JOURNAL_ENABLED=false", "IDGATE_SIM_LOG_LEVEL=error"}, env...),
		filepath.Join(binDir, "simulator"), "-listen", addr)
	return p, addr, err
}

// gateway starts bin/gateway in front of the simulator at simAddr, with
// the configuration file conf, its own ledger, and env added; it returns
// the process, its address and its admin address.
func (ln *launcher) gateway(name, binDir, simAddr, conf string, env ...string) (p *proc, addr, admin string, err error) {
	addr, admin = free(), free()
	p, err = ln.start(name, "http://"+addr+"/healthz",
		append([]string{"IDGATE_GW_UPSTREAM_URL=http://" + simAddr, "IDGATE_GW_STORE_PATH=" + filepath.Join(ln.dir, name+"-ledger.db"), "IDGATE_GW_LOG_LEVEL=error"}, env...),
		filepath.Join(binDir, "gateway"), "-config", conf, "-listen", addr, "-admin-listen", admin)
	return p, addr, admin, err
}

// stop ends every server started, gently (the gateway flushes its
// ledger), last started first: servers before what they depend on.
func (ln *launcher) stop() {
	for _, p := range slices.Backward(ln.all) {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_, _ = p.cmd.Process.Wait()
	}
}

type target struct {
	name  string
	addr  string
	token string
	procs []*proc // processes whose CPU a request through this target costs
	// bodies overrides the default request mix (the cache-hit path repeats
	// a small set of identities).
	bodies [][]byte
	// tencent, when set, sends the mix in the Tencent Cloud API 3.0
	// dialect.
	tencent *load.Tencent
	// addrs are further replicas behind the same name: the generator
	// splits its connections across addr and addrs.
	addrs []string
	// fronts is how many of procs, from the first, are the server under
	// test (the replicas); 0 means 1. Their CPU is the "front" figure.
	fronts int
	// probe, when set, also measures the shared stores the target uses.
	probe *storeProbe
}

// front is the processes of the server under test.
func (t target) front() []*proc { return t.procs[:max(t.fronts, 1)] }

// gwTencentName is the gateway's check route in the Tencent dialect.
const gwTencentName = "gateway in the Tencent API 3.0 dialect → simulator (miss path)"

// serviceOf is the service an official SDK signs for when pointed at
// addr (host:port).
func serviceOf(addr string) string {
	host, _, _ := strings.Cut(addr, ":")
	return tencent.ServiceOf(host)
}

type measure struct {
	rps, cpuPerReq float64 // cpuPerReq in microseconds, summed over procs
	// okRPS counts answered requests only (200 and no transport error):
	// a target that refuses part of its load fast (503) must not look
	// faster for it.
	okRPS        float64
	frontCPU     float64 // µs/request of the first proc alone
	rssMB        float64 // of the first proc
	errs, non200 int64   // saturation runs
	// fixedFailed: errors and non-200 answers in the fixed-rate runs
	// (their latencies count completed requests only, so a failure must
	// show beside them).
	fixedFailed int64
	p50, p99    time.Duration
	// stores is set for targets on the shared stores: what Redis and
	// PostgreSQL spent on the run, net of their idle rate just before.
	stores *storeUse
	// requests the run completed (stores' figures are per request).
	requests int64
}

// runOpts are run's flags.
type runOpts struct {
	dur, warm     time.Duration
	conns, rounds int
	binDir        string
	// baseDir, when set, holds a gateway built at another revision (see
	// build-base), measured as gateway@base beside the gateway.
	baseDir string
	only    string
	// cluster runs the cluster comparison instead of the default one: the
	// embedded gateway against one and two replicas on the shared stores
	// at redisURL and pgURL.
	cluster         bool
	redisURL, pgURL string
	// privateRedis: -cluster starts a Redis of its own instead of using
	// redisURL, so its CPU and commands are the gateways' alone.
	privateRedis bool
}

func parseRunFlags(args []string) (runOpts, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var o runOpts
	fs.DurationVar(&o.dur, "duration", 8*time.Second, "duration of each saturation run")
	fs.DurationVar(&o.warm, "warmup", 2*time.Second, "warm-up before each run")
	fs.IntVar(&o.conns, "conns", 64, "connections in the closed loop")
	fs.IntVar(&o.rounds, "rounds", 3, "alternating rounds per target; the median counts")
	fs.StringVar(&o.binDir, "bin", "bin", "directory holding simulator and gateway")
	fs.StringVar(&o.baseDir, "base", "", "directory holding a gateway built at another revision (build-base), run as "+short(baseName)+" beside the gateway")
	fs.StringVar(&o.only, "only", "", "comma-separated target names to run (default all)")
	fs.BoolVar(&o.cluster, "cluster", false, "run the cluster comparison instead: the embedded gateway, "+short(gwSharedName)+" and "+short(gwSharedX2Name)+" on the shared stores, with the stores' CPU and Redis round trips and commands per request")
	fs.StringVar(&o.redisURL, "redis-url", envOr("IDGATE_GW_REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis of -cluster (default $IDGATE_GW_REDIS_URL or the local one); a fresh key prefix per target, deleted afterwards")
	fs.BoolVar(&o.privateRedis, "private-redis", false, "with -cluster: start a redis-server of its own (no persistence, a free port) instead of -redis-url, so no other client's commands or CPU enter the figures")
	fs.StringVar(&o.pgURL, "postgres-url", envOr("IDGATE_GW_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL of -cluster (default $IDGATE_GW_POSTGRES_URL or the local one); a fresh schema per target, dropped afterwards")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("run: unexpected arguments %q", fs.Args())
	case o.dur <= 0:
		return o, fmt.Errorf("run: -duration %v: must be positive", o.dur)
	case o.warm < 0:
		return o, fmt.Errorf("run: -warmup %v: must not be negative", o.warm)
	case o.conns < 1:
		return o, fmt.Errorf("run: -conns %d: must be at least 1", o.conns)
	case o.rounds < 1:
		return o, fmt.Errorf("run: -rounds %d: must be at least 1", o.rounds)
	case o.cluster && o.baseDir != "":
		return o, fmt.Errorf("run: -cluster and -base: one comparison at a time")
	}
	if o.baseDir != "" {
		// Measured against the working tree's gateway, so both must exist.
		for _, p := range []string{filepath.Join(o.baseDir, baseBinary), filepath.Join(o.binDir, "gateway")} {
			if fi, err := os.Stat(p); err != nil || fi.IsDir() {
				return o, fmt.Errorf("run: -base %s: no gateway binary at %s (make bench BASE=<rev> builds both)", o.baseDir, p)
			}
		}
	}
	return o, nil
}

func run(args []string) error {
	o, err := parseRunFlags(args)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "idgate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	ln := &launcher{dir: tmp}
	// cleanups run once every server has stopped (the shared stores'
	// spaces of the cluster targets), last added first, as defers.
	var cleanups []func()
	defer func() {
		ln.stop()
		for _, c := range slices.Backward(cleanups) {
			c()
		}
	}()

	// The simulator's key pairs land in sim-keys, for the encrypted path's
	// gateway.
	sim, simAddr, err := ln.simulator(o.binDir, "IDGATE_SIM_ENCRYPTION_KEY_DIR="+filepath.Join(tmp, "sim-keys"))
	if err != nil {
		return err
	}
	var targets []target
	var baseNote string // what gateway@base is, printed above the table
	if o.cluster {
		targets, err = clusterTargets(ln, o, tmp, sim, simAddr, &cleanups)
	} else {
		targets, baseNote, err = standardTargets(ln, o, tmp, self, sim, simAddr)
	}
	if err != nil {
		return err
	}
	if o.only != "" {
		keep := map[string]bool{}
		for _, n := range strings.Split(o.only, ",") {
			keep[strings.TrimSpace(n)] = true
		}
		var kept []target
		for _, t := range targets {
			if keep[t.name] || keep[short(t.name)] {
				kept = append(kept, t)
			}
		}
		targets = kept
	}

	bodies := load.Bodies(20000, 1)
	results := make(map[string][]measure)
	for r := 0; r < o.rounds; r++ {
		for _, t := range inRoundOrder(targets, r, func(t target) string { return t.name }) {
			lt := t.load(bodies)
			var idle storeUse // the stores' own rate with this target idle
			if t.probe != nil {
				idle = t.probe.idle(storeIdleSample)
			}
			load.Saturate(lt, o.conns, o.warm)
			var storesBefore storeSample
			if t.probe != nil {
				storesBefore = t.probe.sample(context.Background())
			}
			before, frontBefore := cpu(t.procs), cpu(t.front())
			res := load.Saturate(lt, o.conns, o.dur)
			used, frontUsed := cpu(t.procs)-before, cpu(t.front())-frontBefore
			perReq := func(d time.Duration) float64 { return d.Seconds() * 1e6 / float64(res.Requests) }
			m := measure{rps: res.RPS(), okRPS: float64(res.Requests-res.Errors-res.Non200) / res.Duration.Seconds(), cpuPerReq: perReq(used), frontCPU: perReq(frontUsed), rssMB: rss(t.procs[0]), errs: res.Errors, non200: res.Non200, requests: res.Requests}
			if t.probe != nil {
				u := t.probe.sample(context.Background()).since(storesBefore).net(idle)
				m.stores = &u
				fmt.Fprintf(os.Stderr, "  stores idle rate before it: redis %d calls/s, redis-server CPU %.1f%%, postgres CPU %.1f%%\n",
					int64(float64(idle.redisCalls)/idle.dur.Seconds()), 100*idle.redisCPU.Seconds()/idle.dur.Seconds(), 100*idle.pgCPU.Seconds()/idle.dur.Seconds())
			}
			results[t.name] = append(results[t.name], m)
			fmt.Fprintf(os.Stderr, "round %d %-50s %9.0f req/s  errors %d  non-200 %d\n", r+1, t.name, m.rps, m.errs, m.non200)
			if res.FirstFailure != "" {
				fmt.Fprintf(os.Stderr, "  first failure: %s\n", res.FirstFailure)
			}
		}
	}
	med := map[string]measure{}
	for name, ms := range results {
		s := slices.Clone(ms) // results stay in round order for the paired ratios
		sort.Slice(s, func(a, b int) bool { return s[a].rps < s[b].rps })
		med[name] = s[len(s)/2]
	}

	// Latency at a fixed arrival rate of half the gateway's capacity, for
	// the gateway and the bare proxy it is judged against, in alternating
	// rounds: on a shared 2-core machine one run's p99 says more about what
	// else the host did in those seconds than about the proxy, so the
	// verdict is the median of the per-round differences.
	//
	// Twice: co-located (every process on every CPU, as the saturation
	// runs), and isolated (the proxy under test alone on half the CPUs, the
	// simulator and this generator on the other half). Co-located, the
	// gateway's extra CPU is taken from the simulator and the generator,
	// whose queues then stretch every request's tail: that measures
	// sharing two cores, not the latency the gateway adds in front of an
	// authority that runs elsewhere. Isolated measures the latter, so the
	// verdict is taken there; both are printed.
	//
	// gateway@base, when present, runs in the same rounds at the same rate,
	// swapping places with the gateway every other round.
	var lat []latency
	latNames := []string{proxyName, gwName}
	if find(targets, baseName).addr != "" {
		latNames = append(latNames, baseName)
	}
	if g, ok := med[gwName]; ok && find(targets, proxyName).addr != "" {
		rate := int(g.rps / 2)
		co, err := latencyRounds(targets, latNames, bodies, rate, max(o.rounds, 3), o.dur, nil)
		if err != nil {
			return err
		}
		lat = append(lat, co)
		if runtime.NumCPU() >= 2 {
			iso, err := latencyRounds(targets, latNames, bodies, rate, max(o.rounds, 5), o.dur, []*proc{sim})
			if err != nil {
				return err
			}
			lat = append(lat, iso)
		}
		for _, l := range lat {
			fmt.Printf("Latency, %s: fixed arrival rate %d req/s (half the gateway's saturation throughput), %d alternating rounds; p99 per round, bare proxy %s; gateway %s",
				l.setup, rate, len(l.added), fmtDurs(l.p99s[proxyName]), fmtDurs(l.p99s[gwName]))
			if len(latNames) > 2 {
				fmt.Printf("; %s %s", short(baseName), fmtDurs(l.p99s[baseName]))
			}
			fmt.Println(".")
		}
		fmt.Println()
		// The table shows the setup the verdict is taken from.
		for _, name := range latNames {
			m := med[name]
			l := lat[len(lat)-1]
			m.p50, m.p99 = median(l.p50s[name]), median(l.p99s[name])
			for _, l := range lat {
				m.fixedFailed += l.failed[name]
			}
			med[name] = m
		}
	}
	// p50 and p99 of every other target: one co-located run each at half
	// its own saturation throughput. No target is set for them; the
	// alternating rounds above are for the gateway's verdict.
	var others []string
	for _, t := range targets {
		m := med[t.name]
		if m.p99 > 0 || m.okRPS < 2 {
			continue
		}
		rate := int(m.okRPS / 2) // half what it answers: failures are not capacity
		res, err := load.FixedRate(t.load(bodies), rate, o.dur)
		if err != nil {
			return err
		}
		m.p50, m.p99 = res.Percentile(50), res.Percentile(99)
		m.fixedFailed = res.Errors + res.Non200
		med[t.name] = m
		others = append(others, fmt.Sprintf("%s at %d req/s", t.name, rate))
		fmt.Fprintf(os.Stderr, "fixed %d req/s co-located %-50s p50 %v p99 %v errors %d non-200 %d\n", rate, t.name, m.p50, m.p99, res.Errors, res.Non200)
		if res.FirstFailure != "" {
			fmt.Fprintf(os.Stderr, "  first failure: %s\n", res.FirstFailure)
		}
	}
	if len(others) > 0 {
		fmt.Printf("p50/p99 in the table: the latency rounds' medians where they ran (above); otherwise one co-located run at half the target's own saturation throughput: %s.\n\n", strings.Join(others, "; "))
	}
	withBase := find(targets, baseName).addr != "" && find(targets, gwName).addr != ""
	if withBase {
		fmt.Printf("%s\n\n", baseNote)
	}
	printTable(os.Stdout, targets, med, results, withBase)
	fmt.Println()
	if o.cluster {
		printCluster(os.Stdout, targets, med, results, o.privateRedis)
	}
	report := func(label string, r float64, per []float64, target float64) {
		if len(per) == 0 {
			return
		}
		if target == 0 {
			fmt.Printf("- %s: %.2f×, median of rounds %s (no target)\n", label, r, fmtRatios(per))
			return
		}
		verdict := "meets"
		if r < target {
			verdict = "MISSES"
		}
		fmt.Printf("- %s: %.2f×, median of rounds %s (target ≥ %s×, %s)\n", label, r, fmtRatios(per), fmtTarget(target), verdict)
	}
	ratio := func(label, a, b string, target float64) {
		r, per := pairedRatio(results[a], results[b])
		report(label, r, per, target)
	}
	ratio("simulator / bare handler", "simulator direct", "bare fasthttp handler", 0.7)
	ratio("gateway / bare proxy", gwName, proxyName, 0.8)
	ratio("gateway cache-hit path / miss path", gwCacheName, gwName, 2.0)
	ratio("gateway encrypted path (terminate, SM2) / plain miss path, a fresh client key per request", gwEncName, gwName, 0)
	ratio("gateway encrypted path (terminate, SM2) / plain miss path, clients reusing their key", gwEncReuseName, gwName, 0.5)
	if a, b := results[gwTencentName], results[gwName]; len(a) > 0 && len(b) > 0 {
		ratio("gateway Tencent dialect / aggregator dialect, miss path, req/s", gwTencentName, gwName, 0.9)
		r, per := pairedCPURatio(a, b)
		report("gateway Tencent dialect / aggregator dialect, miss path, requests per CPU-second of the gateway process", r, per, 0.9)
	}
	ratio("bare fasthttp proxy / nginx (the proxy ceiling against a peer)", proxyName, nginxName, 0)
	ratio("gateway / nginx", gwName, nginxName, 0)
	if withBase {
		r, per := pairedRatio(results[gwName], results[baseName])
		report("gateway / gateway@base, req/s", r, per, baseTarget)
		r, per = pairedCPURatio(results[gwName], results[baseName])
		report("gateway / gateway@base, requests per CPU-second of the gateway process (gateway@base's CPU µs/req over the gateway's)", r, per, baseTarget)
		for _, l := range lat {
			d := pairedDiff(l.p99s[gwName], l.p99s[baseName])
			if len(d) == 0 {
				continue
			}
			fmt.Printf("- gateway p99 minus gateway@base p99 at the fixed rate, %s: %s, median of rounds %s (no target)\n", l.setup, fmtDur(median(d)), fmtDurs(d))
		}
	}
	for i, l := range lat {
		m := median(l.added)
		verdict := "meets"
		if m > time.Millisecond {
			verdict = "MISSES"
		}
		if i < len(lat)-1 {
			verdict = "not the verdict, see isolated"
		}
		fmt.Printf("- gateway p99 added over bare proxy at half capacity, %s: %s, median of rounds %s (target ≤ 1ms, %s)\n", l.setup, fmtDur(m), fmtDurs(l.added), verdict)
	}
	return nil
}

// printTable writes the results as a Markdown table. With gateway@base
// present, two columns compare every round's gateway with gateway@base of
// the same round (higher is better for both); without it, the table is
// the one the harness has always printed.
func printTable(w io.Writer, targets []target, med map[string]measure, results map[string][]measure, withBase bool) {
	head, rule := "| target | req/s | CPU µs/req (all processes) | CPU µs/req (front process) | RSS MiB (front process) | p50 | p99 | failed (saturation / fixed rate) |", "|---|---:|---:|---:|---:|---:|---:|---:|"
	if withBase {
		head += " req/s ÷ gateway@base (paired median) | requests per front CPU-second ÷ gateway@base (paired median) |"
		rule += "---:|---:|"
	}
	fmt.Fprintf(w, "%s\n%s\n", head, rule)
	for _, t := range targets {
		m := med[t.name]
		p50, p99 := "—", "—"
		if m.p99 > 0 {
			p50, p99 = fmtDur(m.p50), fmtDur(m.p99)
		}
		var satFailed int64 // every round's, not only the median one's
		for _, r := range results[t.name] {
			satFailed += r.errs + r.non200
		}
		fmt.Fprintf(w, "| %s | %.0f | %.1f | %.1f | %.1f | %s | %s | %d / %d |", t.name, m.rps, m.cpuPerReq, m.frontCPU, m.rssMB, p50, p99, satFailed, m.fixedFailed)
		if withBase {
			rps, cpu := "—", "—"
			switch t.name {
			case gwName:
				if r, per := pairedRatio(results[gwName], results[baseName]); len(per) > 0 {
					rps = fmt.Sprintf("%.2f×", r)
				}
				if r, per := pairedCPURatio(results[gwName], results[baseName]); len(per) > 0 {
					cpu = fmt.Sprintf("%.2f×", r)
				}
			case baseName:
				rps, cpu = "reference", "reference"
			}
			fmt.Fprintf(w, " %s | %s |", rps, cpu)
		}
		fmt.Fprintln(w)
	}
}

// baseTarget is what gateway / gateway@base must reach, in throughput and
// in requests per CPU-second: a change may cost at most 5%.
const baseTarget = 0.95

// fmtTarget prints a target with the digits it has: 0.8, 2.0, 0.95.
func fmtTarget(t float64) string {
	s := fmt.Sprintf("%.2f", t)
	if strings.HasSuffix(s, "0") {
		s = s[:len(s)-1]
	}
	return s
}

// latency is one setup's fixed-rate rounds.
type latency struct {
	setup      string
	p50s, p99s map[string][]time.Duration
	added      []time.Duration  // gateway p99 minus bare proxy p99, per round
	failed     map[string]int64 // errors and non-200 answers, all rounds
}

// latencyRounds runs the targets names (the bare proxy, the gateway and,
// when present, gateway@base) one after another at a fixed rate, round
// after round, the gateway and gateway@base swapping places every other
// round. With backends set, each proxy runs alone on the upper half of the
// CPUs and the backends and this process on the lower half, for its rounds
// only.
func latencyRounds(targets []target, names []string, bodies [][]byte, rate, rounds int, d time.Duration, backends []*proc) (latency, error) {
	l := latency{setup: "co-located", p50s: map[string][]time.Duration{}, p99s: map[string][]time.Duration{}, failed: map[string]int64{}}
	if backends != nil {
		l.setup = "isolated"
	}
	for r := 0; r < rounds; r++ {
		for _, name := range inRoundOrder(names, r, func(n string) string { return n }) {
			t := find(targets, name)
			restore := func() {}
			if backends != nil {
				var err error
				if restore, err = isolate(t.procs[0], backends); err != nil {
					return l, err
				}
			}
			lt := load.Target{Addr: t.addr, Path: contracts.CheckPath, Token: t.token, Bodies: bodies}
			res, err := load.FixedRate(lt, rate, d)
			restore()
			if err != nil {
				return l, err
			}
			l.p50s[name] = append(l.p50s[name], res.Percentile(50))
			l.p99s[name] = append(l.p99s[name], res.Percentile(99))
			l.failed[name] += res.Errors + res.Non200
			fmt.Fprintf(os.Stderr, "fixed %d req/s %s round %d %-42s p50 %v p99 %v errors %d non-200 %d\n", rate, l.setup, r+1, name, res.Percentile(50), res.Percentile(99), res.Errors, res.Non200)
		}
		l.added = append(l.added, l.p99s[gwName][r]-l.p99s[proxyName][r])
	}
	return l, nil
}

// benchGatewayConfig writes the demo configuration with the demo tenant's
// rate limit and quota raised out of reach: every step still runs on every
// request (the bucket is consulted, the quota reserved and committed), but
// none refuses, so the benchmark measures their cost, not their effect.
// edit, when set, changes the configuration further; the file is name.
func benchGatewayConfig(dir, name string, edit func(*gwconfig.Config)) (string, error) {
	cfg := gwconfig.Default()
	for i := range cfg.Auth.Tenants {
		cfg.Auth.Tenants[i].Rate, cfg.Auth.Tenants[i].Burst = benchRate, benchBurst
		cfg.Auth.Tenants[i].DailyQuota = benchQuota
	}
	if edit != nil {
		edit(&cfg)
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("bench: gateway config: %w", err)
	}
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, b, 0o600)
}

// The tenant limits of the benchmark's gateways: out of the benchmark's
// reach, and the largest the gateway's configuration accepts.
const (
	benchRate  = auth.MaxRate
	benchBurst = auth.MaxBurst
	benchQuota = auth.MaxDailyQuota
)

// findNginx looks on PATH, then where Debian's package puts it (/usr/sbin
// is not on every user's PATH).
func findNginx() (string, bool) {
	for _, name := range []string{"nginx", "/usr/sbin/nginx"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// The gateway on the miss path, the bare proxy it is judged against, and
// the gateway of another revision (run -base) it is compared with.
const (
	gwName    = "gateway → simulator (miss path, every step on)"
	proxyName = "bare fasthttp proxy → simulator"
	baseName  = "gateway@base → simulator (miss path, every step on)"
)

// inRoundOrder is the order items run in round r (counted from 0): as
// given, except that in every other round the gateway and gateway@base
// swap places, so neither always runs first after the other targets'
// load, nor always right after the other's.
func inRoundOrder[T any](items []T, r int, name func(T) string) []T {
	if r%2 == 0 {
		return items
	}
	g, b := -1, -1
	for i, it := range items {
		switch name(it) {
		case gwName:
			g = i
		case baseName:
			b = i
		}
	}
	if g < 0 || b < 0 {
		return items
	}
	out := slices.Clone(items)
	out[g], out[b] = out[b], out[g]
	return out
}

// nginxName is the peer proxy, when nginx is installed.
const nginxName = "nginx proxy → simulator"

// gwCacheName is the cache-hit target: the gateway with its response
// cache on, asked the same 16 identities again and again.
const gwCacheName = "gateway cache-hit path → simulator (16 identities)"

func find(ts []target, name string) target {
	for _, t := range ts {
		if t.name == name {
			return t
		}
	}
	return target{}
}

func short(name string) string { return strings.Fields(name)[0] }

// load is what the generator sends t: its own bodies, or the default mix.
func (t target) load(bodies [][]byte) load.Target {
	if t.bodies != nil {
		bodies = t.bodies
	}
	if t.tencent != nil {
		tb, err := load.TencentBodies(bodies)
		if err != nil {
			panic(err) // the generator's own bodies: a bug, not input
		}
		return load.Target{Addr: t.addr, Addrs: t.addrs, Bodies: tb, Tencent: t.tencent}
	}
	return load.Target{Addr: t.addr, Addrs: t.addrs, Path: contracts.CheckPath, Token: t.token, Bodies: bodies}
}

// pairedRatio is the median over rounds of a's throughput over b's in the
// same round. The host's speed drifts from minute to minute; a target and
// its reference measured seconds apart in one round share that drift,
// where medians taken over all rounds separately can pair a fast round of
// one with a slow round of the other. An even count takes the midpoint.
func pairedRatio(a, b []measure) (ratio float64, per []float64) {
	return paired(a, b, func(x, y measure) (float64, bool) { return x.rps / y.rps, y.rps > 0 })
}

// pairedCPURatio is pairedRatio of requests per CPU-second of the front
// process: b's CPU µs/request over a's, so that, as for throughput, above
// 1 means a does better. Rounds where either spent no measurable CPU are
// skipped.
func pairedCPURatio(a, b []measure) (ratio float64, per []float64) {
	return paired(a, b, func(x, y measure) (float64, bool) { return y.frontCPU / x.frontCPU, x.frontCPU > 0 && y.frontCPU > 0 })
}

// paired is the median over rounds of f of a's and b's measures of the
// same round, the rounds where f is defined; per is every round's.
func paired(a, b []measure, f func(x, y measure) (float64, bool)) (ratio float64, per []float64) {
	for i := range min(len(a), len(b)) {
		if v, ok := f(a[i], b[i]); ok {
			per = append(per, v)
		}
	}
	if len(per) == 0 {
		return 0, nil
	}
	return median(per), per
}

// pairedDiff is a[i] − b[i] for the rounds both have.
func pairedDiff(a, b []time.Duration) []time.Duration {
	d := make([]time.Duration, 0, min(len(a), len(b)))
	for i := range min(len(a), len(b)) {
		d = append(d, a[i]-b[i])
	}
	return d
}

func fmtRatios(rs []float64) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%.2f×", r)
	}
	return strings.Join(parts, ", ")
}

// median of xs, not reordered; an even count takes the midpoint.
func median[T ~int64 | ~float64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

func fmtDurs(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmtDur(d)
	}
	return strings.Join(parts, ", ")
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

// handedOut remembers the ports free has returned: the kernel may give a
// closed port out again at once, and two servers told the same port made
// a run fail at start.
var handedOut = map[string]bool{}

func free() string {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		addr := l.Addr().String()
		l.Close()
		if !handedOut[addr] {
			handedOut[addr] = true
			return addr
		}
	}
}

func waitUp(url string) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return nil // any answer: the bare servers have no health route
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not up at %s", url)
}

// cpu is the user+system time of ps and their children: nginx serves from
// worker processes, and its master alone would count as idle.
func cpu(ps []*proc) time.Duration {
	var total time.Duration
	for _, p := range ps {
		for _, pid := range family(p.cmd.Process.Pid) {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil {
				continue
			}
			// Fields after the parenthesised command name; utime and stime
			// are fields 14 and 15 of the whole line.
			s := string(b)
			f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
			ut, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			total += time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
		}
	}
	return total
}

// rss is the resident memory of p and its children, summed (pages they
// share count once per process).
func rss(p *proc) float64 {
	var mb float64
	for _, pid := range family(p.cmd.Process.Pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
				mb += kb / 1024
			}
		}
	}
	return mb
}

// family is pid and its direct children (the kernel lists each thread's
// children; a process's children hang off its main thread or others).
func family(pid int) []int {
	out := []int{pid}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

func nginxConf(listen, upstream, dir string) string {
	return fmt.Sprintf(`worker_processes 2;
error_log %[3]s/nginx-error.log error;
pid %[3]s/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[3]s;
  proxy_temp_path %[3]s;
  upstream sim { server %[2]s; keepalive 128; }
  server {
    listen %[1]s;
    location = /healthz { proxy_pass http://sim; }
    location / {
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://sim;
    }
  }
}
`, listen, upstream, dir)
}

// standardTargets starts the servers of the default comparison (bare
// handler, bare proxy, the gateway on its paths, gateway@base, nginx) in
// front of the simulator at simAddr and returns them as targets, with
// what gateway@base is (empty without -base).
func standardTargets(ln *launcher, o runOpts, tmp, self string, sim *proc, simAddr string) ([]target, string, error) {
	var baseNote string // what gateway@base is, printed above the table
	bareAddr, proxyAddr := free(), free()
	bare, err := ln.start("bare-handler", "http://"+bareAddr+"/", nil, self, "bare-handler", "-listen", bareAddr)
	if err != nil {
		return nil, "", err
	}
	proxy, err := ln.start("bare-proxy", "http://"+proxyAddr+"/healthz", nil, self, "bare-proxy", "-listen", proxyAddr, "-upstream", simAddr)
	if err != nil {
		return nil, "", err
	}
	targets := []target{
		{name: "bare fasthttp handler", addr: bareAddr, procs: []*proc{bare}},
		{name: "simulator direct", addr: simAddr, token: "sim-token", procs: []*proc{sim}},
		{name: "bare fasthttp proxy → simulator", addr: proxyAddr, token: "sim-token", procs: []*proc{proxy, sim}},
	}
	if _, err := os.Stat(filepath.Join(o.binDir, "gateway")); err == nil {
		gwConf, err := benchGatewayConfig(tmp, "gateway.yaml", nil)
		if err != nil {
			return nil, "", err
		}
		gw, gwAddr, _, err := ln.gateway("gateway", o.binDir, simAddr, gwConf)
		if err != nil {
			return nil, "", err
		}
		targets = append(targets, target{name: gwName, addr: gwAddr, token: "demo-key", procs: []*proc{gw, sim}})
		// The same gateway and route in the Tencent Cloud API 3.0 dialect:
		// IdCardVerification signed with the demo key's pair, forwarded to
		// the simulator in the aggregator's.
		targets = append(targets, target{name: gwTencentName, addr: gwAddr, procs: []*proc{gw, sim}, tencent: &load.Tencent{
			Action: tencent.ActionIdCardVerification,
			Signer: &tencent.Signer{SecretID: "demo-secret-id", SecretKey: "demo-secret-key", Service: serviceOf(gwAddr)},
		}})
		if o.baseDir != "" {
			// The gateway of another revision on the same path, same
			// simulator, same load; listed next to the gateway, the two
			// swap places every other round.
			conf, own, err := baseGatewayConfig(tmp, o.baseDir, gwConf)
			if err != nil {
				return nil, "", err
			}
			gwb, baseAddr, _, err := ln.gateway("gateway-base", o.baseDir, simAddr, conf)
			if err != nil {
				return nil, "", err
			}
			targets = append(targets, target{name: baseName, addr: baseAddr, token: "demo-key", procs: []*proc{gwb, sim}})
			which := "its revision's configs/gateway.yaml"
			if !own {
				which = "the working tree's configuration (" + filepath.Join(o.baseDir, baseConfig) + " is absent)"
			}
			baseNote = fmt.Sprintf("%s: %s, built at %s; run with %s, tenant limits raised as for the gateway.",
				short(baseName), filepath.Join(o.baseDir, baseBinary), baseLabel(o.baseDir), which)
		}
		// The same gateway with the response cache on, asked 16
		// identities over and over: after the first 16 misses every
		// request is a hit.
		gwc, cacheAddr, _, err := ln.gateway("gateway-cache", o.binDir, simAddr, gwConf,
			"IDGATE_GW_CACHE_ENABLED=true", "IDGATE_GW_CACHE_KEY_SECRET=idgate-bench-cache-secret")
		if err != nil {
			return nil, "", err
		}
		targets = append(targets, target{name: gwCacheName, addr: cacheAddr, token: "demo-key", procs: []*proc{gwc, sim}, bodies: load.Bodies(16, 1)})
		// The encrypted path: the check route in terminate mode,
		// every request sealed for the gateway with SM2/SM4-GCM; the gateway
		// opens it, validates and bills on the plaintext, and seals it
		// afresh for the simulator, which opens it too.
		enc, err := setUpEncrypted(tmp, filepath.Join(tmp, "sim-keys"))
		if err != nil {
			return nil, "", err
		}
		gwe, encAddr, _, err := ln.gateway("gateway-encrypted", o.binDir, simAddr, enc.fresh.config)
		if err != nil {
			return nil, "", err
		}
		targets = append(targets, target{name: gwEncName, addr: encAddr, token: "demo-key", procs: []*proc{gwe, sim}, bodies: enc.fresh.bodies})
		gwr, reuseAddr, _, err := ln.gateway("gateway-encrypted-reuse", o.binDir, simAddr, enc.reuse.config)
		if err != nil {
			return nil, "", err
		}
		targets = append(targets, target{name: gwEncReuseName, addr: reuseAddr, token: "demo-key", procs: []*proc{gwr, sim}, bodies: enc.reuse.bodies})
	}
	if nginxBin, ok := findNginx(); ok {
		nginxAddr := free()
		conf := filepath.Join(tmp, "nginx.conf")
		if err := os.WriteFile(conf, []byte(nginxConf(nginxAddr, simAddr, tmp)), 0o600); err != nil {
			return nil, "", err
		}
		ng, err := ln.start("nginx", "http://"+nginxAddr+"/healthz", nil, nginxBin, "-c", conf, "-p", tmp, "-g", "daemon off;")
		if err != nil {
			return nil, "", err
		}
		targets = append(targets, target{name: nginxName, addr: nginxAddr, token: "sim-token", procs: []*proc{ng, sim}})
	}
	return targets, baseNote, nil
}
