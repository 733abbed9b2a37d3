package server

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/internal/testkit"
)

// TestFramingLimits: on both listeners a header block beyond fasthttp's
// 4 KiB read buffer is answered in the contract's error body (400
// token_mismatched) and nothing is forwarded; an Expect header other than
// 100-continue is ignored.
func TestFramingLimits(t *testing.T) {
	up := startUpstream(t)
	g := startGateway(t, testConfig(t, up.url, filepath.Join(t.TempDir(), "l.db")), "")
	const head = "Authorization: Bearer acme-secret\r\nContent-Type: application/json\r\n"
	pad := "X-Pad: " + strings.Repeat("a", 8000) + "\r\n"
	for _, tc := range []struct {
		name, url, headers string
		status             int
		code               contracts.ErrorCode
		forwarded          bool
	}{
		{"client: header block over 4 KiB", g.url, head + pad, 400, contracts.ErrTokenMismatched, false},
		{"client: Expect other than 100-continue", g.url, head + "Expect: something-else\r\n", 200, "", true},
		{"admin: header block over 4 KiB", g.admin, "Authorization: Bearer gateway-admin-token\r\n" + pad, 400, contracts.ErrTokenMismatched, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.calls.Load()
			st, _, b := testkit.RawCheck(t, tc.url, "POST", tc.headers, goodBody)
			if st != tc.status {
				t.Fatalf("status %d %.200s, want %d", st, b, tc.status)
			}
			if tc.code != "" {
				var e contracts.ErrorBody
				if err := json.Unmarshal(b, &e); err != nil || e.Error.Code != tc.code {
					t.Fatalf("body %.200s, want code %s", b, tc.code)
				}
			}
			if forwarded := up.calls.Load() != before; forwarded != tc.forwarded {
				t.Fatalf("forwarded %v, want %v", forwarded, tc.forwarded)
			}
		})
	}
}
