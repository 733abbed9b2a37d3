package load

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// A ticker paces the open loop: a periodic timerfd read through the
// runtime's poller. Go's own timers cannot: on Linux a sleep shorter than a
// millisecond lasts about one, because the poller waits in whole
// milliseconds. Paced by time.Sleep, the generator would release ~11
// requests at once every 1.1 ms at 9.5k req/s, a burst the server under
// test has to queue, and every latency, counted from its due time, would
// hold up to a millisecond of the generator's own oversleep. A timerfd
// wakes the poller when it fires. nanosleep on a thread of its own is as
// precise but holds the generator's only P while it sleeps when the
// benchmark pins the generator to one CPU, and the workers wait for the
// runtime to take it back: p50 triples.
type ticker struct{ f *os.File }

func newTicker(every time.Duration) (*ticker, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("load: timerfd: %w", err)
	}
	ts := unix.NsecToTimespec(every.Nanoseconds())
	if err := unix.TimerfdSettime(fd, 0, &unix.ItimerSpec{Interval: ts, Value: ts}, nil); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("load: timerfd: %w", err)
	}
	// A non-blocking descriptor makes a File the poller waits on.
	return &ticker{f: os.NewFile(uintptr(fd), "timerfd")}, nil
}

// wait blocks until the next tick (or returns at once if one is pending).
func (t *ticker) wait() error {
	var n [8]byte // the count of expirations since the last read
	if _, err := t.f.Read(n[:]); err != nil {
		return fmt.Errorf("load: timerfd: %w", err)
	}
	return nil
}

func (t *ticker) stop() { t.f.Close() }
