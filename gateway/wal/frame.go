package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// A record is stored as one frame:
//
//	[length u32 LE][CRC-32C u32 LE][payload: length bytes]
//
// The CRC covers the length field and the payload, so a zero-filled region
// (what a power loss can leave at the end of a file) never reads as a run
// of empty records, and a flipped length bit is caught like a flipped
// payload bit.
const frameHeader = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Frame decoding errors. Both mean "no record here"; which one tells a
// torn write (the file ends inside a frame) from damage.
var (
	errTorn    = errors.New("incomplete frame at end of file")
	errCorrupt = errors.New("frame checksum or length does not match")
)

// frameCRC is the CRC-32C of the little-endian length followed by the
// payload. The length's four bytes go through the table here rather than
// through crc32.Checksum: a slice handed to the assembly routine escapes,
// and that would cost Append an allocation.
func frameCRC(length uint32, payload []byte) uint32 {
	c := ^uint32(0)
	for i := range 4 {
		c = castagnoli[byte(c)^byte(length>>(8*i))] ^ c>>8
	}
	return crc32.Update(^c, castagnoli, payload)
}

// putFrameHeader fills h (frameHeader bytes) for payload rec.
func putFrameHeader(h []byte, rec []byte) {
	binary.LittleEndian.PutUint32(h, uint32(len(rec)))
	binary.LittleEndian.PutUint32(h[4:], frameCRC(uint32(len(rec)), rec))
}

// appendFrame appends rec, framed, to dst.
func appendFrame(dst, rec []byte) []byte {
	var h [frameHeader]byte
	putFrameHeader(h[:], rec)
	return append(append(dst, h[:]...), rec...)
}

// decodeFrame decodes the frame at the start of b: its payload (aliasing b)
// and the frame's size. errTorn: b holds only the beginning of a frame.
// errCorrupt: the bytes are not a frame (bad CRC or an impossible length).
// A frame is accepted only when its CRC matches.
func decodeFrame(b []byte) (payload []byte, n int, err error) {
	if len(b) < frameHeader {
		return nil, 0, errTorn
	}
	length := binary.LittleEndian.Uint32(b)
	if length > MaxRecordBytes {
		return nil, 0, errCorrupt
	}
	n = frameHeader + int(length)
	if len(b) < n {
		return nil, 0, errTorn
	}
	if frameCRC(length, b[frameHeader:n]) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, 0, errCorrupt
	}
	return b[frameHeader:n], n, nil
}

// frameReader reads frames one after the other from a segment's body.
type frameReader struct {
	r   *bufio.Reader
	off int64 // file offset of the next frame
	buf []byte
}

func newFrameReader(r io.Reader, off int64) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 1<<20), off: off}
}

// next returns the next record (valid until the following call) and the
// size of its frame; io.EOF at a clean end of file, errTorn or errCorrupt
// at damage (off is then the damaged frame's offset), or a read error.
func (fr *frameReader) next() ([]byte, int, error) {
	var h [frameHeader]byte
	if _, err := io.ReadFull(fr.r, h[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, 0, errTorn
		}
		return nil, 0, err // io.EOF: a clean end
	}
	length := binary.LittleEndian.Uint32(h[:4])
	if length > MaxRecordBytes {
		return nil, 0, errCorrupt
	}
	n := frameHeader + int(length)
	if cap(fr.buf) < n {
		fr.buf = make([]byte, n)
	}
	b := fr.buf[:n]
	copy(b, h[:])
	if _, err := io.ReadFull(fr.r, b[frameHeader:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, 0, errTorn
		}
		return nil, 0, err
	}
	payload, _, err := decodeFrame(b)
	if err != nil {
		return nil, 0, err
	}
	fr.off += int64(n)
	return payload, n, nil
}

// findFrame returns the offset in b of the first position at which a whole
// valid frame starts, or -1. Open uses it only on damage, to tell a torn
// write (nothing valid after it) from damage in the middle of records.
func findFrame(b []byte) int {
	for i := range b {
		if _, _, err := decodeFrame(b[i:]); err == nil {
			return i
		}
	}
	return -1
}

// Every segment file starts with a header:
//
//	[magic "IDGWAL" 6][version u16 LE][first position u64 LE][CRC-32C of the 16 bytes before u32 LE]
//
// The first position must match the file's name, so a renamed or copied
// segment is refused rather than replayed at the wrong place.
const (
	headerSize    = 20
	headerMagic   = "IDGWAL"
	formatVersion = 1
)

func encodeHeader(first Pos) []byte {
	h := make([]byte, 0, headerSize)
	h = append(h, headerMagic...)
	h = binary.LittleEndian.AppendUint16(h, formatVersion)
	h = binary.LittleEndian.AppendUint64(h, uint64(first))
	return binary.LittleEndian.AppendUint32(h, crc32.Checksum(h, castagnoli))
}

// decodeHeader checks a segment header and returns the first position it
// names.
func decodeHeader(h []byte) (Pos, error) {
	if len(h) < headerSize || string(h[:len(headerMagic)]) != headerMagic {
		return 0, errors.New("not a WAL segment (no IDGWAL header)")
	}
	if v := binary.LittleEndian.Uint16(h[6:]); v != formatVersion {
		return 0, fmt.Errorf("segment format version %d, this build reads %d", v, formatVersion)
	}
	if crc32.Checksum(h[:16], castagnoli) != binary.LittleEndian.Uint32(h[16:]) {
		return 0, errors.New("segment header checksum does not match")
	}
	return Pos(binary.LittleEndian.Uint64(h[8:])), nil
}

// tornHeader reports whether b, shorter than a header, can be what a crash
// while creating the segment named first left behind: a prefix of its
// header, or zeros.
func tornHeader(b []byte, first Pos) bool {
	if len(b) >= headerSize {
		return false
	}
	want := encodeHeader(first)
	if string(b) == string(want[:len(b)]) {
		return true
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
