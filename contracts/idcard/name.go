package idcard

import (
	"errors"
	"unicode/utf8"
)

// Name rules. The chip stores 15 UCS-2 characters, but minority names
// transcribed with the middle dot run longer, and the authority accepts up
// to 32 characters.
const (
	NameMinLen = 2
	NameMaxLen = 32
	// MiddleDot (U+00B7) separates the parts of transcribed minority names
	// such as 买买提·艾力.
	MiddleDot = '·'
)

// Reasons a name is rejected; each maps to the authority's result "-3".
var (
	ErrNameEmpty    = errors.New("idcard: name is empty")
	ErrNameLength   = errors.New("idcard: name must be 2 to 32 characters")
	ErrNameUTF8     = errors.New("idcard: name is not valid UTF-8")
	ErrNameChar     = errors.New("idcard: name may contain only Chinese characters and the middle dot U+00B7")
	ErrNameLookDot  = errors.New("idcard: name uses a look-alike of the middle dot; use U+00B7")
	ErrNameDotPlace = errors.New("idcard: middle dot may not start or end a name or repeat")
)

// lookAlikeDots are the separators people type instead of U+00B7. The
// authority compares names character by character, so a look-alike can
// never match and would be billed as "-1": it is rejected before it costs.
var lookAlikeDots = map[rune]bool{
	'•': true, // U+2022 bullet
	'・': true, // U+30FB katakana middle dot
	'･': true, // U+FF65 half-width katakana middle dot
	'．': true, // U+FF0E full-width full stop
	'.': true, // U+002E full stop
	'‧': true, // U+2027 hyphenation point
	'∙': true, // U+2219 bullet operator
	'⋅': true, // U+22C5 dot operator
	'●': true, // U+25CF black circle
}

// ValidateName checks a holder's name: CJK ideographs (the table below) and
// U+00B7 between parts, 2 to 32 characters.
func ValidateName(s string) error {
	if s == "" {
		return ErrNameEmpty
	}
	if !utf8.ValidString(s) {
		return ErrNameUTF8
	}
	n := utf8.RuneCountInString(s)
	if n < NameMinLen || n > NameMaxLen {
		return ErrNameLength
	}
	prevDot := true // a dot may not come first
	for _, r := range s {
		switch {
		case r == MiddleDot:
			if prevDot {
				return ErrNameDotPlace
			}
			prevDot = true
			continue
		case lookAlikeDots[r]:
			return ErrNameLookDot
		case isNameIdeograph(r):
		default:
			return ErrNameChar
		}
		prevDot = false
	}
	if prevDot {
		return ErrNameDotPlace
	}
	return nil
}

// ideographRanges are the code points a name may be written with, sorted:
// the blocks of CJK unified ideographs through Extension J (Unicode 17),
// the compatibility ideographs the authority's register also holds, and
// U+3007 〇, which appears in real names. Whole blocks are listed, so a
// character assigned later at a block's end is already accepted.
//
// The Han script holds more than this, and the rest is refused on purpose:
// Kangxi radicals (U+2F00 ⼀ looks like 一), the CJK radicals supplement
// (U+2E80–U+2EFF), Hangzhou numerals (U+3021–U+3029, U+3038–U+303A) and
// iteration marks (U+3005 々) are never a character of a registered name,
// so the authority would answer a billed "-1". Go's unicode tables are not
// used because they lag the standard (Extension I, Unicode 15.1, is
// missing from Go's Unicode 15.0 tables).
var ideographRanges = [...]struct{ lo, hi rune }{
	{0x3007, 0x3007},   // 〇 ideographic number zero
	{0x3400, 0x4DBF},   // Extension A
	{0x4E00, 0x9FFF},   // CJK Unified Ideographs (URO)
	{0xF900, 0xFAFF},   // CJK Compatibility Ideographs
	{0x20000, 0x2A6DF}, // Extension B
	{0x2A700, 0x2B73F}, // Extension C
	{0x2B740, 0x2B81F}, // Extension D
	{0x2B820, 0x2CEAF}, // Extension E
	{0x2CEB0, 0x2EBEF}, // Extension F
	{0x2EBF0, 0x2EE5F}, // Extension I
	{0x2F800, 0x2FA1F}, // CJK Compatibility Ideographs Supplement
	{0x30000, 0x3134F}, // Extension G
	{0x31350, 0x323AF}, // Extension H
	{0x323B0, 0x3347F}, // Extension J
}

// isNameIdeograph reports whether r may be a character of a name (the
// middle dot aside): see ideographRanges.
func isNameIdeograph(r rune) bool {
	if r >= 0x4E00 && r <= 0x9FFF { // nearly every name
		return true
	}
	lo, hi := 0, len(ideographRanges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch rg := ideographRanges[m]; {
		case r < rg.lo:
			hi = m
		case r > rg.hi:
			lo = m + 1
		default:
			return true
		}
	}
	return false
}
