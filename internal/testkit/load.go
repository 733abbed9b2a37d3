package testkit

import (
	"sync"
	"sync/atomic"
	"time"
)

// Load drives concurrent clients. A run must be bounded: by PerWorker, For
// or Stop (Run refuses otherwise); a worker also stops early when its call
// returns false.
type Load struct {
	Workers   int
	PerWorker int             // calls per worker; 0: no bound by count
	For       time.Duration   // how long the run lasts; 0: no bound by time
	Stop      <-chan struct{} // closed: the run ends; nil: no such bound
}

// Run calls fn(worker, i) from Workers goroutines, i counting each worker's
// calls from 0, until the bounds end the run, and returns how many calls
// returned true and how long the run took.
func (l Load) Run(fn func(worker, i int) bool) (ok int64, took time.Duration) {
	return l.Start(fn)()
}

// Start is Run in the background, for tests that act while the load runs
// (reload, shut down): wait blocks until the run ends and returns Run's
// results.
func (l Load) Start(fn func(worker, i int) bool) (wait func() (ok int64, took time.Duration)) {
	if l.Workers <= 0 || (l.PerWorker <= 0 && l.For <= 0 && l.Stop == nil) {
		panic("testkit: a load run needs workers and a bound (PerWorker, For or Stop)")
	}
	var n atomic.Int64
	var deadline time.Time
	if l.For > 0 {
		deadline = time.Now().Add(l.For)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range l.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; l.PerWorker <= 0 || i < l.PerWorker; i++ {
				if !deadline.IsZero() && time.Now().After(deadline) {
					return
				}
				select {
				case <-l.Stop: // a nil channel never fires
					return
				default:
				}
				if !fn(w, i) {
					return
				}
				n.Add(1)
			}
		}()
	}
	var took time.Duration
	done := make(chan struct{})
	go func() {
		wg.Wait()
		took = time.Since(start)
		close(done)
	}()
	return func() (int64, time.Duration) {
		<-done
		return n.Load(), took
	}
}
