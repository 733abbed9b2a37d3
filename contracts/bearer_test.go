package contracts

import (
	"bytes"
	"regexp"
	"testing"
)

func TestBearerToken(t *testing.T) {
	cases := []struct {
		header, token string
		ok            bool
	}{
		{"Bearer sim-token", "sim-token", true},
		{"bearer sim-token", "sim-token", true},
		{"BEARER   hashed  ", "hashed", true},
		{"BeArEr idg_AbC-_.~+/9==", "idg_AbC-_.~+/9==", true},
		{" \tBearer k\t", "k", true},
		{"Bearer ", "", false},
		{"Bearer    ", "", false},
		{"Bearer", "", false},
		{"Bearerk", "", false},
		{"Bearer\tk", "", false}, // RFC 7235: spaces only after the scheme
		{"Basic c2ltLXRva2Vu", "", false},
		{"Bearer a b", "", false},
		{"Bearer =abc", "", false},
		{"Bearer ab=c", "", false},
		{"Bearer tok,en", "", false},
		{"Bearer tök", "", false},
		{"Bearer\x00 k", "", false},
		{"", "", false},
	}
	for _, tc := range cases {
		tok, ok := BearerToken([]byte(tc.header))
		if ok != tc.ok || string(tok) != tc.token {
			t.Errorf("BearerToken(%q) = %q %v, want %q %v", tc.header, tok, ok, tc.token, tc.ok)
		}
	}
	h := []byte("Bearer demo-key")
	if n := testing.AllocsPerRun(100, func() { BearerToken(h) }); n != 0 {
		t.Errorf("%v allocations, want none", n)
	}
}

func TestIsToken68(t *testing.T) {
	for s, want := range map[string]bool{
		"sim-token": true, "idg_x9": true, "YWxhZGRpbg==": true, "a/b+c.d~e": true,
		"": false, "=": false, "a b": false, "a,b": false, "a=b": false, "ключ": false,
	} {
		if got := IsToken68(s); got != want {
			t.Errorf("IsToken68(%q) = %v", s, got)
		}
	}
}

// bearerRE is RFC 7235's grammar for bearer credentials, written as the
// RFC spells it; FuzzBearerToken holds BearerToken to it.
var bearerRE = regexp.MustCompile(`^[ \t]*[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9._~+/-]+=*)[ \t]*$`)

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer sim-token", "bearer  k==", "Basic x", "Bearer ", "BEARER\tx", " Bearer x ", "Bearer a=b", "Bearer \xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		tok, ok := BearerToken(h)
		m := bearerRE.FindSubmatch(h)
		if ok != (m != nil) || (ok && !bytes.Equal(tok, m[1])) {
			t.Fatalf("BearerToken(%q) = %q %v; the grammar says %q", h, tok, ok, m)
		}
		// A slice of h starts cap(h)-cap(tok) bytes into it.
		if off := cap(h) - cap(tok); ok && (off+len(tok) > len(h) || &h[off] != &tok[0]) {
			t.Fatalf("BearerToken(%q): the token is not a slice of the header", h)
		}
	})
}
