package wal

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Pos is a position in the log: the count of frame bytes (framing
// included) before a point, from the log's creation on, across segments.
// Append and Replay give each record the position just after it; positions
// only grow, and Release takes one of them.
type Pos uint64

var (
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("wal: closed")
	// ErrFull: MaxPendingBytes are appended and not yet released.
	ErrFull = errors.New("wal: full (max_pending_bytes appended and not released)")
	// ErrTooLarge: the record is over MaxRecordBytes or MaxPendingBytes.
	ErrTooLarge = errors.New("wal: record too large")
	// ErrUnavailable wraps the cause while the log cannot write (Err).
	ErrUnavailable = errors.New("wal: unavailable")
	// ErrReplayAfterAppend: Replay is for recovery, before the first Append.
	ErrReplayAfterAppend = errors.New("wal: replay after append")
)

// maxSpare bounds the group buffer the writer keeps for reuse: one burst
// does not pin a huge buffer for the life of the process.
const maxSpare = 4 << 20

// group is the set of Appends written by one write(2). Its waiters block
// on done; err is set before done is closed.
type group struct {
	done chan struct{}
	err  error
	n    int // records
}

func newGroup() *group { return &group{done: make(chan struct{})} }

// Log is a write-ahead log. Its methods are safe for concurrent use.
type Log struct {
	cfg Config
	log *slog.Logger

	// The Append side, under mu.
	mu       sync.Mutex
	buf      []byte // frames of the group being filled
	spare    []byte // the writer's previous buffer, reused
	fill     *group // waiters of the group being filled
	next     Pos    // end of buf: written plus the bytes queued or in flight
	written  Pos    // end of the last record written (and synced in power mode)
	released Pos    // records up to here are safe elsewhere
	failErr  error  // non-nil while failed: Append returns it at once
	closed   bool
	appended bool
	// segs are the retained segments, oldest first. The last one is the
	// active segment (while a lost one awaits its replacement, the lost
	// one).
	segs []segment
	wake chan struct{} // capacity 1: buf became non-empty, or Close

	errp     atomic.Pointer[error]
	failures atomic.Uint64
	groups   atomic.Uint64

	// The writer side, under wmu (taken before mu, never after it): the
	// active segment and the failure state.
	wmu    sync.Mutex
	f      *os.File // nil while the active segment is lost
	path   string
	fi     os.FileInfo
	off    int64 // file offset after the last good record
	fail   *failure
	lock   *os.File
	lockFi os.FileInfo

	stop        chan struct{}
	writerDone  chan struct{}
	monitorDone chan struct{}
	bg          sync.WaitGroup // rotated-out segments being synced and closed
}

// Open opens the log in c.Dir (creating it), checks every retained segment
// and repairs a torn tail of the last one. It fails on damage anywhere
// else, naming the file and offset, and on files that are not segments. A
// nil log uses slog.Default().
func Open(c Config, log *slog.Logger) (*Log, error) {
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	if err := makeDir(c); err != nil {
		return nil, err
	}
	lock, err := lockDir(c.Dir)
	if err != nil {
		return nil, err
	}
	l := &Log{
		cfg: c, log: log, lock: lock,
		fill:        newGroup(),
		wake:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
		writerDone:  make(chan struct{}),
		monitorDone: make(chan struct{}),
	}
	if l.lockFi, err = lock.Stat(); err == nil {
		err = l.load()
	}
	if err != nil {
		if l.f != nil {
			l.f.Close()
		}
		lock.Close()
		return nil, err
	}
	go l.writer()
	go l.monitor()
	return l, nil
}

// load checks the segments in the directory and opens the last one for
// appending (or creates the first).
func (l *Log) load() error {
	segs, err := listSegments(l.cfg.Dir)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		f, fi, err := l.createSegment(0)
		if err != nil {
			return err
		}
		l.f, l.path, l.fi, l.off = f, f.Name(), fi, headerSize
		l.segs = []segment{{path: f.Name(), fi: fi}}
		return nil
	}
	for i := range segs {
		s := &segs[i]
		last := i == len(segs)-1
		if err := l.loadSegment(s, last); err != nil {
			return err
		}
		if i == 0 {
			continue
		}
		prev := segs[i-1]
		switch {
		case prev.end > s.first:
			return fmt.Errorf("wal: %s overlaps %s: its records end at position %d, the next segment starts at %d", prev.path, s.path, prev.end, s.first)
		case prev.end < s.first:
			l.log.Error("wal: records missing between two segments (a segment was lost)",
				"after", prev.path, "before", s.path, "missing_bytes", s.first-prev.end)
		}
	}
	l.segs = segs
	last := segs[len(segs)-1]
	l.released, l.written, l.next = segs[0].first, last.end, last.end
	return nil
}

// loadSegment scans one segment; the last one stays open as the active
// segment, with a torn tail or torn header repaired.
func (l *Log) loadSegment(s *segment, last bool) error {
	flag := os.O_RDONLY
	if last {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(s.path, flag, 0)
	if err != nil {
		return fmt.Errorf("wal: open %s: %w", s.path, err)
	}
	r, err := scanSegment(f, *s)
	s.end, s.records = r.end, r.records
	if err == nil && !last {
		switch {
		case r.tornHeader:
			err = fmt.Errorf("wal: %s: incomplete header (%d bytes) in a segment that is not the last", s.path, r.size)
		case r.damage != nil:
			err = fmt.Errorf("wal: %s: %w at offset %d of %d, in a segment that is not the last: the records after it cannot be read (move the file away to start without them)", s.path, r.damage, r.goodOff, r.size)
		}
	}
	if err == nil && last {
		r.goodOff, err = l.repairTail(f, *s, r)
	}
	if err == nil {
		s.fi, err = f.Stat()
	}
	if err != nil || !last {
		f.Close()
		return err
	}
	l.f, l.path, l.fi, l.off = f, s.path, s.fi, r.goodOff
	return nil
}

// repairTail makes the last segment end after its last whole record, and
// returns that offset. A crash while creating the file leaves a short
// header, rewritten here; a crash during a write leaves part of a frame;
// a power loss in process mode can leave zeros or stale bytes. What goes
// is logged with its size. Valid frames after the damage mean it was not
// a torn write: logged as an error, since records after it are dropped.
func (l *Log) repairTail(f *os.File, s segment, r scanResult) (int64, error) {
	if r.tornHeader {
		err := f.Truncate(0)
		if err == nil {
			_, err = f.WriteAt(encodeHeader(s.first), 0)
		}
		if err == nil && l.cfg.Sync == SyncPower {
			err = datasync(f)
		}
		if err != nil {
			return 0, fmt.Errorf("wal: repair %s: %w", s.path, err)
		}
		l.log.Warn("wal: rewrote the incomplete header of the last segment (a crash while creating it)",
			"file", s.path, "bytes", r.size)
		return headerSize, nil
	}
	if r.damage == nil {
		return r.goodOff, nil
	}
	tail := r.size - r.goodOff
	look := make([]byte, min(tail, 4<<20))
	n, _ := f.ReadAt(look, r.goodOff)
	follow := -1
	if n > 1 {
		follow = findFrame(look[1:n])
	}
	err := f.Truncate(r.goodOff)
	if err == nil && l.cfg.Sync == SyncPower {
		err = datasync(f)
	}
	if err != nil {
		return 0, fmt.Errorf("wal: truncate %s to %d: %w", s.path, r.goodOff, err)
	}
	if follow >= 0 {
		l.log.Error("wal: damaged record in the middle of the last segment; truncated it and the records after it",
			"file", s.path, "offset", r.goodOff, "bytes", tail, "next_valid_frame_at", r.goodOff+1+int64(follow),
			"reason", r.damage.Error(), "records_kept", r.records)
	} else {
		l.log.Warn("wal: truncated a torn tail of the last segment (a crash during a write)",
			"file", s.path, "offset", r.goodOff, "bytes", tail, "reason", r.damage.Error(), "records_kept", r.records)
	}
	return r.goodOff, nil
}

// Replay calls fn with every record of the retained segments, in order,
// with the position just after it. rec is valid only during the call. It
// stops at the first error fn returns and returns it. Replay is for
// recovery: it returns ErrReplayAfterAppend once Append was called.
func (l *Log) Replay(fn func(pos Pos, rec []byte) error) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.appended {
		l.mu.Unlock()
		return ErrReplayAfterAppend
	}
	segs := slices.Clone(l.segs)
	l.mu.Unlock()
	for _, s := range segs {
		if err := replaySegment(s, fn); err != nil {
			return err
		}
	}
	return nil
}

func replaySegment(s segment, fn func(Pos, []byte) error) error {
	if s.end == s.first {
		return nil
	}
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("wal: replay: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !os.SameFile(fi, s.fi) {
		return fmt.Errorf("wal: replay: %s was replaced since Open", s.path)
	}
	fr := newFrameReader(io.NewSectionReader(f, headerSize, int64(s.end-s.first)), headerSize)
	for pos := s.first; pos < s.end; {
		rec, n, err := fr.next()
		if err != nil {
			if err == io.EOF {
				err = errTorn
			}
			return fmt.Errorf("wal: replay %s at offset %d: %w", s.path, fr.off, err)
		}
		pos += Pos(n)
		if err := fn(pos, rec); err != nil {
			return err
		}
	}
	return nil
}

// Append writes rec to the log and returns the position after it. It
// returns once the group holding rec is written (and, in power mode,
// synced): the record survives what the sync mode promises. Concurrent
// Appends share one write. It fails at once with ErrFull beyond
// MaxPendingBytes, with the cause (wrapping ErrUnavailable) while the log
// cannot write, and with ErrClosed after Close.
func (l *Log) Append(rec []byte) (Pos, error) {
	size := Pos(frameHeader + len(rec))
	if len(rec) > MaxRecordBytes || int64(size) > l.cfg.MaxPendingBytes {
		return 0, ErrTooLarge
	}
	var h [frameHeader]byte
	putFrameHeader(h[:], rec)

	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return 0, ErrClosed
	case l.failErr != nil:
		err := l.failErr
		l.mu.Unlock()
		return 0, err
	case int64(l.next-l.released+size) > l.cfg.MaxPendingBytes:
		l.mu.Unlock()
		return 0, ErrFull
	}
	l.appended = true
	if len(l.buf) == 0 {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	l.buf = append(append(l.buf, h[:]...), rec...)
	l.next += size
	pos, g := l.next, l.fill
	g.n++
	l.mu.Unlock()

	<-g.done
	if g.err != nil {
		return 0, g.err
	}
	return pos, nil
}

// writer writes groups until Close, then what was queued before it.
func (l *Log) writer() {
	defer close(l.writerDone)
	for {
		l.mu.Lock()
		for len(l.buf) == 0 && !l.closed {
			l.mu.Unlock()
			<-l.wake
			l.mu.Lock()
		}
		if len(l.buf) == 0 {
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		l.commit()
		// The waiters just woken sit in this P's run queue; letting them
		// run first makes their next Appends join the next group instead
		// of each costing a write(2) of its own.
		runtime.Gosched()
	}
}

// commit takes everything appended so far as one group, writes it and
// wakes its waiters.
func (l *Log) commit() {
	l.wmu.Lock()
	l.mu.Lock()
	buf, g, start := l.buf, l.fill, l.written
	if len(buf) == 0 { // failed in the meantime; the group was failed with it
		l.mu.Unlock()
		l.wmu.Unlock()
		return
	}
	l.buf, l.spare, l.fill = l.spare[:0], nil, newGroup()
	l.mu.Unlock()

	kind, err := l.write(buf, start)
	l.mu.Lock()
	if err == nil {
		l.groups.Add(1)
		l.written = start + Pos(len(buf))
		active := &l.segs[len(l.segs)-1]
		active.end = l.written
		active.records += g.n
	}
	if cap(buf) <= maxSpare {
		l.spare = buf[:0]
	}
	l.mu.Unlock()
	if err != nil {
		err = l.setFailed(kind, err, len(buf))
	}
	l.wmu.Unlock()
	g.err = err
	close(g.done)
}

// write writes one group at the end of the active segment, rotating first
// when the group would take the segment past SegmentBytes. On a failed
// write the file is cut back to its last good offset, so a partial write
// never leaves part of a frame behind. wmu is held.
func (l *Log) write(buf []byte, start Pos) (failKind, error) {
	if l.off > headerSize && l.off+int64(len(buf)) > l.cfg.SegmentBytes {
		if err := l.checkSegment(); err != nil {
			return failLost, err
		}
		if err := l.rotate(start); err != nil {
			return failRotate, err
		}
	}
	_, err := l.f.WriteAt(buf, l.off)
	if err == nil && l.cfg.Sync == SyncPower {
		err = datasync(l.f)
	}
	if err != nil {
		if terr := l.f.Truncate(l.off); terr != nil {
			// The probe cuts it before anything else is written.
			l.log.Error("wal: cannot cut a failed write back", "file", l.path, "offset", l.off, "err", terr)
		}
		return failWrite, err
	}
	l.off += int64(len(buf))
	return 0, nil
}

// rotate makes a new segment starting at start the active one. The old
// one is synced (its records then survive a power loss in process mode
// too) and closed in the background. After a lost segment (f is nil) the
// directory and its lock are made again first. wmu is held.
func (l *Log) rotate(start Pos) error {
	if l.f == nil {
		if err := makeDir(l.cfg); err != nil {
			return err
		}
		if err := l.relock(); err != nil {
			return err
		}
	}
	f, fi, err := l.createSegment(start)
	if err != nil {
		return err
	}
	old := l.f
	l.f, l.path, l.fi, l.off = f, f.Name(), fi, headerSize
	l.mu.Lock()
	if old == nil {
		l.segs = l.segs[:len(l.segs)-1] // the lost one
	}
	l.segs = append(l.segs, segment{path: f.Name(), first: start, end: start, fi: fi})
	l.mu.Unlock()
	if old != nil {
		l.bg.Add(1)
		go func() {
			defer l.bg.Done()
			if l.cfg.Sync == SyncProcess {
				if err := datasync(old); err != nil {
					l.log.Warn("wal: sync of a full segment failed; its records survive a crash of the process but maybe not a power loss", "file", old.Name(), "err", err)
				}
			}
			old.Close()
		}()
	}
	return nil
}

// relock takes the directory lock again when its file is not the one held
// (the directory was deleted and made again).
func (l *Log) relock() error {
	if fi, err := os.Stat(l.lock.Name()); err == nil && os.SameFile(fi, l.lockFi) {
		return nil
	}
	lock, err := lockDir(l.cfg.Dir)
	if err != nil {
		return err
	}
	fi, err := lock.Stat()
	if err != nil {
		lock.Close()
		return fmt.Errorf("wal: lock: %w", err)
	}
	l.lock.Close()
	l.lock, l.lockFi = lock, fi
	return nil
}

// Release says the records up to upto are safe elsewhere: they stop
// counting against MaxPendingBytes, and every segment whose records all
// end at or before upto (except the active one) is deleted.
func (l *Log) Release(upto Pos) {
	l.mu.Lock()
	upto = min(upto, l.written)
	if upto <= l.released {
		l.mu.Unlock()
		return
	}
	l.released = upto
	i := 0
	for i < len(l.segs)-1 && l.segs[i].end <= upto {
		i++
	}
	var drop []segment
	if i > 0 {
		drop = slices.Clone(l.segs[:i])
		l.segs = slices.Delete(l.segs, 0, i)
	}
	l.mu.Unlock()
	for _, s := range drop {
		l.removeSegment(s)
	}
}

// removeSegment deletes a released segment, unless the file at its path is
// no longer it.
func (l *Log) removeSegment(s segment) {
	fi, err := os.Stat(s.path)
	if err != nil {
		if !os.IsNotExist(err) {
			l.log.Error("wal: cannot delete a released segment", "file", s.path, "err", err)
		}
		return
	}
	if !os.SameFile(fi, s.fi) {
		l.log.Warn("wal: a released segment's file was replaced; leaving the new file alone", "file", s.path)
		return
	}
	if err := os.Remove(s.path); err != nil && !os.IsNotExist(err) {
		l.log.Error("wal: cannot delete a released segment", "file", s.path, "err", err)
	}
}

// Err is nil while the log can write; otherwise why not: the cause of a
// failure (wrapping ErrUnavailable) until the background probe finds
// writing works again, or ErrClosed. Callers refuse work that needs the
// log while it is non-nil.
func (l *Log) Err() error {
	if p := l.errp.Load(); p != nil {
		return *p
	}
	return nil
}

// Stats is a snapshot of the log's counters.
type Stats struct {
	Written  Pos    // end of the last record written
	Released Pos    // the highest position released
	Pending  int64  // bytes appended (or queued) and not released; ErrFull beyond MaxPendingBytes
	Segments int    // retained segment files
	Groups   uint64 // groups written: one write(2) (and fdatasync in power mode) each
	Failures uint64 // times the log entered the failed state
}

// Stats returns the log's counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{
		Written: l.written, Released: l.released, Pending: int64(l.next - l.released),
		Segments: len(l.segs), Groups: l.groups.Load(), Failures: l.failures.Load(),
	}
}

// Close writes what was appended before it, syncs and closes the log. It
// returns the failure if the log was failed (appends queued then were
// refused with it). Append after Close returns ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	select {
	case l.wake <- struct{}{}:
	default:
	}
	l.mu.Unlock()
	<-l.writerDone
	close(l.stop)
	<-l.monitorDone

	l.wmu.Lock()
	defer l.wmu.Unlock()
	var err error
	if l.fail != nil {
		err = fmt.Errorf("wal: close: %w", l.fail.err)
	}
	if l.f != nil {
		if l.fail == nil {
			if serr := datasync(l.f); serr != nil {
				err = fmt.Errorf("wal: close: %w", serr)
			}
		}
		if cerr := l.f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("wal: close: %w", cerr)
		}
		l.f = nil
	}
	l.bg.Wait()
	l.lock.Close()
	closed := ErrClosed
	l.errp.Store(&closed)
	return err
}
