package wal

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync writes f's data (and the metadata needed to read it back, such
// as its size) to stable storage: fdatasync(2), which skips the inode's
// timestamps that fsync would also write.
func datasync(f *os.File) error {
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
	}
	return nil
}
