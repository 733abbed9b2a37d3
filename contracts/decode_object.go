package contracts

import (
	"encoding/json"
	"errors"
	"reflect"
	"unicode/utf8"
)

// CreateSessionSchema is the members of a session creation body
// (CreateSessionRequest), exactly as the contract spells them.
var CreateSessionSchema = KeySchema{Fields: []string{"flow", "name", "id_card", "callback_url", "reference"}}

// DecodeObject reads a request body of the contract's JSON routes other
// than the check (session creation and the like) into v: an empty body (or
// one of JSON white space only) leaves v untouched; anything else must be
// one JSON object in UTF-8, with nothing after it, under the check body's
// key rules (CheckKeys with schema): no key repeated in any object, no key
// that differs from one of schema's members only in case. Other unknown
// keys are ignored, as the contract allows. Every failure is a *RequestError
// whose reason names the field and the problem, never the client's value;
// v is then not to be used.
func DecodeObject(body []byte, schema *KeySchema, v any) error {
	body = trimJSONSpace(body)
	if len(body) == 0 {
		return nil
	}
	if body[0] != '{' {
		return &RequestError{Reason: "request body must be a JSON object"}
	}
	// encoding/json reads bytes that are not UTF-8 as U+FFFD; other
	// parsers refuse them or keep them.
	if !utf8.Valid(body) {
		return &RequestError{Reason: "request body is not valid UTF-8"}
	}
	err := json.Unmarshal(body, v)
	var te *json.UnmarshalTypeError
	typeErr := errors.As(err, &te) && te.Field != ""
	if err != nil && !typeErr {
		return &RequestError{Reason: "request body is not valid JSON"}
	}
	// Valid JSON: its keys must mean one thing to every parser before
	// anything read from it counts.
	if err := CheckKeys(body, schema); err != nil {
		return err
	}
	if typeErr {
		return &RequestError{Reason: "field " + te.Field + " must be " + kindName(te.Type)}
	}
	return nil
}

// kindName names the JSON value a Go type is read from.
func kindName(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "of another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number in range"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "of another type"
}

// trimJSONSpace removes JSON's white space (RFC 8259: space, tab, line
// feed, carriage return) around b, and nothing else.
func trimJSONSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
