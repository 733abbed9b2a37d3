package idcard

import (
	"errors"
	"testing"
	"time"
)

func d(s string) time.Time {
	t, ok := ParseDate(s)
	if !ok {
		panic(s)
	}
	return t
}

func TestValidateValidity(t *testing.T) {
	tests := []struct {
		name       string
		birth      string
		begin, end string
		want       error
	}{
		{"not given", "19900101", "", "", nil},
		{"child 5 years", "20150601", "20200101", "20250101", nil},
		{"16 to 25: 10 years", "20000101", "20200315", "20300315", nil},
		{"26 to 45: 20 years", "19900101", "20200315", "20400315", nil},
		{"46+: long-term", "19600101", "20200315", LongTerm, nil},
		{"boundary: 16th birthday gets 10 years", "20000101", "20160101", "20260101", nil},
		{"boundary: day before 16th birthday gets 5", "20000101", "20151231", "20201231", nil},
		{"leap day issue expires 28 Feb", "19900101", "20200229", "20400228", nil},
		{"leap day issue expires 1 Mar", "19900101", "20200229", "20400301", nil},
		{"begin only", "19900101", "20200101", "", ErrValidityPair},
		{"end only", "19900101", "", "20400101", ErrValidityPair},
		{"bad begin", "19900101", "2020-01-01", "20400101", ErrValidityFormat},
		{"impossible date", "19900101", "20200230", "20400230", ErrValidityFormat},
		{"bad end", "19900101", "20200101", "2040010", ErrValidityFormat},
		{"end before begin", "19900101", "20200101", "20100101", ErrValidityOrder},
		{"begin in future", "19900101", "20270101", "20470101", ErrValidityBegin},
		{"begin before birth", "19900101", "19890101", "19940101", ErrValidityBirth},
		{"wrong length for age", "19900101", "20200101", "20300101", ErrValidityLength},
		{"long-term too young", "19900101", "20200101", LongTerm, ErrValidityLongTerm},
		{"46+ with fixed end", "19600101", "20200101", "20400101", ErrValidityLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateValidity(tt.begin, tt.end, d(tt.birth), now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestExpiryForAgrees(t *testing.T) {
	birth := d("19800615")
	for y := 1985; y <= 2026; y++ {
		begin := time.Date(y, 3, 1, 0, 0, 0, 0, time.UTC)
		if err := ValidateValidity(begin.Format("20060102"), ExpiryFor(birth, begin), birth, now); err != nil {
			t.Fatalf("issued %d: %v", y, err)
		}
	}
}

func TestParseDate(t *testing.T) {
	for s, ok := range map[string]bool{"20240229": true, "20230229": false, "20231301": false, "20230100": false, "2023011": false, "2023o101": false, "00000000": false} {
		if _, got := ParseDate(s); got != ok {
			t.Errorf("ParseDate(%q) ok = %v", s, got)
		}
	}
}
