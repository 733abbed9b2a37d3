package statement

import (
	"errors"
	"strings"
	"testing"
)

func TestParseQuery(t *testing.T) {
	today := Day(20250615)
	cases := []struct {
		raw, accept string
		want        Query
		err         string // empty: valid
	}{
		{"", "", Query{From: today, To: today}, ""},
		{"from=2025-01-01&to=2025-01-31", "", Query{From: 20250101, To: 20250131}, ""},
		{"from=2025-01-01", "", Query{From: 20250101, To: 20250101}, ""},
		{"to=2025-01-05", "", Query{From: 20250105, To: 20250105}, ""},
		{"from=2025-01-01&to=2025-01-01&lines=true", "", Query{From: 20250101, To: 20250101, Lines: true}, ""},
		{"lines=1&format=csv", "", Query{From: today, To: today, Lines: true, Format: FormatCSV}, ""},
		{"lines=false", "", Query{From: today, To: today}, ""},
		{"format=json", "text/csv", Query{From: today, To: today}, ""},
		{"", "text/csv", Query{From: today, To: today, Format: FormatCSV}, ""},
		{"", "application/json, text/csv;q=0.5", Query{From: today, To: today, Format: FormatCSV}, ""},
		{"", "TEXT/CSV; charset=utf-8", Query{From: today, To: today, Format: FormatCSV}, ""},
		{"", "text/csv;q=0", Query{From: today, To: today}, ""},
		{"", "application/json", Query{From: today, To: today}, ""},
		{"", "*/*", Query{From: today, To: today}, ""},
		{"from=2024-02-29&to=2025-02-28", "", Query{From: 20240229, To: 20250228}, ""},
		{"from=2024-01-01&to=2024-12-31", "", Query{From: 20240101, To: 20241231}, ""},

		{"from=2025-02-01&to=2025-01-01", "", Query{}, "after"},
		{"from=2025-1-01", "", Query{}, "YYYY-MM-DD"},
		{"from=2025/01/01", "", Query{}, "YYYY-MM-DD"},
		{"from=20250101", "", Query{}, "YYYY-MM-DD"},
		{"from=2025-02-30", "", Query{}, "not a date"},
		{"from=2025-13-01", "", Query{}, "not a date"},
		{"from=0000-01-01", "", Query{}, "not a date"},
		{"from=2025-01-00", "", Query{}, "not a date"},
		{"from=+025-01-01", "", Query{}, "YYYY-MM-DD"},
		{"from=", "", Query{}, "YYYY-MM-DD"},
		{"to=yesterday", "", Query{}, "YYYY-MM-DD"},
		{"from=2000-01-01&to=2025-01-01", "", Query{}, "366"},
		{"from=2025-01-01&from=2025-01-02", "", Query{}, "2 times"},
		{"lines=yes", "", Query{}, "lines"},
		{"format=xml", "", Query{}, "format"},
		{"format=CSV", "", Query{}, "format"},
		{"form=2025-01-01", "", Query{}, "unknown parameter"},
		{"from=2025-01-01&extra", "", Query{}, "unknown parameter"},
		{"from=%zz", "", Query{}, "query string"},
		{"from=2025-01-01;to=2025-01-02", "", Query{}, "query string"},
	}
	for _, tc := range cases {
		t.Run(tc.raw+"|"+tc.accept, func(t *testing.T) {
			got, err := ParseQuery(tc.raw, tc.accept, today)
			if tc.err != "" {
				if err == nil || !errors.Is(err, ErrQuery) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// FuzzParseQuery: any query string and Accept header either parse into a
// well-formed query (real days, from <= to, a known format) or fail with
// ErrQuery; nothing panics.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "from=2025-01-01&to=2025-01-31&lines=true&format=csv", "from=2025-02-30", "to=9999-12-31",
		"from=%zz", "lines=1&lines=0", "a=b", "from=2024-02-29", "format=json&from=0001-01-01"} {
		f.Add(s, "text/csv")
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, raw, accept string) {
		q, err := ParseQuery(raw, accept, 20250615)
		if err != nil {
			if !errors.Is(err, ErrQuery) {
				t.Fatalf("error %v does not wrap ErrQuery", err)
			}
			return
		}
		if q.From > q.To || (q.Format != FormatJSON && q.Format != FormatCSV) {
			t.Fatalf("query %+v", q)
		}
		for _, d := range []Day{q.From, q.To} {
			back, err := ParseDay(d.String())
			if err != nil || back != d {
				t.Fatalf("day %d does not round-trip: %s %v", d, d, err)
			}
		}
	})
}
