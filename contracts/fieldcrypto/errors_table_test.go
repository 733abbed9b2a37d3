package fieldcrypto

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/idgate/idgate/contracts"
)

var (
	docMessagesOnce sync.Once
	docText         string
	docMessages     map[string]bool
	docMessagesErr  error
)

// documentedMessages reads the "message to the client" column of the two
// tables in doc.go's Errors section: the text after the last run of two or
// more spaces on each table line.
func documentedMessages(t testing.TB) map[string]bool {
	t.Helper()
	docMessagesOnce.Do(func() {
		b, err := os.ReadFile("doc.go")
		if err != nil {
			docMessagesErr = err
			return
		}
		text := string(b)
		docText = text
		start, end := strings.Index(text, "// # Errors\n"), strings.Index(text, "// # Wire format")
		if start < 0 || end < start {
			docMessagesErr = errors.New("doc.go has no Errors section before Wire format")
			return
		}
		cols := regexp.MustCompile(`\s{2,}`)
		docMessages = map[string]bool{}
		for _, line := range strings.Split(text[start:end], "\n") {
			if row, ok := strings.CutPrefix(line, "//\t"); ok {
				parts := cols.Split(strings.TrimSpace(row), -1)
				docMessages[parts[len(parts)-1]] = true
			}
		}
	})
	if docMessagesErr != nil {
		t.Fatal(docMessagesErr)
	}
	return docMessages
}

// docTableText is doc.go's text, read once with its messages.
func docTableText(t testing.TB) string {
	t.Helper()
	documentedMessages(t)
	return docText
}

// codecErrors is every error value the codec returns: each kind with each
// field it is raised about (errOf's calls).
var codecErrors = append([]*Error{
	{Kind: KindUnsupportedAlgorithm, Field: "algorithm"},
	{Kind: KindFieldNotAllowed, Field: "encrypt_list"},
	{Kind: KindInvalidBase64, Field: "iv"},
	{Kind: KindInvalidBase64, Field: "ciphertext_blob"},
	{Kind: KindInvalidBase64, Field: "tag_list"},
	{Kind: KindIVLength, Field: "iv"},
	{Kind: KindTagList, Field: "tag_list"},
	{Kind: KindNotEnabled},
	{Kind: KindBlob, Field: "ciphertext_blob"},
	{Kind: KindUnwrap, Field: "ciphertext_blob"},
}, perField(KindInvalidBase64, KindPadding, KindTagMismatch, KindPlaintext)...)

// perField is each kind raised about each encryptable field.
func perField(kinds ...Kind) []*Error {
	var errs []*Error
	for _, k := range kinds {
		for _, f := range []string{NameField, IDCardField} {
			errs = append(errs, &Error{Kind: k, Field: f})
		}
	}
	return errs
}

// TestErrorTable: every error the codec can return answers a message the
// table in doc.go lists, through Rejection as the servers send it, and
// every kind is covered, so a new kind cannot ship undocumented.
func TestErrorTable(t *testing.T) {
	doc := documentedMessages(t)
	covered := map[Kind]bool{}
	for _, e := range codecErrors {
		t.Run(e.Detail(), func(t *testing.T) {
			covered[e.Kind] = true
			rej := Rejection(e)
			if rej == nil || rej.Error != contracts.ErrTokenMismatched || rej.Reason != e.Error() {
				t.Fatalf("Rejection = %+v", rej)
			}
			if !doc[rej.Reason] {
				t.Errorf("message %q is not in doc.go's error table", rej.Reason)
			}
			if e.Kind.IsDecrypt() != (rej.Reason == DecryptFailure) {
				t.Errorf("decrypt failure %v answers %q", e.Kind.IsDecrypt(), rej.Reason)
			}
			if s := e.Kind.String(); s == "unknown" || !strings.Contains(docTableText(t), s) {
				t.Errorf("kind %s is not named in the table", s)
			}
		})
	}
	for k := kindNone + 1; k < kindDecrypt; k++ {
		if !covered[k] {
			t.Errorf("kind %s has no row in codecErrors", k)
		}
	}
	for _, sentinel := range []*Error{ErrUnsupportedAlgorithm, ErrFieldNotAllowed, ErrInvalidBase64, ErrIVLength, ErrTagList,
		ErrNotEnabled, ErrBlob, ErrUnwrap, ErrPadding, ErrTagMismatch, ErrPlaintext} {
		if !doc[sentinel.Error()] && sentinel.Kind != KindInvalidBase64 { // base64 names its field
			t.Errorf("sentinel %s answers %q, not in the table", sentinel.Detail(), sentinel.Error())
		}
	}
}

// TestShapeErrorTable: every message the body decoder answers about the
// encryption object is in doc.go's shape table.
func TestShapeErrorTable(t *testing.T) {
	doc := documentedMessages(t)
	const id = `"name":"张三","id_card":"11010519491231002X"`
	for _, tc := range []struct{ name, enc string }{
		{"not an object", `"x"`},
		{"encrypt_list not an array", `{"encrypt_list":"name","ciphertext_blob":"a","iv":"b","algorithm":"SM4-GCM"}`},
		{"encrypt_list of numbers", `{"encrypt_list":[1],"ciphertext_blob":"a","iv":"b","algorithm":"SM4-GCM"}`},
		{"tag_list not an array", `{"encrypt_list":["name"],"ciphertext_blob":"a","iv":"b","algorithm":"SM4-GCM","tag_list":"t"}`},
		{"blob not a string", `{"encrypt_list":["name"],"ciphertext_blob":1,"iv":"b","algorithm":"SM4-GCM"}`},
		{"iv not a string", `{"encrypt_list":["name"],"ciphertext_blob":"a","iv":[],"algorithm":"SM4-GCM"}`},
		{"algorithm not a string", `{"encrypt_list":["name"],"ciphertext_blob":"a","iv":"b","algorithm":{}}`},
		{"empty encrypt_list", `{"encrypt_list":[],"ciphertext_blob":"a","iv":"b","algorithm":"SM4-GCM"}`},
		{"no encrypt_list", `{"ciphertext_blob":"a","iv":"b","algorithm":"SM4-GCM"}`},
		{"no blob", `{"encrypt_list":["name"],"iv":"b","algorithm":"SM4-GCM"}`},
		{"empty blob", `{"encrypt_list":["name"],"ciphertext_blob":"","iv":"b","algorithm":"SM4-GCM"}`},
		{"no iv", `{"encrypt_list":["name"],"ciphertext_blob":"a","algorithm":"SM4-GCM"}`},
		{"no algorithm", `{"encrypt_list":["name"],"ciphertext_blob":"a","iv":"b"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := contracts.DecodeCheckRequest([]byte(`{` + id + `,"encryption":` + tc.enc + `}`))
			if err == nil || !contracts.IsRequestError(err) {
				t.Fatalf("decode: %v, want a request error", err)
			}
			if !doc[err.Error()] {
				t.Errorf("message %q is not in doc.go's shape table", err.Error())
			}
		})
	}
}
