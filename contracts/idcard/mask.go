package idcard

import (
	"strconv"
	"unicode/utf8"
)

// Mask is the only form of an ID value that may be stored (the gateway's
// ledger and its CSV export, the simulator's journal). It works on any
// string, valid or not, and never keeps more than a fixed, non-identifying
// part of it, whatever its length or encoding. The result is at most 18
// bytes of printable ASCII (so always valid UTF-8) and starts with a digit,
// a letter or '*', never with a character a spreadsheet would evaluate.
//
//   - 18 characters shaped like a card number (17 ASCII digits, then a
//     digit, X or x): the division and the last four characters, the birth
//     date hidden: 11010519491231002X → 110105********002X.
//   - 15 ASCII digits (a first-generation number): the division and the
//     last four: 110105491231002 → 110105*****1002 (the last digit of the
//     birth day and the sequence; as much as the 18-character form keeps).
//   - anything else shorter than 10 characters: ******** (nothing kept).
//   - anything else: the first two characters when both are ASCII letters
//     or digits, then ******** and the length class: the length in
//     characters from 10 to 64, ">64" beyond: A123456789 → A1********#10,
//     full-width or Arabic-Indic digits → ********#18. Characters are
//     runes; a byte that is not valid UTF-8 counts as one.
func Mask(s string) string {
	switch {
	case maskable18(s):
		return s[:6] + "********" + s[14:]
	case len(s) == 15 && allDigits(s):
		return s[:6] + "*****" + s[11:]
	}
	n := runeCountUpTo(s, maskMaxLen+1)
	if n < 10 {
		return maskMarker
	}
	out := make([]byte, 0, 2+len(maskMarker)+4)
	if isASCIIAlnum(s[0]) && isASCIIAlnum(s[1]) {
		out = append(out, s[0], s[1])
	}
	out = append(out, maskMarker...)
	out = append(out, '#')
	if n > maskMaxLen {
		return string(append(out, ">64"...))
	}
	return string(strconv.AppendInt(out, int64(n), 10))
}

const (
	maskMarker = "********"
	maskMaxLen = 64 // longest length class reported exactly
)

// maskable18 reports whether s has the shape of an 18-character number,
// whatever its division, date or check character.
func maskable18(s string) bool {
	if len(s) != 18 || !allDigits(s[:17]) {
		return false
	}
	c := s[17]
	return c >= '0' && c <= '9' || c == 'X' || c == 'x'
}

// runeCountUpTo counts the runes of s (an invalid byte counts as one),
// stopping at limit so that a huge value costs no more than a short one.
func runeCountUpTo(s string, limit int) int {
	n := 0
	for i := 0; i < len(s) && n < limit; n++ {
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return n
}

func isASCIIAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}
