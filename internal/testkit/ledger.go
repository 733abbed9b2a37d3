package testkit

import (
	"sync"

	"github.com/idgate/idgate/gateway/ledger"
)

// Ledger records the gateway's ledger entries in memory, in the order
// they came; it serves wherever the gateway takes a Record(ledger.Entry)
// error. Safe for concurrent use. With Discard set it only counts them
// (benchmarks that must not grow with the run).
type Ledger struct {
	Discard bool

	mu      sync.Mutex
	n       int
	entries []ledger.Entry
}

// Record keeps e (or only counts it, with Discard).
func (l *Ledger) Record(e ledger.Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if !l.Discard {
		l.entries = append(l.entries, e)
	}
	return nil
}

// Entries is a copy of the entries recorded so far.
func (l *Ledger) Entries() []ledger.Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ledger.Entry(nil), l.entries...)
}

// Len is the number of entries recorded so far (discarded ones included).
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}
