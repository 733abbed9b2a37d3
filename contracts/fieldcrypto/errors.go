package fieldcrypto

import (
	"errors"

	"github.com/idgate/idgate/contracts"
)

// Kind is the class of a codec error. Every error Open returns is an *Error
// of one of these kinds; each kind has an exported sentinel for errors.Is.
type Kind uint8

const (
	kindNone Kind = iota
	// KindUnsupportedAlgorithm: algorithm is neither AES-256-CBC nor
	// SM4-GCM, or the receiver holds no private key for it (but holds
	// keys for the other).
	KindUnsupportedAlgorithm
	// KindFieldNotAllowed: encrypt_list is empty, names a field other than
	// name and id_card, or names one twice.
	KindFieldNotAllowed
	// KindInvalidBase64: iv, ciphertext_blob, a tag or an encrypted field is
	// not standard base64.
	KindInvalidBase64
	// KindIVLength: the IV is not 16 bytes (AES-256-CBC) or the nonce not 12
	// bytes (SM4-GCM).
	KindIVLength
	// KindTagList: tag_list does not hold exactly one 16-byte tag per
	// encrypted field (SM4-GCM), or is not empty (AES-256-CBC).
	KindTagList
	// KindNotEnabled: the receiver accepts no encrypted requests at all
	// (it holds no private keys): the client must send name and id_card
	// in plain. Keyring never returns it; a receiver without a keyring
	// answers ErrNotEnabled.
	KindNotEnabled

	// The kinds below are decrypt failures. They all answer the client
	// with the same message: telling them apart would hand an attacker the
	// padding oracle the scheme is exposed to.

	// KindBlob: ciphertext_blob has a length no key of the receiver can
	// produce.
	KindBlob
	// KindUnwrap: the data key could not be unwrapped (SM2: the blob was
	// not made for any key of the receiver or was altered). RSA never
	// reports it: a bad RSA blob yields a substitute key (implicit
	// rejection) and surfaces as KindPadding.
	KindUnwrap
	// KindPadding: an AES-256-CBC field is not a whole number of blocks or
	// its PKCS#7 padding is invalid.
	KindPadding
	// KindTagMismatch: an SM4-GCM field failed authentication.
	KindTagMismatch
	// KindPlaintext: a field decrypted to bytes that are not UTF-8 text.
	KindPlaintext

	kindDecrypt // matcher for every decrypt kind, see ErrDecrypt
)

// DecryptFailure is the one message every decrypt failure answers with.
const DecryptFailure = "encryption: decrypt failure"

// NotEnabled is ErrNotEnabled's message: the receiver holds no private
// keys, so it opens no encrypted request whatever its algorithm.
const NotEnabled = "encryption is not enabled here: send name and id_card in plain, without the encryption object"

// Error is a codec error. Its text (Error) is safe to send to the client:
// it names a field at most, never a value, and is the same for every decrypt
// failure. Detail adds the precise kind for logs and metrics.
type Error struct {
	Kind Kind
	// Field names what was wrong ("iv", "ciphertext_blob", "tag_list",
	// "name", "id_card"); empty when not about one field.
	Field string
}

// Sentinels, one per kind, for errors.Is. A sentinel with an empty Field
// matches an error of its kind about any field.
var (
	ErrUnsupportedAlgorithm = &Error{Kind: KindUnsupportedAlgorithm}
	ErrFieldNotAllowed      = &Error{Kind: KindFieldNotAllowed}
	ErrInvalidBase64        = &Error{Kind: KindInvalidBase64}
	ErrIVLength             = &Error{Kind: KindIVLength}
	ErrTagList              = &Error{Kind: KindTagList}
	ErrNotEnabled           = &Error{Kind: KindNotEnabled}
	ErrBlob                 = &Error{Kind: KindBlob}
	ErrUnwrap               = &Error{Kind: KindUnwrap}
	ErrPadding              = &Error{Kind: KindPadding}
	ErrTagMismatch          = &Error{Kind: KindTagMismatch}
	ErrPlaintext            = &Error{Kind: KindPlaintext}
	// ErrDecrypt matches every decrypt failure: ErrBlob, ErrUnwrap,
	// ErrPadding, ErrTagMismatch and ErrPlaintext.
	ErrDecrypt = &Error{Kind: kindDecrypt}
)

// IsDecrypt reports whether the kind is a decrypt failure.
func (k Kind) IsDecrypt() bool { return k >= KindBlob && k <= KindPlaintext }

// String names the kind for logs and metric labels.
func (k Kind) String() string {
	switch k {
	case KindUnsupportedAlgorithm:
		return "unsupported_algorithm"
	case KindFieldNotAllowed:
		return "field_not_allowed"
	case KindInvalidBase64:
		return "invalid_base64"
	case KindIVLength:
		return "iv_length"
	case KindTagList:
		return "tag_list"
	case KindNotEnabled:
		return "not_enabled"
	case KindBlob:
		return "blob"
	case KindUnwrap:
		return "unwrap"
	case KindPadding:
		return "padding"
	case KindTagMismatch:
		return "tag_mismatch"
	case KindPlaintext:
		return "plaintext"
	case kindDecrypt:
		return "decrypt"
	}
	return "unknown"
}

// Error is the client-facing message.
func (e *Error) Error() string {
	switch e.Kind {
	case KindUnsupportedAlgorithm:
		return "encryption.algorithm is not supported (AES-256-CBC or SM4-GCM)"
	case KindFieldNotAllowed:
		return "encryption.encrypt_list: unsupported field to encrypt (name and id_card only, each at most once)"
	case KindInvalidBase64:
		return fieldPath(e.Field) + " is not valid base64"
	case KindIVLength:
		return "encryption.iv must be 16 bytes for AES-256-CBC and 12 bytes for SM4-GCM"
	case KindTagList:
		return "encryption.tag_list must hold one 16-byte tag per encrypt_list entry, in the same order (SM4-GCM only)"
	case KindNotEnabled:
		return NotEnabled
	}
	return DecryptFailure
}

// Detail describes the error precisely, for logs and metrics only (it
// tells decrypt failures apart, which the client must never see).
func (e *Error) Detail() string {
	if e.Field == "" {
		return "fieldcrypto: " + e.Kind.String()
	}
	return "fieldcrypto: " + e.Kind.String() + " (" + e.Field + ")"
}

// Is matches sentinels: same kind, and same field unless the target's is
// empty; ErrDecrypt matches every decrypt kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	if t.Kind == kindDecrypt {
		return e.Kind.IsDecrypt() || e.Kind == kindDecrypt
	}
	return t.Kind == e.Kind && (t.Field == "" || t.Field == e.Field)
}

func fieldPath(f string) string {
	switch f {
	case "name", "id_card":
		return f
	case "":
		return "encryption"
	}
	return "encryption." + f
}

func errOf(k Kind, field string) error { return &Error{Kind: k, Field: field} }

// Rejection turns an error of this package into the API's answer: every
// codec error is a 400 token_mismatched whose message is Error(), which
// is uniform across decrypt failures. Any other error (a broken random
// source, a programming error) is a 500 api_error without detail. nil
// stays nil.
func Rejection(err error) *contracts.Rejection {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return &contracts.Rejection{Error: contracts.ErrTokenMismatched, Reason: e.Error()}
	}
	return &contracts.Rejection{Error: contracts.ErrAPIError}
}
