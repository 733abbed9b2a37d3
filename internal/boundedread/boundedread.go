// Package boundedread reads the files an operator names (configuration,
// secrets) with a size bound, so a wrong path (a log, a device, a disk
// image) is refused with a clear error instead of being read whole.
package boundedread

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge is the error of a file beyond the bound.
var ErrTooLarge = errors.New("file too large")

// File reads the file at path, which must hold at most limit bytes; a
// larger file is refused after reading limit+1 bytes, with an error that
// wraps ErrTooLarge and names the bound.
func File(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", path, ErrTooLarge, limit)
	}
	return b, nil
}
