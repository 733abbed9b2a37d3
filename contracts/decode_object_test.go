package contracts

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDecodeObject: a session body is empty or one JSON object whose keys
// mean one thing to every parser; unknown keys are ignored, as in the check
// body, and every refusal says why without repeating the client's value.
func TestDecodeObject(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       CreateSessionRequest
		err        string // the refusal ("" accepted)
	}{
		{"empty", ``, CreateSessionRequest{}, ""},
		{"white space", " \t\r\n", CreateSessionRequest{}, ""},
		{"empty object", `{}`, CreateSessionRequest{}, ""},
		{"fields", `{"flow":"nfc","name":"张三","id_card":"11010519491231002X","reference":"r-1"}`,
			CreateSessionRequest{Flow: FlowNFC, Name: "张三", IDCard: "11010519491231002X", Reference: "r-1"}, ""},
		{"unknown key ignored", `{"reference":"r","extra":{"a":1}}`, CreateSessionRequest{Reference: "r"}, ""},
		{"trailing white space", "{\"reference\":\"r\"}\n", CreateSessionRequest{Reference: "r"}, ""},
		{"repeated field", `{"id_card":"110101191111110010","id_card":"11010519491231002X"}`, CreateSessionRequest{}, "duplicate field id_card: each field may appear once"},
		{"repeated unknown key", `{"x":1,"x":2}`, CreateSessionRequest{}, "duplicate key in the request body"},
		{"repeated key in a nested object", `{"x":{"a":1,"a":2}}`, CreateSessionRequest{}, "duplicate key in the request body"},
		{"field in another case", `{"ID_CARD":"11010519491231002X"}`, CreateSessionRequest{}, `unknown field "ID_CARD": field names are case-sensitive (id_card)`},
		{"callback in another case", `{"Callback_URL":"https://x.example/"}`, CreateSessionRequest{}, "field names are case-sensitive (callback_url)"},
		{"wrong type", `{"flow":1}`, CreateSessionRequest{}, "field flow must be a string"},
		{"trailing data", `{"flow":"nfc"} {}`, CreateSessionRequest{}, "request body is not valid JSON"},
		{"trailing garbage", `{"flow":"nfc"}x`, CreateSessionRequest{}, "request body is not valid JSON"},
		{"array", `[]`, CreateSessionRequest{}, "request body must be a JSON object"},
		{"null", `null`, CreateSessionRequest{}, "request body must be a JSON object"},
		{"not UTF-8", "{\"name\":\"\xff\"}", CreateSessionRequest{}, "request body is not valid UTF-8"},
		{"non-JSON space", "\u00a0{}", CreateSessionRequest{}, "request body must be a JSON object"},
		{"truncated", `{"flow":"nfc"`, CreateSessionRequest{}, "request body is not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got CreateSessionRequest
			err := DecodeObject([]byte(tc.body), &CreateSessionSchema, &got)
			if tc.err == "" {
				if err != nil || got != tc.want {
					t.Fatalf("DecodeObject(%q) = %+v, %v; want %+v", tc.body, got, err, tc.want)
				}
				return
			}
			if err == nil || !IsRequestError(err) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("DecodeObject(%q) = %v, want a RequestError with %q", tc.body, err, tc.err)
			}
		})
	}
}

// FuzzDecodeObject: whatever the body, DecodeObject never panics and
// answers a RequestError or nothing; a body it accepts is empty or one
// valid JSON object, and the request it yields re-encodes to a body read
// back to the same request; a refusal never repeats a field's value.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{
		``, `{}`, ` {"flow":"app_auth"} `,
		`{"flow":"nfc","name":"张三","id_card":"11010519491231002X","callback_url":"https://h.example/x","reference":"r"}`,
		`{"name":"a","name":"b"}`, `{"NAME":"a"}`, `{"x":{"y":1,"y":2}}`, `{"reference":1}`,
		`{"a":1} {"b":2}`, `[]`, `null`, `"x"`, `{`, "{\"name\":\"\xff\"}", `{"name":"\u5f20"}`,
		`{"reference":"` + strings.Repeat("r", 300) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req CreateSessionRequest
		err := DecodeObject(body, &CreateSessionSchema, &req)
		if err != nil {
			if !IsRequestError(err) {
				t.Fatalf("DecodeObject(%q): %v is not a RequestError", body, err)
			}
			for _, v := range []string{req.Name, req.IDCard, req.Reference, req.CallbackURL} {
				if len(v) >= 4 && strings.Contains(err.Error(), v) {
					t.Fatalf("refusal %q repeats the value %q", err, v)
				}
			}
			return
		}
		if trimmed := trimJSONSpace(body); len(trimmed) > 0 && (trimmed[0] != '{' || !json.Valid(trimmed)) {
			t.Fatalf("accepted %q, which is not one JSON object", body)
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		var back CreateSessionRequest
		if err := DecodeObject(again, &CreateSessionSchema, &back); err != nil || back != req {
			t.Fatalf("round trip of %+v: %+v, %v", req, back, err)
		}
	})
}
