// Package tencent is the Tencent Cloud API 3.0 dialect of the authority's
// API (FaceID, version 2018-03-01) as both programs speak it: the
// TC3-HMAC-SHA256 signature, the headers, the {"Response":{…}} envelope
// and its error codes, and the FaceID actions' bodies with their
// translation to and from the aggregator dialect (package contracts), which
// stays the programs' internal form.
//
// The signature is verified exactly as Tencent's official SDKs build it
// (tencentcloud-sdk-nodejs common/sign.js, tencentcloud-sdk-go
// common/sign.go): canonical request, string to sign, derived key. The
// service name is the one the client put in its credential scope (the SDKs
// take it from the endpoint's first label: a client pointed at
// 127.0.0.1:8080 signs with "127"), and the host is the Host header with or
// without its port (the Node SDK signs the hostname, the Go and Python SDKs
// the endpoint as configured).
package tencent

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"hash"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Algorithm is the only signature method of API 3.0 this package accepts.
const Algorithm = "TC3-HMAC-SHA256"

// Version is FaceID's API version; the only one served.
const Version = "2018-03-01"

// MaxSkew is how far X-TC-Timestamp may be from the server's clock, either
// way: Tencent's documented tolerance (AuthFailure.SignatureExpire beyond).
const MaxSkew = 5 * time.Minute

// The API 3.0 headers, in fasthttp's canonical form.
const (
	HeaderAction    = "X-Tc-Action"
	HeaderVersion   = "X-Tc-Version"
	HeaderTimestamp = "X-Tc-Timestamp"
	HeaderRegion    = "X-Tc-Region"
	HeaderLanguage  = "X-Tc-Language"
	HeaderToken     = "X-Tc-Token"
)

// Authorization is a parsed TC3-HMAC-SHA256 Authorization header.
type Authorization struct {
	SecretID string
	Date     string // YYYY-MM-DD of the credential scope
	Service  string
	// SignedHeaders are the lower-case header names the client signed,
	// in its order, joined by ';' exactly as it sent them.
	SignedHeaders string
	Signature     [sha256.Size]byte
}

// ParseAuthorization reads an Authorization header value:
//
//	TC3-HMAC-SHA256 Credential=<SecretId>/<date>/<service>/tc3_request, SignedHeaders=<h1;h2>, Signature=<hex>
//
// Spaces after the commas are optional; the three parts may come in any
// order but each exactly once. The error is AuthFailure.InvalidAuthorization.
// The Authorization's strings are one copy of h.
func ParseAuthorization(h []byte) (Authorization, *Error) {
	return parseAuthorization(string(bytes.TrimSpace(h)))
}

// ParseAuthorizationNoCopy is ParseAuthorization for a server's hot path:
// the Authorization's strings point into h, so they are valid only while h
// is neither modified nor reused (for a server, while the request is
// served). A Verifier keeps copies of what it caches.
func ParseAuthorizationNoCopy(h []byte) (Authorization, *Error) {
	h = bytes.TrimSpace(h)
	return parseAuthorization(unsafe.String(unsafe.SliceData(h), len(h)))
}

func parseAuthorization(h string) (Authorization, *Error) {
	var a Authorization
	rest, ok := strings.CutPrefix(h, Algorithm+" ")
	if !ok {
		return a, errInvalidAuthorization("the Authorization header must use " + Algorithm)
	}
	var seen [3]bool
	var credential, sig string
	for more := true; more; {
		var part string
		part, rest, more = strings.Cut(rest, ",")
		part = strings.TrimSpace(part)
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return a, errInvalidAuthorization("the Authorization header is malformed")
		}
		var i int
		switch name {
		case "Credential":
			i, credential = 0, value
		case "SignedHeaders":
			i, a.SignedHeaders = 1, value
		case "Signature":
			i, sig = 2, value
		default:
			return a, errInvalidAuthorization("the Authorization header is malformed")
		}
		if seen[i] {
			return a, errInvalidAuthorization("the Authorization header repeats " + name)
		}
		seen[i] = true
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return a, errInvalidAuthorization("the Authorization header needs Credential, SignedHeaders and Signature")
	}
	id, scope, _ := strings.Cut(credential, "/")
	date, scope, _ := strings.Cut(scope, "/")
	service, term, _ := strings.Cut(scope, "/")
	if id == "" || service == "" || term != "tc3_request" {
		return a, errInvalidAuthorization("Credential must be <SecretId>/<date>/<service>/tc3_request")
	}
	if !isDate(date) {
		return a, errInvalidAuthorization("the Credential date must be YYYY-MM-DD")
	}
	a.SecretID, a.Date, a.Service = id, date, service
	if len(sig) != hex.EncodedLen(sha256.Size) {
		return a, errInvalidAuthorization("Signature must be 64 hexadecimal digits")
	}
	var sigBytes [2 * sha256.Size]byte
	copy(sigBytes[:], sig)
	if _, err := hex.Decode(a.Signature[:], sigBytes[:]); err != nil {
		return a, errInvalidAuthorization("Signature must be 64 hexadecimal digits")
	}
	hasHost, hasType := false, false
	for n := range strings.SplitSeq(a.SignedHeaders, ";") {
		if n == "" || !isLower(n) {
			return a, errInvalidAuthorization("SignedHeaders must be lower-case header names separated by ';'")
		}
		hasHost = hasHost || n == "host"
		hasType = hasType || n == "content-type"
	}
	if !hasHost || !hasType {
		return a, errInvalidAuthorization("SignedHeaders must include content-type and host")
	}
	return a, nil
}

// isDate reports whether s has the form YYYY-MM-DD with a month and a
// day in range (Verify then requires the UTC date of the timestamp).
func isDate(s string) bool {
	if len(s) != len(time.DateOnly) || s[4] != '-' || s[7] != '-' {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if i == 4 || i == 7 {
			continue
		}
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		n++
	}
	month := int(s[5]-'0')*10 + int(s[6]-'0')
	day := int(s[8]-'0')*10 + int(s[9]-'0')
	return n == 8 && month >= 1 && month <= 12 && day >= 1 && day <= 31
}

func isLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return false
		}
	}
	return true
}

// Request is what a signature covers.
type Request struct {
	Method string
	Path   string // "/" for every API 3.0 call
	Query  string // the raw query string, without '?'
	// Header returns a request header's value (nil: absent).
	Header func(name string) []byte
	Body   []byte
}

// ParseTimestamp reads X-TC-Timestamp (Unix seconds).
func ParseTimestamp(v []byte) (int64, *Error) {
	if len(v) == 0 {
		return 0, &Error{Code: CodeMissingParameter, Message: "The request is missing the required header X-TC-Timestamp."}
	}
	ts, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || ts < 0 {
		return 0, &Error{Code: CodeInvalidParameter, Message: "X-TC-Timestamp must be Unix seconds."}
	}
	return ts, nil
}

// Verifier checks TC3-HMAC-SHA256 signatures. It keeps the derived signing
// keys of signatures it has verified (per secret, day and service), as the
// HMAC's two padded states, so a steady client costs the three hashes of
// its request and no key derivation; only a key that has produced a valid
// signature is kept, so no one without the secret can grow the cache. The
// zero value is ready.
type Verifier struct {
	// keys is replaced, never changed: a check reads it without a lock;
	// mu orders the (rare, once a day per credential) replacements.
	mu   sync.Mutex
	keys atomic.Pointer[map[derivedKeyID]*macKey]
	day  atomic.Pointer[dayName]
}

type derivedKeyID struct{ secretID, secretKey, date, service string }

// macKey is HMAC-SHA256 keyed with a derived key, precomputed: the hash
// states after the inner (ipad) and the outer (opad) key blocks.
type macKey struct{ inner, outer []byte }

func newMacKey(key [sha256.Size]byte) *macKey {
	var pad [sha256.BlockSize]byte
	state := func(x byte) []byte {
		for i := range pad {
			pad[i] = x
			if i < len(key) {
				pad[i] ^= key[i]
			}
		}
		h := sha256.New()
		h.Write(pad[:])
		b, _ := h.(encoding.BinaryMarshaler).MarshalBinary()
		return b
	}
	return &macKey{inner: state(0x36), outer: state(0x5c)}
}

// verifyScratch is one verification's working memory, pooled: the hashes
// and buffers a signature check needs, so a check allocates nothing.
type verifyScratch struct {
	inner, outer hash.Hash
	canonical    [512]byte
	sts          [224]byte // the string to sign, canonical request hashed
	sum          [sha256.Size]byte
}

var scratchPool = sync.Pool{New: func() any { return &verifyScratch{inner: sha256.New(), outer: sha256.New()} }}

// mac computes HMAC(k, string to sign of canonical) into sc.sum.
func (sc *verifyScratch) mac(k *macKey, ts int64, date, service string, canonical []byte) []byte {
	_ = sc.inner.(encoding.BinaryUnmarshaler).UnmarshalBinary(k.inner)
	writeStringToSign(sc.inner, sc.sts[:0], ts, date, service, canonical)
	inner := sc.inner.Sum(sc.sum[:0])
	_ = sc.outer.(encoding.BinaryUnmarshaler).UnmarshalBinary(k.outer)
	sc.outer.Write(inner)
	return sc.outer.Sum(sc.sum[:0])
}

// maxDerivedKeys bounds the cache; it is emptied when full (a day's keys
// for every credential fit many times over).
const maxDerivedKeys = 4096

// Verify checks that a signed r with secretKey, at ts, within MaxSkew of
// now. Errors are AuthFailure.SignatureExpire, AuthFailure.SignatureFailure
// and AuthFailure.InvalidAuthorization. The signature is compared in
// constant time.
func (v *Verifier) Verify(r *Request, a *Authorization, ts int64, secretKey string, now time.Time) *Error {
	if d := now.Sub(time.Unix(ts, 0)); d > MaxSkew || d < -MaxSkew {
		return &Error{Code: CodeSignatureExpire, Message: "Signature expired: X-TC-Timestamp is more than 5 minutes from the server time."}
	}
	if a.Date != v.date(ts) {
		return &Error{Code: CodeSignatureFailure, Message: "The Credential date must be the UTC date of X-TC-Timestamp."}
	}
	id := derivedKeyID{a.SecretID, secretKey, a.Date, a.Service}
	key, cached := v.derivedKey(id)
	if !cached {
		key = newMacKey(DeriveKey(secretKey, a.Date, a.Service))
	}
	sc := scratchPool.Get().(*verifyScratch)
	defer scratchPool.Put(sc)
	bodyHash := sha256.Sum256(r.Body)
	// The host without its port first: the Node SDK signs the hostname
	// (the Host header of a client of a non-default port has the port);
	// then as sent (the Go and Python SDKs, and every client of a
	// default port, whose Host has no port to strip).
	for _, hostMode := range [...]hostForm{hostWithoutPort, hostAsSent} {
		canonical, ok := appendCanonicalRequest(sc.canonical[:0], r, a.SignedHeaders, hostMode, &bodyHash)
		if !ok {
			if hostMode == hostAsSent {
				return &Error{Code: CodeSignatureFailure, Message: "A signed header is missing from the request."}
			}
			continue // no port to strip; as sent decides
		}
		if hmac.Equal(sc.mac(key, ts, a.Date, a.Service, canonical), a.Signature[:]) {
			if !cached {
				v.keep(id, key)
			}
			return nil
		}
	}
	return &Error{Code: CodeSignatureFailure, Message: "The provided credentials could not be validated. Please check your signature is correct."}
}

// Authenticate is a server's whole signature check, in Tencent's order:
// the Authorization header (ParseAuthorizationNoCopy), X-TC-Timestamp
// (ParseTimestamp), the SecretId's SecretKey (secretKey's error refuses
// the request as it is, typically SecretIdNotFound) and the signature over
// r (Verify). authorization and timestamp are the headers' values as sent;
// they, like r, need only outlive the call.
func (v *Verifier) Authenticate(r *Request, authorization, timestamp []byte, now time.Time, secretKey func(secretID string) (string, *Error)) *Error {
	a, err := ParseAuthorizationNoCopy(authorization)
	if err != nil {
		return err
	}
	ts, err := ParseTimestamp(timestamp)
	if err != nil {
		return err
	}
	key, err := secretKey(a.SecretID)
	if err != nil {
		return err
	}
	return v.Verify(r, &a, ts, key, now)
}

// date is the UTC date of ts, YYYY-MM-DD; the last one is kept (it is
// the same for every request of a day).
func (v *Verifier) date(ts int64) string {
	day := ts / 86400
	if ts < 0 {
		day = (ts - 86399) / 86400
	}
	if d := v.day.Load(); d != nil && d.n == day {
		return d.s
	}
	d := &dayName{n: day, s: time.Unix(ts, 0).UTC().Format(time.DateOnly)}
	v.day.Store(d)
	return d.s
}

type dayName struct {
	n int64
	s string
}

func (v *Verifier) derivedKey(id derivedKeyID) (*macKey, bool) {
	m := v.keys.Load()
	if m == nil {
		return nil, false
	}
	k, ok := (*m)[id]
	return k, ok
}

func (v *Verifier) keep(id derivedKeyID, key *macKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	next := map[derivedKeyID]*macKey{}
	if old := v.keys.Load(); old != nil && len(*old) < maxDerivedKeys {
		next = maps.Clone(*old)
	}
	// The id's strings may view a request's memory (ParseAuthorizationNoCopy).
	id = derivedKeyID{strings.Clone(id.secretID), strings.Clone(id.secretKey), strings.Clone(id.date), strings.Clone(id.service)}
	next[id] = key
	v.keys.Store(&next)
}

// DeriveKey is the signing key of a secret for a day and a service:
// HMAC("tc3_request", HMAC(service, HMAC(date, "TC3"+secretKey))).
func DeriveKey(secretKey, date, service string) [sha256.Size]byte {
	k := hmacSum([]byte("TC3"+secretKey), date)
	k = hmacSum(k[:], service)
	return hmacSum(k[:], "tc3_request")
}

func hmacSum(key []byte, msg string) [sha256.Size]byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

type hostForm int

const (
	hostAsSent hostForm = iota
	hostWithoutPort
)

// appendCanonicalRequest appends the canonical request of r for the
// signed headers (bodyHash is the SHA-256 of r.Body, hashed once for
// both host forms); ok is false when a signed header is absent, or for
// hostWithoutPort when the host has no port to strip (nothing new to try).
func appendCanonicalRequest(dst []byte, r *Request, signed string, host hostForm, bodyHash *[sha256.Size]byte) ([]byte, bool) {
	dst = append(dst, r.Method...)
	dst = append(dst, '\n')
	dst = append(dst, r.Path...)
	dst = append(dst, '\n')
	dst = append(dst, r.Query...)
	dst = append(dst, '\n')
	stripped := false
	for rest := signed; rest != ""; {
		name := rest
		if i := strings.IndexByte(rest, ';'); i >= 0 {
			name, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		v := r.Header(name)
		if v == nil {
			return dst, false
		}
		v = bytes.TrimSpace(v)
		if name == "host" && host == hostWithoutPort {
			h, ok := stripPort(v)
			if !ok {
				return dst, false
			}
			v, stripped = h, true
		}
		dst = append(dst, name...)
		dst = append(dst, ':')
		dst = appendLower(dst, v)
		dst = append(dst, '\n')
	}
	if host == hostWithoutPort && !stripped {
		return dst, false
	}
	dst = append(dst, '\n')
	dst = append(dst, signed...)
	dst = append(dst, '\n')
	return hex.AppendEncode(dst, bodyHash[:]), true
}

// stripPort removes ":port" from a host; an IPv6 literal keeps its
// brackets, as WHATWG URL's hostname does.
func stripPort(h []byte) ([]byte, bool) {
	i := bytes.LastIndexByte(h, ':')
	if i < 0 || bytes.IndexByte(h[i:], ']') >= 0 {
		return nil, false
	}
	return h[:i], true
}

func appendLower(dst, v []byte) []byte {
	for _, c := range v {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// writeStringToSign writes the string to sign of a canonical request to
// w, composed in buf (a server passes pooled memory so a check allocates
// nothing).
func writeStringToSign(w hash.Hash, buf []byte, ts int64, date, service string, canonical []byte) {
	b := append(buf, Algorithm+"\n"...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, '\n')
	b = append(b, date...)
	b = append(b, '/')
	b = append(b, service...)
	b = append(b, "/tc3_request\n"...)
	sum := sha256.Sum256(canonical)
	b = hex.AppendEncode(b, sum[:])
	w.Write(b)
}

// ServiceOf is the service an official SDK signs with for an endpoint
// host (no port): its first label, "faceid" for
// faceid.tencentcloudapi.com, "127" for 127.0.0.1.
func ServiceOf(hostname string) string {
	label, _, _ := strings.Cut(hostname, ".")
	return label
}

// Signer signs requests towards an API 3.0 endpoint with one credential
// pair, as the official SDKs do (content-type and host signed).
type Signer struct {
	SecretID  string
	SecretKey string
	// Service is the credential scope's service ("faceid" for Tencent's
	// own endpoint; the endpoint's first label is what SDKs use).
	Service string

	mu   sync.Mutex
	date string
	key  [sha256.Size]byte
}

// Authorization returns the Authorization header value for a POST of body
// with contentType to host at ts.
func (s *Signer) Authorization(host, contentType string, body []byte, ts int64) string {
	date := time.Unix(ts, 0).UTC().Format(time.DateOnly)
	s.mu.Lock()
	if s.date != date {
		s.date, s.key = date, DeriveKey(s.SecretKey, date, s.Service)
	}
	key := s.key
	s.mu.Unlock()
	const signed = "content-type;host"
	hdr := func(name string) []byte {
		if name == "host" {
			return []byte(host)
		}
		return []byte(contentType)
	}
	bodyHash := sha256.Sum256(body)
	canonical, _ := appendCanonicalRequest(make([]byte, 0, 256), &Request{Method: "POST", Path: "/", Header: hdr, Body: body}, signed, hostAsSent, &bodyHash)
	mac := hmac.New(sha256.New, key[:])
	writeStringToSign(mac, nil, ts, date, s.Service, canonical)
	return Algorithm + " Credential=" + s.SecretID + "/" + date + "/" + s.Service + "/tc3_request, SignedHeaders=" +
		signed + ", Signature=" + hex.EncodeToString(mac.Sum(nil))
}
