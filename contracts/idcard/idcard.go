// Package idcard parses, validates and generates resident identity card
// numbers (GB 11643-1999), and validates the two other fields a card check
// carries: the holder's name and the card's validity period.
package idcard

import (
	"errors"
	"fmt"
	"time"
)

// Reasons a number is rejected. Every one maps to the authority's result
// "-2" (illegal ID number); the distinct errors exist for messages and tests.
var (
	ErrLength     = errors.New("idcard: length must be 18 characters")
	ErrLegacy15   = errors.New("idcard: 15-digit first-generation number; convert it to 18 digits")
	ErrCharset    = errors.New("idcard: only digits, and X as the last character, are allowed")
	ErrLowercaseX = errors.New("idcard: the check character X must be upper-case")
	ErrDivision   = errors.New("idcard: unknown administrative division")
	ErrBirthDate  = errors.New("idcard: birth date is not a real calendar date")
	ErrFuture     = errors.New("idcard: birth date is in the future")
	ErrTooOld     = errors.New("idcard: birth date is before 1880")
	ErrChecksum   = errors.New("idcard: check character does not match (ISO 7064 MOD 11-2)")
)

// Kind tells which document a valid number belongs to.
type Kind uint8

const (
	KindResident Kind = iota // mainland resident identity card
	// Residence permits for Hong Kong, Macau and Taiwan residents carry the
	// prefixes 810000, 820000 and 830000 and the same check algorithm.
	KindPermitHongKong
	KindPermitMacau
	KindPermitTaiwan
	KindLegacy15 // first-generation 15-digit number (GB 11643-1989)
)

func (k Kind) String() string {
	switch k {
	case KindResident:
		return "resident"
	case KindPermitHongKong:
		return "residence_permit_hk"
	case KindPermitMacau:
		return "residence_permit_mo"
	case KindPermitTaiwan:
		return "residence_permit_tw"
	case KindLegacy15:
		return "legacy_15"
	}
	return "unknown"
}

// Gender is encoded in the parity of the sequence number.
type Gender uint8

const (
	Female Gender = iota
	Male
)

func (g Gender) String() string {
	if g == Male {
		return "male"
	}
	return "female"
}

// Number is a parsed, valid ID number.
type Number struct {
	Raw      string // as given (18 or 15 characters)
	Division string // 6-digit administrative division code
	Birth    time.Time
	Sequence int // 3-digit sequence; odd = male
	Kind     Kind
}

// Gender of the holder.
func (n Number) Gender() Gender {
	if n.Sequence%2 == 1 {
		return Male
	}
	return Female
}

// Region names the division (province, and the county when the code is in
// the embedded table). Retired county codes still name their province.
func (n Number) Region() string { return RegionName(n.Division) }

// Masked hides the birth date and sequence: 110105********002X keeps what a
// billing ledger needs to tell records apart without the number itself.
func (n Number) Masked() string { return Mask(n.Raw) }

var weights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const checkChars = "10X98765432"

// CheckChar computes the ISO 7064 MOD 11-2 check character of the first 17
// digits. It panics if body is not 17 ASCII digits: callers validate first.
func CheckChar(body string) byte {
	if len(body) != 17 {
		panic("idcard: CheckChar needs 17 digits")
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := body[i]
		if c < '0' || c > '9' {
			panic("idcard: CheckChar needs 17 digits")
		}
		sum += int(c-'0') * weights[i]
	}
	return checkChars[sum%11]
}

// Parse validates an 18-digit number as of the current time. 15-digit
// numbers are recognised and rejected with ErrLegacy15 (use ParseLegacy).
func Parse(s string) (Number, error) { return ParseAt(s, time.Now()) }

// ParseAt validates s as of now (the birth date may not lie after now).
func ParseAt(s string, now time.Time) (Number, error) {
	switch len(s) {
	case 18:
	case 15:
		if allDigits(s) {
			return Number{}, ErrLegacy15
		}
		return Number{}, ErrLength
	default:
		return Number{}, ErrLength
	}
	if !allDigits(s[:17]) {
		return Number{}, ErrCharset
	}
	last := s[17]
	switch {
	case last == 'x':
		return Number{}, ErrLowercaseX
	case last != 'X' && (last < '0' || last > '9'):
		return Number{}, ErrCharset
	}
	n := Number{Raw: s, Division: s[:6], Sequence: atoi(s[14:17])}
	kind, err := divisionKind(n.Division)
	if err != nil {
		return Number{}, err
	}
	n.Kind = kind
	if n.Birth, err = parseBirth(s[6:14], now); err != nil {
		return Number{}, err
	}
	if CheckChar(s[:17]) != last {
		return Number{}, ErrChecksum
	}
	return n, nil
}

// ParseLegacy validates a 15-digit first-generation number: division,
// YYMMDD birth date in the 1900s, sequence. It has no check character.
func ParseLegacy(s string, now time.Time) (Number, error) {
	if len(s) != 15 {
		return Number{}, ErrLength
	}
	if !allDigits(s) {
		return Number{}, ErrCharset
	}
	n := Number{Raw: s, Division: s[:6], Sequence: atoi(s[12:15]), Kind: KindLegacy15}
	if _, err := divisionKind(n.Division); err != nil {
		return Number{}, err
	}
	var err error
	if n.Birth, err = parseBirth("19"+s[6:12], now); err != nil {
		return Number{}, err
	}
	return n, nil
}

// Upgrade converts a valid 15-digit number to its 18-digit form: the century
// "19" is inserted before the birth date and a check character appended.
func Upgrade(legacy string, now time.Time) (string, error) {
	if _, err := ParseLegacy(legacy, now); err != nil {
		return "", err
	}
	body := legacy[:6] + "19" + legacy[6:]
	return body + string(CheckChar(body)), nil
}

func parseBirth(yyyymmdd string, now time.Time) (time.Time, error) {
	if !allDigits(yyyymmdd) || len(yyyymmdd) != 8 {
		return time.Time{}, ErrBirthDate
	}
	t, ok := ParseDate(yyyymmdd)
	if !ok {
		return time.Time{}, ErrBirthDate
	}
	if t.Year() < 1880 {
		return time.Time{}, ErrTooOld
	}
	// Compare calendar dates in China's zone: a child born today in
	// Shanghai is not "in the future" while it is still yesterday in UTC.
	if t.After(dateOf(now)) {
		return time.Time{}, ErrFuture
	}
	return t, nil
}

// ParseDate parses YYYYMMDD into a UTC midnight, rejecting dates that do
// not exist (20230229, 20231301).
func ParseDate(s string) (time.Time, bool) {
	if len(s) != 8 || !allDigits(s) {
		return time.Time{}, false
	}
	y, m, d := atoi(s[:4]), atoi(s[4:6]), atoi(s[6:8])
	if m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d || int(t.Month()) != m {
		return time.Time{}, false
	}
	return t, true
}

var shanghai = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	// China has used UTC+8 without daylight saving since 1991; a fixed
	// zone keeps working on hosts without tzdata.
	return time.FixedZone("CST", 8*3600)
}()

// dateOf is the calendar date of t in China, as a UTC midnight.
func dateOf(t time.Time) time.Time {
	y, m, d := t.In(shanghai).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func divisionKind(code string) (Kind, error) {
	switch code {
	case "810000":
		return KindPermitHongKong, nil
	case "820000":
		return KindPermitMacau, nil
	case "830000":
		return KindPermitTaiwan, nil
	}
	if _, ok := provinces[code[:2]]; !ok || code[:2] == "81" || code[:2] == "82" || code[:2] == "83" {
		return 0, ErrDivision
	}
	// A county code is never 00 at the last level below a prefecture that
	// is itself 00 (e.g. 110000 names a province, not a place of birth
	// registration); prefecture "00" with county "00" is the province code.
	if code[2:] == "0000" {
		return 0, ErrDivision
	}
	return KindResident, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// Generate builds a valid 18-digit number for a division, birth date,
// gender and sequence (1..999; its parity is adjusted to the gender).
func Generate(division string, birth time.Time, g Gender, seq int) (string, error) {
	if len(division) != 6 || !allDigits(division) {
		return "", fmt.Errorf("idcard: generate: division %q: %w", division, ErrDivision)
	}
	if _, err := divisionKind(division); err != nil {
		return "", fmt.Errorf("idcard: generate: division %q: %w", division, err)
	}
	if seq < 0 || seq > 999 {
		return "", fmt.Errorf("idcard: generate: sequence %d out of range 0..999", seq)
	}
	if (seq%2 == 1) != (g == Male) {
		if seq == 999 {
			seq = 998
		} else {
			seq++
		}
	}
	body := fmt.Sprintf("%s%s%03d", division, birth.Format("20060102"), seq)
	return body + string(CheckChar(body)), nil
}
