package tencent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/idcard"
)

// The FaceID session actions, as the aggregator's verification sessions
// (contracts.CreateSessionRequest, contracts.Session,
// contracts.SessionResult) carry them:
//
//	DetectAuth            → create, flow nfc       (BizToken = request ID)
//	GetEidToken           → create, flow app_auth  (EidToken = request ID)
//	GetNFCToken           → create, flow nfc_read  (Token = request ID)
//	GetDetectInfoEnhanced → result of an nfc session
//	GetEidResult          → result of an app_auth session
//	GetWxNFCResult        → result of an nfc_read session
//
// Extra travels as the session's reference and comes back in Text.Extra.

// MaxExtra bounds Extra: it is the session's reference, which holds at
// most 128 bytes (FaceID documents 1024; the aggregator keeps less).
const MaxExtra = 128

// DetectAuthRequest is the body of DetectAuth.
type DetectAuthRequest struct {
	RuleId       string      `json:"RuleId"`
	TerminalType string      `json:"TerminalType,omitempty"`
	IdCard       string      `json:"IdCard,omitempty"`
	Name         string      `json:"Name,omitempty"`
	RedirectUrl  string      `json:"RedirectUrl,omitempty"`
	Extra        string      `json:"Extra,omitempty"`
	ImageBase64  string      `json:"ImageBase64,omitempty"`
	Encryption   *Encryption `json:"Encryption,omitempty"`
}

// DetectAuthResponse is the answer of DetectAuth: the session's QR URL
// and its request ID.
type DetectAuthResponse struct {
	Url      string `json:"Url"`
	BizToken string `json:"BizToken"`
}

// GetDetectInfoEnhancedRequest is the body of GetDetectInfoEnhanced.
// InfoType picks the parts of the answer: "0" (or empty) all, otherwise
// its digits: 1 Text, 2 IdCardData, 3 BestFrame, 4 VideoData (5 and 6,
// the intention results, are accepted and answer nothing).
type GetDetectInfoEnhancedRequest struct {
	BizToken           string      `json:"BizToken"`
	RuleId             string      `json:"RuleId"`
	InfoType           string      `json:"InfoType,omitempty"`
	BestFramesCount    int         `json:"BestFramesCount,omitempty"`
	IsCutIdCardImage   bool        `json:"IsCutIdCardImage,omitempty"`
	IsNeedIdCardAvatar bool        `json:"IsNeedIdCardAvatar,omitempty"`
	IsEncrypt          bool        `json:"IsEncrypt,omitempty"`
	Encryption         *Encryption `json:"Encryption,omitempty"`
	IsEncryptResponse  bool        `json:"IsEncryptResponse,omitempty"`
	IsReturnAllVideo   bool        `json:"IsReturnAllVideo,omitempty"`
}

// GetDetectInfoEnhancedResponse is the answer of GetDetectInfoEnhanced.
// Parts that do not apply are null, as FaceID answers them.
type GetDetectInfoEnhancedResponse struct {
	Text              *DetectInfoText       `json:"Text"`
	IdCardData        *DetectInfoIdCardData `json:"IdCardData"`
	BestFrame         *DetectInfoBestFrame  `json:"BestFrame"`
	VideoData         *DetectInfoVideoData  `json:"VideoData"`
	Encryption        *Encryption           `json:"Encryption"`
	IsVerifyIntention bool                  `json:"IsVerifyIntention"`
}

// DetectInfoText is the text part of a session's result. The numbers are
// null when the step they describe did not take place.
type DetectInfoText struct {
	ErrCode        *int           `json:"ErrCode"`
	ErrMsg         string         `json:"ErrMsg"`
	IdCard         string         `json:"IdCard"`
	Name           string         `json:"Name"`
	OcrNation      string         `json:"OcrNation"`
	OcrAddress     string         `json:"OcrAddress"`
	OcrBirth       string         `json:"OcrBirth"` // YYYY/M/D
	OcrAuthority   string         `json:"OcrAuthority"`
	OcrValidDate   string         `json:"OcrValidDate"` // YYYY.MM.DD-YYYY.MM.DD or YYYY.MM.DD-长期
	OcrName        string         `json:"OcrName"`
	OcrIdCard      string         `json:"OcrIdCard"`
	OcrGender      string         `json:"OcrGender"`
	IdInfoFrom     string         `json:"IdInfoFrom"` // NFC, OCR, 手动输入, 其他
	LiveStatus     *int           `json:"LiveStatus"`
	LiveMsg        string         `json:"LiveMsg"`
	Comparestatus  *int           `json:"Comparestatus"`
	Comparemsg     string         `json:"Comparemsg"`
	Sim            string         `json:"Sim"` // 0.00-100.00; 70 passes
	Location       string         `json:"Location"`
	Extra          string         `json:"Extra"`
	LivenessDetail []DetectDetail `json:"LivenessDetail"`
	Mobile         string         `json:"Mobile"`
	CompareLibType string         `json:"CompareLibType"`
	// LivenessMode: 0 unknown, 1 digits, 2 action, 3 silent, 4 flash,
	// 5 near-far.
	LivenessMode *int `json:"LivenessMode"`
}

// DetectDetail is one liveness-and-compare attempt of a session.
type DetectDetail struct {
	ReqTime        string `json:"ReqTime"`
	Seq            string `json:"Seq"`
	Idcard         string `json:"Idcard"`
	Name           string `json:"Name"`
	Sim            string `json:"Sim"`
	IsNeedCharge   bool   `json:"IsNeedCharge"`
	Errcode        int    `json:"Errcode"`
	Errmsg         string `json:"Errmsg"`
	Livestatus     int    `json:"Livestatus"`
	Livemsg        string `json:"Livemsg"`
	Comparestatus  int    `json:"Comparestatus"`
	Comparemsg     string `json:"Comparemsg"`
	CompareLibType string `json:"CompareLibType"`
	LivenessMode   int    `json:"LivenessMode"`
}

// DetectInfoIdCardData holds the card's images; an NFC read has only the
// chip's portrait (Avatar, when asked for).
type DetectInfoIdCardData struct {
	OcrFront            string  `json:"OcrFront,omitempty"`
	OcrBack             string  `json:"OcrBack,omitempty"`
	ProcessedFrontImage string  `json:"ProcessedFrontImage,omitempty"`
	ProcessedBackImage  string  `json:"ProcessedBackImage,omitempty"`
	Avatar              string  `json:"Avatar,omitempty"`
	WarnInfos           []int64 `json:"WarnInfos,omitempty"`
	BackWarnInfos       []int64 `json:"BackWarnInfos,omitempty"`
}

// DetectInfoBestFrame holds frames of the liveness video.
type DetectInfoBestFrame struct {
	BestFrame  string   `json:"BestFrame,omitempty"`
	BestFrames []string `json:"BestFrames,omitempty"`
}

// DetectInfoVideoData holds the liveness video.
type DetectInfoVideoData struct {
	LivenessVideo string `json:"LivenessVideo,omitempty"`
}

// GetEidTokenConfig is GetEidToken's Config (how the identity is input,
// intention verification).
type GetEidTokenConfig struct {
	InputType            string `json:"InputType,omitempty"`
	UseIntentionVerify   bool   `json:"UseIntentionVerify,omitempty"`
	IntentionMode        string `json:"IntentionMode,omitempty"`
	IntentionVerifyText  string `json:"IntentionVerifyText,omitempty"`
	IntentionRecognition *bool  `json:"IntentionRecognition,omitempty"`
	Speed                int    `json:"Speed,omitempty"`
}

// GetEidTokenRequest is the body of GetEidToken.
type GetEidTokenRequest struct {
	MerchantId  string             `json:"MerchantId"`
	IdCard      string             `json:"IdCard,omitempty"`
	Name        string             `json:"Name,omitempty"`
	Extra       string             `json:"Extra,omitempty"`
	Config      *GetEidTokenConfig `json:"Config,omitempty"`
	RedirectUrl string             `json:"RedirectUrl,omitempty"`
	Encryption  *Encryption        `json:"Encryption,omitempty"`
}

// GetEidTokenResponse is the answer of GetEidToken.
type GetEidTokenResponse struct {
	EidToken string `json:"EidToken"`
	Url      string `json:"Url"`
}

// GetEidResultRequest is the body of GetEidResult; InfoType as for
// GetDetectInfoEnhanced.
type GetEidResultRequest struct {
	EidToken           string `json:"EidToken"`
	InfoType           string `json:"InfoType,omitempty"`
	BestFramesCount    int    `json:"BestFramesCount,omitempty"`
	IsCutIdCardImage   bool   `json:"IsCutIdCardImage,omitempty"`
	IsNeedIdCardAvatar bool   `json:"IsNeedIdCardAvatar,omitempty"`
}

// GetEidResultResponse is the answer of GetEidResult. The verified name
// and ID number are not in Text: FaceID returns them only sealed for the
// merchant in EidInfo, which needs the merchant's keys and is null here.
type GetEidResultResponse struct {
	Text              *DetectInfoText       `json:"Text"`
	IdCardData        *DetectInfoIdCardData `json:"IdCardData"`
	BestFrame         *DetectInfoBestFrame  `json:"BestFrame"`
	EidInfo           *EidInfo              `json:"EidInfo"`
	IsVerifyIntention bool                  `json:"IsVerifyIntention"`
}

// EidInfo is the user's eID code and their identity sealed for the
// merchant.
type EidInfo struct {
	EidCode  string `json:"EidCode"`
	EidSign  string `json:"EidSign"`
	DesKey   string `json:"DesKey"`
	UserInfo string `json:"UserInfo"`
}

// GetNFCTokenResponse is the answer of GetNFCToken (its request has no
// members).
type GetNFCTokenResponse struct {
	Token string `json:"Token"`
}

// GetWxNFCResultRequest is the body of GetWxNFCResult.
type GetWxNFCResultRequest struct {
	NFCToken string `json:"NFCToken"`
}

// NFC read outcomes (ResultCode): a successful read is billed, once.
const (
	NFCReadOK     = "0"
	NFCReadFailed = "-1"
)

// GetWxNFCResultResponse is the answer of GetWxNFCResult: the chip's
// text file when the read succeeded (ResultCode "0"), nothing else
// otherwise ("-1"). Dates are YYYYMMDD; EndTime is 长期 for a long-term
// card.
type GetWxNFCResultResponse struct {
	ResultCode          string `json:"ResultCode"`
	IdNum               string `json:"IdNum,omitempty"`
	Name                string `json:"Name,omitempty"`
	Picture             string `json:"Picture,omitempty"`
	BirthDate           string `json:"BirthDate,omitempty"`
	BeginTime           string `json:"BeginTime,omitempty"`
	EndTime             string `json:"EndTime,omitempty"`
	Address             string `json:"Address,omitempty"`
	Nation              string `json:"Nation,omitempty"`
	Sex                 string `json:"Sex,omitempty"`
	IdType              string `json:"IdType,omitempty"` // 01: resident identity card
	SigningOrganization string `json:"SigningOrganization,omitempty"`
}

// IDTypeResidentCard is IdType of a resident identity card.
const IDTypeResidentCard = "01"

var (
	detectAuthSchema = contracts.KeySchema{
		Fields:       []string{"RuleId", "TerminalType", "IdCard", "Name", "RedirectUrl", "Extra", "ImageBase64", "Encryption", "IntentionVerifyText", "IntentionQuestions", "IntentionActions", "Config"},
		Nested:       "Encryption",
		NestedFields: encryptionFields,
	}
	detectInfoSchema = contracts.KeySchema{
		Fields:       []string{"BizToken", "RuleId", "InfoType", "BestFramesCount", "IsCutIdCardImage", "IsNeedIdCardAvatar", "IsEncrypt", "Encryption", "IsEncryptResponse", "IsReturnAllVideo"},
		Nested:       "Encryption",
		NestedFields: encryptionFields,
	}
	eidTokenSchema = contracts.KeySchema{
		Fields:       []string{"MerchantId", "IdCard", "Name", "Extra", "Config", "RedirectUrl", "Encryption"},
		Nested:       "Encryption",
		NestedFields: encryptionFields,
	}
	eidResultSchema = contracts.KeySchema{
		Fields: []string{"EidToken", "InfoType", "BestFramesCount", "IsCutIdCardImage", "IsNeedIdCardAvatar"},
	}
	wxNFCResultSchema = contracts.KeySchema{Fields: []string{"NFCToken"}}
	emptySchema       = contracts.KeySchema{}
	encryptionFields  = []string{"EncryptList", "CiphertextBlob", "Iv", "Algorithm", "TagList"}
)

// decodeBody reads a session action's body into v with DecodeCheckRequest's
// rules (one JSON object, no key repeated, member names exact in case) and
// refuses an absent, null or empty required member with MissingParameter.
// Messages name members, never values.
func decodeBody(body []byte, v any, schema *contracts.KeySchema, required ...string) *Error {
	body, e := decodeObject(body, v, schema)
	if e != nil {
		return e
	}
	return missingMember(body, true, required)
}

// decodeObject reads body, one JSON object, into v: no key repeated,
// member names exact in case, the wrong type refused naming the member.
// It returns body trimmed of surrounding whitespace.
func decodeObject(body []byte, v any, schema *contracts.KeySchema) ([]byte, *Error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, &Error{Code: CodeInvalidParameter, Message: "The request body must be a JSON object."}
	}
	err := json.Unmarshal(body, v)
	var te *json.UnmarshalTypeError
	typeErr := errors.As(err, &te) && te.Field != ""
	if err != nil && !typeErr {
		return nil, &Error{Code: CodeInvalidParameter, Message: "The request body is not valid JSON."}
	}
	if err := contracts.CheckKeys(body, schema); err != nil {
		return nil, &Error{Code: CodeInvalidParameter, Message: err.Error()}
	}
	if typeErr {
		return nil, &Error{Code: CodeInvalidParameter, Message: fmt.Sprintf("The parameter `%s` has the wrong type.", te.Field)}
	}
	return body, nil
}

// missingMember refuses, with MissingParameter, the first of required that
// body (a JSON object decodeObject accepted) lacks or has null, or has
// empty when emptyIsMissing.
func missingMember(body []byte, emptyIsMissing bool, required []string) *Error {
	if len(required) == 0 {
		return nil
	}
	var present map[string]json.RawMessage
	_ = json.Unmarshal(body, &present) // valid JSON object, checked by decodeObject
	for _, name := range required {
		v, ok := present[name]
		if !ok || string(v) == "null" || emptyIsMissing && string(v) == `""` {
			return missing(name)
		}
	}
	return nil
}

func missing(name string) *Error {
	return &Error{Code: CodeMissingParameter, Message: "The request is missing a required parameter `" + name + "`."}
}

// checkEncryption refuses an encryption object without its required
// members, as DecodeCheckRequest does.
func checkEncryption(e *Encryption) *Error {
	switch {
	case e == nil:
		return nil
	case len(e.EncryptList) == 0:
		return missing("Encryption.EncryptList")
	case e.CiphertextBlob == "":
		return missing("Encryption.CiphertextBlob")
	case e.Iv == "":
		return missing("Encryption.Iv")
	}
	return nil
}

// checkInfoType refuses an InfoType that is not digits 0 to 6.
func checkInfoType(s string) *Error {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '6' {
			return &Error{Code: CodeInvalidParameterVal, Message: "The parameter `InfoType` must be digits 0 to 6."}
		}
	}
	return nil
}

// DecodeDetectAuthRequest reads DetectAuth's body; RuleId is required.
func DecodeDetectAuthRequest(body []byte) (DetectAuthRequest, *Error) {
	var r DetectAuthRequest
	if e := decodeBody(body, &r, &detectAuthSchema, "RuleId"); e != nil {
		return DetectAuthRequest{}, e
	}
	if e := checkEncryption(r.Encryption); e != nil {
		return DetectAuthRequest{}, e
	}
	return r, nil
}

// DecodeGetDetectInfoEnhancedRequest reads GetDetectInfoEnhanced's body;
// BizToken and RuleId are required. Encrypting the answer (Encryption,
// IsEncryptResponse) is refused with UnsupportedOperation: the answer
// would otherwise carry in clear what the client asked to be sealed.
func DecodeGetDetectInfoEnhancedRequest(body []byte) (GetDetectInfoEnhancedRequest, *Error) {
	var r GetDetectInfoEnhancedRequest
	if e := decodeBody(body, &r, &detectInfoSchema, "BizToken", "RuleId"); e != nil {
		return GetDetectInfoEnhancedRequest{}, e
	}
	if e := checkInfoType(r.InfoType); e != nil {
		return GetDetectInfoEnhancedRequest{}, e
	}
	if r.Encryption != nil || r.IsEncryptResponse || r.IsEncrypt {
		return GetDetectInfoEnhancedRequest{}, &Error{Code: CodeUnsupportedOperation, Message: "Encrypting the result is not supported."}
	}
	return r, nil
}

// DecodeGetEidTokenRequest reads GetEidToken's body; MerchantId is
// required.
func DecodeGetEidTokenRequest(body []byte) (GetEidTokenRequest, *Error) {
	var r GetEidTokenRequest
	if e := decodeBody(body, &r, &eidTokenSchema, "MerchantId"); e != nil {
		return GetEidTokenRequest{}, e
	}
	if e := checkEncryption(r.Encryption); e != nil {
		return GetEidTokenRequest{}, e
	}
	return r, nil
}

// DecodeGetEidResultRequest reads GetEidResult's body; EidToken is
// required.
func DecodeGetEidResultRequest(body []byte) (GetEidResultRequest, *Error) {
	var r GetEidResultRequest
	if e := decodeBody(body, &r, &eidResultSchema, "EidToken"); e != nil {
		return GetEidResultRequest{}, e
	}
	if e := checkInfoType(r.InfoType); e != nil {
		return GetEidResultRequest{}, e
	}
	return r, nil
}

// DecodeGetNFCTokenRequest checks GetNFCToken's body, which has no
// members: empty, null or a JSON object (its members are ignored).
func DecodeGetNFCTokenRequest(body []byte) *Error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || string(body) == "null" {
		return nil
	}
	var v map[string]json.RawMessage
	return decodeBody(body, &v, &emptySchema)
}

// DecodeGetWxNFCResultRequest reads GetWxNFCResult's body; NFCToken is
// required.
func DecodeGetWxNFCResultRequest(body []byte) (GetWxNFCResultRequest, *Error) {
	var r GetWxNFCResultRequest
	if e := decodeBody(body, &r, &wxNFCResultSchema, "NFCToken"); e != nil {
		return GetWxNFCResultRequest{}, e
	}
	return r, nil
}

// sessionCreate is the aggregator's create of a flow; Extra becomes the
// reference (InvalidParameterValue above MaxExtra bytes). The session
// contract has no sealed identity: the receiver opens an Encryption object
// before (both programs do, with the check routes' keys), and one still
// here is refused with UnsupportedOperation rather than forwarded as
// ciphertext.
func sessionCreate(flow contracts.SessionFlow, name, idCard, extra string, enc *Encryption) (contracts.CreateSessionRequest, *Error) {
	if enc != nil {
		return contracts.CreateSessionRequest{}, &Error{Code: CodeUnsupportedOperation, Message: "Encrypted identities are not supported for verification sessions."}
	}
	if len(extra) > MaxExtra {
		return contracts.CreateSessionRequest{}, &Error{Code: CodeInvalidParameterVal, Message: "The parameter `Extra` must be at most " + strconv.Itoa(MaxExtra) + " bytes."}
	}
	// The expected identity is checked here, before anything is created
	// or forwarded: a well-formed body with a value that cannot be is
	// InvalidParameterValue.
	if (name == "") != (idCard == "") {
		return contracts.CreateSessionRequest{}, &Error{Code: CodeInvalidParameterVal, Message: "Name and IdCard must be given together."}
	}
	if idCard != "" {
		if _, err := idcard.Parse(idCard); err != nil {
			return contracts.CreateSessionRequest{}, &Error{Code: CodeInvalidParameterVal, Message: "IdCard: " + err.Error()}
		}
		if err := idcard.ValidateName(name); err != nil {
			return contracts.CreateSessionRequest{}, &Error{Code: CodeInvalidParameterVal, Message: "Name: " + err.Error()}
		}
	}
	return contracts.CreateSessionRequest{Flow: flow, Name: name, IDCard: idCard, Reference: extra}, nil
}

// Contract is the aggregator's create of DetectAuth: flow nfc. RuleId,
// RedirectUrl, TerminalType and ImageBase64 have no aggregator equivalent
// and are not forwarded.
func (r *DetectAuthRequest) Contract() (contracts.CreateSessionRequest, *Error) {
	return sessionCreate(contracts.FlowNFC, r.Name, r.IdCard, r.Extra, r.Encryption)
}

// Contract is the aggregator's create of GetEidToken: flow app_auth.
func (r *GetEidTokenRequest) Contract() (contracts.CreateSessionRequest, *Error) {
	return sessionCreate(contracts.FlowAppAuth, r.Name, r.IdCard, r.Extra, r.Encryption)
}

// NFCTokenContract is the aggregator's create of GetNFCToken: a card read
// and nothing more (flow nfc_read).
func NFCTokenContract() contracts.CreateSessionRequest {
	return contracts.CreateSessionRequest{Flow: contracts.FlowNFCRead}
}

// DetectAuthAnswer is DetectAuth's answer of a created session.
func DetectAuthAnswer(s *contracts.Session) DetectAuthResponse {
	return DetectAuthResponse{Url: s.QRURL, BizToken: s.RequestID}
}

// EidTokenAnswer is GetEidToken's answer of a created session.
func EidTokenAnswer(s *contracts.Session) GetEidTokenResponse {
	return GetEidTokenResponse{EidToken: s.RequestID, Url: s.QRURL}
}

// NFCTokenAnswer is GetNFCToken's answer of a created session.
func NFCTokenAnswer(s *contracts.Session) GetNFCTokenResponse {
	return GetNFCTokenResponse{Token: s.RequestID}
}

// SessionRead is the aggregator's answer to a session's result read (GET
// contracts.SessionResultPathTmpl), from which the result actions answer.
type SessionRead struct {
	// Status is the read's HTTP status: 200 with Result, 409 while the
	// flow is not finished, 404 for an unknown request ID, 410 once it
	// expired; anything else is an error of the read itself.
	Status int
	Result *contracts.SessionResult
	// Code and Message are the error body's, for a status other than 200.
	Code    contracts.ErrorCode
	Message string
}

// ParseSessionRead reads a result read's status and body.
func ParseSessionRead(status int, body []byte) (SessionRead, error) {
	r := SessionRead{Status: status}
	if status == http.StatusOK {
		var res contracts.SessionResult
		if err := json.Unmarshal(body, &res); err != nil {
			return SessionRead{}, fmt.Errorf("tencent: session result: %w", err)
		}
		r.Result = &res
		return r, nil
	}
	var e contracts.SessionErrorBody
	if err := json.Unmarshal(body, &e); err != nil {
		return SessionRead{}, fmt.Errorf("tencent: session error: %w", err)
	}
	r.Code, r.Message = e.Error.Code, e.Error.Message
	return r, nil
}

// pending reports whether the flow has not finished yet.
func (r *SessionRead) pending() bool {
	return r.Status == http.StatusConflict && (r.Code == contracts.ErrFlowNotFinished || r.Code == "")
}

// failure is the API error of a read that has neither a result nor a
// pending flow: unknown token BizTokenIllegal, expired BizTokenExpired,
// the rest by FromContract. A result of another flow than the action's
// is an unknown token for that action.
func (r *SessionRead) failure(flow contracts.SessionFlow) *Error {
	switch {
	case r.Status == http.StatusOK && r.Result != nil:
		if r.Result.Flow != flow && !(flow == contracts.FlowNFC && r.Result.Flow == "") {
			return &Error{Code: CodeBizTokenIllegal, Message: "The token does not belong to this action's verification flow."}
		}
		return nil
	case r.Status == http.StatusOK:
		return &Error{Code: CodeInternalError, Message: "The verification result is unreadable."}
	case r.Status == http.StatusNotFound:
		return &Error{Code: CodeBizTokenIllegal, Message: "The token is unknown."}
	case r.Status == http.StatusGone:
		return &Error{Code: CodeBizTokenExpired, Message: "The token has expired."}
	}
	return FromContract(r.Code, r.Message)
}

func intp(v int) *int { return &v }

// notFinished is the Text of a session whose flow has not finished.
func notFinished() *DetectInfoText {
	return &DetectInfoText{ErrCode: intp(int(contracts.CodeNotFinished)), ErrMsg: contracts.CodeNotFinished.Message()}
}

// infoParts says which parts of a result InfoType asks for.
type infoParts struct{ text, card, frames, video bool }

func parts(infoType string) infoParts {
	if infoType == "" || strings.Contains(infoType, "0") {
		return infoParts{true, true, true, true}
	}
	return infoParts{
		text: strings.Contains(infoType, "1"), card: strings.Contains(infoType, "2"),
		frames: strings.Contains(infoType, "3"), video: strings.Contains(infoType, "4"),
	}
}

// DetectInfo is GetDetectInfoEnhanced's answer of a read of an nfc
// session: the flow's code in Text.ErrCode (17 while unfinished), the
// card as read in the Ocr fields, the liveness and the face comparison.
func (r *SessionRead) DetectInfo(req *GetDetectInfoEnhancedRequest) (GetDetectInfoEnhancedResponse, *Error) {
	p := parts(req.InfoType)
	if r.pending() {
		var out GetDetectInfoEnhancedResponse
		if p.text {
			out.Text = notFinished()
		}
		return out, nil
	}
	if e := r.failure(contracts.FlowNFC); e != nil {
		return GetDetectInfoEnhancedResponse{}, e
	}
	var out GetDetectInfoEnhancedResponse
	if p.text {
		out.Text = resultText(r.Result, true)
	}
	if p.card {
		out.IdCardData = cardData(r.Result, req.IsNeedIdCardAvatar)
	}
	return out, nil
}

// EidResult is GetEidResult's answer of a read of an app_auth session.
func (r *SessionRead) EidResult(req *GetEidResultRequest) (GetEidResultResponse, *Error) {
	p := parts(req.InfoType)
	if r.pending() {
		var out GetEidResultResponse
		if p.text {
			out.Text = notFinished()
		}
		return out, nil
	}
	if e := r.failure(contracts.FlowAppAuth); e != nil {
		return GetEidResultResponse{}, e
	}
	var out GetEidResultResponse
	if p.text {
		out.Text = resultText(r.Result, false)
	}
	if p.card {
		out.IdCardData = cardData(r.Result, req.IsNeedIdCardAvatar)
	}
	return out, nil
}

// WxNFCResult is GetWxNFCResult's answer of a read of an nfc_read session:
// ResultCode "0" with the chip's text file when the card was read, "-1"
// when the read failed. Until the phone has read the card (or given up)
// there is no result: FailedOperation.UnKnown saying so, since a "-1"
// would read as a failed read.
func (r *SessionRead) WxNFCResult() (GetWxNFCResultResponse, *Error) {
	if r.pending() {
		return GetWxNFCResultResponse{}, &Error{Code: CodeFailedOperationUnknown, Message: "The ID card has not been read yet: poll again after the phone's NFC read."}
	}
	if e := r.failure(contracts.FlowNFCRead); e != nil {
		return GetWxNFCResultResponse{}, e
	}
	res := r.Result
	c := res.Card
	if res.Decision != contracts.StateApproved || c == nil {
		return GetWxNFCResultResponse{ResultCode: NFCReadFailed}, nil
	}
	return GetWxNFCResultResponse{
		ResultCode: NFCReadOK, IdNum: c.IDCard, Name: c.Name, Picture: c.PhotoPNG, BirthDate: c.BirthDate,
		BeginTime: c.ValidityBegin, EndTime: validityEnd(c.ValidityEnd, asIs), Address: c.Address,
		Nation: c.Ethnicity, Sex: c.Gender, IdType: IDTypeResidentCard, SigningOrganization: c.IssuingAuthority,
	}, nil
}

// longTerm is how FaceID writes the end of a long-term card's validity.
const longTerm = "长期"

// validityEnd is the end of a card's validity as FaceID writes it: 长期
// for the chip's 00000000 (long-term), otherwise format(v).
func validityEnd(v string, format func(string) string) string {
	if v == "00000000" {
		return longTerm
	}
	return format(v)
}

func asIs(d string) string { return d }

// dotDate writes YYYYMMDD as YYYY.MM.DD (other input unchanged).
func dotDate(d string) string {
	if len(d) != 8 {
		return d
	}
	return d[:4] + "." + d[4:6] + "." + d[6:]
}

// slashDate writes YYYYMMDD as YYYY/M/D (other input unchanged).
func slashDate(d string) string {
	if len(d) != 8 {
		return d
	}
	m, err1 := strconv.Atoi(d[4:6])
	day, err2 := strconv.Atoi(d[6:])
	if err1 != nil || err2 != nil {
		return d
	}
	return d[:4] + "/" + strconv.Itoa(m) + "/" + strconv.Itoa(day)
}

// livenessModes numbers the aggregator's liveness modes as FaceID does.
var livenessModes = map[string]int{"lip": 1, "action": 2, "silent": 3, "flash": 4, "near_far": 5}

// resultText is the Text of a finished session. withIdentity: the
// verified name and ID number are in clear (GetDetectInfoEnhanced); eID
// answers leave them out (FaceID seals them in EidInfo).
func resultText(res *contracts.SessionResult, withIdentity bool) *DetectInfoText {
	t := &DetectInfoText{ErrCode: intp(int(res.Code)), ErrMsg: res.Message, Extra: res.Reference}
	if t.ErrMsg == "" {
		t.ErrMsg = res.Code.Message()
	}
	if c := res.Card; c != nil && withIdentity {
		t.IdCard, t.Name = c.IDCard, c.Name
		t.OcrIdCard, t.OcrName, t.OcrGender, t.OcrNation = c.IDCard, c.Name, c.Gender, c.Ethnicity
		t.OcrAddress, t.OcrAuthority, t.OcrBirth = c.Address, c.IssuingAuthority, slashDate(c.BirthDate)
		t.OcrValidDate = dotDate(c.ValidityBegin) + "-" + validityEnd(c.ValidityEnd, dotDate)
		t.IdInfoFrom = "NFC"
	}
	if l := res.Liveness; l != nil {
		t.LiveStatus, t.LiveMsg = intp(int(l.Code)), l.Message
		t.LivenessMode = intp(livenessModes[l.Mode])
	}
	compare := contracts.SessionCode(-1)
	if info, ok := contracts.LookupSessionCode(res.Code); ok && info.Stage == contracts.StageReview {
		compare = res.Code
	}
	if s := res.FaceSimilarity; s != nil {
		t.Sim = strconv.FormatFloat(*s, 'f', 2, 64)
		if compare < 0 {
			compare = contracts.CodeOK
			if *s < 70 {
				compare = contracts.CodeSimilarityLow
			}
		}
	}
	if compare >= 0 {
		t.Comparestatus, t.Comparemsg = intp(int(compare)), compare.Message()
		t.CompareLibType = "权威库"
	}
	return t
}

// cardData is the IdCardData of a result: the chip's portrait as Avatar
// when asked for; null without a card.
func cardData(res *contracts.SessionResult, avatar bool) *DetectInfoIdCardData {
	if res.Card == nil {
		return nil
	}
	d := &DetectInfoIdCardData{}
	if avatar {
		d.Avatar = res.Card.PhotoPNG
	}
	return d
}
