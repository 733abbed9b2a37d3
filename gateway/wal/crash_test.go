package wal

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The child process of TestKill9 runs this test: it appends records at
// full speed from many goroutines and prints each record's id once its
// Append returned, until it is killed.
const crashDirEnv = "IDGATE_WAL_CRASH_DIR"

func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the child process of TestKill9")
	}
	run := os.Getenv("IDGATE_WAL_CRASH_RUN")
	l, err := Open(Config{Dir: dir, SegmentBytes: 1 << 20}, discard())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// Replay first, as the gateway does on start (without releasing:
	// the parent checks every run's records).
	if err := l.Replay(func(Pos, []byte) error { return nil }); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Stdout.WriteString("ready\n")
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var line []byte
			for i := 0; ; i++ {
				id := fmt.Sprintf("%s-%d-%d", run, g, i)
				if _, err := l.Append([]byte(id + " " + strings.Repeat("k", (g*13+i)%150))); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				// One write(2) per line: lines from many goroutines never
				// interleave in the pipe.
				line = append(append(append(line[:0], "ack "...), id...), '\n')
				os.Stdout.Write(line)
			}
		}()
	}
	wg.Wait()
}

// kill -9 a process appending at full speed: every record it acknowledged
// is in the log when it is opened again. Three times in a row on the same
// log, so recovery itself is recovered from.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	acked := map[string]bool{}
	for run := 1; run <= 3; run++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.timeout=2m")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, "IDGATE_WAL_CRASH_RUN="+strconv.Itoa(run))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan struct{})
		lines := make(chan []string)
		go func() {
			var ids []string
			r := bufio.NewReader(out)
			for {
				line, err := r.ReadString('\n')
				if err != nil { // a line without its newline was cut by the kill: not acknowledged
					break
				}
				switch line = strings.TrimSuffix(line, "\n"); {
				case line == "ready":
					close(ready)
				case strings.HasPrefix(line, "ack "):
					ids = append(ids, line[len("ack "):])
				}
			}
			io.Copy(io.Discard, r)
			lines <- ids
		}()
		select {
		case <-ready:
		case ids := <-lines:
			cmd.Wait()
			t.Fatalf("run %d: the child ended before it was ready (%d lines): %s", run, len(ids), stderr.String())
		}
		time.Sleep(500 * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		ids := <-lines
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("run %d: the child ended with %v before it was killed: %s", run, err, stderr.String())
		}
		if len(ids) == 0 {
			t.Fatalf("run %d: the child acknowledged nothing: %s", run, stderr.String())
		}
		for _, id := range ids {
			acked[id] = true
		}

		l, err := Open(Config{Dir: dir, SegmentBytes: 1 << 20}, discard())
		if err != nil {
			t.Fatalf("run %d: reopen after kill -9: %v", run, err)
		}
		seen := map[string]bool{}
		err = l.Replay(func(_ Pos, rec []byte) error {
			id, _, _ := strings.Cut(string(rec), " ")
			if seen[id] {
				return fmt.Errorf("%s replayed twice", id)
			}
			seen[id] = true
			return nil
		})
		if cerr := l.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		missing := 0
		for id := range acked {
			if !seen[id] {
				missing++
			}
		}
		if missing > 0 {
			t.Fatalf("run %d: %d of %d acknowledged records are not in the log", run, missing, len(acked))
		}
		t.Logf("run %d: %d records acknowledged, %d in the log (%d written but not yet acknowledged when killed)",
			run, len(ids), len(seen), len(seen)-len(acked))
	}
}
