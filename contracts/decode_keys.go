package contracts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The members of the objects a check request is made of, exactly as the
// contract spells them.
var checkSchema = KeySchema{
	Fields:       []string{"name", "id_card", "image_url", "validity_begin", "validity_end", "encryption"},
	Nested:       "encryption",
	NestedFields: []string{"encrypt_list", "ciphertext_blob", "iv", "algorithm", "tag_list"},
}

// KeySchema names the members of a request body's top-level object and of
// one nested object, as a dialect spells them.
type KeySchema struct {
	Fields       []string
	Nested       string // the member holding the nested object
	NestedFields []string
}

// CheckKeys refuses the keys of a syntactically valid body that parsers
// could read differently: a key repeated in any object (encoding/json keeps
// the last, other parsers the first, so the gateway would bill one identity
// and forward another), and a key of the top-level object or of schema's
// nested object that differs from one of schema's members only in case
// (encoding/json matches those case-insensitively, other parsers do not).
// Keys are compared unescaped, as every parser reads them. Other unknown
// keys are ignored, as the contract allows.
//
// Bodies whose keys are written as-is (no escape, valid UTF-8) are read in
// one pass without allocating for objects of up to maxLinearKeys keys;
// any other body gets checkKeysTokens' answer, which is the same rules read
// through encoding/json.
func CheckKeys(body []byte, schema *KeySchema) error {
	if ok, err := scanKeys(body, schema); ok {
		return err
	}
	return checkKeysTokens(body, schema)
}

// checkKeysTokens is CheckKeys read through encoding/json's tokenizer: the
// reference the one-pass scanner is held to (FuzzCheckKeysFast), and the
// path for bodies whose keys the scanner does not read as-is (escapes,
// bytes that are not UTF-8).
func checkKeysTokens(body []byte, schema *KeySchema) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // a valid number never fails to tokenise
	var stack []keyFrame
	for {
		tok, err := dec.Token()
		if err != nil {
			// The body is valid JSON (encoding/json said so): the end.
			return nil
		}
		var top *keyFrame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			key, ok := tok.(string)
			if !ok { // the object's closing '}'
				stack = stack[:len(stack)-1]
				continue
			}
			if err := top.checkKey(key); err != nil {
				return err
			}
			top.wantKey, top.lastKey = false, key
			continue
		}
		if top != nil && top.object {
			top.wantKey = true // after this value, a key or the end
		}
		d, ok := tok.(json.Delim)
		if !ok {
			continue
		}
		switch d {
		case '{':
			f := keyFrame{object: true, wantKey: true}
			switch {
			case top == nil:
				f.fields = schema.Fields
			case len(stack) == 1 && schema.Nested != "" && top.lastKey == schema.Nested:
				f.fields, f.prefix = schema.NestedFields, schema.Nested+"."
			}
			stack = append(stack, f)
		case '[':
			stack = append(stack, keyFrame{})
		default: // ']': an object's '}' is read where a key may be
			stack = stack[:len(stack)-1]
		}
	}
}

// keyFrame is an array or object being read by checkKeysTokens.
type keyFrame struct {
	object  bool
	wantKey bool     // the next token is a key or the object's end
	fields  []string // the contract's members (nil: an object it does not describe)
	prefix  string   // the object's path in messages ("" or "encryption.")
	keys    map[string]struct{}
	lastKey string
}

// checkKey refuses a key the object already has, and one that is a
// contract field's name in another case.
func (f *keyFrame) checkKey(key string) error {
	if _, dup := f.keys[key]; dup {
		for _, name := range f.fields {
			if key == name {
				return &RequestError{Reason: "duplicate field " + f.prefix + name + ": each field may appear once"}
			}
		}
		// The key is the client's own; it is not repeated back.
		return &RequestError{Reason: "duplicate key in the request body: each key may appear once in an object"}
	}
	if f.keys == nil {
		f.keys = make(map[string]struct{}, 8)
	}
	f.keys[key] = struct{}{}
	for _, name := range f.fields {
		if key != name && strings.EqualFold(key, name) {
			return &RequestError{Reason: fmt.Sprintf("unknown field %q: field names are case-sensitive (%s)", f.prefix+key, f.prefix+name)}
		}
	}
	return nil
}

// maxLinearKeys is how many keys of one object the scanner compares a new
// key with one by one; an object with more keeps them in a map.
const maxLinearKeys = 16

// keySpan is a key as it is written in the body, without its quotes.
type keySpan struct{ start, end int }

// scanFrame is an array or object being read by scanKeys.
type scanFrame struct {
	object  bool
	wantKey bool     // the next string is a key
	nested  bool     // the schema's nested object (messages name it)
	fields  []string // the schema's members (nil: an object it does not describe)
	base    int      // the object's first key in scanKeys' key stack
	seen    map[string]struct{}
}

// scanKeys applies CheckKeys' rules in one pass over body. ok is false when
// it cannot answer exactly: a key with an escape or with bytes that are not
// UTF-8 (encoding/json reads those as other strings), or a body that is not
// the valid JSON CheckKeys is given; then err is nil.
//
// Keys are kept as spans of body on one stack: an object's keys follow
// those of the objects it is nested in and are dropped at its end, so the
// memory is bounded by the body's nesting and its objects' sizes, which
// encoding/json has already bounded.
func scanKeys(body []byte, schema *KeySchema) (ok bool, err error) {
	var frameBuf [8]scanFrame
	var keyBuf [16]keySpan
	stack, keys := frameBuf[:0], keyBuf[:0]
	nestedNext := false // the last key of the top-level object is schema.Nested
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '"':
			start := i + 1
			q := bytes.IndexByte(body[start:], '"')
			if q < 0 {
				return false, nil
			}
			end := start + q
			escaped := bytes.IndexByte(body[start:end], '\\') >= 0
			var top *scanFrame
			if len(stack) > 0 {
				top = &stack[len(stack)-1]
			}
			if top == nil || !top.object || !top.wantKey {
				// A value: skip it, escapes and all.
				if escaped {
					if end = stringEnd(body, start); end < 0 {
						return false, nil
					}
				}
				i = end
				continue
			}
			if escaped {
				return false, nil
			}
			key := body[start:end]
			ascii := isASCII(key)
			if !ascii && !utf8.Valid(key) {
				return false, nil
			}
			top.wantKey = false
			if len(stack) == 1 {
				nestedNext = schema.Nested != "" && string(key) == schema.Nested
			}
			var dup bool
			if keys, dup = top.addKey(body, keys, keySpan{start, end}); dup {
				return true, top.duplicate(key, schema)
			}
			if err := top.checkCase(key, ascii, schema); err != nil {
				return true, err
			}
			i = end
		case '{':
			f := scanFrame{object: true, wantKey: true, base: len(keys)}
			switch {
			case len(stack) == 0:
				f.fields = schema.Fields
			case len(stack) == 1 && stack[0].object && nestedNext:
				f.fields, f.nested = schema.NestedFields, true
			}
			stack = append(stack, f)
		case '[':
			stack = append(stack, scanFrame{base: len(keys)})
		case '}', ']':
			if len(stack) == 0 {
				return false, nil
			}
			keys = keys[:stack[len(stack)-1].base]
			stack = stack[:len(stack)-1]
		case ',':
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].wantKey = true
			}
		}
	}
	return len(stack) == 0, nil
}

// stringEnd is the index of the quote that ends the string starting at
// start, or -1 if there is none.
func stringEnd(body []byte, start int) int {
	for j := start; j < len(body); j++ {
		switch body[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return -1
}

// addKey records the key at span as one of f's, on the stack keys, and
// reports whether f already has it.
func (f *scanFrame) addKey(body []byte, keys []keySpan, span keySpan) ([]keySpan, bool) {
	key := body[span.start:span.end]
	if f.seen != nil {
		if _, dup := f.seen[string(key)]; dup {
			return keys, true
		}
		f.seen[string(key)] = struct{}{}
		return keys, false
	}
	own := keys[f.base:]
	for _, k := range own {
		if string(body[k.start:k.end]) == string(key) {
			return keys, true
		}
	}
	if len(own) < maxLinearKeys {
		return append(keys, span), false
	}
	f.seen = make(map[string]struct{}, 2*maxLinearKeys)
	for _, k := range own {
		f.seen[string(body[k.start:k.end])] = struct{}{}
	}
	f.seen[string(key)] = struct{}{}
	return keys[:f.base], false
}

// duplicate is the refusal of key, which f already has.
func (f *scanFrame) duplicate(key []byte, schema *KeySchema) error {
	for _, name := range f.fields {
		if string(key) == name {
			return &RequestError{Reason: "duplicate field " + f.prefix(schema) + name + ": each field may appear once"}
		}
	}
	// The key is the client's own; it is not repeated back.
	return &RequestError{Reason: "duplicate key in the request body: each key may appear once in an object"}
}

// checkCase refuses a key that is one of f's fields' names in another case
// (as strings.EqualFold compares them).
func (f *scanFrame) checkCase(key []byte, ascii bool, schema *KeySchema) error {
	for _, name := range f.fields {
		if string(key) != name && equalFold(key, ascii, name) {
			p := f.prefix(schema)
			return &RequestError{Reason: fmt.Sprintf("unknown field %q: field names are case-sensitive (%s)", p+string(key), p+name)}
		}
	}
	return nil
}

// prefix is f's path in messages: "" or the nested member's name and a dot.
func (f *scanFrame) prefix(schema *KeySchema) string {
	if f.nested {
		return schema.Nested + "."
	}
	return ""
}

// equalFold is strings.EqualFold(string(key), name) (ascii: key is ASCII).
// An ASCII key has one rune per byte, and the only non-ASCII letters that
// fold to ASCII ones (the Kelvin sign, the long s) take more than one byte:
// so a name of the key's length matches it only letter for letter in ASCII,
// a shorter name never, and a longer one only if it is not ASCII and its
// first letter, if ASCII, is the key's; that rare case, and non-ASCII keys,
// go to strings.EqualFold.
func equalFold(key []byte, ascii bool, name string) bool {
	if ascii {
		switch {
		case len(name) == len(key):
			for i := range key {
				if lowerASCII(key[i]) != lowerASCII(name[i]) {
					return false
				}
			}
			return true
		case len(name) < len(key) || len(key) == 0:
			return false
		case name[0] < utf8.RuneSelf && lowerASCII(name[0]) != lowerASCII(key[0]):
			return false // the first letters differ
		case isASCII(name):
			return false
		}
	}
	return strings.EqualFold(string(key), name)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

func isASCII[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
