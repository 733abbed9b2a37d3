//go:build !linux

package load

import "time"

// Elsewhere the runtime's timers pace the open loop, at the platform's
// precision.
type ticker struct{ t *time.Ticker }

func newTicker(every time.Duration) (*ticker, error) { return &ticker{time.NewTicker(every)}, nil }
func (t *ticker) wait() error                        { <-t.t.C; return nil }
func (t *ticker) stop()                              { t.t.Stop() }
