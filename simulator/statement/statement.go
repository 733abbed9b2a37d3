// Package statement is the authority's own billing record: what a real
// identity authority's billing system keeps and exports to its customers,
// and what a gateway's ledger is reconciled against.
//
// It keeps two things. Counts per calendar day, credential, API and
// billing class are exact and always kept, whatever the traffic. Per-request
// lines (the authority's request id, the client's request id, credential,
// API, time, result, billing class) are kept in a bounded ring; when it is
// full the oldest line makes room. Every request is in the counts, so a
// statement knows, per day, credential and API, how many requests it can
// no longer resolve one by one: the count less the lines still held.
//
// Days are the authority's calendar days (Asia/Shanghai by default): a
// request at 23:59:59.999 local time and one at 00:00 the next morning are
// on different days, whatever the time zone of the machine.
package statement

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/simulator/fault"
)

// API is an authority API whose answers the statement records.
type API uint8

// The APIs, in the order statements list them.
const (
	// APICheck2E is POST /identity/idcard/check-2e: one line per answer.
	APICheck2E API = iota
	// APISessions is the verification-session API: one line per session
	// that reached a final state (approved, rejected or failed).
	APISessions
	// APICheckDate is POST /identity/idcard/check-id-name-date: one line
	// per answer, results from contracts.DateResults.
	APICheckDate
	// The Tencent Cloud API 3.0 dialect's FaceID actions, under their
	// action names. The check actions have one line per answer (errors
	// included); the session actions one line per session that reached a
	// final state, under the action that created it (DetectAuth,
	// GetEidToken, GetNFCToken).
	APIIdCardVerification
	APICheckIdNameDate
	APIDetectAuth
	APIGetEidToken
	APIGetNFCToken
	numAPIs
)

var apiNames = [numAPIs]string{"check-2e", "sessions", "check-id-name-date",
	"IdCardVerification", "CheckIdNameDate", "DetectAuth", "GetEidToken", "GetNFCToken"}

// String is the API's name in statements.
func (a API) String() string {
	if a < numAPIs {
		return apiNames[a]
	}
	return "unknown"
}

// ParseAPI resolves an API name.
func ParseAPI(s string) (API, bool) {
	for i, n := range apiNames {
		if n == s {
			return API(i), true
		}
	}
	return 0, false
}

// kind says what sort of answer a line records.
type kind uint8

const (
	kindResult       kind = iota + 1 // a 200 check answer; code indexes contracts.Results
	kindError                        // an HTTP error answer; code indexes errorCodes
	kindFault                        // the connection was broken; code is a fault.Kind
	kindSession                      // a session's end; code is its contracts.SessionCode
	kindDateResult                   // a 200 date-check answer; code indexes contracts.DateResults
	kindTencentError                 // an API 3.0 error (HTTP 200); code indexes tencentErrors
)

// errorCodes are the error answers a request bearing a known credential
// can get (api_not_implemented never carries one, but is listed so every
// code has a slot).
var errorCodes = [...]contracts.ErrorCode{
	contracts.ErrTokenMismatched, contracts.ErrInvalidToken, contracts.ErrTooManyRequests,
	contracts.ErrAPIError, contracts.ErrAPINotImplemented,
}

// Outcome is what the authority answered and whether it bills it.
type Outcome struct {
	kind   kind
	code   int32
	billed bool
}

// Result is a 200 check answer with the result at index ri of
// contracts.Results; it is billed when the contract says so ("0", "-1").
func Result(ri int) Outcome {
	return Outcome{kind: kindResult, code: int32(ri), billed: contracts.Results[ri].Billing == contracts.Billed}
}

// Error is an HTTP error answer; errors are never billed.
func Error(code contracts.ErrorCode) Outcome {
	for i, c := range errorCodes {
		if c == code {
			return Outcome{kind: kindError, code: int32(i)}
		}
	}
	return Outcome{kind: kindError, code: 3} // api_error
}

// DateResult is a 200 answer of the check with validity period, with the
// result at index ri of contracts.DateResults; billed when the contract
// says so ("0", "-1").
func DateResult(ri int) Outcome {
	return Outcome{kind: kindDateResult, code: int32(ri), billed: contracts.DateResults[ri].Billing == contracts.Billed}
}

// tencentErrors are the API 3.0 error codes a request bearing a known
// credential can get; any other is recorded as InternalError.
var tencentErrors = [...]string{
	tencent.CodeInternalError, tencent.CodeInvalidParameter, tencent.CodeMissingParameter, tencent.CodeInvalidParameterVal,
	tencent.CodeRequestLimitExceeded, tencent.CodeSignatureExpire, tencent.CodeSignatureFailure, tencent.CodeInvalidAuthorization,
	tencent.CodeRequestSizeLimit, tencent.CodeDecryptSystemError, tencent.CodeUnsupportEncryptField, tencent.CodeUnsupportedOperation,
	tencent.CodeBizTokenExpired, tencent.CodeBizTokenIllegal, tencent.CodeFailedOperationUnknown, tencent.CodeLimitExceeded,
	tencent.CodeResourceUnavailable, tencent.CodeInvalidAction, tencent.CodeNoSuchVersion, tencent.CodeUnsupportedProtocol,
}

// TencentError is an API 3.0 error answer (HTTP 200 with the error
// envelope); errors are never billed.
func TencentError(code string) Outcome {
	for i, c := range tencentErrors {
		if c == code {
			return Outcome{kind: kindTencentError, code: int32(i)}
		}
	}
	return Outcome{kind: kindTencentError}
}

// Fault is a request whose connection the simulator broke instead of
// answering. Every fault the simulator injects replaces the verdict (the
// authority never reached one), so none is billed.
func Fault(k fault.Kind) Outcome { return Outcome{kind: kindFault, code: int32(k)} }

// Session is the end of a verification session with its code; billed is
// the session code's billing class for a completed session.
func Session(code contracts.SessionCode, billed bool) Outcome {
	return Outcome{kind: kindSession, code: int32(code), billed: billed}
}

// Billed reports the outcome's billing class.
func (o Outcome) Billed() bool { return o.billed }

// Config is how a Statement is built.
type Config struct {
	// Authority names the authority in every statement.
	Authority string
	// Calendar is the authority's time zone; days start at its midnight.
	Calendar *time.Location
	// CalendarName names it in statements (default: Calendar's name).
	CalendarName string
	// Credentials are the API tokens, then the Tencent SecretIds, in
	// configuration order; only a digest of each is kept.
	Credentials []string
	// MaxLines caps the per-request lines held; 0 keeps counts only.
	MaxLines int
}

// credential is a token as the statement knows it: never the token itself.
type credential struct {
	// id is the first 8 hex digits of the token's SHA-256: enough to tell
	// configured tokens apart, useless for guessing one.
	id string
	// key is the first 24 hex digits, the simulator's tenant key for
	// verification sessions.
	key string
}

// CredentialID is the non-secret id of a token in statements: the first 8
// hex digits of its SHA-256.
func CredentialID(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:4])
}

// Statement records what the authority answered. It is safe for
// concurrent use.
type Statement struct {
	authority string
	loc       *time.Location
	locName   string
	creds     []credential
	byKey     map[string]int
	ids       idGen

	mu   sync.Mutex
	cur  *dayCounts // the newest day recorded: the fast path's day
	days map[Day]*dayCounts
	ring ring
}

// slots per (credential, API) in dayCounts.n.
const (
	slotBilled = iota
	slotNotBilled
	numSlots
)

// dayCounts are one calendar day's counts.
type dayCounts struct {
	day        Day
	start, end int64 // the day's bounds, Unix nanoseconds, end excluded
	// n holds, per credential and API, the billed and not billed counts.
	n []int64
}

// New builds an empty statement.
func New(cfg Config) (*Statement, error) {
	if cfg.Calendar == nil {
		return nil, fmt.Errorf("statement: no calendar time zone")
	}
	if cfg.MaxLines < 0 {
		return nil, fmt.Errorf("statement: max lines %d is negative", cfg.MaxLines)
	}
	if len(cfg.Credentials) > 1<<16 {
		return nil, fmt.Errorf("statement: %d credentials, at most 65536", len(cfg.Credentials))
	}
	s := &Statement{
		authority: cfg.Authority,
		loc:       cfg.Calendar,
		locName:   cfg.CalendarName,
		byKey:     make(map[string]int, len(cfg.Credentials)),
		days:      map[Day]*dayCounts{},
		ring:      newRing(cfg.MaxLines),
	}
	s.ids.init()
	if s.locName == "" {
		s.locName = cfg.Calendar.String()
	}
	for i, t := range cfg.Credentials {
		h := sha256.Sum256([]byte(t))
		c := credential{id: hex.EncodeToString(h[:4]), key: hex.EncodeToString(h[:12])}
		s.creds = append(s.creds, c)
		s.byKey[c.key] = i
	}
	return s, nil
}

// Authority is the authority's name in statements.
func (s *Statement) Authority() string { return s.authority }

// Calendar is the authority's time zone.
func (s *Statement) Calendar() *time.Location { return s.loc }

// MaxLines is the ring's capacity.
func (s *Statement) MaxLines() int { return s.ring.max }

// CredentialByKey resolves a tenant key (the first 24 hex digits of the
// token's SHA-256, as verification sessions keep it) to the credential's
// index, or -1.
func (s *Statement) CredentialByKey(key string) int {
	if i, ok := s.byKey[key]; ok {
		return i
	}
	return -1
}

// NextID draws the authority's id for one request: unique within the
// process, across resets included.
func (s *Statement) NextID() ID { return s.ids.next() }

// Record adds one answered request: at is when the authority received it,
// cred the credential's index in Config.Credentials, id the authority's
// request id, client the client's request id (empty: none). An unknown
// credential index is ignored: the statement bills credentials only.
func (s *Statement) Record(at time.Time, cred int, api API, id ID, client []byte, o Outcome) {
	if cred < 0 || cred >= len(s.creds) || api >= numAPIs {
		return
	}
	ns := at.UnixNano()
	slot := (cred*int(numAPIs) + int(api)) * numSlots
	class := slotNotBilled
	flags := uint8(0)
	if o.billed {
		class, flags = slotBilled, flagBilled
	}
	if id.hex {
		flags |= flagHexID
	}
	var cbuf [16]byte
	var ckind, clen uint8
	if len(client) > 0 {
		cbuf, ckind, clen = packClient(client)
	}

	s.mu.Lock()
	d := s.cur
	if d == nil || ns < d.start || ns >= d.end {
		d = s.dayOf(at)
	}
	d.n[slot+class]++
	if s.ring.max == 0 {
		s.mu.Unlock()
		return
	}
	// The line overwritten, if any, is not read: what it leaves
	// unresolved is what the counts say less what the ring holds.
	l := s.ring.slot()
	l.at, l.id, l.client, l.code, l.day = ns, id.b, cbuf, o.code, d.day
	l.cred, l.api, l.kind, l.flags, l.ckind, l.clen = uint16(cred), api, o.kind, flags, ckind, clen
	s.mu.Unlock()
}

// dayOf finds or opens the counts of at's calendar day; s.mu is held.
func (s *Statement) dayOf(at time.Time) *dayCounts {
	t := at.In(s.loc)
	y, m, dd := t.Date()
	day := makeDay(y, m, dd)
	d := s.days[day]
	if d == nil {
		start := time.Date(y, m, dd, 0, 0, 0, 0, s.loc)
		end := time.Date(y, m, dd+1, 0, 0, 0, 0, s.loc)
		d = &dayCounts{day: day, start: start.UnixNano(), end: end.UnixNano(), n: make([]int64, len(s.creds)*int(numAPIs)*numSlots)}
		s.days[day] = d
	}
	if s.cur == nil || d.start > s.cur.start {
		s.cur = d
	}
	return d
}

// Reset forgets every count and line. Request ids keep counting, so an id
// is never reused. Memory the ring already holds is kept for reuse.
func (s *Statement) Reset() {
	s.mu.Lock()
	s.cur = nil
	s.days = map[Day]*dayCounts{}
	s.ring.reset()
	s.mu.Unlock()
}
