package contracts

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/idgate/idgate/contracts/idcard"
)

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI 3 document: %v", err)
	}
	return doc
}

// jsonFields lists the JSON names of a struct's fields and which are
// required (no omitempty).
func jsonFields(t reflect.Type) (all, required []string) {
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || name == "" {
			continue
		}
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	sort.Strings(all)
	sort.Strings(required)
	return all, required
}

func schemaFields(s *openapi3.Schema) (all, required []string) {
	for name := range s.Properties {
		all = append(all, name)
	}
	required = append(required, s.Required...)
	sort.Strings(all)
	sort.Strings(required)
	return all, required
}

func TestGoTypesMatchOpenAPI(t *testing.T) {
	doc := loadSpec(t)
	schemas := doc.Components.Schemas
	tests := []struct {
		schema string
		typ    reflect.Type
		// Go decodes optional-on-the-wire fields the server requires
		// (name, id_card) without omitempty; the spec is authoritative
		// for "required", so only compare where the Go type is strict.
		checkRequired bool
	}{
		{"CheckRequest", reflect.TypeOf(CheckRequest{}), false},
		{"Encryption", reflect.TypeOf(Encryption{}), false},
		{"CheckResponse", reflect.TypeOf(CheckResponse{}), true},
		{"AnswerEncryption", reflect.TypeOf(AnswerEncryption{}), true},
		{"ErrorBody", reflect.TypeOf(ErrorBody{}), true},
	}
	for _, tt := range tests {
		ref, ok := schemas[tt.schema]
		if !ok {
			t.Errorf("schema %s missing from openapi.yaml", tt.schema)
			continue
		}
		goAll, goReq := jsonFields(tt.typ)
		specAll, specReq := schemaFields(ref.Value)
		if !reflect.DeepEqual(goAll, specAll) {
			t.Errorf("%s: Go fields %v, OpenAPI properties %v", tt.schema, goAll, specAll)
		}
		if tt.checkRequired && !reflect.DeepEqual(goReq, specReq) {
			t.Errorf("%s: Go required %v, OpenAPI required %v", tt.schema, goReq, specReq)
		}
	}
	detailAll, _ := jsonFields(reflect.TypeOf(ErrorDetail{}))
	specDetail, _ := schemaFields(schemas["ErrorBody"].Value.Properties["error"].Value)
	if !reflect.DeepEqual(detailAll, specDetail) {
		t.Errorf("ErrorDetail: Go %v, OpenAPI %v", detailAll, specDetail)
	}

	var codes []string
	for _, r := range Results {
		codes = append(codes, string(r.Code))
	}
	if got := enumStrings(schemas["ResultCode"].Value); !reflect.DeepEqual(got, codes) {
		t.Errorf("ResultCode enum %v, Go constants %v", got, codes)
	}
	var errs []string
	for _, e := range Errors {
		errs = append(errs, string(e.Code))
	}
	if got := enumStrings(schemas["ErrorCode"].Value); !reflect.DeepEqual(got, errs) {
		t.Errorf("ErrorCode enum %v, Go constants %v", got, errs)
	}

	op := doc.Paths.Find(CheckPath)
	if op == nil || op.Post == nil {
		t.Fatalf("openapi.yaml has no POST %s", CheckPath)
	}
	for _, e := range Errors {
		if op.Post.Responses.Status(e.Status) == nil {
			t.Errorf("POST %s documents no %d response for %s", CheckPath, e.Status, e.Code)
		}
	}
}

func enumStrings(s *openapi3.Schema) []string {
	var out []string
	for _, v := range s.Enum {
		out = append(out, v.(string))
	}
	return out
}

func TestResultTable(t *testing.T) {
	billed := map[ResultCode]bool{ResultConsistent: true, ResultInconsistent: true}
	for _, r := range Results {
		if (r.Billing == Billed) != billed[r.Code] {
			t.Errorf("%s billing = %s", r.Code, r.Billing)
		}
		if got, ok := LookupResult(r.Code); !ok || got != r {
			t.Errorf("LookupResult(%s) = %v, %v", r.Code, got, ok)
		}
	}
	if _, ok := LookupResult("-8"); ok {
		t.Error("LookupResult accepted -8")
	}
	// Transient: the answers worth asking again shortly, never billed.
	if got := TransientResults(); !reflect.DeepEqual(got, []ResultCode{ResultDBError, ResultUpgrading}) {
		t.Errorf("TransientResults() = %v, want [-4 -6]", got)
	}
	for _, r := range Results {
		if r.Transient && r.Billing == Billed {
			t.Errorf("%s is transient and billed", r.Code)
		}
	}
}

func TestAppendMatchesEncodingJSON(t *testing.T) {
	sims := []float64{71.25, 0, 100, 42.5, 99.99, 1.0 / 3, 1e-7}
	responses := []CheckResponse{
		{Result: ResultConsistent, Description: Results[0].Description},
	}
	for i := range sims {
		responses = append(responses, CheckResponse{Result: ResultInconsistent, Description: "a \"quoted\" <tag> & 中文", Sim: &sims[i]})
	}
	responses = append(responses,
		CheckResponse{Result: ResultConsistent, Description: "d", Name: "bmFtZQ==", IDCard: "aWQ=",
			Encryption: &AnswerEncryption{EncryptList: []string{"name", "id_card"}, Algorithm: "SM4-GCM", TagList: []string{"dA==", "dQ=="}}},
		CheckResponse{Result: ResultIllegalID, Description: "d", Sim: &sims[0], IDCard: "aWQ=",
			Encryption: &AnswerEncryption{EncryptList: []string{"id_card"}, Algorithm: "AES-256-CBC"}},
	)
	for _, r := range responses {
		want, _ := json.Marshal(r)
		if got := AppendResponse(nil, r); string(got) != string(want) {
			t.Errorf("AppendResponse = %s, want %s", got, want)
		}
	}
	for _, e := range Errors {
		body := NewError(e.Code, "", "trace-1")
		want, _ := json.Marshal(body)
		if got := AppendError(nil, body); string(got) != string(want) {
			t.Errorf("AppendError = %s, want %s", got, want)
		}
		if body.Error.Message != e.Message || e.Code.Status() != e.Status {
			t.Errorf("NewError(%s) = %+v", e.Code, body)
		}
	}
}

func TestMagicIdentitiesAreValid(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range MagicIdentities {
		req := CheckRequest{Name: m.Name, IDCard: m.IDCard}
		if rej := Validate(&req, time.Now()); rej != nil {
			t.Errorf("magic %s (%s) is rejected: %+v", m.IDCard, m.Outcome, rej)
		}
		n := 0
		if m.Result != "" {
			n++
		}
		if m.Status != 0 {
			n++
		}
		if m.Fault != "" {
			n++
		}
		if n != 1 {
			t.Errorf("magic %s must pick exactly one outcome", m.IDCard)
		}
		if seen[m.IDCard] {
			t.Errorf("magic %s listed twice", m.IDCard)
		}
		seen[m.IDCard] = true
		if got, ok := LookupMagic(m.IDCard); !ok || got.IDCard != m.IDCard {
			t.Errorf("LookupMagic(%s) failed", m.IDCard)
		}
	}
}

func TestValidate(t *testing.T) {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	ok := "11010519491231002X"
	tests := []struct {
		name   string
		req    CheckRequest
		result ResultCode
		err    ErrorCode
	}{
		{"valid", CheckRequest{Name: "张三", IDCard: ok}, "", ""},
		{"valid with long-term validity", CheckRequest{Name: "张三", IDCard: ok, ValidityBegin: "20100101", ValidityEnd: "00000000"}, "", ""},
		{"missing id", CheckRequest{Name: "张三"}, "", ErrTokenMismatched},
		{"missing name", CheckRequest{IDCard: ok}, "", ErrTokenMismatched},
		{"bad check char", CheckRequest{Name: "张三", IDCard: "110105194912310021"}, ResultIllegalID, ""},
		{"lower-case x", CheckRequest{Name: "张三", IDCard: "11010519491231002x"}, ResultIllegalID, ""},
		{"legacy 15 digits", CheckRequest{Name: "张三", IDCard: "110105491231002"}, ResultIllegalID, ""},
		{"bad name", CheckRequest{Name: "Zhang San", IDCard: ok}, ResultIllegalName, ""},
		{"look-alike dot", CheckRequest{Name: "买买提•艾力", IDCard: ok}, ResultIllegalName, ""},
		{"bad validity", CheckRequest{Name: "张三", IDCard: ok, ValidityBegin: "20100101", ValidityEnd: "20300101"}, "", ErrTokenMismatched},
		// The ID number is checked first, as the authority does.
		{"bad id and name", CheckRequest{Name: "x", IDCard: "1"}, ResultIllegalID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rej := Validate(&tt.req, now)
			if tt.result == "" && tt.err == "" {
				if rej != nil {
					t.Fatalf("rejected: %+v", rej)
				}
				return
			}
			if rej == nil || rej.Result != tt.result || rej.Error != tt.err || rej.Reason == "" {
				t.Fatalf("got %+v, want result %q error %q", rej, tt.result, tt.err)
			}
			if leaks(rej.Reason, tt.req.IDCard) || leaks(rej.Reason, tt.req.Name) {
				t.Fatalf("reason leaks personal data: %q", rej.Reason)
			}
		})
	}
}

func TestDecodeCheckRequest(t *testing.T) {
	tests := []struct {
		body   string
		reason string // substring; "" = success
	}{
		{`{"name":"张三","id_card":"11010519491231002X"}`, ""},
		{` {"name":"张三","id_card":"11010519491231002X","extra":1} `, ""},
		{`{"name":"张三","id_card":"11010519491231002X","encryption":{"encrypt_list":["name"],"ciphertext_blob":"a","iv":"b","algorithm":"SM4-GCM","tag_list":["c"]}}`, ""},
		{``, "empty"},
		{`   `, "empty"},
		{`[]`, "JSON object"},
		{`"x"`, "JSON object"},
		{`{"name":`, "not valid JSON"},
		{`{"name":"a"}{`, "not valid JSON"},
		{`{"name":1,"id_card":"x"}`, "field name must be a string"},
		{`{"name":"a","id_card":11010519491231002}`, "field id_card must be a string"},
		{`{"name":"a","id_card":"b","encryption":"x"}`, "field encryption must be an object"},
		{`{"name":"a","id_card":"b","encryption":{"encrypt_list":"name"}}`, "encrypt_list must be an array"},
		{`{"name":"a","id_card":"b","encryption":{"encrypt_list":[],"ciphertext_blob":"a","iv":"b","algorithm":"c"}}`, "at least one field"},
		{`{"name":"a","id_card":"b","encryption":{"encrypt_list":["name"],"iv":"b","algorithm":"c"}}`, "ciphertext_blob"},
	}
	for _, tt := range tests {
		_, err := DecodeCheckRequest([]byte(tt.body))
		switch {
		case tt.reason == "" && err != nil:
			t.Errorf("Decode(%s): %v", tt.body, err)
		case tt.reason != "" && (err == nil || !IsRequestError(err) || !strings.Contains(err.Error(), tt.reason)):
			t.Errorf("Decode(%s) = %v, want %q", tt.body, err, tt.reason)
		}
	}
}

func TestIsJSONContentType(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json":                  true,
		"application/json; charset=utf-8":   true,
		"Application/JSON; charset=UTF-8":   true,
		"application/json;charset=gbk":      false,
		"text/plain":                        false,
		"":                                  false,
		"application/jsonx":                 false,
		"application/x-www-form-urlencoded": false,
	} {
		if got := IsJSONContentType(ct); got != want {
			t.Errorf("IsJSONContentType(%q) = %v", ct, got)
		}
	}
}

func FuzzDecodeAndValidate(f *testing.F) {
	f.Add([]byte(`{"name":"张三","id_card":"11010519491231002X","validity_begin":"20100101","validity_end":"00000000"}`))
	f.Add([]byte(`{"name":1}`))
	f.Add([]byte(`{"encryption":{"encrypt_list":["name"]}}`))
	now := time.Now()
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeCheckRequest(body)
		if err != nil {
			if !IsRequestError(err) {
				t.Fatalf("decode error of the wrong type: %T", err)
			}
			return
		}
		rej := Validate(&req, now)
		if rej == nil {
			if _, err := idcard.ParseAt(req.IDCard, now); err != nil {
				t.Fatalf("accepted invalid id: %v", err)
			}
			return
		}
		if (rej.Result == "") == (rej.Error == "") {
			t.Fatalf("rejection must set exactly one of Result and Error: %+v", rej)
		}
	})
}

// leaks reports whether a message quotes a value long enough to identify
// someone (a one-character test value matches by accident).
func leaks(msg, value string) bool {
	return len(value) >= 4 && strings.Contains(msg, value)
}

func TestDateResultTable(t *testing.T) {
	doc := loadSpec(t)
	var codes []string
	for _, r := range DateResults {
		codes = append(codes, string(r.Code))
		billed := r.Code == DateConsistent || r.Code == DateInconsistent
		if (r.Billing == Billed) != billed {
			t.Errorf("%s billing = %s", r.Code, r.Billing)
		}
		if got, ok := LookupDateResult(r.Code); !ok || got != r {
			t.Errorf("LookupDateResult(%s) = %v, %v", r.Code, got, ok)
		}
	}
	if got := enumStrings(doc.Components.Schemas["DateResultCode"].Value); !reflect.DeepEqual(got, codes) {
		t.Errorf("DateResultCode enum %v, Go %v", got, codes)
	}
	if op := doc.Paths.Find(CheckDatePath); op == nil || op.Post == nil {
		t.Errorf("openapi.yaml has no POST %s", CheckDatePath)
	}
	// Every check-2e code has a date code of the same billing class.
	for _, r := range Results {
		d, ok := LookupDateResult(DateResultOf(r.Code))
		if !ok || d.Billing != r.Billing {
			t.Errorf("DateResultOf(%s) = %s (%v)", r.Code, d.Code, ok)
		}
	}
}

func TestValidateDate(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		begin, end string
		result     ResultCode
		err        ErrorCode
	}{
		{"19960101", "00000000", "", ""},                    // born 1949: long-term
		{"19900101", "", "", ErrTokenMismatched},            // missing end
		{"", "00000000", "", ErrTokenMismatched},            // missing begin
		{"1990-01-01", "00000000", DateIllegalValidity, ""}, // format
		{"19900101", "19800101", DateIllegalValidity, ""},   // order (and not long-term)
		{"20300101", "00000000", DateIllegalValidity, ""},   // future
		{"19400101", "19500101", DateInvalidIdentity, ""},   // before birth
		{"19600101", "19700101", DateIllegalValidity, ""},   // age 10: 5 years, not 10
	}
	for _, tt := range tests {
		req := CheckRequest{Name: "张三", IDCard: "11010519491231002X", ValidityBegin: tt.begin, ValidityEnd: tt.end}
		rej := ValidateDate(&req, now)
		switch {
		case tt.result == "" && tt.err == "":
			if rej != nil {
				t.Errorf("%s-%s: refused %+v", tt.begin, tt.end, rej)
			}
		case rej == nil || rej.Result != tt.result || rej.Error != tt.err:
			t.Errorf("%s-%s: %+v, want result %q error %q", tt.begin, tt.end, rej, tt.result, tt.err)
		}
	}
	bad := CheckRequest{Name: "张三", IDCard: "110105194912310021", ValidityBegin: "19900101", ValidityEnd: "00000000"}
	if rej := ValidateDate(&bad, now); rej == nil || rej.Result != DateIllegalID {
		t.Errorf("bad check digit: %+v", rej)
	}
}
