package idcard

import (
	"errors"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    error
		kind    Kind
		gender  Gender
		birth   string
		divName string
	}{
		// GB 11643-1999's own examples.
		{in: "11010519491231002X", kind: KindResident, gender: Female, birth: "19491231", divName: "北京市朝阳区"},
		{in: "440524188001010014", kind: KindResident, gender: Male, birth: "18800101", divName: "广东省"},
		{in: "810000199408230021", kind: KindPermitHongKong, gender: Female, birth: "19940823", divName: "香港特别行政区"},
		{in: "820000200009100032", kind: KindPermitMacau, gender: Male, birth: "20000910", divName: "澳门特别行政区"},
		{in: "830000197705220027", kind: KindPermitTaiwan, gender: Female, birth: "19770522", divName: "台湾地区"},
		{in: "11010519491231002x", want: ErrLowercaseX},
		{in: "110105194912310021", want: ErrChecksum},
		{in: "1101051949123100", want: ErrLength},
		{in: "11010519491231002XX", want: ErrLength},
		{in: "", want: ErrLength},
		{in: "110105490101001", want: ErrLegacy15},
		{in: "11010549010100A", want: ErrLength},
		{in: "1101051949123100AX", want: ErrCharset},
		{in: "11010519491231002Y", want: ErrCharset},
		{in: "１１０１０５１９４９１２３１００２Ｘ", want: ErrLength}, // full-width digits are 3 bytes each
		{in: "990105194912310024", want: ErrDivision},
		{in: "110000194912310020", want: ErrDivision},
		{in: "810105194912310028", want: ErrDivision}, // 81 only as the permit prefix 810000
		{in: "110105194902300028", want: ErrBirthDate},
		{in: "110105194913010028", want: ErrBirthDate},
		{in: "110105187912310028", want: ErrTooOld},
		{in: "110105202612310025", want: ErrFuture},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			in := tt.in
			// Cases that should fail on the check character must not
			// fail earlier: recompute the check char for the others.
			if tt.want != nil && tt.want != ErrChecksum && tt.want != ErrLowercaseX && tt.want != ErrCharset && len(in) == 18 && allDigits(in[:17]) {
				in = in[:17] + string(CheckChar(in[:17]))
			}
			n, err := ParseAt(in, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseAt(%q) error = %v, want %v", in, err, tt.want)
			}
			if err != nil {
				return
			}
			if n.Kind != tt.kind || n.Gender() != tt.gender || n.Birth.Format("20060102") != tt.birth || n.Region() != tt.divName {
				t.Errorf("ParseAt(%q) = kind %v gender %v birth %s region %q", in, n.Kind, n.Gender(), n.Birth.Format("20060102"), n.Region())
			}
		})
	}
}

func TestFutureUsesChinaCalendar(t *testing.T) {
	// 2026-11-22 16:30 UTC is already 2026-11-23 in Beijing.
	late := time.Date(2026, 11, 22, 16, 30, 0, 0, time.UTC)
	body := "11010520261123001"
	id := body + string(CheckChar(body))
	if _, err := ParseAt(id, late); err != nil {
		t.Fatalf("born today in China: %v", err)
	}
	if _, err := ParseAt(id, late.Add(-time.Hour)); !errors.Is(err, ErrFuture) {
		t.Fatalf("born tomorrow in China: got %v", err)
	}
}

func TestCheckCharVectors(t *testing.T) {
	for body, want := range map[string]byte{
		"11010519491231002": 'X',
		"44052418800101001": '4',
	} {
		if got := CheckChar(body); got != want {
			t.Errorf("CheckChar(%s) = %c, want %c", body, got, want)
		}
	}
}

func TestLegacy15(t *testing.T) {
	n, err := ParseLegacy("110105491231002", now)
	if err != nil {
		t.Fatal(err)
	}
	if n.Kind != KindLegacy15 || n.Birth.Format("20060102") != "19491231" || n.Gender() != Female {
		t.Fatalf("ParseLegacy = %+v", n)
	}
	up, err := Upgrade("110105491231002", now)
	if err != nil || up != "11010519491231002X" {
		t.Fatalf("Upgrade = %q, %v; want the GB 11643 vector", up, err)
	}
	for _, bad := range []string{"11010549123100", "1101054912310021", "11010549023000A", "110105490230002"} {
		if _, err := ParseLegacy(bad, now); err == nil {
			t.Errorf("ParseLegacy(%q) accepted", bad)
		}
	}
}

func TestGenerateRoundTrip(t *testing.T) {
	births := []time.Time{
		time.Date(1950, 2, 28, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(2012, 12, 31, 0, 0, 0, 0, time.UTC),
	}
	for _, div := range append([]string{"810000", "830000"}, Counties...) {
		for _, b := range births {
			for _, g := range []Gender{Male, Female} {
				for _, seq := range []int{0, 1, 998, 999} {
					id, err := Generate(div, b, g, seq)
					if err != nil {
						t.Fatalf("Generate(%s): %v", div, err)
					}
					n, err := ParseAt(id, now)
					if err != nil {
						t.Fatalf("generated %s does not parse: %v", id, err)
					}
					if n.Gender() != g || !n.Birth.Equal(b) || n.Division != div {
						t.Fatalf("generated %s parsed as %+v", id, n)
					}
				}
			}
		}
	}
	if _, err := Generate("990000", births[0], Male, 1); err == nil {
		t.Error("Generate accepted an unknown province")
	}
	if _, err := Generate("110105", births[0], Male, 1000); err == nil {
		t.Error("Generate accepted sequence 1000")
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"11010519491231002X": "110105********002X",
		"110105491231002":    "110105*****1002",
		"123":                "********",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "440524188001010014", "110105491231002", "", "x", "11010519491231002x", "81000019940823002１"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseAt(s, now)
		if err != nil {
			if n != (Number{}) {
				t.Fatalf("error %v with non-zero Number", err)
			}
			return
		}
		// Anything accepted must be canonical and regenerate to itself.
		if len(s) != 18 || CheckChar(s[:17]) != s[17] || Mask(s)[:6] != s[:6] {
			t.Fatalf("accepted non-canonical %q", s)
		}
		id, err := Generate(n.Division, n.Birth, n.Gender(), n.Sequence)
		if err != nil || id != s {
			t.Fatalf("Generate(parts of %q) = %q, %v", s, id, err)
		}
		_, _ = ParseLegacy(s, now)
	})
}
