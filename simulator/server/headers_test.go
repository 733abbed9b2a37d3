package server

import (
	"net/http"
	"testing"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/internal/testkit"
)

// rawCheck writes a check request byte for byte (net/http folds repeated
// headers) and reads the answer.
func rawCheck(t *testing.T, url, headers, body string) (int, http.Header, []byte) {
	t.Helper()
	return testkit.RawCheck(t, url, "POST", headers, body)
}

// TestRepeatedHeadersRefused: a header that decides authentication,
// parsing or the outcome may not be repeated, whichever copy is valid.
func TestRepeatedHeadersRefused(t *testing.T) {
	ts := start(t, nil)
	const auth, bad = "Authorization: Bearer " + testToken + "\r\n", "Authorization: Bearer wrong\r\n"
	const ct = "Content-Type: application/json\r\n"
	body := checkBody(validName, validID)
	for _, tc := range []struct {
		name, headers, want string // want: the refusal ("": answered 200)
	}{
		{"once each", auth + ct + "Prefer: result=0\r\n", ""},
		{"valid then invalid Authorization", auth + bad + ct, "duplicate Authorization header: send it once"},
		{"invalid then valid Authorization", bad + auth + ct, "duplicate Authorization header: send it once"},
		{"two Content-Type", auth + ct + "Content-Type: text/plain\r\n", "duplicate Content-Type header: send it once"},
		{"two Content-Encoding", auth + ct + "Content-Encoding: identity\r\ncontent-encoding: identity\r\n", "duplicate Content-Encoding header: send it once"},
		{"two Prefer", auth + ct + "Prefer: result=0\r\nPrefer: result=-1\r\n", "duplicate Prefer header: send it once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.Stats().Totals.Billed
			st, h, b := rawCheck(t, ts.URL, tc.headers, body)
			if tc.want == "" {
				if st != http.StatusOK {
					t.Fatalf("status %d %s", st, b)
				}
				return
			}
			e := expectError(t, st, h, b, 400, contracts.ErrTokenMismatched)
			if e.Error.Message != tc.want {
				t.Errorf("message %q, want %q", e.Error.Message, tc.want)
			}
			if after := ts.Stats().Totals.Billed; after != before {
				t.Errorf("billed %d, then %d", before, after)
			}
		})
	}
}
