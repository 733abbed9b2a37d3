package fieldcrypto

// Algorithm is the encryption object's algorithm, spelled as on the wire.
type Algorithm string

const (
	// AES256CBC: 32-byte data key, 16-byte IV, PKCS#7 padding, data key
	// wrapped with RSA PKCS#1 v1.5.
	AES256CBC Algorithm = "AES-256-CBC"
	// SM4GCM: 16-byte data key, 12-byte nonce, 16-byte tag per field, data
	// key wrapped with SM2 (C1C3C2).
	SM4GCM Algorithm = "SM4-GCM"
)

const (
	aesKeyLen = 32
	aesIVLen  = 16
	sm4KeyLen = 16
	gcmNonce  = 12
	tagLen    = 16
	blockLen  = 16
)

// ParseAlgorithm accepts the two wire spellings exactly.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch Algorithm(s) {
	case AES256CBC, SM4GCM:
		return Algorithm(s), nil
	}
	return "", errOf(KindUnsupportedAlgorithm, "algorithm")
}

func (a Algorithm) keyLen() int {
	if a == AES256CBC {
		return aesKeyLen
	}
	return sm4KeyLen
}

func (a Algorithm) ivLen() int {
	if a == AES256CBC {
		return aesIVLen
	}
	return gcmNonce
}

// Fields are the values the scheme may encrypt: plaintext on one side of
// the codec, base64 ciphertext (for the fields in the FieldSet) on the other.
// A struct rather than a map: the scheme allows exactly these two, and the
// hot path should not allocate a map per request.
type Fields struct {
	Name   string
	IDCard string
}

// FieldSet is a set of encryptable fields.
type FieldSet uint8

const (
	FieldName FieldSet = 1 << iota
	FieldIDCard
	// AllFields is every encryptable field.
	AllFields = FieldName | FieldIDCard
)

// Wire names of the fields, in the canonical order this package emits.
const (
	NameField   = "name"
	IDCardField = "id_card"
)

// Has reports whether every field of o is in s.
func (s FieldSet) Has(o FieldSet) bool { return s&o == o }

// Names lists the set's wire names in canonical order (name, id_card).
func (s FieldSet) Names() []string {
	out := make([]string, 0, 2)
	if s.Has(FieldName) {
		out = append(out, NameField)
	}
	if s.Has(FieldIDCard) {
		out = append(out, IDCardField)
	}
	return out
}

func (s FieldSet) valid() bool { return s != 0 && s&^AllFields == 0 }

func fieldByName(name string) FieldSet {
	switch name {
	case NameField:
		return FieldName
	case IDCardField:
		return FieldIDCard
	}
	return 0
}

func (f FieldSet) wireName() string {
	if f == FieldName {
		return NameField
	}
	return IDCardField
}

func (f *Fields) ptr(which FieldSet) *string {
	if which == FieldName {
		return &f.Name
	}
	return &f.IDCard
}

// fieldOrder is an encrypt_list in the client's order, without allocating.
type fieldOrder struct {
	n   int
	at  [2]FieldSet
	set FieldSet
}

func parseEncryptList(list []string) (fieldOrder, error) {
	var o fieldOrder
	if len(list) == 0 || len(list) > 2 {
		return o, errOf(KindFieldNotAllowed, "encrypt_list")
	}
	for _, name := range list {
		f := fieldByName(name)
		if f == 0 || o.set.Has(f) {
			return o, errOf(KindFieldNotAllowed, "encrypt_list")
		}
		o.at[o.n] = f
		o.n++
		o.set |= f
	}
	return o, nil
}

func canonicalOrder(s FieldSet) fieldOrder {
	var o fieldOrder
	for _, f := range [2]FieldSet{FieldName, FieldIDCard} {
		if s.Has(f) {
			o.at[o.n] = f
			o.n++
		}
	}
	o.set = s
	return o
}
