package idcard

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMaskKeepsOnlyAFixedPart(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"18-character number", "11010519491231002X", "110105********002X"},
		{"18 characters, lower-case x", "11010519491231002x", "110105********002x"},
		{"18 characters, invalid check", "110105194912310020", "110105********0020"},
		{"15-digit first generation", "110105491231002", "110105*****1002"},
		{"15 characters, not all digits", "11010549123100X", "11********#15"},
		{"10-character Taiwan-style", "A123456789", "A1********#10"},
		{"10 digits", "1234567890", "12********#10"},
		{"17 digits", "11010519491231002", "11********#17"},
		{"19 digits", "110105194912310021X", "11********#19"},
		{"full-width digits", "１１０１０５１９４９１２３１００２Ｘ", "********#18"},
		{"Arabic-Indic digits", "١١٠١٠٥١٩٤٩١٢٣١٠٠٢٩", "********#18"},
		{"mixed ASCII then full-width", "11０１０５１９４９１２３１００２Ｘ", "11********#18"},
		{"invalid UTF-8, 18 bytes", "11010519491231002\xff", "11********#18"},
		{"invalid UTF-8 throughout", strings.Repeat("\xff", 12), "********#12"},
		{"leading formula character", "=1+2345678901", "********#13"},
		{"empty", "", "********"},
		{"short", "123", "********"},
		{"9 characters", "A12345678", "********"},
		{"64 characters", strings.Repeat("9", 64), "99********#64"},
		{"very long", strings.Repeat("1", 1<<20), "11********#>64"},
		{"very long, multi-byte", strings.Repeat("张", 100), "********#>64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Mask(tc.in)
			if got != tc.want {
				t.Errorf("Mask(%.40q) = %q, want %q", tc.in, got, tc.want)
			}
			if !utf8.ValidString(got) || len(got) > 18 {
				t.Errorf("Mask(%.40q) = %q: not short valid UTF-8", tc.in, got)
			}
		})
	}
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "110105491231002", "A123456789", "", "\xff", "１１０１０５１９４９１２３１００２Ｘ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := Mask(s)
		if !utf8.ValidString(m) || len(m) > 18 || m == "" {
			t.Fatalf("Mask(%q) = %q", s, m)
		}
		switch c := m[0]; {
		case c == '*', isASCIIAlnum(c):
		default:
			t.Fatalf("Mask(%q) = %q starts with %q", s, m, c)
		}
		// Apart from the two number shapes, at most two characters of
		// the value survive.
		if !maskable18(s) && !(len(s) == 15 && allDigits(s)) {
			kept := strings.IndexByte(m, '*')
			if kept > 2 || !strings.HasPrefix(s, m[:kept]) {
				t.Fatalf("Mask(%q) = %q keeps more than two characters", s, m)
			}
		}
	})
}
