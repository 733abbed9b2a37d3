// Package journal keeps the most recent requests the simulator answered, in
// a fixed-size ring, for tests and people debugging a QA environment. It
// holds masked ID numbers only, never names, and can be switched off so
// load tests pay nothing for it.
package journal

import (
	"sync"
	"sync/atomic"
	"time"
)

// Entry is one answered request.
type Entry struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// RequestID is the authority's id of the answer (X-Trace-Id, the
	// statement's request_id).
	RequestID RequestID `json:"request_id"`
	Token     string    `json:"token,omitempty"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	// Action is the X-TC-Action of a Tencent Cloud API 3.0 call.
	Action string `json:"action,omitempty"`
	Status int    `json:"status,omitempty"`
	Result string `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
	Fault  string `json:"fault,omitempty"`
	// IDCard is masked (idcard.Mask); the name is never recorded.
	IDCard string `json:"id_card,omitempty"`
	// Source says what chose the answer: prefer, magic, scenario,
	// daily_limit, default, or, for requests refused before that,
	// validation, rate_limit, auth or routing.
	Source    string  `json:"source,omitempty"`
	LatencyMS float64 `json:"latency_ms,omitempty"`
	// ScenarioSeq is the scenario draw that decided the answer.
	ScenarioSeq uint64 `json:"scenario_seq,omitempty"`
}

// RequestID is a UUID held in fixed bytes, so recording one costs no
// allocation; it is written as a JSON string ("" when unset).
type RequestID [36]byte

// NewRequestID copies an id of up to 36 bytes.
func NewRequestID(b []byte) RequestID {
	var id RequestID
	copy(id[:], b)
	return id
}

// String is the id without padding.
func (id RequestID) String() string {
	n := 0
	for n < len(id) && id[n] != 0 {
		n++
	}
	return string(id[:n])
}

// MarshalText writes the id as text.
func (id RequestID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText reads an id of up to 36 bytes.
func (id *RequestID) UnmarshalText(b []byte) error {
	*id = NewRequestID(b)
	return nil
}

// Journal is a bounded ring of entries, safe for concurrent use.
type Journal struct {
	enabled atomic.Bool

	mu   sync.Mutex
	ring []Entry
	next int // where the next entry goes
	n    int // entries held
	seq  uint64
}

// New returns a journal holding at most size entries (at least 1).
func New(size int, enabled bool) *Journal {
	if size < 1 {
		size = 1
	}
	j := &Journal{ring: make([]Entry, size)}
	j.enabled.Store(enabled)
	return j
}

// Enabled reports whether Add records; callers check it before building
// an entry so a disabled journal costs one atomic load.
func (j *Journal) Enabled() bool { return j.enabled.Load() }

// SetEnabled switches recording on or off; entries already held stay.
func (j *Journal) SetEnabled(on bool) { j.enabled.Store(on) }

// Size is the ring's capacity.
func (j *Journal) Size() int { return len(j.ring) }

// Add records e (numbering it) if the journal is enabled, overwriting the
// oldest entry when full.
func (j *Journal) Add(e Entry) {
	if !j.enabled.Load() {
		return
	}
	j.mu.Lock()
	j.seq++
	e.Seq = j.seq
	j.ring[j.next] = e
	j.next = (j.next + 1) % len(j.ring)
	if j.n < len(j.ring) {
		j.n++
	}
	j.mu.Unlock()
}

// Last returns up to limit of the newest entries, oldest first; limit <= 0
// means all held.
func (j *Journal) Last(limit int) []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	if limit <= 0 || limit > j.n {
		limit = j.n
	}
	out := make([]Entry, limit)
	start := (j.next - limit + len(j.ring)) % len(j.ring)
	for i := 0; i < limit; i++ {
		out[i] = j.ring[(start+i)%len(j.ring)]
	}
	return out
}

// Len is the number of entries held.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.n
}

// Reset drops every entry and restarts the numbering.
func (j *Journal) Reset() {
	j.mu.Lock()
	clear(j.ring)
	j.next, j.n, j.seq = 0, 0, 0
	j.mu.Unlock()
}
