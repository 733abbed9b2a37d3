package contracts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// The members of the objects a check request is made of, exactly as the
// contract spells them.
var (
	checkFields      = []string{"name", "id_card", "image_url", "validity_begin", "validity_end", "encryption"}
	encryptionFields = []string{"encrypt_list", "ciphertext_blob", "iv", "algorithm", "tag_list"}
)

// checkKeys refuses the keys of a syntactically valid body that parsers
// could read differently: a key repeated in any object (encoding/json keeps
// the last, other parsers the first, so the gateway would bill one identity
// and forward another), and a key of the request or of its encryption
// object that differs from a contract field only in case (encoding/json
// matches those case-insensitively, other parsers do not). Keys are
// compared unescaped, as every parser reads them. Other unknown keys are
// ignored, as the contract allows.
func checkKeys(body []byte) error {
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
				f.fields = checkFields
			case len(stack) == 1 && top.lastKey == "encryption":
				f.fields, f.prefix = encryptionFields, "encryption."
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
