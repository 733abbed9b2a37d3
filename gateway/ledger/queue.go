package ledger

import (
	"errors"
	"sync"
)

// queue is the bounded hand-over between requests and the writer.
// Requests append under mu and the writer takes everything queued in one
// swap, so a request never waits on the writer entry by entry; it waits
// only while the queue is full (backpressure), and no entry is dropped.
type queue struct {
	mu      sync.Mutex
	space   *sync.Cond // signalled when the writer takes the queue
	items   []Entry    // entries and flush barriers, in order
	spare   []Entry    // the writer's previous batch, reused
	max     int        // queue bound; push waits beyond it
	batch   int        // a full batch: the writer does not linger
	held    int        // places reserved for outcomes of requests in flight
	waiting int        // pushes waiting for space
	barrier bool       // a flush is queued: the writer does not linger
	closed  bool
	wake    chan struct{} // capacity 1: the queue became non-empty, or close
}

func (q *queue) init(size, batch int) {
	q.max, q.batch = size, batch
	q.wake = make(chan struct{}, 1)
	q.space = sync.NewCond(&q.mu)
}

// push queues e; it blocks while the queue is full. It fails only once the
// queue is closed.
func (q *queue) push(e Entry) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return errors.New("ledger: closed")
	}
	// A push that started before close still gets its entry stored: the
	// writer keeps draining until nobody waits.
	for len(q.items)+q.held >= q.max {
		q.waiting++
		q.space.Wait()
		q.waiting--
	}
	q.items = append(q.items, e)
	q.barrier = q.barrier || e.ack != nil
	first := len(q.items) == 1
	q.mu.Unlock()
	if first {
		q.signal()
	}
	return nil
}

// hold reserves a place for an entry to come, without waiting: a request
// holds one before it goes upstream, so its outcome is never kept waiting
// after the upstream answered (and billed) it. false: the queue is full
// (or closed), and the request must not go upstream.
func (q *queue) hold() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || len(q.items)+q.held >= q.max {
		return false
	}
	q.held++
	return true
}

// unhold returns a place hold reserved and no entry will use.
func (q *queue) unhold() {
	q.mu.Lock()
	q.held--
	q.space.Broadcast()
	q.mu.Unlock()
}

// pushHeld queues e into the place hold reserved; it never waits, and it
// queues even after close began (the writer drains until nothing is held).
func (q *queue) pushHeld(e Entry) {
	q.mu.Lock()
	q.held--
	q.items = append(q.items, e)
	first := len(q.items) == 1
	q.mu.Unlock()
	if first {
		q.signal()
	}
}

// signal wakes the writer.
func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// len is the number of entries and barriers waiting.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// close refuses further pushes and wakes the writer to drain what is
// queued. It reports false when the queue was already closed.
func (q *queue) close() bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.closed = true
	q.mu.Unlock()
	q.signal()
	return true
}

// urgent reports whether the writer should not linger: a flush waits, the
// batch is full, or the queue is closing.
func (q *queue) urgent() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed || q.barrier || len(q.items) >= q.batch
}

func (q *queue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// take hands the writer everything queued and frees the space for waiting
// pushes. last is true when the queue is closed and no push still waits to
// add an entry.
func (q *queue) take() (taken []Entry, last bool) {
	q.mu.Lock()
	taken = q.items
	q.items, q.spare = q.spare[:0], nil
	q.barrier = false
	last = q.closed && q.waiting == 0 && q.held == 0
	q.space.Broadcast()
	q.mu.Unlock()
	return taken, last
}

// release returns a stored batch's slice (cleared by the writer) for reuse.
// stop is true when the writer may exit: take returned last and nothing
// was queued since; more is true when entries wait or pushes are blocked.
func (q *queue) release(taken []Entry, last bool) (stop, more bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.spare = taken[:0]
	more = len(q.items) > 0 || q.waiting > 0
	return last && !more, more
}
