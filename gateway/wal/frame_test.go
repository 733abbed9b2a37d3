package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 64, 256, 65536} {
		rec := bytes.Repeat([]byte{byte(n)}, n)
		b := appendFrame([]byte("prefix"), rec)[len("prefix"):]
		if len(b) != frameHeader+n {
			t.Fatalf("%d bytes: frame is %d bytes", n, len(b))
		}
		payload, size, err := decodeFrame(append(b, "next frame"...))
		if err != nil || size != len(b) || !bytes.Equal(payload, rec) {
			t.Fatalf("%d bytes: decode = %d bytes, size %d, %v", n, len(payload), size, err)
		}
	}
}

func TestDecodeFrameRejects(t *testing.T) {
	good := appendFrame(nil, []byte("a billed answer"))
	flip := func(i int, mask byte) []byte {
		b := bytes.Clone(good)
		b[i] ^= mask
		return b
	}
	huge := bytes.Clone(good)
	binary.LittleEndian.PutUint32(huge, MaxRecordBytes+1)
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, errTorn},
		{"partial header", good[:5], errTorn},
		{"partial payload", good[:len(good)-1], errTorn},
		{"payload bit flipped", flip(frameHeader+3, 0x10), errCorrupt},
		{"crc bit flipped", flip(5, 0x10), errCorrupt},
		{"length bit flipped down", flip(0, 0x01), errCorrupt},
		// A longer length reads as a frame the file ends inside of.
		{"length bit flipped up", flip(0, 0x10), errTorn},
		{"length over the maximum", huge, errCorrupt},
		{"zeros", make([]byte, 4096), errCorrupt},
		{"text", []byte(strings.Repeat("not a frame ", 10)), errCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeFrame(tc.b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	h := encodeHeader(123456789)
	if first, err := decodeHeader(h); err != nil || first != 123456789 {
		t.Fatalf("round trip: %d, %v", first, err)
	}
	for _, tc := range []struct {
		name string
		edit func([]byte)
		want string
	}{
		{"magic", func(b []byte) { b[0] = 'X' }, "not a WAL segment"},
		{"version", func(b []byte) { b[6] = 9 }, "version 9"},
		{"checksum", func(b []byte) { b[9] ^= 1 }, "checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := encodeHeader(7)
			tc.edit(b)
			if _, err := decodeHeader(b); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		b    []byte
		torn bool
	}{
		{"empty", nil, true},
		{"prefix", encodeHeader(5)[:11], true},
		{"zeros", make([]byte, 7), true},
		{"other prefix", encodeHeader(6)[:19], false},
		{"text", []byte("hello"), false},
		{"whole header", encodeHeader(5), false},
	} {
		t.Run("torn "+tc.name, func(t *testing.T) {
			if got := tornHeader(tc.b, 5); got != tc.torn {
				t.Fatalf("tornHeader = %v, want %v", got, tc.torn)
			}
		})
	}
}

// FuzzDecodeFrame: the decoder never panics, and never accepts bytes whose
// CRC does not match their length and payload.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte{})
	f.Add(appendFrame(nil, nil))
	f.Add(appendFrame(nil, []byte("intent r-1")))
	f.Add(appendFrame(appendFrame(nil, []byte("a")), []byte("b")))
	f.Add(make([]byte, 64))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	tab := crc32.MakeTable(crc32.Castagnoli)
	f.Fuzz(func(t *testing.T, b []byte) {
		payload, n, err := decodeFrame(b)
		if err != nil {
			if !errors.Is(err, errTorn) && !errors.Is(err, errCorrupt) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if n < frameHeader || n > len(b) || n != frameHeader+len(payload) {
			t.Fatalf("size %d for %d payload bytes out of %d", n, len(payload), len(b))
		}
		if int(binary.LittleEndian.Uint32(b)) != len(payload) {
			t.Fatalf("length field %d, payload %d", binary.LittleEndian.Uint32(b), len(payload))
		}
		want := crc32.Update(crc32.Checksum(b[:4], tab), tab, b[frameHeader:n])
		if got := binary.LittleEndian.Uint32(b[4:]); got != want {
			t.Fatalf("accepted a frame with CRC %08x, its bytes have %08x", got, want)
		}
		if !bytes.Equal(appendFrame(nil, payload), b[:n]) {
			t.Fatal("re-encoding the payload gives other bytes")
		}
		// Whatever decodes also decodes as the start of a longer stream.
		if p2, n2, err := decodeFrame(append(bytes.Clone(b[:n]), 0xAA)); err != nil || n2 != n || !bytes.Equal(p2, payload) {
			t.Fatalf("with a byte after it: %v", err)
		}
	})
}
