//go:build !unix

package wal

import (
	"fmt"
	"os"
)

// lockDir creates dir/LOCK; without flock(2) it cannot keep a second
// process out.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(dir+string(os.PathSeparator)+"LOCK", os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("wal: lock: %w", err)
	}
	return f, nil
}
