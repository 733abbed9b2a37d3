package statement

import "time"

// Day is a calendar day as yyyymmdd.
type Day int32

func makeDay(y int, m time.Month, d int) Day { return Day(y*10000 + int(m)*100 + d) }

// Date is the day's year, month and day of month.
func (d Day) Date() (int, time.Month, int) {
	return int(d) / 10000, time.Month(int(d) / 100 % 100), int(d) % 100
}

// String is the day as YYYY-MM-DD.
func (d Day) String() string { return string(d.AppendText(nil)) }

// AppendText appends the day as YYYY-MM-DD.
func (d Day) AppendText(dst []byte) []byte {
	y, m, dd := d.Date()
	dst = append(dst, byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	dst = append(dst, byte('0'+int(m)/10), byte('0'+int(m)%10), '-')
	return append(dst, byte('0'+dd/10), byte('0'+dd%10))
}

// line is one request in fixed bytes (56 with padding): no pointers, so
// a million of them cost the garbage collector nothing to scan.
type line struct {
	at     int64 // Unix nanoseconds
	id     [16]byte
	client [16]byte
	code   int32
	day    Day
	cred   uint16
	api    API
	kind   kind
	flags  uint8
	ckind  uint8
	clen   uint8
}

const (
	flagBilled uint8 = 1 << iota
	flagHexID
)

// chunkBits sizes the ring's chunks: 16,384 lines (about 1 MB). The ring
// grows a chunk at a time as traffic arrives, so an idle simulator holds
// no line memory and a growing one never copies what it holds.
const chunkBits = 14

// ring holds the newest max lines.
type ring struct {
	max     int
	chunks  [][]line
	written uint64 // lines ever put since the last reset
}

func newRing(max int) ring { return ring{max: max} }

// slot is where the next line goes, over the oldest when the ring is full.
func (r *ring) slot() *line {
	i := int(r.written % uint64(r.max))
	c, o := i>>chunkBits, i&(1<<chunkBits-1)
	if c == len(r.chunks) {
		size := min(1<<chunkBits, r.max-c<<chunkBits)
		r.chunks = append(r.chunks, make([]line, size))
	}
	r.written++
	return &r.chunks[c][o]
}

// held is the number of lines in the ring.
func (r *ring) held() int {
	if r.written < uint64(r.max) {
		return int(r.written)
	}
	return r.max
}

// each calls fn for every held line, oldest first, until fn returns false.
func (r *ring) each(fn func(*line) bool) {
	n := r.held()
	first := int((r.written - uint64(n)) % uint64(max(r.max, 1)))
	for k := 0; k < n; k++ {
		i := (first + k) % r.max
		if !fn(&r.chunks[i>>chunkBits][i&(1<<chunkBits-1)]) {
			return
		}
	}
}

// reset empties the ring and keeps its chunks for reuse.
func (r *ring) reset() { r.written = 0 }
