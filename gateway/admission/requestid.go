package admission

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
)

// IDs makes request ids: UUID-shaped, a random per-process prefix plus a
// counter, so they are unique without a random read per request.
type IDs struct {
	prefix [8]byte
	n      atomic.Uint64
}

// NewIDs draws the process prefix.
func NewIDs() *IDs {
	g := &IDs{}
	_, _ = rand.Read(g.prefix[:])
	return g
}

// Next returns a new id.
func (g *IDs) Next() string {
	var raw [16]byte
	copy(raw[:8], g.prefix[:])
	binary.BigEndian.PutUint64(raw[8:], g.n.Add(1))
	raw[6] = raw[6]&0x0f | 0x40 // version 4 shape
	raw[8] = raw[8]&0x3f | 0x80 // RFC 4122 variant
	var out [36]byte
	hex.Encode(out[0:8], raw[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], raw[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], raw[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], raw[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], raw[10:16])
	return string(out[:])
}
