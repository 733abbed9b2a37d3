package contracts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
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

// checkKeys refuses the keys of a syntactically valid body that parsers
// could read differently: a key repeated in any object (encoding/json keeps
// the last, other parsers the first, so the gateway would bill one identity
// and forward another), and a key of the request or of its encryption
// object that differs from a contract field only in case (encoding/json
// matches those case-insensitively, other parsers do not). Keys are
// compared unescaped, as every parser reads them. Other unknown keys are
// ignored, as the contract allows.
func checkKeys(body []byte) error { return CheckKeys(body, &checkSchema) }

// CheckKeys applies checkKeys' rules to a valid JSON body with the members
// of schema: no key repeated in any object, no key that differs from a
// member's name only in case.
func CheckKeys(body []byte, schema *KeySchema) error {
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

// keyFrame is an array or object being read by checkKeys.
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
