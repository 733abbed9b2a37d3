package idcard

import (
	"errors"
	"time"
)

// Reasons a validity period is rejected.
var (
	ErrValidityFormat   = errors.New("idcard: validity dates must be real dates written YYYYMMDD")
	ErrValidityPair     = errors.New("idcard: validity_begin and validity_end must be given together")
	ErrValidityOrder    = errors.New("idcard: validity_begin must be before validity_end")
	ErrValidityBegin    = errors.New("idcard: validity_begin is in the future")
	ErrValidityBirth    = errors.New("idcard: validity_begin is before the holder's birth date")
	ErrValidityLength   = errors.New("idcard: validity period does not match the holder's age at issue (under 16: 5 years, 16-25: 10, 26-45: 20, 46 and over: long-term)")
	ErrValidityLongTerm = errors.New("idcard: long-term validity is issued only to holders aged 46 or over")
)

// LongTerm is the validity_end of a card that does not expire.
const LongTerm = "00000000"

// PeriodYears is the validity a card issued at the given age carries, as
// the Resident Identity Card Law (art. 5) sets it; 0 means long-term.
func PeriodYears(ageAtIssue int) int {
	switch {
	case ageAtIssue < 16:
		return 5
	case ageAtIssue <= 25:
		return 10
	case ageAtIssue <= 45:
		return 20
	}
	return 0
}

// AgeAt is the age in whole years of someone born on birth, on day t.
func AgeAt(birth, t time.Time) int {
	age := t.Year() - birth.Year()
	if t.Month() < birth.Month() || (t.Month() == birth.Month() && t.Day() < birth.Day()) {
		age--
	}
	return age
}

// ValidateValidity checks a card's validity period against its holder's
// birth date. Both dates empty means "not given" and is valid.
func ValidateValidity(begin, end string, birth, now time.Time) error {
	if begin == "" && end == "" {
		return nil
	}
	if begin == "" || end == "" {
		return ErrValidityPair
	}
	b, ok := ParseDate(begin)
	if !ok {
		return ErrValidityFormat
	}
	if b.After(dateOf(now)) {
		return ErrValidityBegin
	}
	if !birth.IsZero() && b.Before(birth) {
		return ErrValidityBirth
	}
	years := -1
	if !birth.IsZero() {
		years = PeriodYears(AgeAt(birth, b))
	}
	if end == LongTerm {
		if years > 0 {
			return ErrValidityLongTerm
		}
		return nil
	}
	e, ok := ParseDate(end)
	if !ok {
		return ErrValidityFormat
	}
	if !e.After(b) {
		return ErrValidityOrder
	}
	if years < 0 {
		return nil
	}
	if years == 0 {
		// Holders 46 and over get long-term cards only.
		return ErrValidityLength
	}
	if !sameAnniversary(b, e, years) {
		return ErrValidityLength
	}
	return nil
}

// sameAnniversary reports whether e is the years-th anniversary of b. A
// card issued on 29 February expires on 28 February or 1 March.
func sameAnniversary(b, e time.Time, years int) bool {
	if e.Year()-b.Year() != years {
		return false
	}
	if b.Month() == time.February && b.Day() == 29 {
		return (e.Month() == time.February && e.Day() == 28) || (e.Month() == time.March && e.Day() == 1) ||
			(e.Month() == time.February && e.Day() == 29)
	}
	return e.Month() == b.Month() && e.Day() == b.Day()
}

// ExpiryFor computes the validity_end of a card issued on begin to someone
// born on birth, in YYYYMMDD (LongTerm for holders 46 and over).
func ExpiryFor(birth, begin time.Time) string {
	years := PeriodYears(AgeAt(birth, begin))
	if years == 0 {
		return LongTerm
	}
	return begin.AddDate(years, 0, 0).Format("20060102")
}
