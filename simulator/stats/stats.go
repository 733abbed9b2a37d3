// Package stats counts what the simulator answered, per token and in total.
// These counts are the ground truth a gateway's billing ledger is
// reconciled against, so every answered request lands in exactly one of
// billed and not_billed.
package stats

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/fault"
)

// Snapshot is the JSON of GET /admin/stats.
type Snapshot struct {
	Totals Counts            `json:"totals"`
	Tokens map[string]Counts `json:"tokens"`
}

// Counts is one token's (or the totals') tally. Results, Statuses and
// Faults always list every key the simulator can produce, zeros included.
// Requests == Billed + NotBilled.
type Counts struct {
	Requests int64            `json:"requests"`
	Results  map[string]int64 `json:"results"`
	Statuses map[string]int64 `json:"statuses"`
	Faults   map[string]int64 `json:"faults"`
	// Billed counts 200 answers whose result is billed ("0", "-1").
	Billed int64 `json:"billed"`
	// NotBilled counts every other answered request: other results, HTTP
	// errors and faults.
	NotBilled int64 `json:"not_billed"`
	// APIs breaks down the answers of every API other than check-2e, per
	// API (check-id-name-date, IdCardVerification, CheckIdNameDate, ...);
	// absent when there were none. Those answers are in the counts above
	// too: under Results when their codes are check-2e's
	// (IdCardVerification), under Statuses by the HTTP status sent (every
	// Tencent Cloud API 3.0 answer, errors included, is a 200), under
	// Faults by fault.
	APIs map[string]APICounts `json:"apis,omitempty"`
}

// Statuses are the HTTP statuses the simulator answers with, in the order
// their counters are kept.
var Statuses = []int{200, 400, 401, 429, 500}

// Result indexes follow contracts.Results.
var (
	numResults = len(contracts.Results)
	billed     = func() []bool {
		b := make([]bool, len(contracts.Results))
		for i, r := range contracts.Results {
			b[i] = r.Billing == contracts.Billed
		}
		return b
	}()
	statusKeys = func() []string {
		s := make([]string, len(Statuses))
		for i, st := range Statuses {
			s[i] = strconv.Itoa(st)
		}
		return s
	}()
)

// ResultIndex is the position of a result code in contracts.Results, or -1.
func ResultIndex(c contracts.ResultCode) int {
	for i := range contracts.Results {
		if contracts.Results[i].Code == c {
			return i
		}
	}
	return -1
}

// StatusIndex is the position of an HTTP status in Statuses; statuses the
// simulator does not produce count as 500 (index of 500).
func StatusIndex(st int) int {
	switch st {
	case 200:
		return 0
	case 400:
		return 1
	case 401:
		return 2
	case 429:
		return 3
	}
	return 4
}

// Counter is a lock-free tally. The zero value is ready to use.
type Counter struct {
	requests  atomic.Int64
	results   [8]atomic.Int64
	statuses  [5]atomic.Int64
	faults    [fault.Count]atomic.Int64
	billed    atomic.Int64
	notBilled atomic.Int64
}

func init() {
	// The fixed arrays above must fit the contract's tables.
	if numResults > 8 || len(Statuses) != 5 {
		panic("stats: counter arrays do not match contracts.Results or Statuses")
	}
}

// Answer counts a 200 answer with the result at index ri.
func (c *Counter) Answer(ri int) {
	c.requests.Add(1)
	c.results[ri].Add(1)
	c.statuses[0].Add(1)
	if billed[ri] {
		c.billed.Add(1)
	} else {
		c.notBilled.Add(1)
	}
}

// Other counts a 200 answer whose code is not one of check-2e's results
// (a date-check result, a Tencent Cloud API 3.0 error).
func (c *Counter) Other(billed bool) {
	c.requests.Add(1)
	c.statuses[0].Add(1)
	if billed {
		c.billed.Add(1)
	} else {
		c.notBilled.Add(1)
	}
}

// Error counts an HTTP error answer with the status at index si.
func (c *Counter) Error(si int) {
	c.requests.Add(1)
	c.statuses[si].Add(1)
	c.notBilled.Add(1)
}

// Fault counts a request that ended in fault k.
func (c *Counter) Fault(k fault.Kind) {
	c.requests.Add(1)
	c.faults[k].Add(1)
	c.notBilled.Add(1)
}

// Reset zeroes every count. Counts taken concurrently with a reset may
// land on either side of it.
func (c *Counter) Reset() {
	c.requests.Store(0)
	for i := range c.results {
		c.results[i].Store(0)
	}
	for i := range c.statuses {
		c.statuses[i].Store(0)
	}
	for i := range c.faults {
		c.faults[i].Store(0)
	}
	c.billed.Store(0)
	c.notBilled.Store(0)
}

// Counts copies the tally into its JSON shape.
func (c *Counter) Counts() Counts {
	out := Counts{
		Requests:  c.requests.Load(),
		Results:   make(map[string]int64, numResults),
		Statuses:  make(map[string]int64, len(Statuses)),
		Faults:    make(map[string]int64, len(fault.Kinds)),
		Billed:    c.billed.Load(),
		NotBilled: c.notBilled.Load(),
	}
	for i, r := range contracts.Results {
		out.Results[string(r.Code)] = c.results[i].Load()
	}
	for i, k := range statusKeys {
		out.Statuses[k] = c.statuses[i].Load()
	}
	for _, k := range fault.Kinds {
		out.Faults[k.String()] = c.faults[k].Load()
	}
	return out
}

// Book is the totals plus one Counter per known credential (API tokens
// and Tencent SecretIds, keyed by themselves). Tokens are fixed at
// construction, so lookups need no lock.
type Book struct {
	Totals Counter
	tokens map[string]*Counter
	order  []string
	mu     sync.Mutex // serialises Reset against Snapshot
	apis   apiBook
}

// NewBook prepares counters for these tokens.
func NewBook(tokens []string) *Book {
	b := &Book{tokens: make(map[string]*Counter, len(tokens))}
	for _, t := range tokens {
		if _, ok := b.tokens[t]; !ok {
			b.tokens[t] = new(Counter)
			b.order = append(b.order, t)
		}
	}
	return b
}

// Token is the counter of a known token, or nil.
func (b *Book) Token(t string) *Counter { return b.tokens[t] }

// Snapshot copies every count.
func (b *Book) Snapshot() Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Snapshot{Totals: b.Totals.Counts(), Tokens: make(map[string]Counts, len(b.tokens))}
	s.Totals.APIs = b.apiSnapshot("")
	for _, t := range b.order {
		c := b.tokens[t].Counts()
		c.APIs = b.apiSnapshot(t)
		s.Tokens[t] = c
	}
	return s
}

// Reset zeroes the totals and every token's counts.
func (b *Book) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.Totals.Reset()
	for _, c := range b.tokens {
		c.Reset()
	}
	b.resetAPIs()
}
