package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
		want string // "" valid
	}{
		{"defaults", Config{Dir: "d"}, ""},
		{"power", Config{Dir: "d", Sync: SyncPower}, ""},
		{"no dir", Config{}, "dir is empty"},
		{"sync", Config{Dir: "d", Sync: "always"}, `sync "always"`},
		{"segment", Config{Dir: "d", SegmentBytes: 100}, "segment_bytes 100"},
		{"pending", Config{Dir: "d", MaxPendingBytes: -1}, "max_pending_bytes -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.SetDefaults()
			err := tc.c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	c := Config{Dir: "d"}
	c.SetDefaults()
	if c.Sync != SyncProcess || c.SegmentBytes != DefaultSegmentBytes || c.MaxPendingBytes != DefaultMaxPendingBytes {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestAppendReplayInOrder(t *testing.T) {
	for _, mode := range []SyncMode{SyncProcess, SyncPower} {
		t.Run(string(mode), func(t *testing.T) {
			c := Config{Dir: t.TempDir(), Sync: mode}
			l := openT(t, c, nil)
			if got := replayAll(t, l); len(got) != 0 {
				t.Fatalf("a new log replays %d records", len(got))
			}
			var want []entry
			var last Pos
			for i := range 100 {
				rec := fmt.Sprintf("intent r-%d %s", i, strings.Repeat("x", i))
				pos := mustAppend(t, l, rec)
				if pos != last+Pos(frameHeader+len(rec)) {
					t.Fatalf("record %d at %d, the previous ended at %d", i, pos, last)
				}
				last = pos
				want = append(want, entry{pos, rec})
			}
			if _, err := l.Append(nil); err != nil { // an empty record is a record
				t.Fatal(err)
			}
			want = append(want, entry{last + frameHeader, ""})
			if err := l.Replay(func(Pos, []byte) error { return nil }); !errors.Is(err, ErrReplayAfterAppend) {
				t.Fatalf("replay after append: %v", err)
			}
			l = reopen(t, l, c)
			equalEntries(t, replayAll(t, l), want)
			// Replay stops at the callback's error.
			stop := errors.New("stop")
			n := 0
			if err := l.Replay(func(Pos, []byte) error { n++; return stop }); err != stop || n != 1 {
				t.Fatalf("replay returned %v after %d records", err, n)
			}
		})
	}
}

func TestReopenContinues(t *testing.T) {
	c := Config{Dir: t.TempDir(), SegmentBytes: 2048}
	var want []entry
	for round := range 4 {
		l := openT(t, c, nil)
		equalEntries(t, replayAll(t, l), want)
		for i := range 30 {
			rec := fmt.Sprintf("round %d record %d", round, i)
			pos := mustAppend(t, l, rec)
			if len(want) > 0 && pos <= want[len(want)-1].pos {
				t.Fatalf("position %d after %d", pos, want[len(want)-1].pos)
			}
			want = append(want, entry{pos, rec})
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRotationAndRelease(t *testing.T) {
	c := Config{Dir: t.TempDir(), SegmentBytes: 1024}
	l := openT(t, c, nil)
	var all []entry
	for i := range 200 {
		rec := fmt.Sprintf("%04d %s", i, strings.Repeat("r", 90))
		all = append(all, entry{mustAppend(t, l, rec), rec})
	}
	files := segmentFiles(t, c.Dir)
	if len(files) < 10 {
		t.Fatalf("%d segments for %d bytes of 1 KiB segments", len(files), all[len(all)-1].pos)
	}
	for _, f := range files {
		// Appends from one goroutine are groups of one record: no segment
		// passes SegmentBytes.
		if size := fileSize(t, f); size > c.SegmentBytes {
			t.Fatalf("%s: %d bytes", f, size)
		}
	}
	if s := l.Stats(); s.Segments != len(files) || s.Written != all[len(all)-1].pos || s.Pending != int64(s.Written) {
		t.Fatalf("stats %+v with %d files", s, len(files))
	}

	upto := all[120].pos
	l.Release(upto)
	kept := segmentFiles(t, c.Dir)
	if len(kept) >= len(files) {
		t.Fatalf("release kept all %d segments", len(kept))
	}
	for _, f := range kept {
		first, _ := parseSegmentName(filepath.Base(f))
		if first > upto {
			continue
		}
		// The kept segment at or below upto must hold records after it.
		if f != kept[0] {
			t.Fatalf("%s kept, wholly before %d", f, upto)
		}
	}
	if s := l.Stats(); s.Released != upto || s.Pending != int64(s.Written-upto) {
		t.Fatalf("stats after release: %+v", s)
	}
	l.Release(upto - 1) // going back is a no-op
	if s := l.Stats(); s.Released != upto {
		t.Fatalf("released moved back to %d", s.Released)
	}

	l = reopen(t, l, c)
	got := replayAll(t, l)
	if len(got) == 0 || got[len(got)-1] != all[len(all)-1] {
		t.Fatalf("replay after release: %d records", len(got))
	}
	// What is replayed is a suffix of what was appended, and holds every
	// record after upto.
	skip := len(all) - len(got)
	equalEntries(t, got, all[skip:])
	if all[skip].pos > all[121].pos {
		t.Fatalf("records after the released position are gone: replay starts at %d", all[skip].pos)
	}
	// Releasing everything keeps only the active segment.
	l.Release(all[len(all)-1].pos)
	if n := len(segmentFiles(t, c.Dir)); n != 1 {
		t.Fatalf("%d segments after releasing everything", n)
	}
	if s := l.Stats(); s.Pending != 0 {
		t.Fatalf("pending %d after releasing everything", s.Pending)
	}
}

func TestMaxPendingBytes(t *testing.T) {
	c := Config{Dir: t.TempDir(), MaxPendingBytes: 4096}
	l := openT(t, c, nil)
	rec := strings.Repeat("p", 100)
	var last Pos
	n := 0
	for ; ; n++ {
		pos, err := l.Append([]byte(rec))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		last = pos
	}
	if n != 4096/(frameHeader+len(rec)) {
		t.Fatalf("%d records fitted in 4096 pending bytes", n)
	}
	if l.Err() != nil {
		t.Fatalf("a full log reports Err %v: it is backpressure, not a failure", l.Err())
	}
	l.Release(last)
	mustAppend(t, l, rec)
	if _, err := l.Append(make([]byte, 4096)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a record over max_pending_bytes: %v", err)
	}
	if _, err := l.Append(make([]byte, MaxRecordBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a record over MaxRecordBytes: %v", err)
	}
}

// A log reopened with its retained records counts them as pending until
// they are released.
func TestPendingAfterReopen(t *testing.T) {
	c := Config{Dir: t.TempDir(), MaxPendingBytes: 4096}
	l := openT(t, c, nil)
	for range 10 {
		mustAppend(t, l, strings.Repeat("p", 100))
	}
	l = reopen(t, l, c)
	var last Pos
	replayed := 0
	if err := l.Replay(func(pos Pos, _ []byte) error { last = pos; replayed++; return nil }); err != nil {
		t.Fatal(err)
	}
	if s := l.Stats(); replayed != 10 || s.Pending != int64(last) {
		t.Fatalf("replayed %d, stats %+v", replayed, s)
	}
	l.Release(last)
	if s := l.Stats(); s.Pending != 0 {
		t.Fatalf("pending %d after releasing the replayed records", s.Pending)
	}
}

func TestClose(t *testing.T) {
	c := Config{Dir: t.TempDir()}
	l := openT(t, c, nil)
	mustAppend(t, l, "before close")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([]byte("after close")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if !errors.Is(l.Err(), ErrClosed) {
		t.Fatalf("Err after close: %v", l.Err())
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := l.Replay(func(Pos, []byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("replay after close: %v", err)
	}
}

func TestDirLocked(t *testing.T) {
	c := Config{Dir: t.TempDir()}
	openT(t, c, nil)
	if l, err := Open(c, discard()); err == nil || !strings.Contains(err.Error(), "in use") {
		if l != nil {
			l.Close()
		}
		t.Fatalf("a second Open of the same directory: %v", err)
	}
}

// Appends from many goroutines: every acknowledged record is replayed
// exactly once, at the position its Append returned.
func TestConcurrentAppend(t *testing.T) {
	for _, mode := range []SyncMode{SyncProcess, SyncPower} {
		t.Run(string(mode), func(t *testing.T) {
			c := Config{Dir: t.TempDir(), Sync: mode, SegmentBytes: 64 << 10}
			l := openT(t, c, nil)
			const writers, each = 64, 100
			var mu sync.Mutex
			acked := map[string]Pos{}
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						rec := fmt.Sprintf("w%02d-%03d %s", w, i, strings.Repeat("c", (w*7+i)%200))
						pos, err := l.Append([]byte(rec))
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						acked[rec] = pos
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if len(segmentFiles(t, c.Dir)) < 2 {
				t.Fatal("no rotation happened")
			}
			l = reopen(t, l, c)
			seen := map[string]bool{}
			perWriter := map[string]int{}
			for _, e := range replayAll(t, l) {
				if seen[e.rec] {
					t.Fatalf("%q replayed twice", e.rec)
				}
				seen[e.rec] = true
				if pos, ok := acked[e.rec]; !ok || pos != e.pos {
					t.Fatalf("%q replayed at %d, acknowledged at %d (%v)", e.rec, e.pos, pos, ok)
				}
				// One writer's records come back in its order.
				w, i := e.rec[:3], e.rec[4:7]
				n, _ := strconv.Atoi(i)
				if n != perWriter[w] {
					t.Fatalf("%s: record %d replayed after %d", w, n, perWriter[w])
				}
				perWriter[w]++
			}
			if len(seen) != writers*each {
				t.Fatalf("replayed %d records, acknowledged %d", len(seen), len(acked))
			}
		})
	}
}

// A directory that does not exist yet is created with its parents.
func TestOpenCreatesDir(t *testing.T) {
	c := Config{Dir: filepath.Join(t.TempDir(), "var", "wal")}
	l := openT(t, c, nil)
	mustAppend(t, l, "x")
	if _, err := os.Stat(filepath.Join(c.Dir, segmentName(0))); err != nil {
		t.Fatal(err)
	}
}
