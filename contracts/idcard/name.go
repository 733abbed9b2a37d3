package idcard

import (
	"errors"
	"unicode"
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

// ValidateName checks a holder's name: Han characters (every CJK block
// Unicode knows, rare extension characters included) and U+00B7 between
// parts, 2 to 32 characters.
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
		case r == '〇' || unicode.Is(unicode.Han, r):
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
