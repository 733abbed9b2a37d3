package testkit

import (
	"sync"

	"github.com/idgate/idgate/gateway/ledger"
)

// Ledger records the gateway's ledger entries in memory, in the order
// they came; it serves wherever the gateway takes a ledger (Intend and
// Record). Fail, when set, makes both fail with it (a ledger that cannot
// write). Safe for concurrent use. With Discard set it only counts them
// (benchmarks that must not grow with the run).
type Ledger struct {
	Discard bool
	Fail    error

	mu      sync.Mutex
	n       int
	intents int
	entries []ledger.Entry
}

// Intend counts a request about to go upstream.
func (l *Ledger) Intend(ledger.Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Fail != nil {
		return l.Fail
	}
	l.intents++
	return nil
}

// Intents is the number of intents recorded so far.
func (l *Ledger) Intents() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.intents
}

// Record keeps e (or only counts it, with Discard), and returns Fail.
func (l *Ledger) Record(e ledger.Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if !l.Discard {
		l.entries = append(l.entries, e)
	}
	return l.Fail
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
