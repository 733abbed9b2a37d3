package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
)

// A base directory holds the gateway of an earlier revision, which `run
// -base` measures as "gateway@base" beside the working tree's gateway:
//
//	gateway       the binary, built by that revision's `make build`
//	gateway.yaml  that revision's demo configuration (configs/gateway.yaml),
//	              if it has one; run raises its tenant limits as it does
//	              the working tree's
//	REVISION      "<commit> <date> <subject>", the label the report prints
const (
	baseBinary   = "gateway"
	baseConfig   = "gateway.yaml"
	baseRevision = "REVISION"
)

// baseOpts are build-base's flags.
type baseOpts struct {
	rev  string // the revision whose gateway to build
	out  string // the base directory to fill
	repo string // any worktree of the repository
	gotc string // the go command the revision's Makefile is given as GO
}

func parseBuildBaseFlags(args []string) (baseOpts, error) {
	fs := flag.NewFlagSet("build-base", flag.ContinueOnError)
	var o baseOpts
	fs.StringVar(&o.rev, "rev", "", "git revision whose gateway to build (required), e.g. main or HEAD~1")
	fs.StringVar(&o.out, "o", "bin/base", "directory to write gateway, gateway.yaml and REVISION into")
	fs.StringVar(&o.repo, "repo", ".", "the git repository (any of its worktrees)")
	fs.StringVar(&o.gotc, "go", "", "go command passed to the revision's make as GO (default: its Makefile's)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("build-base: unexpected arguments %q", fs.Args())
	case o.rev == "":
		return o, errors.New("build-base: -rev is required")
	case strings.HasPrefix(o.rev, "-"):
		// git would read it as an option.
		return o, fmt.Errorf("build-base: revision %q must not start with '-'", o.rev)
	case o.out == "":
		return o, errors.New("build-base: -o must name a directory")
	}
	return o, nil
}

// command is one external command of the base build.
type command struct {
	args []string
	env  []string // nil: this process's environment
}

func (c command) String() string { return strings.Join(c.args, " ") }

// resolveCmd prints the commit rev names, or fails if it names none.
func resolveCmd(repo, rev string) command {
	return command{args: []string{"git", "-C", repo, "rev-parse", "--verify", "--quiet", "--end-of-options", rev + "^{commit}"}}
}

// describeCmd prints the REVISION label of commit.
func describeCmd(repo, commit string) command {
	return command{args: []string{"git", "-C", repo, "log", "-1", "--format=%H %cs %s", commit}}
}

// worktreeAddCmd checks commit out, detached, into the new directory wt:
// the working tree the user is in, and its branch, are left alone.
func worktreeAddCmd(repo, wt, commit string) command {
	return command{args: []string{"git", "-C", repo, "worktree", "add", "--detach", "--quiet", wt, commit}}
}

// worktreeRemoveCmd deletes wt and the repository's record of it; --force
// because the build leaves untracked files (bin/) in it.
func worktreeRemoveCmd(repo, wt string) command {
	return command{args: []string{"git", "-C", repo, "worktree", "remove", "--force", wt}}
}

// makeBuildCmd runs the revision's own `make build` in wt, so the gateway
// is built as that revision builds it (its flags, its PGO profile). The
// calling make's variables are withheld: `make bench BIN=x` would
// otherwise reach the inner make through MAKEFLAGS and move its output.
func makeBuildCmd(wt, gotc string, environ []string) command {
	args := []string{"make", "-C", wt, "build"}
	if gotc != "" {
		args = append(args, "GO="+gotc)
	}
	return command{args: args, env: withoutMakeVars(environ)}
}

// withoutMakeVars is environ less the variables make passes to its
// sub-makes.
func withoutMakeVars(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// exec runs c with its output on stdout (nil: this process's stderr) and
// its errors on stderr. It runs in its own process group, so cancelling
// ctx stops c and everything it started (make's compilers) before the
// worktree they write into is removed.
func (c command) exec(ctx context.Context, stdout io.Writer) error {
	cmd := exec.CommandContext(ctx, c.args[0], c.args[1:]...)
	cmd.Env = c.env
	if stdout == nil {
		stdout = os.Stderr
	}
	cmd.Stdout, cmd.Stderr = stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build-base: %s: %w", c, err)
	}
	return nil
}

// output runs c and returns its standard output, trimmed.
func (c command) output(ctx context.Context) (string, error) {
	var b strings.Builder
	err := c.exec(ctx, &b)
	return strings.TrimSpace(b.String()), err
}

// buildBase fills a base directory with the gateway of a revision: a
// temporary worktree at that commit, its `make build`, the binary and the
// demo configuration copied out. The worktree is removed however the build
// ends, interrupts included. The directory's previous contents are removed
// first, so a failed build never leaves another revision's gateway behind
// to be measured under this one's name.
func buildBase(args []string) error {
	o, err := parseBuildBaseFlags(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	for _, f := range []string{baseBinary, baseConfig, baseRevision} {
		if err := os.Remove(filepath.Join(o.out, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("build-base: %w", err)
		}
	}
	commit, err := resolveCmd(o.repo, o.rev).output(ctx)
	if err != nil {
		return fmt.Errorf("build-base: %q names no commit: %w", o.rev, err)
	}
	label, err := describeCmd(o.repo, commit).output(ctx)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "idgate-base-")
	if err != nil {
		return fmt.Errorf("build-base: %w", err)
	}
	defer os.RemoveAll(tmp)
	wt := filepath.Join(tmp, "src")
	fmt.Fprintf(os.Stderr, "build-base: gateway of %s (%s) in %s\n", o.rev, label, wt)
	defer func() {
		if _, err := os.Stat(wt); err != nil {
			return // never created
		}
		// Not ctx: after an interrupt the worktree must still go.
		if err := worktreeRemoveCmd(o.repo, wt).exec(context.Background(), nil); err != nil {
			fmt.Fprintln(os.Stderr, "idgate-bench:", err)
		}
	}()
	if err := worktreeAddCmd(o.repo, wt, commit).exec(ctx, nil); err != nil {
		return err
	}
	if err := makeBuildCmd(wt, o.gotc, os.Environ()).exec(ctx, nil); err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("build-base: %w", err)
	}
	if err := copyFile(filepath.Join(wt, "bin", "gateway"), filepath.Join(o.out, baseBinary), 0o755); err != nil {
		return err
	}
	// Revisions without a demo configuration file get the working tree's
	// (run falls back to it when gateway.yaml is absent).
	if err := copyFile(filepath.Join(wt, "configs", "gateway.yaml"), filepath.Join(o.out, baseConfig), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, baseRevision), []byte(label+"\n"), 0o644); err != nil {
		return fmt.Errorf("build-base: %w", err)
	}
	fmt.Fprintf(os.Stderr, "build-base: %s\n", filepath.Join(o.out, baseBinary))
	return nil
}

// copyFile writes src to dst through a temporary name, so dst is either
// absent or whole.
func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("build-base: %w", err)
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return fmt.Errorf("build-base: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("build-base: %w", err)
	}
	return nil
}

// baseGatewayConfig is the configuration gateway@base runs with: its own
// revision's demo configuration with the tenant limits raised as
// benchGatewayConfig raises the working tree's, so each gateway runs the
// defaults of its own revision (a change of defaults is part of what is
// compared) and neither refuses a request. A revision's gateway may reject
// a newer configuration's fields, which is why the working tree's is not
// simply reused. own is false when the base directory holds no
// configuration and fallback, the working tree's, is returned.
func baseGatewayConfig(dir, baseDir, fallback string) (path string, own bool, err error) {
	b, err := os.ReadFile(filepath.Join(baseDir, baseConfig))
	if errors.Is(err, os.ErrNotExist) {
		return fallback, false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("bench: base config: %w", err)
	}
	if b, err = raiseTenantLimits(b); err != nil {
		return "", false, fmt.Errorf("bench: base config %s: %w", filepath.Join(baseDir, baseConfig), err)
	}
	path = filepath.Join(dir, "gateway-base.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return "", false, fmt.Errorf("bench: base config: %w", err)
	}
	return path, true, nil
}

// raiseTenantLimits sets every tenant's rate, burst and daily quota in a
// gateway configuration file to benchGatewayConfig's values and leaves
// every other setting as written. It edits the YAML tree rather than
// decoding into this tree's gwconfig.Config, whose fields may differ from
// the file's revision.
func raiseTenantLimits(b []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a YAML mapping")
	}
	tenants := mappingValue(doc.Content[0], "tenants")
	if tenants == nil || tenants.Kind != yaml.SequenceNode || len(tenants.Content) == 0 {
		return nil, errors.New("no tenants: the benchmark's requests would not authenticate")
	}
	for _, t := range tenants.Content {
		if t.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("line %d: a tenant is not a mapping", t.Line)
		}
		setInt(t, "rate", benchRate)
		setInt(t, "burst", benchBurst)
		setInt(t, "daily_quota", benchQuota)
	}
	return yaml.Marshal(&doc)
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setInt sets key of the mapping m to v, adding it if absent; the value's
// comments stay.
func setInt(m *yaml.Node, key string, v int64) {
	n := mappingValue(m, key)
	if n == nil {
		n = &yaml.Node{}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, n)
	}
	n.Kind, n.Tag, n.Style, n.Value, n.Content = yaml.ScalarNode, "!!int", 0, strconv.FormatInt(v, 10), nil
}

// baseLabel is what the report calls the base build: its REVISION, or
// the directory when that is absent (a gateway built by hand).
func baseLabel(baseDir string) string {
	if b, err := os.ReadFile(filepath.Join(baseDir, baseRevision)); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b))
	}
	return baseDir
}
