package statement

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"sync/atomic"
)

// ID is the authority's request id: 16 bytes, written as a UUID for check
// answers and as 32 hex digits for verification sessions (whose request
// ids are that).
type ID struct {
	b   [16]byte
	hex bool
}

// idGen makes check request ids: a random per-process prefix plus a
// counter, so they are unique without a random read per request.
type idGen struct {
	prefix [8]byte
	n      atomic.Uint64
}

// init draws the process prefix.
func (g *idGen) init() { _, _ = rand.Read(g.prefix[:]) }

func (g *idGen) next() ID {
	var id ID
	copy(id.b[:8], g.prefix[:])
	binary.BigEndian.PutUint64(id.b[8:], g.n.Add(1))
	id.b[6] = id.b[6]&0x0f | 0x40 // version 4 shape
	id.b[8] = id.b[8]&0x3f | 0x80 // RFC 4122 variant
	return id
}

// SessionID is the id of a verification session: its request_id, 32
// lower-case hex digits. ok is false for any other shape.
func SessionID(requestID string) (ID, bool) {
	id := ID{hex: true}
	if len(requestID) != 32 || !isLowerHex(requestID) {
		return ID{}, false
	}
	if _, err := hex.Decode(id.b[:], []byte(requestID)); err != nil {
		return ID{}, false
	}
	return id, true
}

// AppendText appends the id as the client sees it.
func (id ID) AppendText(dst []byte) []byte {
	if id.hex {
		return hex.AppendEncode(dst, id.b[:])
	}
	return appendUUID(dst, &id.b, false)
}

// String is AppendText as a string.
func (id ID) String() string {
	var buf [36]byte
	return string(id.AppendText(buf[:0]))
}

// uuidPos are the text positions of a UUID's 16 bytes.
var uuidPos = [16]uint8{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// hexPairs are every byte's two hex digits, lower and upper case.
var hexPairs = func() (t [2][256][2]byte) {
	const lower, upper = "0123456789abcdef", "0123456789ABCDEF"
	for i := range 256 {
		t[0][i] = [2]byte{lower[i>>4], lower[i&0x0f]}
		t[1][i] = [2]byte{upper[i>>4], upper[i&0x0f]}
	}
	return t
}()

// appendUUID writes b in the 8-4-4-4-12 form. It is on the check API's
// path: one table lookup per byte, written in place.
func appendUUID(dst []byte, b *[16]byte, upper bool) []byte {
	pairs := &hexPairs[0]
	if upper {
		pairs = &hexPairs[1]
	}
	n := len(dst)
	dst = slices.Grow(dst, 36)[:n+36]
	out := (*[36]byte)(dst[n:])
	out[8], out[13], out[18], out[23] = '-', '-', '-', '-'
	for i, p := range uuidPos {
		out[p], out[p+1] = pairs[b[i]][0], pairs[b[i]][1]
	}
	return dst
}

// How a client request id is held in 16 bytes.
const (
	clientNone      uint8 = iota
	clientUUID            // canonical lower-case UUID
	clientUUIDUpper       // canonical upper-case UUID
	clientHex32           // 32 lower-case hex digits (trace ids, session ids)
	clientRaw             // up to 16 bytes verbatim, clen of them
	clientDigest          // anything else: the first 16 bytes of its SHA-256
)

// MaxRawClientID is the longest client request id held verbatim when it is
// neither a UUID nor 32 hex digits.
const MaxRawClientID = 16

// DigestPrefix starts the statement's form of a client request id that is
// held as a digest: "sha256:" and the first 32 hex digits of the SHA-256
// of the id as sent.
const DigestPrefix = "sha256:"

// packClient fits a client request id into fixed bytes: the gateway's ids
// (UUIDs) and other common shapes exactly, anything else as a digest the
// client can compute too. It runs on the check API's path: one table
// lookup per character for the usual UUID.
func packClient(b []byte) (out [16]byte, k uint8, n uint8) {
	switch {
	case len(b) == 0:
		return out, clientNone, 0
	case len(b) == 36:
		if seen, ok := decodeHex(&out, b, true); ok && seen&(hexIsLower|hexIsUpper) != hexIsLower|hexIsUpper {
			if seen&hexIsUpper != 0 {
				return out, clientUUIDUpper, 0
			}
			return out, clientUUID, 0
		}
	case len(b) == 32:
		if seen, ok := decodeHex(&out, b, false); ok && seen&hexIsUpper == 0 {
			return out, clientHex32, 0
		}
	}
	if len(b) <= MaxRawClientID && safeRaw(b) {
		out = [16]byte{}
		copy(out[:], b)
		return out, clientRaw, uint8(len(b))
	}
	h := sha256.Sum256(b)
	copy(out[:], h[:16])
	return out, clientDigest, 0
}

// hexTab maps a byte to its hex digit value, flagged by case; invalid
// bytes have hexInvalid set.
const (
	hexIsLower = 0x10
	hexIsUpper = 0x20
	hexInvalid = 0x80
)

var hexTab = func() (t [256]uint8) {
	for i := range t {
		t[i] = hexInvalid
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = uint8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = uint8(c-'a'+10) | hexIsLower
		t[c-'a'+'A'] = uint8(c-'a'+10) | hexIsUpper
	}
	return t
}()

// hex32Pos are the positions of 16 bytes in 32 hex digits.
var hex32Pos = [16]uint8{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30}

// decodeHex decodes 16 bytes from 32 hex digits, or from a UUID's 36
// characters (dashes at 8, 13, 18 and 23) when dashed; b is that long.
// seen has hexIsLower and/or hexIsUpper set for the letters met.
func decodeHex(out *[16]byte, b []byte, dashed bool) (seen uint8, ok bool) {
	pos := &hex32Pos
	if dashed {
		if b[8] != '-' || b[13] != '-' || b[18] != '-' || b[23] != '-' {
			return 0, false
		}
		pos = &uuidPos
	}
	_ = b[pos[15]+1]
	for i, p := range pos {
		hi, lo := hexTab[b[p]], hexTab[b[p+1]]
		seen |= hi | lo
		out[i] = hi<<4 | lo&0x0f
	}
	return seen, seen&hexInvalid == 0
}

// appendClient appends the statement's form of a packed client request id.
func appendClient(dst []byte, b *[16]byte, k uint8, n uint8) []byte {
	switch k {
	case clientUUID:
		return appendUUID(dst, b, false)
	case clientUUIDUpper:
		return appendUUID(dst, b, true)
	case clientHex32:
		return hex.AppendEncode(dst, b[:])
	case clientRaw:
		return append(dst, b[:n]...)
	case clientDigest:
		return hex.AppendEncode(append(dst, DigestPrefix...), b[:])
	}
	return dst
}

// ClientIDForm is how the statement shows a client request id: the id
// itself when it is a UUID, 32 lower-case hex digits, or up to
// MaxRawClientID letters, digits and "._:-" starting with a letter or
// digit; otherwise DigestPrefix and its digest.
func ClientIDForm(id string) string {
	b, k, n := packClient([]byte(id))
	return string(appendClient(nil, &b, k, n))
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
			return false
		}
	}
	return true
}

// safeRaw admits ids that are safe verbatim in JSON, CSV and a
// spreadsheet: letters, digits and "._:-", starting with a letter or digit
// (a leading "-", "=", "+" or "@" is a formula to a spreadsheet).
func safeRaw(b []byte) bool {
	for i, c := range b {
		alnum := (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if alnum || (i > 0 && (c == '.' || c == '_' || c == ':' || c == '-')) {
			continue
		}
		return false
	}
	return true
}
