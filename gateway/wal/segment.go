package wal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Segment files are named by the position of their first record, zero
// padded to 20 digits, so the lexical order of names is the log's order.
const segmentExt = ".wal"

func segmentName(first Pos) string { return fmt.Sprintf("%020d%s", uint64(first), segmentExt) }

// parseSegmentName returns the first position a segment file name encodes.
func parseSegmentName(name string) (Pos, bool) {
	digits, ok := strings.CutSuffix(name, segmentExt)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return Pos(n), err == nil
}

// segment is one retained file of the log.
type segment struct {
	path    string
	first   Pos // position of its first record (its name)
	end     Pos // end of its last record; for the active segment, the log's written end
	records int
	fi      os.FileInfo // identity: a file at path that is not this one is not the segment
}

// listSegments returns the segment files of dir in log order. A *.wal file
// whose name is not a segment name is an error: the directory holds
// something this package did not write. Other files are left alone.
func listSegments(dir string) ([]segment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: read %s: %w", dir, err)
	}
	var segs []segment
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, segmentExt) {
			continue
		}
		first, ok := parseSegmentName(name)
		if !ok || !e.Type().IsRegular() {
			return nil, fmt.Errorf("wal: %s: not a segment file (want a regular file named <20 digits>%s)", filepath.Join(dir, name), segmentExt)
		}
		segs = append(segs, segment{path: filepath.Join(dir, name), first: first})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].first < segs[j].first })
	return segs, nil
}

// scanResult is what scanning a segment found.
type scanResult struct {
	end        Pos   // position after the last valid record
	records    int   // valid records
	goodOff    int64 // file offset after the last valid record
	size       int64 // file size
	tornHeader bool  // the file is shorter than a header: a crash while creating it
	damage     error // errTorn or errCorrupt at goodOff; nil: the file ends cleanly
}

// scanSegment reads f (the segment s) and checks every frame. On damage it
// stops and reports where; whether damage is acceptable (only at the end of
// the last segment) is the caller's call.
func scanSegment(f *os.File, s segment) (scanResult, error) {
	fi, err := f.Stat()
	if err != nil {
		return scanResult{}, fmt.Errorf("wal: %w", err)
	}
	r := scanResult{size: fi.Size(), end: s.first, goodOff: headerSize}
	hdr := make([]byte, headerSize)
	n, err := io.ReadFull(f, hdr)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return r, fmt.Errorf("wal: read %s: %w", s.path, err)
	}
	if n < headerSize {
		if !tornHeader(hdr[:n], s.first) {
			return r, fmt.Errorf("wal: %s: not a WAL segment (%d bytes, no IDGWAL header)", s.path, n)
		}
		r.tornHeader, r.goodOff = true, 0
		return r, nil
	}
	first, err := decodeHeader(hdr)
	if err != nil {
		return r, fmt.Errorf("wal: %s: %w", s.path, err)
	}
	if first != s.first {
		return r, fmt.Errorf("wal: %s: header says first position %d, the name says %d", s.path, first, s.first)
	}
	fr := newFrameReader(io.NewSectionReader(f, headerSize, r.size-headerSize), headerSize)
	for {
		_, size, err := fr.next()
		if err == io.EOF {
			return r, nil
		}
		if errors.Is(err, errTorn) || errors.Is(err, errCorrupt) {
			r.damage = err
			return r, nil
		}
		if err != nil {
			return r, fmt.Errorf("wal: read %s at offset %d: %w", s.path, fr.off, err)
		}
		r.end += Pos(size)
		r.records++
		r.goodOff = fr.off
	}
}

// createSegment creates the segment file for first and writes its header.
// In power mode the header and the directory entry are synced, so a
// segment the log switched to exists after a power loss.
func (l *Log) createSegment(first Pos) (*os.File, os.FileInfo, error) {
	path := filepath.Join(l.cfg.Dir, segmentName(first))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if errors.Is(err, fs.ErrExist) {
		// Only a file put there by someone else (or left by a create that
		// failed half way and could not be removed) can be in the way. It
		// is kept, under a name Open ignores.
		aside := fmt.Sprintf("%s.displaced-%d", path, time.Now().UnixNano())
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, nil, fmt.Errorf("wal: create %s: %w (moving the file there aside: %v)", path, err, rerr)
		}
		l.log.Warn("wal: a file was in the way of a new segment; moved aside", "file", path, "moved_to", aside)
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("wal: create segment: %w", err)
	}
	fail := func(err error) (*os.File, os.FileInfo, error) {
		f.Close()
		os.Remove(path)
		return nil, nil, fmt.Errorf("wal: create segment: %w", err)
	}
	if _, err := f.WriteAt(encodeHeader(first), 0); err != nil {
		return fail(err)
	}
	if l.cfg.Sync == SyncPower {
		if err := datasync(f); err != nil {
			return fail(err)
		}
		if err := syncDir(l.cfg.Dir); err != nil {
			return fail(err)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	return f, fi, nil
}

// makeDir creates the log's directory if missing. In power mode its entry
// in the parent is synced too: a directory lost to a power loss would take
// every segment with it.
func makeDir(c Config) error {
	if err := os.MkdirAll(c.Dir, 0o750); err != nil {
		return fmt.Errorf("wal: create %s: %w", c.Dir, err)
	}
	if c.Sync == SyncPower {
		if err := syncDir(filepath.Dir(filepath.Clean(c.Dir))); err != nil {
			return fmt.Errorf("wal: %w", err)
		}
	}
	return nil
}

// syncDir makes the directory's entries (a created or removed file)
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
