package statement

import (
	"bufio"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/fault"
)

// CSV columns, in order.
var (
	TotalsColumns = []string{"day", "credential", "api", "billed", "not_billed", "total", "lines_dropped"}
	LinesColumns  = []string{"request_id", "client_request_id", "credential", "api", "time", "day", "result", "status", "billed"}
)

// Snapshot is a statement for a query, copied out so it can be written
// without holding the statement's lock.
type Snapshot struct {
	q         Query
	authority string
	loc       *time.Location
	locName   string
	creds     []credential
	rows      []contracts.StatementRow
	lines     []line
	dropped   int64
}

// Snapshot copies the rows (and, when q.Lines, the lines) of q's range.
// It walks the ring under the statement's lock (a few milliseconds per
// million lines) to count the lines still held; the rest of each row's
// requests are its lines_dropped.
func (s *Statement) Snapshot(q Query) *Snapshot {
	snap := &Snapshot{q: q, authority: s.authority, loc: s.loc, locName: s.locName, creds: s.creds}
	per := len(s.creds) * int(numAPIs)
	s.mu.Lock()
	days := make([]*dayCounts, 0, len(s.days))
	for day, d := range s.days {
		if day >= q.From && day <= q.To {
			days = append(days, d)
		}
	}
	slices.SortFunc(days, func(a, b *dayCounts) int { return int(a.day - b.day) })
	counts := make([]int64, len(days)*per*numSlots)
	for i, d := range days {
		copy(counts[i*per*numSlots:], d.n)
	}
	held := make([]int64, len(days)*per)
	if len(days) > 0 {
		lastDay, base := Day(-1), -1
		s.ring.each(func(l *line) bool {
			if l.day < q.From || l.day > q.To {
				return true
			}
			if l.day != lastDay {
				lastDay, base = l.day, -1
				if i, ok := slices.BinarySearchFunc(days, l.day, func(d *dayCounts, day Day) int { return int(d.day - day) }); ok {
					base = i * per
				}
			}
			if base >= 0 {
				held[base+int(l.cred)*int(numAPIs)+int(l.api)]++
			}
			if q.Lines {
				snap.lines = append(snap.lines, *l)
			}
			return true
		})
	}
	s.mu.Unlock()

	for i, d := range days {
		ds := d.day.String()
		for ci, c := range s.creds {
			for api := API(0); api < numAPIs; api++ {
				k := i*per + ci*int(numAPIs) + int(api)
				n := counts[k*numSlots:][:numSlots]
				total := n[slotBilled] + n[slotNotBilled]
				if total == 0 {
					continue
				}
				dropped := total - held[k]
				snap.rows = append(snap.rows, contracts.StatementRow{Day: ds, Credential: c.id, API: api.String(),
					Billed: n[slotBilled], NotBilled: n[slotNotBilled], Total: total, LinesDropped: dropped})
				snap.dropped += dropped
			}
		}
	}
	slices.SortStableFunc(snap.rows, func(a, b contracts.StatementRow) int {
		if a.Day != b.Day {
			return compare(a.Day, b.Day)
		}
		if a.Credential != b.Credential {
			return compare(a.Credential, b.Credential)
		}
		return 0 // APIs are already in their order
	})
	return snap
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Rows are the snapshot's counts.
func (sn *Snapshot) Rows() []contracts.StatementRow { return sn.rows }

// LinesDropped is the number of requests in the range without a line.
func (sn *Snapshot) LinesDropped() int64 { return sn.dropped }

// Lines decodes the snapshot's lines.
func (sn *Snapshot) Lines() []contracts.StatementLine {
	out := make([]contracts.StatementLine, len(sn.lines))
	var buf []byte
	for i := range sn.lines {
		l := &sn.lines[i]
		buf = l.appendRequestID(buf[:0])
		out[i].RequestID = string(buf)
		buf = appendClient(buf[:0], &l.client, l.ckind, l.clen)
		out[i].ClientRequestID = string(buf)
		out[i].Credential = sn.creds[l.cred].id
		out[i].API = l.api.String()
		out[i].Time = time.Unix(0, l.at).In(sn.loc)
		out[i].Day = l.day.String()
		out[i].Result, out[i].Status = l.result()
		out[i].Billed = l.flags&flagBilled != 0
	}
	return out
}

func (l *line) appendRequestID(dst []byte) []byte {
	return ID{b: l.id, hex: l.flags&flagHexID != 0}.AppendText(dst)
}

// result is the line's answer and HTTP status.
func (l *line) result() (string, int) {
	switch l.kind {
	case kindResult:
		if int(l.code) < len(contracts.Results) {
			return string(contracts.Results[l.code].Code), 200
		}
	case kindError:
		if int(l.code) < len(errorCodes) {
			c := errorCodes[l.code]
			return string(c), c.Status()
		}
	case kindFault:
		return fault.Kind(l.code).String(), 0
	case kindSession:
		return strconv.Itoa(int(l.code)), 200
	case kindDateResult:
		if int(l.code) < len(contracts.DateResults) {
			return string(contracts.DateResults[l.code].Code), 200
		}
	case kindTencentError:
		if int(l.code) < len(tencentErrors) {
			return tencentErrors[l.code], 200
		}
	}
	return "unknown", 0
}

// ContentType is the snapshot's media type.
func (sn *Snapshot) ContentType() string {
	if sn.q.Format == FormatCSV {
		return "text/csv; charset=utf-8"
	}
	return "application/json"
}

// Write encodes the snapshot in the query's format.
func (sn *Snapshot) Write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var err error
	switch {
	case sn.q.Format == FormatJSON:
		err = sn.writeJSON(bw)
	case sn.q.Lines:
		err = sn.writeLinesCSV(bw)
	default:
		err = sn.writeTotalsCSV(bw)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// writeJSON streams a contracts.Statement: every string in a line is plain
// ASCII the statement made (ids, names, codes), so lines are appended
// without a reflective encoder.
func (sn *Snapshot) writeJSON(w *bufio.Writer) error {
	head, err := json.Marshal(struct {
		Authority string                   `json:"authority"`
		Calendar  string                   `json:"calendar"`
		From      string                   `json:"from"`
		To        string                   `json:"to"`
		Days      []contracts.StatementRow `json:"days"`
	}{sn.authority, sn.locName, sn.q.From.String(), sn.q.To.String(), nonNil(sn.rows)})
	if err != nil {
		return err
	}
	w.Write(head[:len(head)-1])
	if sn.q.Lines {
		w.WriteString(`,"lines":[`)
		var buf []byte
		for i := range sn.lines {
			if i > 0 {
				w.WriteByte(',')
			}
			buf = sn.appendLineJSON(buf[:0], &sn.lines[i])
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		w.WriteByte(']')
	}
	w.WriteString(`,"lines_dropped":`)
	w.WriteString(strconv.FormatInt(sn.dropped, 10))
	_, err = w.WriteString("}")
	return err
}

func nonNil(r []contracts.StatementRow) []contracts.StatementRow {
	if r == nil {
		return []contracts.StatementRow{}
	}
	return r
}

func (sn *Snapshot) appendLineJSON(b []byte, l *line) []byte {
	res, st := l.result()
	b = append(b, `{"request_id":"`...)
	b = l.appendRequestID(b)
	b = append(b, `","client_request_id":"`...)
	b = appendClient(b, &l.client, l.ckind, l.clen)
	b = append(b, `","credential":"`...)
	b = append(b, sn.creds[l.cred].id...)
	b = append(b, `","api":"`...)
	b = append(b, l.api.String()...)
	b = append(b, `","time":"`...)
	b = time.Unix(0, l.at).In(sn.loc).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","day":"`...)
	b = l.day.AppendText(b)
	b = append(b, `","result":"`...)
	b = append(b, res...)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(st), 10)
	b = append(b, `,"billed":`...)
	b = strconv.AppendBool(b, l.flags&flagBilled != 0)
	return append(b, '}')
}

// CSV: one header row, then one record per row or line, "\r\n" line ends
// (RFC 4180). No field needs quoting: every value is a number, a date, a
// time or an ASCII id or code the statement made.
func (sn *Snapshot) writeTotalsCSV(w *bufio.Writer) error {
	writeHeader(w, TotalsColumns)
	var b []byte
	for _, r := range sn.rows {
		b = append(b[:0], r.Day...)
		b = append(append(b, ','), r.Credential...)
		b = append(append(b, ','), r.API...)
		b = strconv.AppendInt(append(b, ','), r.Billed, 10)
		b = strconv.AppendInt(append(b, ','), r.NotBilled, 10)
		b = strconv.AppendInt(append(b, ','), r.Total, 10)
		b = strconv.AppendInt(append(b, ','), r.LinesDropped, 10)
		b = append(b, '\r', '\n')
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func (sn *Snapshot) writeLinesCSV(w *bufio.Writer) error {
	writeHeader(w, LinesColumns)
	var b []byte
	for i := range sn.lines {
		l := &sn.lines[i]
		res, st := l.result()
		b = l.appendRequestID(b[:0])
		b = appendClient(append(b, ','), &l.client, l.ckind, l.clen)
		b = append(append(b, ','), sn.creds[l.cred].id...)
		b = append(append(b, ','), l.api.String()...)
		b = time.Unix(0, l.at).In(sn.loc).AppendFormat(append(b, ','), time.RFC3339Nano)
		b = l.day.AppendText(append(b, ','))
		b = append(append(b, ','), res...)
		b = strconv.AppendInt(append(b, ','), int64(st), 10)
		b = strconv.AppendBool(append(b, ','), l.flags&flagBilled != 0)
		b = append(b, '\r', '\n')
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func writeHeader(w *bufio.Writer, cols []string) {
	for i, c := range cols {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(c)
	}
	w.WriteString("\r\n")
}
