// Package wal is a write-ahead log of opaque records: an append-only
// sequence of segment files in one directory, written by one goroutine in
// groups (group commit) and read back in order after a crash.
//
// # Use
//
// Open the log, Replay what it holds (everything not yet released: what a
// crash may have kept from reaching its final store), store it, Release up
// to the last replayed position, then Append. Append returns the position
// just after the record once the record is durable as the sync mode
// promises; once the record is safe elsewhere (say, in a database), Release
// that position. Released segments are deleted; unreleased bytes are
// bounded by MaxPendingBytes, beyond which Append returns ErrFull at once
// (backpressure before any work that would need the log). Release(upto)
// releases every record up to upto, so release only up to the oldest
// record still needed (an operation still under way); one that never
// completes holds the log back until ErrFull.
//
// Positions (Pos) count frame bytes from the log's creation, across
// segments: they only grow, and the records of a reopened log keep the
// positions Append returned for them.
//
// # Sync modes and their cost
//
// SyncProcess (the default): a record is durable against a crash of the
// process (kill -9, a panic, the OOM killer) once Append returned: its
// group was handed to the kernel by write(2), and the kernel writes it to
// disk on its own. A power loss or a kernel crash can lose the last few
// seconds of records. A full segment is fdatasync'ed in the background
// when the log moves to the next one, and Close syncs.
//
// SyncPower: every group is also fdatasync'ed before its Appends return,
// and a new segment's header and directory entry are synced before the
// log writes to it: an acknowledged record survives a power loss.
//
// Measured on a 2-CPU VM (AMD EPYC, ext4 on a virtual disk, load average
// 4-7 from other work, so ranges over several runs), 64..256-byte records;
// BenchmarkAppendParallel has 64 concurrent appenders, BenchmarkAppendSerial
// one:
//
//	                 process                      power
//	64 appenders     0.47-0.95 µs/op, 0 allocs    8-44 µs/op, 0 allocs
//	                 ~30 records per write(2)     ~46 records per fdatasync
//	1 appender       2.7-4.7 µs/op, 2 allocs      0.34-0.83 ms/op, 2 allocs
//
// An Append copies its record into the group's buffer and allocates
// nothing else; each group allocates its completion channel, shared by
// all its Appends. With one appender every Append is a group of its own;
// under load groups grow with the number of waiting appenders. Power mode
// adds the latency of one fdatasync to every Append, while under load one
// fdatasync serves many.
//
// # Format
//
// A segment is named by the position of its first record, 20 zero-padded
// digits and ".wal", and starts with a 20-byte header: "IDGWAL", a format
// version, that first position, and a CRC-32C of the header. A file named
// like a segment without that header is refused, never overwritten. Each
// record is a frame: length (u32), CRC-32C of the length and the payload
// (u32), payload; little-endian. Records are at most MaxRecordBytes.
//
// # Opening
//
// Open checks every retained segment. At the end of the last segment a
// torn or damaged tail (a crash during a write, zeros or stale bytes after
// a power loss) is truncated after the last whole record, with a log line
// saying how many bytes went; a last segment cut short inside its header
// (a crash while creating it) is rewritten. Damage anywhere else (a bad
// frame, a short frame or a bad header in an earlier segment, overlapping
// segments, a *.wal file that is not a segment) makes Open fail with the
// file and offset: records after it would be lost, so it is never skipped.
// A missing segment between two others (deleted by hand) is logged as an
// error and the log opens. The directory is locked (flock on dir/LOCK)
// against a second process.
//
// # Failures
//
// Err is nil while the log can write. Otherwise it returns the cause,
// wrapping ErrUnavailable, and Append fails with it at once: callers
// refuse work that would need the log before starting it, and resume when
// Err is nil again, which happens by itself.
//
//   - A failed write(2) or fdatasync (ENOSPC on a full disk, EIO): the
//     Appends of the failed group, and of the group filling behind it, get
//     the error; the segment is truncated back to its last good offset, so
//     no partial frame stays; every ~100 ms a probe writes (in power mode
//     also syncs) as many zero bytes as the failed group at the end of the
//     segment and truncates them again, and clears the failure when that
//     works.
//   - A failure to create the next segment: the log stays on the current
//     one, failed, and the probe retries the creation.
//   - The active segment deleted or replaced under the process (its open
//     file's device and inode no longer match its path; checked every
//     ~200 ms and before each rotation): the records it held are no longer
//     where a restart looks, so the log says so as an error with their
//     count (and those of older retained segments lost with it, as when
//     the directory is deleted), and the probe creates a fresh segment at
//     the current position (making the directory and its lock again when
//     they are gone). Records acknowledged between the loss and its
//     detection are lost to crash recovery too; the records themselves
//     stay with whatever already stored them.
//
// Stats counts the failures. Append does not time out: a disk that hangs
// without failing holds Appends until it answers.
package wal
