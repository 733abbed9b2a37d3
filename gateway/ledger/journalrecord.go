package ledger

import (
	"encoding/binary"
	"errors"
	"time"
)

// Journal records are the ledger's billing facts in the write-ahead log:
// an intent (a request is about to go upstream) or an outcome (the entry
// the request ends with). Each is one Entry in a compact binary form.
const (
	kindIntent  byte = 1
	kindOutcome byte = 2
)

// appendRecord encodes e as a journal record of kind.
func appendRecord(dst []byte, kind byte, e *Entry) []byte {
	dst = append(dst, kind)
	dst = binary.AppendVarint(dst, e.Time.UnixNano())
	for _, s := range [...]string{e.Day, e.RequestID, e.Tenant, e.KeyID, e.Route, e.Result, e.Class, e.IDMasked, e.UpstreamID} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	billed := uint64(0)
	if e.Billed {
		billed = 1
	}
	for _, n := range [...]uint64{uint64(e.HTTPStatus), uint64(e.UpstreamLatency.Microseconds()), uint64(e.Attempts), billed} {
		dst = binary.AppendUvarint(dst, n)
	}
	return dst
}

var errBadRecord = errors.New("ledger: malformed journal record")

// decodeRecord reads a record appendRecord wrote. The strings are copies.
func decodeRecord(b []byte) (kind byte, e Entry, err error) {
	if len(b) == 0 || (b[0] != kindIntent && b[0] != kindOutcome) {
		return 0, Entry{}, errBadRecord
	}
	kind, b = b[0], b[1:]
	ts, n := binary.Varint(b)
	if n <= 0 {
		return 0, Entry{}, errBadRecord
	}
	b = b[n:]
	e.Time = time.Unix(0, ts)
	for _, dst := range [...]*string{&e.Day, &e.RequestID, &e.Tenant, &e.KeyID, &e.Route, &e.Result, &e.Class, &e.IDMasked, &e.UpstreamID} {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return 0, Entry{}, errBadRecord
		}
		*dst = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	var nums [4]uint64
	for i := range nums {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, Entry{}, errBadRecord
		}
		nums[i], b = v, b[n:]
	}
	if len(b) != 0 || nums[0] > 999 || nums[2] > 1<<20 || nums[3] > 1 || nums[1] > uint64(time.Duration(1<<62).Microseconds()) {
		return 0, Entry{}, errBadRecord
	}
	e.HTTPStatus, e.UpstreamLatency, e.Attempts, e.Billed = int(nums[0]), time.Duration(nums[1])*time.Microsecond, int(nums[2]), nums[3] == 1
	return kind, e, nil
}
