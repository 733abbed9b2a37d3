package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// While the log cannot write, Append fails at once and Err says why; a
// background probe tries again every probeInterval and clears the state
// when writing works. The active segment's identity is checked every
// identityEvery probe ticks while writable.
const (
	probeInterval = 100 * time.Millisecond
	identityEvery = 2
	minProbeBytes = 4 << 10
	maxProbeBytes = 1 << 20
)

type failKind int

const (
	// failWrite: write(2) or fdatasync failed (ENOSPC, EIO). The file was
	// cut back; recovery is a probe write at its end that succeeds.
	failWrite failKind = iota + 1
	// failRotate: creating the next segment failed; recovery creates it.
	failRotate
	// failLost: the active segment was deleted or replaced under the
	// process; recovery creates a fresh segment.
	failLost
)

type failure struct {
	kind       failKind
	err        error // the cause, wrapping ErrUnavailable
	since      time.Time
	probeBytes int
	lastProbe  string // the last probe error logged
}

// setFailed puts the log in the failed state (or changes why it is
// failed): Append fails fast with the returned error, which wraps
// ErrUnavailable and cause, and the group being filled is failed with it.
// wmu is held.
func (l *Log) setFailed(kind failKind, cause error, groupBytes int) error {
	err := fmt.Errorf("%w: %w", ErrUnavailable, cause)
	if kind == failLost {
		l.loseSegments(cause)
	}
	if l.fail == nil {
		l.failures.Add(1)
		l.fail = &failure{since: time.Now(), probeBytes: minProbeBytes}
		l.log.Error("wal: cannot write; appends are refused until a probe write succeeds", "dir", l.cfg.Dir, "err", cause)
	}
	l.fail.kind, l.fail.err = kind, err
	if groupBytes > 0 {
		l.fail.probeBytes = min(max(groupBytes, minProbeBytes), maxProbeBytes)
	}

	l.mu.Lock()
	l.failErr = err
	l.errp.Store(&err)
	var g *group
	if len(l.buf) > 0 {
		g, l.fill, l.buf = l.fill, newGroup(), l.buf[:0]
	}
	l.next = l.written
	l.mu.Unlock()
	if g != nil {
		g.err = err
		close(g.done)
	}
	return err
}

// clearFailed ends the failed state. wmu is held.
func (l *Log) clearFailed() {
	l.log.Info("wal: writable again", "dir", l.cfg.Dir, "failed_for", time.Since(l.fail.since).Round(time.Millisecond))
	l.fail = nil
	l.mu.Lock()
	l.failErr = nil
	l.errp.Store(nil)
	l.mu.Unlock()
}

// checkSegment compares the open active segment with the file at its
// path: a deleted or replaced file means appends go where no restart will
// find them. wmu is held.
func (l *Log) checkSegment() error {
	if l.f == nil {
		return nil
	}
	fi, err := os.Stat(l.path)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("segment %s was deleted", l.path)
	case err != nil:
		return nil // cannot tell; a write failure will say what is wrong
	case !os.SameFile(fi, l.fi):
		return fmt.Errorf("segment %s was replaced by another file", l.path)
	}
	return nil
}

// loseSegments accounts for a lost active segment, and for retained older
// ones lost with it (a deleted directory): their records are no longer on
// disk, so a crash now would not replay them. It says so loudly, with how
// many; the records themselves may be safe elsewhere already (released).
// wmu is held.
func (l *Log) loseSegments(cause error) {
	if l.f == nil {
		return
	}
	l.mu.Lock()
	n := len(l.segs)
	active := l.segs[n-1]
	files, records := []string{active.path}, active.records
	keep := make([]segment, 0, n)
	for _, s := range l.segs[:n-1] {
		if fi, err := os.Stat(s.path); err == nil && os.SameFile(fi, s.fi) {
			keep = append(keep, s)
			continue
		}
		files, records = append(files, s.path), records+s.records
	}
	l.segs = append(keep, active) // the active entry goes when it is replaced
	unreleased := l.written - min(l.released, l.written)
	l.mu.Unlock()
	l.f.Close()
	l.f = nil
	l.log.Error("wal: segment file deleted or replaced under the process: its records are no longer in the log and a crash would not replay them",
		"err", cause, "files", files, "records", records, "unreleased_bytes", uint64(unreleased))
}

// monitor runs the probe while failed and the identity check while not.
func (l *Log) monitor() {
	defer close(l.monitorDone)
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		l.wmu.Lock()
		if l.fail != nil {
			l.recover()
		} else if tick%identityEvery == 0 {
			if err := l.checkSegment(); err != nil {
				l.setFailed(failLost, err, 0)
			}
		}
		l.wmu.Unlock()
	}
}

// recover tries to end the failed state. wmu is held.
func (l *Log) recover() {
	if l.fail.kind != failLost {
		if err := l.checkSegment(); err != nil {
			l.setFailed(failLost, err, 0)
		}
	}
	var err error
	switch l.fail.kind {
	case failWrite:
		err = l.probe()
	case failRotate, failLost:
		l.mu.Lock()
		at := l.written
		l.mu.Unlock()
		err = l.rotate(at)
	}
	if err != nil {
		if err.Error() != l.fail.lastProbe {
			l.fail.lastProbe = err.Error()
			l.log.Warn("wal: still cannot write", "dir", l.cfg.Dir, "err", err)
		}
		return
	}
	l.clearFailed()
}

// probe checks that the active segment can take a group again: it cuts
// any partial write off, writes zeros at the end (as many as the failed
// group, within bounds; synced in power mode) and cuts them off again.
// wmu is held.
func (l *Log) probe() error {
	if err := l.f.Truncate(l.off); err != nil {
		return fmt.Errorf("wal: probe: %w", err)
	}
	_, err := l.f.WriteAt(make([]byte, l.fail.probeBytes), l.off)
	if err == nil && l.cfg.Sync == SyncPower {
		err = datasync(l.f)
	}
	if terr := l.f.Truncate(l.off); err == nil {
		err = terr
	}
	if err != nil {
		return fmt.Errorf("wal: probe: %w", err)
	}
	return nil
}
