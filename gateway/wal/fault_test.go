package wal

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// mountTmpfs mounts a tmpfs of the given size on a temporary directory for
// the test. Without the privilege to mount it skips, except in CI, where
// the test must run.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("cannot mount a tmpfs (%s) to fill (needs root or CAP_SYS_ADMIN): %v: %s", opts, err, strings.TrimSpace(string(out)))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			exec.Command("umount", "-l", dir).Run()
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// A full disk: the failed group's Appends get ENOSPC, nothing of it stays
// in the segment, Err reports it and Append fails fast; once space is
// free the probe clears Err by itself and appends work again. Reopened,
// the log holds exactly the acknowledged records.
func TestDiskFull(t *testing.T) {
	for _, mode := range []SyncMode{SyncProcess, SyncPower} {
		t.Run(string(mode), func(t *testing.T) {
			mnt := mountTmpfs(t, "size=256k")
			c := Config{Dir: filepath.Join(mnt, "wal"), Sync: mode}
			l := openT(t, c, nil)
			rec := func(i int) string { return fmt.Sprintf("%05d %s", i, strings.Repeat("d", 1000)) }
			var acked []entry
			for i := range 20 {
				acked = append(acked, entry{mustAppend(t, l, rec(i)), rec(i)})
			}

			filler := filepath.Join(mnt, "filler")
			f, err := os.Create(filler)
			if err != nil {
				t.Fatal(err)
			}
			chunk := make([]byte, 4096)
			for {
				if _, err := f.Write(chunk); err != nil {
					if !errors.Is(err, syscall.ENOSPC) {
						t.Fatal(err)
					}
					break
				}
			}
			f.Close()

			// Appenders from many goroutines until the disk refuses: every
			// one of them ends with the error, whichever group it was in.
			var mu sync.Mutex
			var wg sync.WaitGroup
			for g := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 1000; i++ {
						r := rec(1000*(g+1) + i)
						pos, err := l.Append([]byte(r))
						if err != nil {
							if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, ErrUnavailable) {
								t.Errorf("append on a full disk: %v", err)
							}
							return
						}
						mu.Lock()
						acked = append(acked, entry{pos, r})
						mu.Unlock()
					}
					t.Error("1000 appends fitted on a full disk")
				}()
			}
			wg.Wait()
			if t.Failed() {
				t.FailNow()
			}
			slices.SortFunc(acked, func(a, b entry) int { return cmp.Compare(a.pos, b.pos) })
			if err := l.Err(); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Err on a full disk: %v", err)
			}
			if _, err := l.Append([]byte("refused")); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("append while failed: %v", err)
			}
			seg := segmentFiles(t, c.Dir)[0]
			if got, want := fileSize(t, seg), int64(headerSize)+int64(acked[len(acked)-1].pos); got != want {
				t.Fatalf("%s is %d bytes after the failed write, want %d: a partial write was left behind", seg, got, want)
			}

			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the probe to clear Err", func() bool { return l.Err() == nil })
			for i := 100000; i < 100005; i++ {
				acked = append(acked, entry{mustAppend(t, l, rec(i)), rec(i)})
			}
			if s := l.Stats(); s.Failures != 1 {
				t.Fatalf("failures %d, want 1", s.Failures)
			}
			l = reopen(t, l, c)
			equalEntries(t, replayAll(t, l), acked)
		})
	}
}

// The active segment deleted or replaced under the process: Err turns
// non-nil (the log says how many records were in the lost file), a fresh
// segment is created and appends work again.
func TestSegmentLost(t *testing.T) {
	for _, tc := range []struct {
		name string
		// fault breaks the log; it returns a function that undoes what
		// keeps the log from recovering, or nil when it recovers by itself.
		fault func(t *testing.T, dir, seg string) func()
		// kept: the records before the fault are still replayed after it.
		kept bool
	}{
		{"segment deleted", func(t *testing.T, dir, seg string) func() {
			os.Remove(seg)
			return nil
		}, false},
		{"segment replaced by a copy", func(t *testing.T, dir, seg string) func() {
			b, _ := os.ReadFile(seg)
			os.WriteFile(seg+".tmp", b, 0o640)
			os.Rename(seg+".tmp", seg)
			return nil
		}, true},
		{"directory deleted", func(t *testing.T, dir, seg string) func() {
			os.RemoveAll(dir)
			return nil
		}, false},
		{"directory replaced by a file", func(t *testing.T, dir, seg string) func() {
			os.RemoveAll(dir)
			os.WriteFile(dir, []byte("in the way"), 0o640)
			return func() { os.Remove(dir) }
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Dir: filepath.Join(t.TempDir(), "wal")}
			log, logs := captured()
			l := openT(t, c, log)
			var before []entry
			for i := range 10 {
				rec := fmt.Sprintf("before %d", i)
				before = append(before, entry{mustAppend(t, l, rec), rec})
			}
			undo := tc.fault(t, c.Dir, segmentFiles(t, c.Dir)[0])
			// Failures counts entries into the failed state, so a failure
			// that the probe already cleared is not missed.
			waitFor(t, "the loss to be noticed", func() bool { return l.Stats().Failures > 0 })
			if !strings.Contains(logs.String(), "records=10") {
				t.Fatalf("the log does not count the 10 lost records:\n%s", logs)
			}
			if undo != nil {
				if err := l.Err(); !errors.Is(err, ErrUnavailable) {
					t.Fatalf("Err while the directory cannot be made: %v", err)
				}
				if _, err := l.Append([]byte("refused")); !errors.Is(err, ErrUnavailable) {
					t.Fatalf("append while failed: %v", err)
				}
				undo()
			}
			waitFor(t, "recovery", func() bool { return l.Err() == nil })
			var after []entry
			for i := range 5 {
				rec := fmt.Sprintf("after %d", i)
				after = append(after, entry{mustAppend(t, l, rec), rec})
			}
			if after[0].pos <= before[len(before)-1].pos {
				t.Fatalf("positions went back: %d after %d", after[0].pos, before[len(before)-1].pos)
			}
			l = reopen(t, l, c)
			want := after
			if tc.kept {
				want = append(before, after...)
			}
			equalEntries(t, replayAll(t, l), want)
		})
	}
}

// No inode left for the next segment: the log stays on the full one,
// failed, and the probe creates the next segment once it can.
func TestRotationFailure(t *testing.T) {
	// Inodes: the mount's root, the log's directory, LOCK, the first
	// segment and a filler.
	mnt := mountTmpfs(t, "size=1m,nr_inodes=5")
	c := Config{Dir: filepath.Join(mnt, "wal"), SegmentBytes: 1024}
	l := openT(t, c, nil)
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	var acked []entry
	var failed error
	for i := 0; i < 100 && failed == nil; i++ {
		rec := fmt.Sprintf("%03d %s", i, strings.Repeat("n", 100))
		pos, err := l.Append([]byte(rec))
		if err != nil {
			failed = err
			break
		}
		acked = append(acked, entry{pos, rec})
	}
	if !errors.Is(failed, syscall.ENOSPC) || !errors.Is(l.Err(), syscall.ENOSPC) {
		t.Fatalf("append when no segment can be created: %v; Err %v", failed, l.Err())
	}
	if n := len(segmentFiles(t, c.Dir)); n != 1 {
		t.Fatalf("%d segment files", n)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the probe to create the next segment", func() bool { return l.Err() == nil })
	if n := len(segmentFiles(t, c.Dir)); n != 2 {
		t.Fatalf("%d segment files after recovery", n)
	}
	acked = append(acked, entry{mustAppend(t, l, "after"), "after"})
	l = reopen(t, l, c)
	equalEntries(t, replayAll(t, l), acked)
}
