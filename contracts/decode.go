package contracts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"unsafe"
)

// DecodeCheckRequest reads a check request body. Every failure is a
// *RequestError whose reason is safe to return to the client: it names the
// field and the problem, never the field's value. The strings it returns
// own their memory: body may be reused at once.
//
// Almost every body is one flat object of check-2e's string fields written
// without escapes; those are read in one pass and one allocation (a copy of
// body the fields are slices of). Every other body goes through
// encoding/json, which stays the authority on what a valid body is, with
// two rules of its own: no key may repeat in an object, and field names are
// exact (encoding/json would take the last of two keys and match names in
// any case). FuzzDecodeCheckRequest holds both paths to the same answer.
func DecodeCheckRequest(body []byte) (CheckRequest, error) {
	// One copy the fields share; read-only, so it may stand in for body.
	own := string(body)
	return DecodeCheckRequestNoCopy(unsafe.Slice(unsafe.StringData(own), len(own)))
}

// DecodeCheckRequestNoCopy is DecodeCheckRequest without the copy: on the
// fast path the strings it returns point into body, so they are valid only
// while body is neither modified nor reused (for a server, while the
// request is served). It allocates nothing for a flat body.
func DecodeCheckRequestNoCopy(body []byte) (CheckRequest, error) {
	var req CheckRequest
	if decodeFlat(body, &req) {
		return req, nil
	}
	return decodeJSON(body)
}

// decodeJSON is the general path: any valid body, and the error messages.
func decodeJSON(body []byte) (CheckRequest, error) {
	var req CheckRequest
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return req, &RequestError{Reason: "request body is empty"}
	}
	if body[0] != '{' {
		return req, &RequestError{Reason: "request body must be a JSON object"}
	}
	err := json.Unmarshal(body, &req)
	var te *json.UnmarshalTypeError
	typeErr := errors.As(err, &te) && te.Field != ""
	if err != nil && !typeErr {
		return CheckRequest{}, &RequestError{Reason: "request body is not valid JSON"}
	}
	// Valid JSON: its keys must mean one thing to every parser before
	// anything read from it counts.
	if err := CheckKeys(body, &checkSchema); err != nil {
		return CheckRequest{}, err
	}
	if typeErr {
		return CheckRequest{}, &RequestError{Reason: fmt.Sprintf("field %s must be %s", te.Field, expectedType(te.Field))}
	}
	if req.Encryption != nil {
		if err := req.Encryption.check(); err != nil {
			return CheckRequest{}, err
		}
	}
	return req, nil
}

func expectedType(field string) string {
	switch {
	case strings.HasPrefix(field, "encryption.encrypt_list"), strings.HasPrefix(field, "encryption.tag_list"):
		return "an array of strings"
	case field == "encryption":
		return "an object"
	}
	return "a string"
}

// check validates the encryption object's shape; the cryptography itself is
// the codec's business.
func (e *Encryption) check() error {
	switch {
	case len(e.EncryptList) == 0:
		return &RequestError{Reason: "encryption.encrypt_list must name at least one field"}
	case e.CiphertextBlob == "":
		return &RequestError{Reason: "missing required field encryption.ciphertext_blob"}
	case e.IV == "":
		return &RequestError{Reason: "missing required field encryption.iv"}
	case e.Algorithm == "":
		return &RequestError{Reason: "missing required field encryption.algorithm"}
	}
	return nil
}

// IsJSONContentType reports whether a Content-Type header announces JSON
// (application/json, with or without parameters such as charset).
func IsJSONContentType(ct string) bool {
	if ct == "application/json" {
		return true
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return false
	}
	return true
}
