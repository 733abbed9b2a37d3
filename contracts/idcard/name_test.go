package idcard

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		want error
	}{
		{"张三", nil},
		{"欧阳娜娜", nil},
		{"买买提·艾力", nil},
		{"阿卜杜热合曼·买买提·吐尔逊", nil},
		{"王𠀀", nil}, // CJK Extension B
		{"李㐀", nil}, // CJK Extension A
		{"王〇", nil}, // ideographic zero appears in real names
		{strings.Repeat("张", 32), nil},
		{"", ErrNameEmpty},
		{"张", ErrNameLength},
		{strings.Repeat("张", 33), ErrNameLength},
		{"买买提•艾力", ErrNameLookDot},
		{"买买提・艾力", ErrNameLookDot},
		{"买买提．艾力", ErrNameLookDot},
		{"买买提.艾力", ErrNameLookDot},
		{"·买买提", ErrNameDotPlace},
		{"买买提·", ErrNameDotPlace},
		{"买买提··艾力", ErrNameDotPlace},
		{"张 三", ErrNameChar},
		{"Zhang San", ErrNameChar},
		{"张三1", ErrNameChar},
		{"张\u200b三", ErrNameChar},
		{"张\ue000", ErrNameChar}, // private use area
		{"张\xff三", ErrNameUTF8},
	}
	for _, tt := range tests {
		if err := ValidateName(tt.name); !errors.Is(err, tt.want) {
			t.Errorf("ValidateName(%q) = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestNameIdeographBlocks(t *testing.T) {
	// First and last code point of every accepted block, in a name.
	for _, r := range []rune{
		0x3007,
		0x3400, 0x4DBF, // Extension A
		0x4E00, 0x9FFF, // URO
		0xF900, 0xFAFF, // compatibility ideographs
		0x20000, 0x2A6DF, // Extension B
		0x2A700, 0x2B73F, // Extension C
		0x2B740, 0x2B81F, // Extension D
		0x2B820, 0x2CEAF, // Extension E
		0x2CEB0, 0x2EBEF, // Extension F
		0x2EBF0, 0x2EE5D, 0x2EE5F, // Extension I (Unicode 15.1)
		0x2F800, 0x2FA1F, // compatibility ideographs supplement
		0x30000, 0x3134F, // Extension G
		0x31350, 0x323AF, // Extension H
		0x323B0, 0x33479, 0x3347F, // Extension J (Unicode 17)
	} {
		if err := ValidateName("王" + string(r)); err != nil {
			t.Errorf("U+%04X refused: %v", r, err)
		}
	}
	// Look-alikes in the Han script that no registered name contains, and
	// the code points just outside the blocks.
	for _, r := range []rune{
		0x2E80, 0x2E9B, 0x2EA0, 0x2EF3, 0x2EFF, // CJK radicals supplement
		0x2F00, 0x2FD5, // Kangxi radicals (U+2F00 looks like 一)
		0x3005,                                                         // iteration mark
		0x3021, 0x3025, 0x3029, 0x3038, 0x3039, 0x303A, 0x303B, 0x3006, // Hangzhou numerals, marks
		0x3008, 0x33FF, 0x4DC0, 0x4DFF, 0xA000, 0xF8FF, 0xFB00,
		0x2A6E0, 0x2A6FF, 0x2EE60, 0x2F7FF, 0x2FA20, 0x2FFFF, 0x33480, 0x3FFFD,
		0x16FE2, 0x16FE3, 0x16FF0, // Han-script marks outside the ideograph blocks
	} {
		if err := ValidateName("王" + string(r)); !errors.Is(err, ErrNameChar) {
			t.Errorf("U+%04X: %v, want ErrNameChar", r, err)
		}
	}
}

func TestNameIdeographTableSorted(t *testing.T) {
	for i, rg := range ideographRanges {
		if rg.lo > rg.hi || i > 0 && rg.lo <= ideographRanges[i-1].hi {
			t.Fatalf("ideographRanges[%d] %X..%X out of order", i, rg.lo, rg.hi)
		}
	}
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"张三", "买买提·艾力", "·", "a", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateName(s) == nil && (strings.HasPrefix(s, "·") || strings.HasSuffix(s, "·") || strings.ContainsAny(s, " .•")) {
			t.Fatalf("accepted %q", s)
		}
	})
}

func BenchmarkValidateName(b *testing.B) {
	names := []string{"张三", "欧阳娜娜", "阿卜杜热合曼·买买提·吐尔逊", "王𠀀", "李㐀"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = ValidateName(names[i%len(names)])
	}
}
