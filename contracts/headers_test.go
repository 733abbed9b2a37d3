package contracts

import "testing"

func TestContentEncodingError(t *testing.T) {
	for _, tc := range []struct{ ce, want string }{
		{"", ""},
		{"identity", ""},
		{" Identity ", ""},
		{"gzip", "content encoding gzip is not supported; send the JSON body uncompressed"},
		{"GZIP", "content encoding gzip is not supported; send the JSON body uncompressed"},
		{"br", "content encoding br is not supported; send the JSON body uncompressed"},
		{"gzip, br", "content encodings are not supported; send the JSON body uncompressed"},
		{"x-张三", "content encodings are not supported; send the JSON body uncompressed"},
	} {
		err := ContentEncodingError([]byte(tc.ce))
		got := ""
		if err != nil {
			got = err.Error()
			if !IsRequestError(err) {
				t.Errorf("%q: %v is not a RequestError", tc.ce, err)
			}
		}
		if got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.ce, got, tc.want)
		}
	}
}

func TestRepeatedHeaders(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      HeaderSet
		refusal   string
	}{
		{"none", "Host: x\r\nAuthorization: Bearer a\r\nContent-Type: application/json\r\n\r\n", 0, ""},
		{"two Authorization", "Authorization: Bearer a\r\nHost: x\r\nauthorization: Bearer b\r\n\r\n", HeaderAuthorization, "duplicate Authorization header: send it once"},
		{"two Content-Type", "Content-Type: application/json\r\nCONTENT-TYPE : text/plain\r\n\r\n", HeaderContentType, "duplicate Content-Type header: send it once"},
		{"two Content-Encoding", "Content-Encoding: gzip\r\nContent-Encoding: identity\r\n", HeaderContentEncoding, "duplicate Content-Encoding header: send it once"},
		{"two Idempotency-Key", "Idempotency-Key: a\nIdempotency-Key: a\n", HeaderIdempotencyKey, "duplicate Idempotency-Key header: send it once"},
		{"two Prefer", "Prefer: result=0\r\nPrefer: latency=1ms", HeaderPrefer, "duplicate Prefer header: send it once"},
		{"several, first named", "Prefer: a\r\nPrefer: b\r\nAuthorization: x\r\nAuthorization: y\r\n", HeaderAuthorization | HeaderPrefer, "duplicate Authorization header: send it once"},
		{"similar names", "Authorization2: a\r\nX-Authorization: b\r\nAuthorization: c\r\nContent-Type-X: d\r\nContent-Type: e\r\n", 0, ""},
		{"value mentions a name", "X-Note: Authorization: a\r\nAuthorization: b\r\n", 0, ""},
		{"empty", "", 0, ""},
	} {
		got := RepeatedHeaders([]byte(tc.raw))
		if got != tc.want || got.Refusal() != tc.refusal {
			t.Errorf("%s: got %b %q, want %b %q", tc.name, got, got.Refusal(), tc.want, tc.refusal)
		}
	}
	raw := []byte("Host: x\r\nAuthorization: Bearer a\r\nContent-Type: application/json\r\nX-Request-Id: r\r\n\r\n")
	if n := testing.AllocsPerRun(100, func() { RepeatedHeaders(raw) }); n != 0 {
		t.Errorf("RepeatedHeaders: %v allocations, want 0", n)
	}
}
