// Package outcome decides how the simulator answers a check request: from
// the request's Prefer header, from a magic test identity, or from the
// token's scenario (a seeded, weighted mix of outcomes, latencies and
// faults).
package outcome

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/fault"
)

// Prefer is what a request's Prefer header (RFC 7240) asks for. The zero
// value asks for nothing.
//
// Grammar: a comma-separated list of preferences, each name=value with
// optional quotes around the value and optional ";parameters" (ignored):
//
//	result=<code>      a 200 answer with this result: 0, -1 ... -7
//	status=<code>      an HTTP error: 400, 401, 429 or 500 (200 = no error)
//	latency=<dur>      delay the answer: Go duration (200ms, 1.5s) or ms
//	fault=<name>       connection_reset, empty_response, malformed_chunk,
//	                   random_then_close or hang
//	sim=<0..100>       face similarity to report when image_url is sent
//
// Preferences the simulator does not know are ignored, as RFC 7240 asks;
// a known preference with a bad value is an error, so a typo in a test
// does not silently test the happy path. When a preference is repeated the
// first one counts (RFC 7240 section 2).
type Prefer struct {
	Result     contracts.ResultCode
	Status     int
	Fault      fault.Kind
	Latency    time.Duration
	HasLatency bool
	Sim        float64
	HasSim     bool
}

// Empty reports whether the header asked for nothing the simulator knows.
func (p *Prefer) Empty() bool {
	return p.Result == "" && p.Status == 0 && p.Fault == fault.None && !p.HasLatency && !p.HasSim
}

// Applied renders the preferences the simulator understood, for the
// Preference-Applied response header (RFC 7240 section 3).
func (p *Prefer) Applied() string { return string(p.AppendApplied(nil)) }

// AppendApplied is Applied appending to dst, for the hot path.
func (p *Prefer) AppendApplied(dst []byte) []byte {
	start := len(dst)
	sep := func(name string) {
		if len(dst) > start {
			dst = append(dst, ", "...)
		}
		dst = append(dst, name...)
		dst = append(dst, '=')
	}
	if p.Result != "" {
		sep("result")
		dst = append(dst, p.Result...)
	}
	if p.Status != 0 {
		sep("status")
		dst = strconv.AppendInt(dst, int64(p.Status), 10)
	}
	if p.Fault != fault.None {
		sep("fault")
		dst = append(dst, p.Fault.String()...)
	}
	if p.HasLatency {
		sep("latency")
		dst = append(dst, p.Latency.String()...)
	}
	if p.HasSim {
		sep("sim")
		dst = strconv.AppendFloat(dst, p.Sim, 'f', -1, 64)
	}
	return dst
}

// PreferStatuses are the HTTP errors a Prefer header may ask for: the
// ones the authority itself answers with.
var PreferStatuses = []int{400, 401, 429, 500}

// ErrPrefer marks every Prefer parse error.
var ErrPrefer = errors.New("invalid Prefer header")

// ParsePrefer adds the preferences in one Prefer header value to p. It can
// be called once per header line; earlier values win. It does not allocate
// unless the header carries latency or sim, or is invalid.
func ParsePrefer(p *Prefer, h []byte) error {
	seen := seenFrom(p)
	for len(h) > 0 {
		var item []byte
		item, h = nextItem(h)
		if i := bytes.IndexByte(item, ';'); i >= 0 {
			item = item[:i]
		}
		item = trimOWS(item)
		if len(item) == 0 {
			continue
		}
		name, value := item, []byte(nil)
		if i := bytes.IndexByte(item, '='); i >= 0 {
			name, value = trimOWS(item[:i]), unquote(trimOWS(item[i+1:]))
		}
		switch {
		case bytes.EqualFold(name, []byte("result")):
			if seen&seenResult != 0 {
				continue
			}
			seen |= seenResult
			code, ok := resultCode(value)
			if !ok {
				return fmt.Errorf("%w: result must be one of 0, -1, -2, -3, -4, -5, -6, -7", ErrPrefer)
			}
			p.Result = code
		case bytes.EqualFold(name, []byte("status")):
			if seen&seenStatus != 0 {
				continue
			}
			seen |= seenStatus
			st, ok := preferStatus(value)
			if !ok {
				return fmt.Errorf("%w: status must be one of 200, 400, 401, 429, 500", ErrPrefer)
			}
			p.Status = st
		case bytes.EqualFold(name, []byte("fault")):
			if seen&seenFault != 0 {
				continue
			}
			seen |= seenFault
			k, ok := fault.ParseBytes(value)
			if !ok {
				return fmt.Errorf("%w: fault must be one of connection_reset, empty_response, malformed_chunk, random_then_close, hang", ErrPrefer)
			}
			p.Fault = k
		case bytes.EqualFold(name, []byte("latency")):
			if seen&seenLatency != 0 {
				continue
			}
			seen |= seenLatency
			d, err := ParseDuration(string(value))
			if err != nil {
				return fmt.Errorf("%w: latency: %v", ErrPrefer, err)
			}
			p.Latency, p.HasLatency = d.D(), true
		case bytes.EqualFold(name, []byte("sim")):
			if seen&seenSim != 0 {
				continue
			}
			seen |= seenSim
			v, err := strconv.ParseFloat(string(value), 64)
			if err != nil || !(v >= 0 && v <= 100) {
				return fmt.Errorf("%w: sim must be a number from 0 to 100", ErrPrefer)
			}
			p.Sim, p.HasSim = v, true
		}
	}
	return nil
}

const (
	seenResult = 1 << iota
	seenStatus
	seenFault
	seenLatency
	seenSim
)

// seenFrom marks the preferences an earlier header line already set, so
// that later lines do not override them.
func seenFrom(p *Prefer) int {
	s := 0
	if p.Result != "" {
		s |= seenResult
	}
	if p.Status != 0 {
		s |= seenStatus
	}
	if p.Fault != fault.None {
		s |= seenFault
	}
	if p.HasLatency {
		s |= seenLatency
	}
	if p.HasSim {
		s |= seenSim
	}
	return s
}

// nextItem splits off the next comma-separated element, honouring quoted
// strings (a comma inside quotes does not split).
func nextItem(h []byte) (item, rest []byte) {
	inQuote := false
	for i := 0; i < len(h); i++ {
		switch h[i] {
		case '\\':
			if inQuote {
				i++
			}
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				return h[:i], h[i+1:]
			}
		}
	}
	return h, nil
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func unquote(b []byte) []byte {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		return b[1 : len(b)-1]
	}
	return b
}

// resultCode resolves a result code to its contract constant.
func resultCode(b []byte) (contracts.ResultCode, bool) {
	for _, r := range contracts.Results {
		if string(r.Code) == string(b) {
			return r.Code, true
		}
	}
	return "", false
}

func preferStatus(b []byte) (int, bool) {
	switch string(b) {
	case "200":
		return 0, true
	case "400":
		return 400, true
	case "401":
		return 401, true
	case "429":
		return 429, true
	case "500":
		return 500, true
	}
	return 0, false
}
