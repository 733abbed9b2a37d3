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
