package wal

import (
	"errors"
	"fmt"
)

// SyncMode says what "durable" means when Append returns.
type SyncMode string

const (
	// SyncProcess: a record is durable against a crash of the process once
	// write(2) of its group returned: the kernel holds it and writes it back
	// on its own. A power loss or kernel crash can lose the last seconds.
	SyncProcess SyncMode = "process"
	// SyncPower: each group is also fdatasync'ed before its Appends return;
	// records survive a power loss.
	SyncPower SyncMode = "power"
)

// Defaults applied by SetDefaults.
const (
	DefaultSegmentBytes    = 64 << 20
	DefaultMaxPendingBytes = 1 << 30

	// MaxRecordBytes bounds one record. It also bounds the length the
	// decoder believes, so a corrupt length field never makes it allocate
	// or read gigabytes.
	MaxRecordBytes = 16 << 20

	minSegmentBytes    = 1 << 10
	minMaxPendingBytes = 1 << 10
)

// Config configures a Log.
type Config struct {
	// Dir holds the segment files; it is created if missing and must not be
	// shared with anything else that names files *.wal.
	Dir string `yaml:"dir"`
	// Sync is SyncProcess (default) or SyncPower.
	Sync SyncMode `yaml:"sync"`
	// SegmentBytes: a segment is closed and a new one started once the next
	// group would take it past this size (a single group larger than it
	// gets a segment of its own).
	SegmentBytes int64 `yaml:"segment_bytes"`
	// MaxPendingBytes bounds the bytes appended but not yet Released
	// (framing included). Beyond it Append returns ErrFull at once.
	MaxPendingBytes int64 `yaml:"max_pending_bytes"`
}

// SetDefaults fills the zero fields.
func (c *Config) SetDefaults() {
	if c.Sync == "" {
		c.Sync = SyncProcess
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.MaxPendingBytes == 0 {
		c.MaxPendingBytes = DefaultMaxPendingBytes
	}
}

// Validate reports every problem it finds, not just the first. It expects
// SetDefaults to have run.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("wal: "+format, a...)) }
	if c.Dir == "" {
		bad("dir is empty")
	}
	if c.Sync != SyncProcess && c.Sync != SyncPower {
		bad("sync %q: want %q or %q", c.Sync, SyncProcess, SyncPower)
	}
	if c.SegmentBytes < minSegmentBytes {
		bad("segment_bytes %d: want at least %d", c.SegmentBytes, minSegmentBytes)
	}
	if c.MaxPendingBytes < minMaxPendingBytes {
		bad("max_pending_bytes %d: want at least %d", c.MaxPendingBytes, minMaxPendingBytes)
	}
	return errors.Join(errs...)
}
