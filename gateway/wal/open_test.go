package wal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fill writes n records to a new log in dir and closes it.
func fill(t *testing.T, c Config, n int) []entry {
	t.Helper()
	l := openT(t, c, nil)
	var want []entry
	for i := range n {
		rec := fmt.Sprintf("record %03d %s", i, strings.Repeat("f", 40))
		want = append(want, entry{mustAppend(t, l, rec), rec})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return want
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// A crash mid-write (or a power loss) leaves bytes after the last whole
// record of the last segment: Open cuts them off, says how many, and the
// log goes on.
func TestTornTailTruncated(t *testing.T) {
	next := appendFrame(nil, []byte("an intent that was being written"))
	badCRC := bytes.Clone(next)
	badCRC[len(badCRC)-1] ^= 1
	huge := bytes.Clone(next)
	binary.LittleEndian.PutUint32(huge, 0xfffffff0)
	garbage := make([]byte, 3000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	for _, tc := range []struct {
		name string
		tail []byte
	}{
		{"partial length", next[:3]},
		{"header without payload", next[:frameHeader]},
		{"partial payload", next[:len(next)-5]},
		{"whole frame with a bad crc", badCRC},
		{"impossible length", huge},
		{"zeros", make([]byte, 4096)},
		{"random bytes", garbage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Dir: t.TempDir(), SegmentBytes: 1024}
			want := fill(t, c, 40)
			files := segmentFiles(t, c.Dir)
			last := files[len(files)-1]
			good := fileSize(t, last)
			appendFile(t, last, tc.tail)

			log, logs := captured()
			l := openT(t, c, log)
			equalEntries(t, replayAll(t, l), want)
			if got := fileSize(t, last); got != good {
				t.Fatalf("%s is %d bytes after Open, want %d", last, got, good)
			}
			if s := logs.String(); !strings.Contains(s, "truncated a torn tail") || !strings.Contains(s, fmt.Sprintf("bytes=%d", len(tc.tail))) {
				t.Fatalf("log does not say %d bytes were truncated:\n%s", len(tc.tail), s)
			}
			want = append(want, entry{mustAppend(t, l, "after repair"), "after repair"})
			l = reopen(t, l, c)
			equalEntries(t, replayAll(t, l), want)
		})
	}
}

// Damage in the middle of the last segment cannot be told from a power
// loss that kept later pages and lost earlier ones: the records from the
// damage on are dropped, and the log says so as an error.
func TestDamageInLastSegment(t *testing.T) {
	c := Config{Dir: t.TempDir()}
	want := fill(t, c, 20)
	path := segmentFiles(t, c.Dir)[0]
	off := headerSize + int64(want[9].pos) + frameHeader + 2 // inside record 10's payload
	b, _ := os.ReadFile(path)
	b[off] ^= 0xff
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
	log, logs := captured()
	l := openT(t, c, log)
	equalEntries(t, replayAll(t, l), want[:10])
	if s := logs.String(); !strings.Contains(s, "level=ERROR") || !strings.Contains(s, "damaged record in the middle of the last segment") {
		t.Fatalf("log:\n%s", s)
	}
}

// Damage in a segment that is not the last is never skipped: Open fails
// and names the file and offset.
func TestEarlierSegmentDamageRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, path string) int64 // returns the offset Open must name, -1 for none
		want string
	}{
		{"flipped payload byte", func(t *testing.T, path string) int64 {
			b, _ := os.ReadFile(path)
			// Damage the third record.
			off := int64(headerSize)
			for range 2 {
				off += frameHeader + int64(binary.LittleEndian.Uint32(b[off:]))
			}
			b[off+frameHeader+1] ^= 0x40
			os.WriteFile(path, b, 0o640)
			return off
		}, "frame checksum or length does not match"},
		{"cut short", func(t *testing.T, path string) int64 {
			size := fileSize(t, path)
			os.Truncate(path, size-3)
			b, _ := os.ReadFile(path)
			off := int64(headerSize)
			for off+frameHeader+int64(binary.LittleEndian.Uint32(b[off:])) <= int64(len(b)) {
				off += frameHeader + int64(binary.LittleEndian.Uint32(b[off:]))
			}
			return off
		}, "incomplete frame"},
		{"zeroed header", func(t *testing.T, path string) int64 {
			b, _ := os.ReadFile(path)
			copy(b, make([]byte, headerSize))
			os.WriteFile(path, b, 0o640)
			return -1
		}, "not a WAL segment"},
		{"header of another segment", func(t *testing.T, path string) int64 {
			b, _ := os.ReadFile(path)
			copy(b, encodeHeader(999))
			os.WriteFile(path, b, 0o640)
			return -1
		}, "header says first position 999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Dir: t.TempDir(), SegmentBytes: 1024}
			fill(t, c, 60)
			files := segmentFiles(t, c.Dir)
			if len(files) < 3 {
				t.Fatalf("%d segments", len(files))
			}
			victim := files[1]
			off := tc.edit(t, victim)
			l, err := Open(c, discard())
			if err == nil {
				l.Close()
				t.Fatal("Open accepted a damaged segment")
			}
			msg := err.Error()
			if !strings.Contains(msg, victim) || !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q does not name %s and %q", msg, victim, tc.want)
			}
			if off >= 0 && !strings.Contains(msg, fmt.Sprintf("offset %d", off)) {
				t.Fatalf("error %q does not name offset %d", msg, off)
			}
		})
	}
}

// Files that are not WAL segments are refused, never overwritten or
// replayed; files without the segment extension are left alone.
func TestNotASegmentRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the path Open must name
	}{
		{"text under a segment name", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, segmentName(0))
			os.WriteFile(p, []byte("PRAGMA journal_mode=wal; -- not a log segment at all\n"), 0o640)
			return p
		}},
		{"short text under a segment name", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, segmentName(0))
			os.WriteFile(p, []byte("hello"), 0o640)
			return p
		}},
		{"sqlite file under a segment name", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, segmentName(0))
			os.WriteFile(p, append([]byte("SQLite format 3\x00"), make([]byte, 4080)...), 0o640)
			return p
		}},
		{"foreign file before a real segment", func(t *testing.T, dir string) string {
			fill(t, Config{Dir: dir}, 3)
			p := filepath.Join(dir, segmentName(0))
			os.Rename(p, filepath.Join(dir, segmentName(1<<40)))
			os.WriteFile(p, bytes.Repeat([]byte("x"), 100), 0o640)
			return p
		}},
		{"badly named .wal file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "ledger.wal")
			os.WriteFile(p, encodeHeader(0), 0o640)
			return p
		}},
		{"directory under a segment name", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, segmentName(0))
			os.Mkdir(p, 0o750)
			return p
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tc.setup(t, dir)
			before, _ := os.ReadFile(path)
			l, err := Open(Config{Dir: dir}, discard())
			if err == nil {
				l.Close()
				t.Fatal("Open accepted it")
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name %s", err, path)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Fatal("Open changed the file")
			}
		})
	}
	// Other files are none of the log's business.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "README"), []byte("wal segments"), 0o640)
	openT(t, Config{Dir: dir}, nil)
}

// A crash while creating a segment leaves it empty or with part of its
// header; as the last segment it is rewritten and used.
func TestTornHeaderRepaired(t *testing.T) {
	for _, tc := range []struct {
		name string
		body func(first Pos) []byte
	}{
		{"empty", func(Pos) []byte { return nil }},
		{"part of the header", func(first Pos) []byte { return encodeHeader(first)[:9] }},
		{"zeros", func(Pos) []byte { return make([]byte, 12) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Dir: t.TempDir()}
			want := fill(t, c, 5)
			end := want[len(want)-1].pos
			os.WriteFile(filepath.Join(c.Dir, segmentName(end)), tc.body(end), 0o640)
			log, logs := captured()
			l := openT(t, c, log)
			equalEntries(t, replayAll(t, l), want)
			if !strings.Contains(logs.String(), "incomplete header") {
				t.Fatalf("log:\n%s", logs)
			}
			want = append(want, entry{mustAppend(t, l, "next"), "next"})
			l = reopen(t, l, c)
			equalEntries(t, replayAll(t, l), want)
		})
	}
}

// A segment lost between others (deleted by hand) leaves a gap: Open goes
// on and logs it as an error.
func TestGapBetweenSegments(t *testing.T) {
	c := Config{Dir: t.TempDir(), SegmentBytes: 1024}
	fill(t, c, 60)
	files := segmentFiles(t, c.Dir)
	os.Remove(files[1])
	log, logs := captured()
	l := openT(t, c, log)
	if !strings.Contains(logs.String(), "records missing between two segments") {
		t.Fatalf("log:\n%s", logs)
	}
	mustAppend(t, l, "still writable")
}
