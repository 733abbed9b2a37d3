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
	"encoding/hex"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
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
func ParseAuthorization(h []byte) (Authorization, *Error) {
	var a Authorization
	h = bytes.TrimSpace(h)
	rest, ok := bytes.CutPrefix(h, []byte(Algorithm+" "))
	if !ok {
		return a, errInvalidAuthorization("the Authorization header must use " + Algorithm)
	}
	var seen [3]bool
	var credential, sig []byte
	for part := range bytes.SplitSeq(rest, []byte(",")) {
		part = bytes.TrimSpace(part)
		name, value, ok := bytes.Cut(part, []byte("="))
		if !ok {
			return a, errInvalidAuthorization("the Authorization header is malformed")
		}
		var i int
		switch string(name) {
		case "Credential":
			i, credential = 0, value
		case "SignedHeaders":
			i, a.SignedHeaders = 1, string(value)
		case "Signature":
			i, sig = 2, value
		default:
			return a, errInvalidAuthorization("the Authorization header is malformed")
		}
		if seen[i] {
			return a, errInvalidAuthorization("the Authorization header repeats " + string(name))
		}
		seen[i] = true
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return a, errInvalidAuthorization("the Authorization header needs Credential, SignedHeaders and Signature")
	}
	scope := strings.Split(string(credential), "/")
	if len(scope) != 4 || scope[0] == "" || scope[2] == "" || scope[3] != "tc3_request" {
		return a, errInvalidAuthorization("Credential must be <SecretId>/<date>/<service>/tc3_request")
	}
	if _, err := time.Parse(time.DateOnly, scope[1]); err != nil {
		return a, errInvalidAuthorization("the Credential date must be YYYY-MM-DD")
	}
	a.SecretID, a.Date, a.Service = scope[0], scope[1], scope[2]
	if len(sig) != hex.EncodedLen(sha256.Size) {
		return a, errInvalidAuthorization("Signature must be 64 hexadecimal digits")
	}
	if _, err := hex.Decode(a.Signature[:], sig); err != nil {
		return a, errInvalidAuthorization("Signature must be 64 hexadecimal digits")
	}
	names := strings.Split(a.SignedHeaders, ";")
	hasHost, hasType := false, false
	for _, n := range names {
		if n == "" || n != strings.ToLower(n) {
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
// keys of signatures it has verified (per secret, day and service), so a
// steady client costs one HMAC for the key instead of four; only a key
// that has produced a valid signature is kept, so no one without the
// secret can grow the cache. The zero value is ready.
type Verifier struct {
	mu   sync.Mutex
	keys map[derivedKeyID][sha256.Size]byte
}

type derivedKeyID struct{ secretID, secretKey, date, service string }

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
	if a.Date != time.Unix(ts, 0).UTC().Format(time.DateOnly) {
		return &Error{Code: CodeSignatureFailure, Message: "The Credential date must be the UTC date of X-TC-Timestamp."}
	}
	id := derivedKeyID{a.SecretID, secretKey, a.Date, a.Service}
	key, cached := v.derivedKey(id)
	if !cached {
		key = DeriveKey(secretKey, a.Date, a.Service)
	}
	var scratch [512]byte
	var mac hash.Hash
	for _, hostMode := range [...]hostForm{hostAsSent, hostWithoutPort} {
		canonical, ok := appendCanonicalRequest(scratch[:0], r, a.SignedHeaders, hostMode)
		if !ok {
			if hostMode == hostAsSent {
				return &Error{Code: CodeSignatureFailure, Message: "A signed header is missing from the request."}
			}
			break
		}
		if mac == nil {
			mac = hmac.New(sha256.New, key[:])
		} else {
			mac.Reset()
		}
		writeStringToSign(mac, ts, a.Date, a.Service, canonical)
		var got [sha256.Size]byte
		if hmac.Equal(mac.Sum(got[:0]), a.Signature[:]) {
			if !cached {
				v.keep(id, key)
			}
			return nil
		}
	}
	return &Error{Code: CodeSignatureFailure, Message: "The provided credentials could not be validated. Please check your signature is correct."}
}

func (v *Verifier) derivedKey(id derivedKeyID) ([sha256.Size]byte, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	k, ok := v.keys[id]
	return k, ok
}

func (v *Verifier) keep(id derivedKeyID, key [sha256.Size]byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.keys == nil || len(v.keys) >= maxDerivedKeys {
		v.keys = make(map[derivedKeyID][sha256.Size]byte)
	}
	v.keys[id] = key
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
// signed headers; ok is false when a signed header is absent, or for
// hostWithoutPort when the host has no port to strip (nothing new to try).
func appendCanonicalRequest(dst []byte, r *Request, signed string, host hostForm) ([]byte, bool) {
	dst = append(dst, r.Method...)
	dst = append(dst, '\n')
	dst = append(dst, r.Path...)
	dst = append(dst, '\n')
	dst = append(dst, r.Query...)
	dst = append(dst, '\n')
	stripped := false
	for name := range strings.SplitSeq(signed, ";") {
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
	sum := sha256.Sum256(r.Body)
	return hex.AppendEncode(dst, sum[:]), true
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

// writeStringToSign writes the string to sign of a canonical request.
func writeStringToSign(w hash.Hash, ts int64, date, service string, canonical []byte) {
	var buf [160]byte
	b := append(buf[:0], Algorithm+"\n"...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, '\n')
	b = append(b, date...)
	b = append(b, '/')
	b = append(b, service...)
	b = append(b, "/tc3_request\n"...)
	w.Write(b)
	sum := sha256.Sum256(canonical)
	var hx [2 * sha256.Size]byte
	hex.Encode(hx[:], sum[:])
	w.Write(hx[:])
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
	canonical, _ := appendCanonicalRequest(make([]byte, 0, 256), &Request{Method: "POST", Path: "/", Header: hdr, Body: body}, signed, hostAsSent)
	mac := hmac.New(sha256.New, key[:])
	writeStringToSign(mac, ts, date, s.Service, canonical)
	return Algorithm + " Credential=" + s.SecretID + "/" + date + "/" + s.Service + "/tc3_request, SignedHeaders=" +
		signed + ", Signature=" + hex.EncodeToString(mac.Sum(nil))
}
