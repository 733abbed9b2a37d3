package e2e

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/idgate/idgate/internal/testkit"
)

// readyz is the gateway's readiness status and body.
func readyz(t *testing.T, g *gateway) (int, string) {
	t.Helper()
	resp, err := testkit.Client.Get(g.URL + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// clients sends checks to g from n goroutines until stop is closed and
// counts the billed answers they received (200 with result 0 or -1) and
// the 503 service_unavailable refusals.
func clients(t *testing.T, g *gateway, n int, stop <-chan struct{}) (wait func() (billed, refused int64)) {
	var billed, refused atomic.Int64
	run := testkit.Load{Workers: n, Stop: stop}.Start(func(w, i int) bool {
		p := people[(w+i)%2] // consistent identities: billed answers
		a := testkit.TryCheck(g.URL, "acme-key", checkBody(p.name, p.id))
		switch {
		case a.Status == 200 && (a.Code == "0" || a.Code == "-1"):
			billed.Add(1)
		case a.Status == 503 && a.Code == "service_unavailable":
			refused.Add(1)
		}
		return true
	})
	return func() (int64, int64) { run(); return billed.Load(), refused.Load() }
}

// TestLedgerFilesDeletedUnderLoad: the ledger's database files deleted
// under load make readiness fail and billable requests refused within a
// second; the gateway writes what it holds back, so after a restart the
// day's quota is not reset and the accounting rule holds.
func TestLedgerFilesDeletedUnderLoad(t *testing.T) {
	s := startSim(t)
	g := startGatewayBinary(t, testkit.BuildPlain(t, "./gateway/cmd/gateway"), s.URL, 0, "acme-key")
	stop := make(chan struct{})
	wait := clients(t, g, 8, stop)
	time.Sleep(500 * time.Millisecond)
	for _, f := range []string{g.store, g.store + "-wal", g.store + "-shm"} {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	took, ok := waitFor(5*time.Second, func() bool {
		code, body := readyz(t, g)
		return code == 503 && strings.Contains(body, "no longer the one")
	})
	if !ok || took > time.Second {
		t.Fatalf("readiness still ok %v after the ledger files were deleted", took)
	}
	before := counts(t, s).Billed
	if a := testkit.TryCheck(g.URL, "acme-key", checkBody(people[0].name, people[0].id)); a.Status != 503 || a.Code != "service_unavailable" {
		t.Fatalf("a check after the deletion: %+v", a)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	clientBilled, refused := wait()
	if after := counts(t, s).Billed; after != before {
		t.Fatalf("the simulator billed %d more after the ledger was lost: requests were forwarded", after-before)
	}
	// The stop reports the loss (exit status 1); what matters is the file.
	if err := g.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-g.Exited()
	if _, err := os.Stat(g.store); err != nil || !strings.Contains(g.Output(), "written back") {
		t.Fatalf("the lost database was not written back: %v\n%s", err, g.Output())
	}
	// The next start uses the rescued file: nothing is reset.
	g.Restart(t)
	g.Terminate(t)
	cls := classCounts(t, g.store)
	sim := counts(t, s).Billed
	t.Logf("clients got %d billed answers and %d refusals; ledger %v; simulator billed %d", clientBilled, refused, cls, sim)
	if cls["billed"] < clientBilled || cls["billed"] > sim || sim > cls["billed"]+cls["unknown"] || refused == 0 {
		t.Fatalf("after the restart: ledger %v, simulator billed %d, clients billed %d, refused %d", cls, sim, clientBilled, refused)
	}
}

// TestLedgerOnAFullDisk: the ledger and its journal on a small tmpfs that
// fills under load. While full, billable requests are refused 503 before
// anything is sent upstream and readiness fails; a kill -9 while full
// loses no billed answer; after space is freed the gateway serves again.
func TestLedgerOnAFullDisk(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		testkit.Need(t, false, "mounting a tmpfs needs root: "+strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	s := startSim(t)
	cfgPath, store := filepath.Join(t.TempDir(), "gateway.yaml"), filepath.Join(dir, "ledger.db")
	writeConfig(t, cfgPath, s.URL, store, 0, "acme-key")
	g := &gateway{cfgPath: cfgPath, store: store}
	g.Gateway = testkit.StartGatewayBinary(t, testkit.BuildPlain(t, "./gateway/cmd/gateway"), []string{"-config", cfgPath},
		"IDGATE_GW_STORE_JOURNAL_SEGMENT_BYTES=65536")
	stop := make(chan struct{})
	wait := clients(t, g, 8, stop)
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
			wait()
		}
	}()
	ballast := filepath.Join(dir, "ballast")
	full := func() {
		t.Helper()
		fillBut(t, ballast, 256<<10)
		if _, ok := waitFor(20*time.Second, func() bool { code, _ := readyz(t, g); return code == 503 }); !ok {
			t.Fatalf("the disk never filled: readiness stayed ok")
		}
		// While the ledger refuses, nothing goes upstream: at most the
		// requests already past their intent finish. The gateway probes the
		// disk and takes requests again by itself whenever a write fits
		// (space its database frees counts), so the window measured is one
		// in which readiness stayed 503 at every sample.
		for try := 0; ; try++ {
			before := counts(t, s).Billed
			refusing := true
			for range 10 {
				time.Sleep(50 * time.Millisecond)
				if code, _ := readyz(t, g); code != 503 {
					refusing = false
				}
			}
			after := counts(t, s).Billed
			if refusing {
				if after > before+8 {
					t.Fatalf("while the ledger refused, %d more requests were billed upstream", after-before)
				}
				break
			}
			if try == 20 {
				t.Fatalf("the ledger never refused for half a second on a full disk")
			}
		}
	}

	// Full, then space freed: the gateway serves again by itself.
	full()
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if took, ok := waitFor(10*time.Second, func() bool { code, _ := readyz(t, g); return code == 200 }); !ok {
		t.Fatalf("readiness did not come back after space was freed (%v)", took)
	}
	if a := testkit.Check(t, g.URL, "acme-key", checkBody(people[0].name, people[0].id)); a.Status != 200 {
		t.Fatalf("after space was freed: %+v", a)
	}

	// Full again, and killed while full: nothing billed is lost.
	full()
	if err := g.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	<-g.Exited()
	close(stop)
	clientBilled, refused := wait()
	clientBilled++ // the check after the recovery
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	g.Restart(t)
	g.Terminate(t)
	cls := classCounts(t, g.store)
	sim := counts(t, s).Billed
	t.Logf("clients got %d billed answers and %d refusals; ledger %v; simulator billed %d", clientBilled, refused, cls, sim)
	if refused == 0 || cls["billed"] < clientBilled || cls["billed"] > sim || sim > cls["billed"]+cls["unknown"] {
		t.Fatalf("full disk: ledger %v, simulator billed %d, clients billed %d, refused %d", cls, sim, clientBilled, refused)
	}
}

// fillBut fills the file system of path with a file at path until spare
// bytes are left.
func fillBut(t *testing.T, path string, spare int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	if err := os.Truncate(path, max(0, mustSize(t, path)-spare)); err != nil {
		t.Fatal(err)
	}
}

func mustSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
