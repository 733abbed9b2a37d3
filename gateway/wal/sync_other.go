//go:build !linux

package wal

import "os"

// datasync writes f's data to stable storage (fsync: no fdatasync here).
func datasync(f *os.File) error { return f.Sync() }
