package statement

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Format is a statement's encoding.
type Format uint8

// The formats.
const (
	FormatJSON Format = iota
	FormatCSV
)

// Query is what GET /admin/statement asks for.
type Query struct {
	// From and To are the first and last calendar day, both included.
	From, To Day
	// Lines asks for the per-request lines as well (JSON) or instead of
	// the daily totals (CSV).
	Lines  bool
	Format Format
}

// ErrQuery is wrapped by every query parameter error.
var ErrQuery = errors.New("statement: bad query")

// maxRangeDays bounds a query's range: a statement spans at most a year
// (days with no traffic cost nothing, but an accidental 0001-9999 range
// should be refused, not walked).
const maxRangeDays = 366

// ParseQuery reads the query string of GET /admin/statement and the
// request's Accept header. Parameters: from and to (YYYY-MM-DD, calendar
// days, both included; a missing one takes the other's value, both missing
// mean today), lines (a boolean), format (json or csv; without it, an
// Accept header naming text/csv asks for CSV). Unknown or repeated
// parameters are errors, so a typo cannot silently produce another
// statement.
func ParseQuery(rawQuery, accept string, today Day) (Query, error) {
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Query{}, fmt.Errorf("%w: query string: %v", ErrQuery, err)
	}
	var q Query
	seen := 0
	get := func(name string) (string, bool, error) {
		v, ok := vals[name]
		if !ok {
			return "", false, nil
		}
		seen++
		if len(v) != 1 {
			return "", false, fmt.Errorf("%w: %s given %d times", ErrQuery, name, len(v))
		}
		return v[0], true, nil
	}
	from, hasFrom, err := get("from")
	if err != nil {
		return Query{}, err
	}
	to, hasTo, err := get("to")
	if err != nil {
		return Query{}, err
	}
	lines, hasLines, err := get("lines")
	if err != nil {
		return Query{}, err
	}
	format, hasFormat, err := get("format")
	if err != nil {
		return Query{}, err
	}
	if seen != len(vals) {
		for k := range vals {
			switch k {
			case "from", "to", "lines", "format":
			default:
				return Query{}, fmt.Errorf("%w: unknown parameter %q (from, to, lines, format)", ErrQuery, truncate(k))
			}
		}
	}
	q.From, q.To = today, today
	if hasFrom {
		if q.From, err = ParseDay(from); err != nil {
			return Query{}, fmt.Errorf("%w: from: %v", ErrQuery, err)
		}
		q.To = q.From
	}
	if hasTo {
		if q.To, err = ParseDay(to); err != nil {
			return Query{}, fmt.Errorf("%w: to: %v", ErrQuery, err)
		}
		if !hasFrom {
			q.From = q.To
		}
	}
	if q.From > q.To {
		return Query{}, fmt.Errorf("%w: from %s is after to %s", ErrQuery, q.From, q.To)
	}
	if q.To.time().Sub(q.From.time()) >= maxRangeDays*24*time.Hour {
		return Query{}, fmt.Errorf("%w: the range spans more than %d days", ErrQuery, maxRangeDays)
	}
	if hasLines {
		if q.Lines, err = strconv.ParseBool(lines); err != nil {
			return Query{}, fmt.Errorf("%w: lines must be true or false", ErrQuery)
		}
	}
	switch {
	case !hasFormat:
		if acceptsCSV(accept) {
			q.Format = FormatCSV
		}
	case format == "json":
	case format == "csv":
		q.Format = FormatCSV
	default:
		return Query{}, fmt.Errorf("%w: format must be json or csv", ErrQuery)
	}
	return q, nil
}

// ParseDay reads YYYY-MM-DD strictly: four-digit year from 0001, a real
// month and day of month.
func ParseDay(s string) (Day, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, fmt.Errorf("%q is not YYYY-MM-DD", truncate(s))
	}
	num := func(p string) (int, bool) {
		n := 0
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return 0, false
			}
			n = n*10 + int(p[i]-'0')
		}
		return n, true
	}
	y, ok1 := num(s[0:4])
	m, ok2 := num(s[5:7])
	d, ok3 := num(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return 0, fmt.Errorf("%q is not YYYY-MM-DD", truncate(s))
	}
	if y < 1 || m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, fmt.Errorf("%q is not a date", s)
	}
	if t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC); t.Day() != d {
		return 0, fmt.Errorf("%q is not a date", s)
	}
	return makeDay(y, time.Month(m), d), nil
}

// time is midnight UTC of the day, for day arithmetic.
func (d Day) time() time.Time {
	y, m, dd := d.Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
}

// DayOf is t's day in loc.
func DayOf(t time.Time, loc *time.Location) Day {
	y, m, d := t.In(loc).Date()
	return makeDay(y, m, d)
}

// acceptsCSV reports whether an Accept header names text/csv with a
// non-zero quality.
func acceptsCSV(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(mt), "text/csv") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && q == 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}

// truncate keeps error messages short whatever a client sent.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
