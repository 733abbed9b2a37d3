package tencent

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/idgate/idgate/contracts"
)

// The FaceID actions both programs serve.
const (
	ActionIdCardVerification    = "IdCardVerification"
	ActionCheckIdNameDate       = "CheckIdNameDate"
	ActionDetectAuth            = "DetectAuth"
	ActionGetDetectInfoEnhanced = "GetDetectInfoEnhanced"
	ActionGetEidToken           = "GetEidToken"
	ActionGetEidResult          = "GetEidResult"
	ActionGetNFCToken           = "GetNFCToken"
	ActionGetWxNFCResult        = "GetWxNFCResult"
)

// Encryption is FaceID's sensitive-field encryption object: the
// aggregator's (contracts.Encryption) with Tencent's member names, and
// Tencent's field names (Name, IdCard) in EncryptList.
type Encryption struct {
	EncryptList    []string `json:"EncryptList"`
	CiphertextBlob string   `json:"CiphertextBlob,omitempty"`
	Iv             string   `json:"Iv,omitempty"`
	Algorithm      string   `json:"Algorithm,omitempty"`
	TagList        []string `json:"TagList,omitempty"`
}

// CheckRequest is the body of IdCardVerification (IdCard, Name,
// Encryption) and CheckIdNameDate (and ValidityBegin, ValidityEnd).
type CheckRequest struct {
	IdCard        string      `json:"IdCard"`
	Name          string      `json:"Name"`
	ValidityBegin string      `json:"ValidityBegin,omitempty"`
	ValidityEnd   string      `json:"ValidityEnd,omitempty"`
	Encryption    *Encryption `json:"Encryption,omitempty"`
}

// The encryptable fields' names in each dialect, index for index.
var (
	tencentFields    = []string{"Name", "IdCard"}
	aggregatorFields = []string{"name", "id_card"}
)

func renameFields(list, from, to []string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, f := range list {
		out[i] = f
		for j := range from {
			if f == from[j] {
				out[i] = to[j]
			}
		}
	}
	return out
}

// Contract is the aggregator's form of e. A name FaceID does not know
// stays as sent, so the codec refuses it as it would the aggregator's.
func (e *Encryption) Contract() *contracts.Encryption {
	if e == nil {
		return nil
	}
	alg := e.Algorithm
	if alg == "" {
		alg = "AES-256-CBC" // FaceID's documented default
	}
	return &contracts.Encryption{
		EncryptList: renameFields(e.EncryptList, tencentFields, aggregatorFields), CiphertextBlob: e.CiphertextBlob,
		IV: e.Iv, Algorithm: alg, TagList: e.TagList,
	}
}

// FromContractEncryption is FaceID's form of an aggregator encryption
// object.
func FromContractEncryption(e *contracts.Encryption) *Encryption {
	if e == nil {
		return nil
	}
	return &Encryption{
		EncryptList: renameFields(e.EncryptList, aggregatorFields, tencentFields), CiphertextBlob: e.CiphertextBlob,
		Iv: e.IV, Algorithm: e.Algorithm, TagList: e.TagList,
	}
}

// Contract is the aggregator's form of the request.
func (r *CheckRequest) Contract() contracts.CheckRequest {
	return contracts.CheckRequest{
		Name: r.Name, IDCard: r.IdCard, ValidityBegin: r.ValidityBegin, ValidityEnd: r.ValidityEnd,
		Encryption: r.Encryption.Contract(),
	}
}

// FromContractRequest is FaceID's form of an aggregator check request.
func FromContractRequest(r *contracts.CheckRequest) CheckRequest {
	return CheckRequest{
		IdCard: r.IDCard, Name: r.Name, ValidityBegin: r.ValidityBegin, ValidityEnd: r.ValidityEnd,
		Encryption: FromContractEncryption(r.Encryption),
	}
}

var checkSchema = contracts.KeySchema{
	Fields:       []string{"IdCard", "Name", "ValidityBegin", "ValidityEnd", "Encryption"},
	Nested:       "Encryption",
	NestedFields: encryptionFields,
}

// DecodeCheckRequest reads the body of a check action (withValidity:
// CheckIdNameDate, whose ValidityBegin and ValidityEnd are required). The
// rules are the aggregator decoder's: one JSON object, no key repeated, names
// exact in case. Errors are MissingParameter for an absent required member
// and InvalidParameter otherwise; their messages name the member, never its
// value.
func DecodeCheckRequest(body []byte, withValidity bool) (contracts.CheckRequest, *Error) {
	var r CheckRequest
	body, e := decodeObject(body, &r, &checkSchema)
	if e != nil {
		return contracts.CheckRequest{}, e
	}
	required := checkRequired
	if withValidity {
		required = checkDateRequired
	}
	if e := missingMember(body, false, required); e != nil {
		return contracts.CheckRequest{}, e
	}
	if e := checkEncryption(r.Encryption); e != nil {
		return contracts.CheckRequest{}, e
	}
	return r.Contract(), nil
}

// The members a check action requires, absent or null refused; an empty
// one is the validator's to refuse.
var (
	checkRequired     = []string{"IdCard", "Name"}
	checkDateRequired = []string{"IdCard", "Name", "ValidityBegin", "ValidityEnd"}
)

// AppendCheckRequest appends FaceID's body of an aggregator check request
// (the gateway's request towards a Tencent-dialect upstream).
func AppendCheckRequest(dst []byte, r *contracts.CheckRequest) []byte {
	b, _ := json.Marshal(FromContractRequest(r))
	return append(dst, b...)
}

// CheckAnswer is the Response of a check action as a client reads it.
// FaceID's check answers carry no sealed fields, so an Encryption member,
// which would describe none, is not read.
type CheckAnswer struct {
	Result      string `json:"Result"`
	Description string `json:"Description"`
	Error       *Error `json:"Error,omitempty"`
	RequestID   string `json:"RequestId"`
}

// DecodeCheckAnswer reads a check action's answer body.
func DecodeCheckAnswer(body []byte) (CheckAnswer, error) {
	var env struct {
		Response *CheckAnswer `json:"Response"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return CheckAnswer{}, fmt.Errorf("tencent: answer: %w", err)
	}
	if env.Response == nil {
		return CheckAnswer{}, errors.New("tencent: answer: no Response member")
	}
	return *env.Response, nil
}

// ContractAnswer is the aggregator's form of a check answer: a 200 body
// for a result, or the error's status and body, with the upstream's
// RequestId as trace_id.
func (a *CheckAnswer) ContractAnswer() (status int, body []byte) {
	if a.Error != nil {
		code := ToContract(a.Error.Code)
		return code.Status(), contracts.AppendError(nil, contracts.NewError(code, a.Error.Message, a.RequestID))
	}
	resp := contracts.CheckResponse{Result: contracts.ResultCode(a.Result), Description: a.Description}
	return 200, contracts.AppendResponse(nil, resp)
}

// IsAction reports whether name is one of the served actions.
func IsAction(name string) bool {
	switch name {
	case ActionIdCardVerification, ActionCheckIdNameDate, ActionDetectAuth, ActionGetDetectInfoEnhanced,
		ActionGetEidToken, ActionGetEidResult, ActionGetNFCToken, ActionGetWxNFCResult:
		return true
	}
	return false
}

// CheckHeaders validates the action and version headers of an API 3.0
// request: X-TC-Action present and served, X-TC-Version 2018-03-01.
func CheckHeaders(action, version []byte) *Error {
	switch {
	case len(action) == 0:
		return &Error{Code: CodeMissingParameter, Message: "The request is missing the required header X-TC-Action."}
	case !IsAction(string(action)):
		return &Error{Code: CodeInvalidAction, Message: "The action `" + sanitize(action) + "` is not supported by this service."}
	case len(version) == 0:
		return &Error{Code: CodeMissingParameter, Message: "The request is missing the required header X-TC-Version."}
	case string(version) != Version:
		return &Error{Code: CodeNoSuchVersion, Message: "The API version `" + sanitize(version) + "` does not exist; FaceID is " + Version + "."}
	}
	return nil
}

// sanitize keeps a client's header value printable and short for an
// error message.
func sanitize(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '`' {
			return '?'
		}
		return r
	}, string(b))
}
