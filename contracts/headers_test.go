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
