// Package testkit is what the integration tests share: it builds the
// project's binaries and runs them as child processes (so the tests
// exercise exactly what ships), starts the simulator and the gateway,
// sends check requests, records ledger entries in memory and drives
// bounded load.
package testkit

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildMu  sync.Mutex
	builtDir string
	built    = map[string]string{}
)

// Build compiles a main package of this module (e.g. "./gateway/cmd/gateway")
// once per test process and returns the binary's path. Under go test -race
// the binary is built with the race detector too.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	return build(t, pkg, raceEnabled)
}

// BuildPlain is Build without the race detector, for load generators and
// for the gateways of tests that need production speed (a kill -9 under
// thousands of requests a second); the race detector slows a binary
// several times over.
func BuildPlain(t testing.TB, pkg string) string {
	t.Helper()
	return build(t, pkg, false)
}

func build(t testing.TB, pkg string, race bool) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := pkg
	if race {
		key += " -race"
	}
	if p, ok := built[key]; ok {
		return p
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	if builtDir == "" {
		// Not t.TempDir: the binaries outlive the first test that asks.
		d, err := os.MkdirTemp("", "idgate-testkit-")
		if err != nil {
			t.Fatalf("testkit: %v", err)
		}
		builtDir = d
	}
	out := filepath.Join(builtDir, filepath.Base(pkg))
	args := []string{"build", "-o", out}
	if race {
		out += "-race"
		args = []string{"build", "-race", "-o", out}
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testkit: go build %s: %v\n%s", pkg, err, b)
	}
	built[key] = out
	return out
}

// ModuleRoot is the directory holding go.mod.
func ModuleRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(b))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the module")
	}
	return filepath.Dir(mod), nil
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testkit: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Proc is a running binary.
type Proc struct {
	Cmd  *exec.Cmd
	out  *SyncBuffer
	done chan struct{}
	err  error
}

// Start runs bin with args and env (added to the test's environment) and
// waits until GET healthURL answers 200. The process is stopped with
// SIGTERM when the test ends.
func Start(t testing.TB, bin string, args, env []string, healthURL string) *Proc {
	t.Helper()
	p, err := start(t, bin, args, env, healthURL)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	return p
}

// StartOnFreePorts is Start for a binary that listens on ports FreeAddr
// chose: a port can be taken by another process between FreeAddr and the
// binary's bind, so a start that fails with "address already in use" is
// tried again on new ports (up to five times). ports returns the arguments
// and the health URL for a fresh choice of ports.
func StartOnFreePorts(t testing.TB, bin string, env []string, ports func() (args []string, healthURL string)) *Proc {
	t.Helper()
	for attempt := 1; ; attempt++ {
		args, health := ports()
		p, err := start(t, bin, args, env, health)
		if err == nil {
			return p
		}
		if attempt == 5 || !strings.Contains(p.Output(), "address already in use") {
			t.Fatalf("testkit: %v", err)
		}
	}
}

func start(t testing.TB, bin string, args, env []string, healthURL string) (*Proc, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	p := &Proc{Cmd: cmd, out: &SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		return p, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop(10 * time.Second)
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(bin), p.Output())
		}
	})
	if err := WaitHealthy(healthURL, 20*time.Second, p.done); err != nil {
		return p, fmt.Errorf("%s not healthy: %w\noutput:\n%s", filepath.Base(bin), err, p.Output())
	}
	return p, nil
}

// WaitHealthy polls url until it answers 200, the deadline passes, or
// exited is closed.
func WaitHealthy(url string, timeout time.Duration, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("process exited")
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last error: %v)", url, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.Cmd.Process.Signal(sig) }

// Wait waits for the process to exit and returns its exit error.
func (p *Proc) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("testkit: process still running after %s", timeout)
	}
}

// Terminate sends SIGTERM and fails t unless the process exits cleanly
// within 20 s; a process that hangs is sent SIGQUIT first, so its output
// holds a goroutine dump that says where.
func (p *Proc) Terminate(t testing.TB) {
	t.Helper()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("testkit: SIGTERM: %v", err)
	}
	if err := p.Wait(20 * time.Second); err != nil {
		_ = p.Signal(syscall.SIGQUIT)
		_ = p.Wait(5 * time.Second)
		t.Fatalf("testkit: exit after SIGTERM: %v\n%s", err, p.Output())
	}
}

// Exited is closed when the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.done }

// Stop sends SIGTERM and waits, then kills.
func (p *Proc) Stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// Output is everything the process wrote to stdout and stderr so far.
func (p *Proc) Output() string { return p.out.String() }

// SyncBuffer is a bytes.Buffer safe for concurrent writers (a process's
// stdout and stderr, a logger shared by request goroutines) and a reader.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
