package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/idgate/idgate/contracts"
)

// TestFramingLimits: a header block beyond the listener's 4 KiB read
// buffer is answered in the contract's error body (400 token_mismatched),
// and an Expect header other than 100-continue is ignored.
func TestFramingLimits(t *testing.T) {
	ts := start(t, nil)
	const head = "Authorization: Bearer " + testToken + "\r\nContent-Type: application/json\r\n"
	body := checkBody(validName, validID)

	st, h, b := rawCheck(t, ts.URL, head+"X-Pad: "+strings.Repeat("a", 8000)+"\r\n", body)
	expectError(t, st, h, b, http.StatusBadRequest, contracts.ErrTokenMismatched)

	st, _, b = rawCheck(t, ts.URL, head+"Expect: something-else\r\n", body)
	if st != http.StatusOK {
		t.Fatalf("Expect: something-else: status %d %s", st, b)
	}
}
