package ledger

import (
	"bytes"
	"testing"
	"time"
)

func TestJournalRecordRoundTrip(t *testing.T) {
	for _, e := range []Entry{
		{Time: time.Unix(0, 0)},
		{Time: time.Unix(1764800000, 123456789), Day: "2026-12-04", RequestID: "r-1", Tenant: "acme", KeyID: "k1", Route: "check-2e",
			Result: "0", Class: "billed", Billed: true, HTTPStatus: 200, UpstreamLatency: 1234 * time.Microsecond, IDMasked: "110101********0010",
			Attempts: 2, UpstreamID: "sim-7"},
		{Time: time.Unix(0, -5), Class: "unknown", IDMasked: "encrypted"},
	} {
		for _, kind := range []byte{kindIntent, kindOutcome} {
			e := e
			k, got, err := decodeRecord(appendRecord(nil, kind, &e))
			if err != nil || k != kind || !got.Time.Equal(e.Time) {
				t.Fatalf("%+v: kind %d err %v time %v", e, k, err, got.Time)
			}
			got.Time, e.Time = time.Time{}, time.Time{}
			if got != e {
				t.Fatalf("round trip %+v, want %+v", got, e)
			}
		}
	}
}

// FuzzDecodeRecord: any bytes decode without a panic, and what decodes
// encodes back to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	e := Entry{Time: time.Unix(1, 2), Day: "d", RequestID: "r", Class: "billed", Billed: true, HTTPStatus: 200, Attempts: 1}
	f.Add(appendRecord(nil, kindOutcome, &e))
	f.Add(appendRecord(nil, kindIntent, &Entry{}))
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, e, err := decodeRecord(b)
		if err != nil {
			return
		}
		if again := appendRecord(nil, kind, &e); !bytes.Equal(again, b) {
			// Varints have one canonical form each here; anything else
			// decoded is a second spelling of the same record.
			if _, e2, err := decodeRecord(again); err != nil || e2 != e {
				t.Fatalf("re-encoding %x gave %x", b, again)
			}
		}
	})
}
