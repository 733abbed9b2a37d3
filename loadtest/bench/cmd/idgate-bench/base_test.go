package main

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	gwconfig "github.com/idgate/idgate/gateway/config"
)

func TestParseBuildBaseFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    baseOpts
		wantErr string
	}{
		{name: "defaults", args: []string{"-rev", "main"}, want: baseOpts{rev: "main", out: "bin/base", repo: "."}},
		{name: "every flag", args: []string{"-rev", "HEAD~1", "-o", "/tmp/b", "-repo", "/src", "-go", "go1.26"},
			want: baseOpts{rev: "HEAD~1", out: "/tmp/b", repo: "/src", gotc: "go1.26"}},
		{name: "no revision", args: nil, wantErr: "-rev is required"},
		{name: "empty revision", args: []string{"-rev", ""}, wantErr: "-rev is required"},
		// git would take it for an option.
		{name: "revision like an option", args: []string{"-rev", "--force"}, wantErr: "must not start with '-'"},
		{name: "no output directory", args: []string{"-rev", "main", "-o", ""}, wantErr: "-o must name"},
		{name: "stray argument", args: []string{"-rev", "main", "extra"}, wantErr: "unexpected arguments"},
		{name: "unknown flag", args: []string{"-revision", "main"}, wantErr: "not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseBuildBaseFlags(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseRunFlags(t *testing.T) {
	dir := t.TempDir()
	bin, base, empty := filepath.Join(dir, "bin"), filepath.Join(dir, "base"), filepath.Join(dir, "empty")
	for _, d := range []string{bin, base, empty} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(bin, "gateway"), filepath.Join(base, "gateway")} {
		if err := os.WriteFile(f, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// Without -base, the defaults `make bench` has always run with (the
	// stores' URLs serve -cluster only).
	t.Setenv("IDGATE_GW_REDIS_URL", "")
	t.Setenv("IDGATE_GW_POSTGRES_URL", "")
	const redisURL, pgURL = "redis://127.0.0.1:6379/0", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	o, err := parseRunFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (runOpts{dur: 8 * time.Second, warm: 2 * time.Second, conns: 64, rounds: 3, binDir: "bin", redisURL: redisURL, pgURL: pgURL}); o != want {
		t.Errorf("defaults %+v, want %+v", o, want)
	}

	o, err = parseRunFlags([]string{"-bin", bin, "-base", base, "-duration", "2s", "-rounds", "1", "-only", "gateway,gateway@base"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (runOpts{dur: 2 * time.Second, warm: 2 * time.Second, conns: 64, rounds: 1, binDir: bin, baseDir: base, only: "gateway,gateway@base", redisURL: redisURL, pgURL: pgURL}); o != want {
		t.Errorf("got %+v, want %+v", o, want)
	}

	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "base without its gateway", args: []string{"-bin", bin, "-base", empty}, wantErr: "no gateway binary at " + filepath.Join(empty, "gateway")},
		// gateway@base is only measured against the working tree's gateway.
		{name: "base without the gateway", args: []string{"-bin", empty, "-base", base}, wantErr: "no gateway binary at " + filepath.Join(empty, "gateway")},
		{name: "zero rounds", args: []string{"-rounds", "0"}, wantErr: "-rounds 0"},
		{name: "zero duration", args: []string{"-duration", "0s"}, wantErr: "-duration 0s"},
		{name: "no connections", args: []string{"-conns", "0"}, wantErr: "-conns 0"},
		{name: "stray argument", args: []string{"-base", base, "main"}, wantErr: "unexpected arguments"},
		{name: "bad duration", args: []string{"-duration", "two"}, wantErr: "invalid value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseRunFlags(tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestBaseBuildCommands(t *testing.T) {
	eq := func(t *testing.T, c command, want ...string) {
		t.Helper()
		if !slices.Equal(c.args, want) {
			t.Errorf("command %q, want %q", c.args, want)
		}
	}
	eq(t, resolveCmd("/src", "HEAD~1"), "git", "-C", "/src", "rev-parse", "--verify", "--quiet", "--end-of-options", "HEAD~1^{commit}")
	eq(t, describeCmd("/src", "abc"), "git", "-C", "/src", "log", "-1", "--format=%H %cs %s", "abc")
	// Detached: no branch is created or moved.
	eq(t, worktreeAddCmd("/src", "/tmp/x/src", "abc"), "git", "-C", "/src", "worktree", "add", "--detach", "--quiet", "/tmp/x/src", "abc")
	eq(t, worktreeRemoveCmd("/src", "/tmp/x/src"), "git", "-C", "/src", "worktree", "remove", "--force", "/tmp/x/src")

	environ := []string{"PATH=/usr/bin", "MAKEFLAGS=BIN=out -j2", "MFLAGS=-j2", "MAKELEVEL=1", "MAKEOVERRIDES=${-*-command-variables-*-}", "GNUMAKEFLAGS=", "GOFLAGS=-buildvcs=false", "MAKEFLAGSX=kept"}
	c := makeBuildCmd("/tmp/x/src", "", environ)
	eq(t, c, "make", "-C", "/tmp/x/src", "build")
	if want := []string{"PATH=/usr/bin", "GOFLAGS=-buildvcs=false", "MAKEFLAGSX=kept"}; !slices.Equal(c.env, want) {
		t.Errorf("make's environment %q, want %q (the calling make's variables withheld)", c.env, want)
	}
	eq(t, makeBuildCmd("/tmp/x/src", "go1.26", environ), "make", "-C", "/tmp/x/src", "build", "GO=go1.26")
}

// buildBase against a throwaway repository whose `make build` writes a
// stand-in gateway: the base directory gets the revision's binary,
// configuration and label, and the temporary worktree is gone afterwards,
// whether the build succeeded or failed.
func TestBuildBase(t *testing.T) {
	for _, tool := range []string{"git", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool, "not installed")
		}
	}
	repo := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q", "-b", "main")
	write("Makefile", "build:\n\tmkdir -p bin && printf 'gateway v1' > bin/gateway\n")
	write("configs/gateway.yaml", "tenants: []\n")
	git("add", ".")
	git("commit", "-q", "-m", "first")
	first := git("rev-parse", "HEAD")
	write("Makefile", "build:\n\texit 3\n")
	git("commit", "-q", "-am", "broken build")

	worktrees := func() int { return strings.Count(git("worktree", "list", "--porcelain"), "worktree ") }
	out := filepath.Join(t.TempDir(), "base")
	if err := buildBase([]string{"-rev", "HEAD~1", "-o", out, "-repo", repo}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"gateway": "gateway v1", "gateway.yaml": "tenants: []\n"} {
		if b, err := os.ReadFile(filepath.Join(out, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
	if l := baseLabel(out); !strings.HasPrefix(l, first+" ") || !strings.HasSuffix(l, " first") {
		t.Errorf("label %q, want the commit %s and its subject", l, first)
	}
	if n := worktrees(); n != 1 {
		t.Errorf("%d worktrees after the build, want the repository's own only", n)
	}

	// A failed build leaves no worktree, and no gateway of the previous
	// revision to be taken for this one.
	if err := buildBase([]string{"-rev", "main", "-o", out, "-repo", repo}); err == nil || !strings.Contains(err.Error(), "make") {
		t.Fatalf("error %v, want the failed make", err)
	}
	if n := worktrees(); n != 1 {
		t.Errorf("%d worktrees after a failed build, want the repository's own only", n)
	}
	for _, name := range []string{"gateway", "gateway.yaml", "REVISION"} {
		if _, err := os.Stat(filepath.Join(out, name)); !os.IsNotExist(err) {
			t.Errorf("%s after a failed build: %v, want it removed", name, err)
		}
	}

	if err := buildBase([]string{"-rev", "no-such-branch", "-o", out, "-repo", repo}); err == nil || !strings.Contains(err.Error(), "names no commit") {
		t.Fatalf("error %v, want an unknown revision", err)
	}
}

// Both gateways run the same configuration when their revisions agree:
// the base's, edited as YAML, equals the working tree's, built from
// gwconfig.Default.
func TestRaiseTenantLimitsMatchesBenchConfig(t *testing.T) {
	demo, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "configs", "gateway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	raised, err := raiseTenantLimits(demo)
	if err != nil {
		t.Fatal(err)
	}
	got, err := gwconfig.Parse(raised)
	if err != nil {
		t.Fatalf("the edited configuration does not parse: %v\n%s", err, raised)
	}
	p, err := benchGatewayConfig(t.TempDir(), "gateway.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want, err := gwconfig.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	// Compared as YAML: a list or map written empty in the file and one
	// left out of Default differ only as nil and empty, which the gateway
	// treats alike.
	gy, err := yaml.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	wy, err := yaml.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gy, wy) {
		t.Errorf("base configuration\n%s\nwant the gateway's\n%s", gy, wy)
	}
}

func TestRaiseTenantLimits(t *testing.T) {
	in := "listen: 127.0.0.1:1\ntenants:\n  - id: a\n    rate: 5 # per second\n  - id: b\n    burst: 2\n    daily_quota: 9\n"
	out, err := raiseTenantLimits([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	c, err := gwconfig.Parse(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if c.Listen != "127.0.0.1:1" || len(c.Auth.Tenants) != 2 {
		t.Fatalf("other settings changed: %+v", c)
	}
	for _, tn := range c.Auth.Tenants {
		if tn.Rate != benchRate || tn.Burst != benchBurst || tn.DailyQuota != benchQuota {
			t.Errorf("tenant %s: rate %v burst %d quota %d, want every limit raised", tn.ID, tn.Rate, tn.Burst, tn.DailyQuota)
		}
	}
	if !bytes.Contains(out, []byte("# per second")) {
		t.Errorf("comment lost:\n%s", out)
	}
	for _, bad := range []string{"listen: x\n", "tenants: []\n", "- a\n", "tenants:\n  - x\n", "tenants: [\n"} {
		if _, err := raiseTenantLimits([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestBaseGatewayConfigFallsBack(t *testing.T) {
	dir := t.TempDir()
	p, own, err := baseGatewayConfig(dir, dir, "fallback.yaml")
	if err != nil || own || p != "fallback.yaml" {
		t.Errorf("without gateway.yaml: %q, own %v, %v; want the fallback", p, own, err)
	}
	if err := os.WriteFile(filepath.Join(dir, baseConfig), []byte("tenants:\n  - id: a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, own, err = baseGatewayConfig(dir, dir, "fallback.yaml")
	if err != nil || !own || p != filepath.Join(dir, "gateway-base.yaml") {
		t.Errorf("with gateway.yaml: %q, own %v, %v; want the edited copy", p, own, err)
	}
}

func TestPairedCPURatio(t *testing.T) {
	cpu := func(vs ...float64) []measure {
		ms := make([]measure, len(vs))
		for i, v := range vs {
			ms[i].frontCPU = v
		}
		return ms
	}
	for _, tc := range []struct {
		name    string
		a, b    []measure
		want    float64
		wantPer []float64
	}{
		{name: "no rounds", want: 0},
		// a spends 60 µs where b spent 50: b's cost over a's, below 1.
		{name: "costlier is below one", a: cpu(60), b: cpu(50), want: 50.0 / 60, wantPer: []float64{50.0 / 60}},
		{name: "cheaper is above one", a: cpu(40), b: cpu(50), want: 1.25, wantPer: []float64{1.25}},
		{name: "pairs share a round's drift", a: cpu(50, 100), b: cpu(50, 100), want: 1, wantPer: []float64{1, 1}},
		{name: "odd count takes the middle", a: cpu(50, 50, 50), b: cpu(40, 60, 50), want: 1, wantPer: []float64{0.8, 1.2, 1}},
		{name: "rounds without CPU are skipped", a: cpu(0, 50, 40), b: cpu(50, 0, 50), want: 1.25, wantPer: []float64{1.25}},
		{name: "unpaired rounds are skipped", a: cpu(50, 50), b: cpu(50), want: 1, wantPer: []float64{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, per := pairedCPURatio(tc.a, tc.b)
			if math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("ratio %v, want %v", got, tc.want)
			}
			if !slices.EqualFunc(per, tc.wantPer, func(x, y float64) bool { return math.Abs(x-y) < 1e-9 }) {
				t.Errorf("per round %v, want %v", per, tc.wantPer)
			}
		})
	}
}

func TestPairedDiff(t *testing.T) {
	got := pairedDiff([]time.Duration{5, 3, 9}, []time.Duration{4, 4})
	if want := []time.Duration{1, -1}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestInRoundOrder(t *testing.T) {
	id := func(s string) string { return s }
	names := []string{"bare fasthttp handler", gwName, baseName, gwCacheName}
	swapped := []string{"bare fasthttp handler", baseName, gwName, gwCacheName}
	for r, want := range [][]string{names, swapped, names, swapped} {
		if got := inRoundOrder(names, r, id); !slices.Equal(got, want) {
			t.Errorf("round %d: %q, want %q", r, got, want)
		}
	}
	if names[1] != gwName {
		t.Error("the caller's order was changed")
	}
	// Without gateway@base every round runs as today.
	today := []string{proxyName, gwName}
	if got := inRoundOrder(today, 1, id); !slices.Equal(got, today) {
		t.Errorf("without a base: %q, want %q", got, today)
	}
}

func TestPrintTable(t *testing.T) {
	targets := []target{{name: proxyName}, {name: gwName}, {name: baseName}}
	results := map[string][]measure{
		proxyName: {{rps: 200}},
		gwName:    {{rps: 90, frontCPU: 60}, {rps: 100, frontCPU: 50}, {rps: 80, frontCPU: 40}},
		baseName:  {{rps: 100, frontCPU: 50}, {rps: 100, frontCPU: 50}, {rps: 100, frontCPU: 50}},
	}
	med := map[string]measure{proxyName: {rps: 200}, gwName: {rps: 90, frontCPU: 50}, baseName: {rps: 100, frontCPU: 50}}

	var b strings.Builder
	printTable(&b, targets[:2], med, results, false)
	lines := strings.Split(b.String(), "\n")
	// Without a base, the table `make bench` has always printed.
	if want := "| target | req/s | CPU µs/req (all processes) | CPU µs/req (front process) | RSS MiB (front process) | p50 | p99 | failed (saturation / fixed rate) |"; lines[0] != want {
		t.Errorf("header %q, want %q", lines[0], want)
	}
	if want := "| " + gwName + " | 90 | 0.0 | 50.0 | 0.0 | — | — | 0 / 0 |"; lines[3] != want {
		t.Errorf("gateway row %q, want %q", lines[3], want)
	}

	b.Reset()
	printTable(&b, targets, med, results, true)
	lines = strings.Split(b.String(), "\n")
	if !strings.HasSuffix(lines[0], " failed (saturation / fixed rate) | req/s ÷ gateway@base (paired median) | requests per front CPU-second ÷ gateway@base (paired median) |") {
		t.Errorf("header %q lacks the gateway@base columns", lines[0])
	}
	if n, want := strings.Count(lines[1], "|"), strings.Count(lines[0], "|"); n != want {
		t.Errorf("rule has %d bars, header %d", n, want)
	}
	// Per round 0.9, 1.0, 0.8 in req/s and 50/60, 1.0, 1.25 in CPU: the
	// medians are 0.90 and 1.00.
	for i, want := range map[int]string{2: " — | — |", 3: " 0.90× | 1.00× |", 4: " reference | reference |"} {
		if !strings.HasSuffix(lines[i], want) {
			t.Errorf("row %q, want it to end in %q", lines[i], want)
		}
	}
}

func TestFmtTarget(t *testing.T) {
	for in, want := range map[float64]string{0.7: "0.7", 0.8: "0.8", 2.0: "2.0", 0.95: "0.95"} {
		if got := fmtTarget(in); got != want {
			t.Errorf("fmtTarget(%v) = %q, want %q", in, got, want)
		}
	}
}
