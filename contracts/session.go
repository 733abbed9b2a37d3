package contracts

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The verification-session API: a tenant creates a
// session, shows its QR code to the user, and the user's phone reads the ID
// card over NFC, confirms it, passes liveness, and waits for review. The
// tenant polls the status or receives signed webhooks, then fetches the
// result. Plain JSON over HTTP with bearer auth, so the gateway can route it
// exactly like the check API.

// Tenant-facing paths. Fiber and OpenAPI spell parameters differently; the
// *Route constants are Fiber's.
const (
	SessionsPath            = "/identity/sessions"
	SessionRoute            = SessionsPath + "/:request_id"
	SessionResultRoute      = SessionRoute + "/result"
	SessionQRRoute          = SessionRoute + "/qr"
	SessionPathTemplate     = SessionsPath + "/{request_id}"
	SessionResultPathTmpl   = SessionPathTemplate + "/result"
	SessionQRPathTmpl       = SessionPathTemplate + "/qr"
	SessionDefaultTTL       = 10 * time.Minute
	SessionDefaultRetention = 72 * time.Hour
	SessionDefaultReview    = 15 * time.Minute
)

// SessionPath is the status URL path of one session.
func SessionPath(requestID string) string { return SessionsPath + "/" + requestID }

// SessionFlow is how the user proves their identity.
type SessionFlow string

const (
	// FlowNFC: the phone reads the ID card chip, then liveness and review.
	FlowNFC SessionFlow = "nfc"
	// FlowAppAuth: an app that already knows the user authorises the
	// release of its real-name data by scanning the QR code.
	FlowAppAuth SessionFlow = "app_auth"
	// FlowNFCRead: the phone reads the ID card chip and nothing more (no
	// liveness, no review): approved when the read succeeds, failed with
	// the NFC code otherwise. A successful read is billed.
	FlowNFCRead SessionFlow = "nfc_read"
)

// SessionState is where a session stands. The happy NFC path is
// created → scanned → card_read → confirmed → liveness_passed →
// under_review → approved; the app-authorisation flow goes
// created → scanned → approved. rejected, expired and failed end a session
// with a code.
type SessionState string

const (
	StateCreated        SessionState = "created"
	StateScanned        SessionState = "scanned"
	StateCardRead       SessionState = "card_read"
	StateConfirmed      SessionState = "confirmed"
	StateLivenessPassed SessionState = "liveness_passed"
	StateUnderReview    SessionState = "under_review"
	StateApproved       SessionState = "approved"
	StateRejected       SessionState = "rejected"
	StateExpired        SessionState = "expired"
	StateFailed         SessionState = "failed"
)

// SessionStates lists every state in flow order.
var SessionStates = []SessionState{
	StateCreated, StateScanned, StateCardRead, StateConfirmed, StateLivenessPassed,
	StateUnderReview, StateApproved, StateRejected, StateExpired, StateFailed,
}

// Final reports whether nothing can happen to the session any more.
// expired is not final: the tenant may regenerate its QR code.
func (s SessionState) Final() bool {
	return s == StateApproved || s == StateRejected || s == StateFailed
}

// Completed reports whether the session went all the way through review
// (approved or rejected): the outcomes that are billed, once.
func (s SessionState) Completed() bool { return s == StateApproved || s == StateRejected }

// SessionCode is the authority's numeric code for how a session step ended
// (0 = pass). Numbers come from the authority's eID, NFC SDK and face-flow
// documentation.
type SessionCode int

// Session-level codes (face flow).
const (
	CodeOK              SessionCode = 0
	CodeAlreadyComplete SessionCode = 14 // the session was already completed
	CodeTokenExpired    SessionCode = 15 // the session (token) expired
	CodeRetryLimit      SessionCode = 16 // too many failed attempts
	CodeNotFinished     SessionCode = 17 // the flow has not finished yet
	CodeCardMismatch    SessionCode = 301
	CodeCardExpired     SessionCode = 302
	CodeScanFailed      SessionCode = 303
)

// NFC terminal failures (GA/T 490 readers on phones).
const (
	CodeNFCUnsupported  SessionCode = 600100
	CodeNFCUserQuit     SessionCode = 600101
	CodeNFCBadParams    SessionCode = 600102
	CodeNFCTimeout      SessionCode = 600103
	CodeNFCNetwork      SessionCode = 600104
	CodeNFCNetwork2     SessionCode = 600105
	CodeNFCInitFailed   SessionCode = 600106
	CodeNFCCardMoved    SessionCode = 66664020
	CodeNFCTypeBUnsupp  SessionCode = 66664021
	CodeNFCFault        SessionCode = 66664023
	CodeNFCWrongCard    SessionCode = 66664024
	CodeNFCNoNFC        SessionCode = 66664025
	CodeNFCCardMoved2   SessionCode = 66664026
	CodeLivenessFailed  SessionCode = 1001
	CodeLivenessFake    SessionCode = 1002
	CodeLivenessMask    SessionCode = 1003
	CodeLivenessFaces   SessionCode = 1004
	CodeLivenessShort   SessionCode = 1005
	CodeLivenessVoice   SessionCode = 1006
	CodeLivenessOcclude SessionCode = 1007
	CodeLivenessSimLow  SessionCode = 1008
	CodeNoRecord        SessionCode = 2005
	CodeNameIDMismatch  SessionCode = 2006
	CodeSimilarityLow   SessionCode = 2016
	// The app-authorisation refusals have no published number;
	// these two are the simulator's own and documented as such.
	CodeAppNotVerified   SessionCode = 7001
	CodeAppVerifiedOther SessionCode = 7002
)

// CodeStage says which step of the flow a code belongs to.
type CodeStage string

const (
	StageSession  CodeStage = "session"
	StageNFC      CodeStage = "nfc"
	StageLiveness CodeStage = "liveness"
	StageReview   CodeStage = "review"
	StageAppAuth  CodeStage = "app_auth"
)

// SessionCodeInfo describes one code.
type SessionCodeInfo struct {
	Code    SessionCode
	Stage   CodeStage
	Message string
	Billing Billing
	// Retryable failures leave the session where it was: the phone may try
	// the step again until the attempt limit (then code 16). The others end
	// the session.
	Retryable bool
}

// SessionCodes lists every code. Billing: a completed session (approved, or
// rejected by review) is billed once; 2006 and 2016 are billed rejections,
// 2005 is not billed; nothing else is.
var SessionCodes = []SessionCodeInfo{
	{CodeOK, StageSession, "Verification passed", Billed, false},
	{CodeAlreadyComplete, StageSession, "This verification session is already completed", NotBilled, false},
	{CodeTokenExpired, StageSession, "This verification session has expired, generate a new QR code", NotBilled, false},
	{CodeRetryLimit, StageSession, "Too many failed attempts, start a new verification", NotBilled, false},
	{CodeNotFinished, StageSession, "The verification flow has not finished yet", NotBilled, false},
	{CodeCardMismatch, StageNFC, "The ID number on the card differs from the one requested", NotBilled, false},
	{CodeCardExpired, StageNFC, "The ID card has expired", NotBilled, false},
	{CodeScanFailed, StageNFC, "Reading the ID card failed, try again", NotBilled, true},
	{CodeNFCUnsupported, StageNFC, "This device does not support reading ID cards over NFC", NotBilled, false},
	{CodeNFCUserQuit, StageNFC, "The user quit the card read", NotBilled, false},
	{CodeNFCBadParams, StageNFC, "Bad parameters for the card read", NotBilled, false},
	{CodeNFCTimeout, StageNFC, "The card read timed out, hold the card still and try again", NotBilled, true},
	{CodeNFCNetwork, StageNFC, "Network error while decoding the card, try again", NotBilled, true},
	{CodeNFCNetwork2, StageNFC, "Network error while contacting the decoding service, try again", NotBilled, true},
	{CodeNFCInitFailed, StageNFC, "The card reader failed to initialise", NotBilled, false},
	{CodeNFCCardMoved, StageNFC, "The card moved during the read, hold it still and try again", NotBilled, true},
	{CodeNFCTypeBUnsupp, StageNFC, "This device does not support NFC Type B cards", NotBilled, false},
	{CodeNFCFault, StageNFC, "NFC fault, try again", NotBilled, true},
	{CodeNFCWrongCard, StageNFC, "This is not a resident identity card", NotBilled, false},
	{CodeNFCNoNFC, StageNFC, "NFC is switched off or missing on this device", NotBilled, false},
	{CodeNFCCardMoved2, StageNFC, "The card was removed during the read, hold it still and try again", NotBilled, true},
	{CodeLivenessFailed, StageLiveness, "Liveness detection failed, try again", NotBilled, true},
	{CodeLivenessFake, StageLiveness, "Suspected fake: reshot photo or screen, try again", NotBilled, true},
	{CodeLivenessMask, StageLiveness, "Suspected attack: mask or 3D model, try again", NotBilled, true},
	{CodeLivenessFaces, StageLiveness, "More than one face in view, try again alone", NotBilled, true},
	{CodeLivenessShort, StageLiveness, "The video is too short (under 2 seconds), try again", NotBilled, true},
	{CodeLivenessVoice, StageLiveness, "The voice is too low, read the digits aloud and try again", NotBilled, true},
	{CodeLivenessOcclude, StageLiveness, "Eyes or mouth occluded, uncover the face and try again", NotBilled, true},
	{CodeLivenessSimLow, StageLiveness, "The face does not match the card photo (similarity below 70)", NotBilled, true},
	{CodeNoRecord, StageReview, "No record of this identity in the authoritative database", NotBilled, false},
	{CodeNameIDMismatch, StageReview, "Name and ID number are inconsistent", Billed, false},
	{CodeSimilarityLow, StageReview, "Face similarity with the authoritative portrait is below the threshold (70)", Billed, false},
	{CodeAppNotVerified, StageAppAuth, "This account has not completed real-name verification", NotBilled, false},
	{CodeAppVerifiedOther, StageAppAuth, "This account has already verified another account", NotBilled, false},
}

var sessionCodeIndex = func() map[SessionCode]SessionCodeInfo {
	m := make(map[SessionCode]SessionCodeInfo, len(SessionCodes))
	for _, c := range SessionCodes {
		m[c.Code] = c
	}
	return m
}()

// LookupSessionCode returns the description of a code.
func LookupSessionCode(c SessionCode) (SessionCodeInfo, bool) {
	i, ok := sessionCodeIndex[c]
	return i, ok
}

// Message is the code's documented message ("" for an unknown code).
func (c SessionCode) Message() string { return sessionCodeIndex[c].Message }

// Errors of the session API. They share ErrorBody's shape; SessionErrorBody
// adds the authority's numeric code where one exists.
const (
	ErrSessionNotFound  ErrorCode = "session_not_found" // 404: unknown request ID (or another tenant's, or swept)
	ErrSessionExpired   ErrorCode = "session_expired"   // 410, code 15
	ErrSessionCompleted ErrorCode = "session_completed" // 409, code 14: replay of a finished session
	ErrStepOutOfOrder   ErrorCode = "step_out_of_order" // 409
	ErrQRAlreadyUsed    ErrorCode = "qr_already_used"   // 409: second scan of a used QR code
	ErrFlowNotFinished  ErrorCode = "flow_not_finished" // 409, code 17: result asked too early
	ErrSessionCapacity  ErrorCode = "too_many_sessions" // 429: the store is full
)

// SessionErrors lists the session API's own errors. The check API's
// token_mismatched, invalid_token and api_error apply too.
var SessionErrors = []ErrorInfo{
	{ErrSessionNotFound, http.StatusNotFound, "Unknown request ID", true},
	{ErrSessionExpired, http.StatusGone, "This verification session has expired, generate a new QR code", true},
	{ErrSessionCompleted, http.StatusConflict, "This verification session is already completed", true},
	{ErrStepOutOfOrder, http.StatusConflict, "This step is not allowed in the session's current state", true},
	{ErrQRAlreadyUsed, http.StatusConflict, "This QR code was already scanned", true},
	{ErrFlowNotFinished, http.StatusConflict, "The verification flow has not finished yet", true},
	{ErrSessionCapacity, http.StatusTooManyRequests, "Too many open verification sessions, try again later", false},
}

// SessionErrorCodes maps session errors to the authority's numeric code.
var SessionErrorCodes = map[ErrorCode]SessionCode{
	ErrSessionExpired:   CodeTokenExpired,
	ErrSessionCompleted: CodeAlreadyComplete,
	ErrFlowNotFinished:  CodeNotFinished,
}

// LookupSessionError returns a session error's status and message.
func LookupSessionError(c ErrorCode) (ErrorInfo, bool) {
	for _, e := range SessionErrors {
		if e.Code == c {
			return e, true
		}
	}
	return LookupError(c)
}

// SessionErrorBody is ErrorBody plus the numeric code; clients that only
// know ErrorBody read it unchanged.
type SessionErrorBody struct {
	Success bool               `json:"success"`
	Error   SessionErrorDetail `json:"error"`
	TraceID string             `json:"trace_id"`
}

// SessionErrorDetail names a session error.
type SessionErrorDetail struct {
	Code        ErrorCode   `json:"code"`
	Message     string      `json:"message"`
	SessionCode SessionCode `json:"session_code,omitempty"`
}

// NewSessionError builds an error body; an empty message takes the default.
func NewSessionError(code ErrorCode, message, traceID string) SessionErrorBody {
	e, _ := LookupSessionError(code)
	if message == "" {
		message = e.Message
	}
	return SessionErrorBody{Error: SessionErrorDetail{Code: code, Message: message, SessionCode: SessionErrorCodes[code]}, TraceID: traceID}
}

// CreateSessionRequest is the body of POST SessionsPath. Every field is
// optional: with name and id_card the card read must match them (301
// otherwise); callback_url receives a webhook on every state change.
type CreateSessionRequest struct {
	Flow        SessionFlow `json:"flow,omitempty"`
	Name        string      `json:"name,omitempty"`
	IDCard      string      `json:"id_card,omitempty"`
	CallbackURL string      `json:"callback_url,omitempty"`
	// Reference is the tenant's own correlation ID, echoed back.
	Reference string `json:"reference,omitempty"`
}

// Session is the status of a session, as created and as polled.
type Session struct {
	RequestID string       `json:"request_id"`
	Flow      SessionFlow  `json:"flow"`
	State     SessionState `json:"state"`
	// Version grows by one on every state change; webhooks carry it so a
	// receiver can drop out-of-order deliveries.
	Version   int64  `json:"version"`
	Reference string `json:"reference,omitempty"`
	QRURL     string `json:"qr_url"`
	// QRPNG is the QR code as a base64 PNG, only in the answers of create
	// and regenerate (fetch it again from the qr path).
	QRPNG     string    `json:"qr_png,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Attempts is the number of failed NFC or liveness attempts so far.
	Attempts int `json:"attempts"`
	// Error is the last failure: final for failed, rejected and expired;
	// for a retryable failure the state stays where it was.
	Error *SessionFailure `json:"error,omitempty"`
}

// SessionFailure is a code with its message.
type SessionFailure struct {
	Code    SessionCode `json:"code"`
	Message string      `json:"message"`
}

// Failure builds the failure of a code with its documented message.
func Failure(c SessionCode) *SessionFailure {
	return &SessionFailure{Code: c, Message: c.Message()}
}

// SessionResult is GET SessionResultPathTmpl: what the card said, what the
// liveness check saw and what the review decided.
type SessionResult struct {
	RequestID string       `json:"request_id"`
	Flow      SessionFlow  `json:"flow"`
	State     SessionState `json:"state"`
	Decision  SessionState `json:"decision"` // approved, rejected or failed
	Code      SessionCode  `json:"code"`
	Message   string       `json:"message"`
	Billing   Billing      `json:"billing"`
	// Reference is the tenant's correlation ID given at create, echoed.
	Reference string          `json:"reference,omitempty"`
	Card      *CardData       `json:"card,omitempty"`
	Liveness  *LivenessResult `json:"liveness,omitempty"`
	// FaceSimilarity (0-100) of the liveness face against the card photo;
	// FaceThreshold (70) passes.
	FaceSimilarity *float64  `json:"face_similarity,omitempty"`
	CompletedAt    time.Time `json:"completed_at"`
	// AvailableUntil: the result is swept after this instant.
	AvailableUntil time.Time `json:"available_until"`
}

// CardData is the chip's text file (GA/T 490) plus the portrait.
type CardData struct {
	Name             string `json:"name"`
	Gender           string `json:"gender"`      // 男 / 女
	GenderCode       string `json:"gender_code"` // GB/T 2261.1: 1 male, 2 female
	Ethnicity        string `json:"ethnicity"`
	EthnicityCode    string `json:"ethnicity_code"` // GB/T 3304, two digits
	BirthDate        string `json:"birth_date"`     // YYYYMMDD
	Address          string `json:"address"`
	IDCard           string `json:"id_card"`
	IssuingAuthority string `json:"issuing_authority"`
	ValidityBegin    string `json:"validity_begin"` // YYYYMMDD
	ValidityEnd      string `json:"validity_end"`   // YYYYMMDD or 00000000 (long-term)
	// PhotoPNG is a placeholder portrait, base64 PNG: phones cannot decode
	// the chip's WLT photo and the simulator has no faces.
	PhotoPNG string `json:"photo_png,omitempty"`
}

// LivenessResult is the outcome of the last liveness attempt.
type LivenessResult struct {
	Mode    string      `json:"mode"`
	Passed  bool        `json:"passed"`
	Score   float64     `json:"score"` // liveness confidence 0-100
	Code    SessionCode `json:"code"`
	Message string      `json:"message"`
}

// SessionEvent is the body of a webhook: one state change.
type SessionEvent struct {
	ID         string          `json:"id"` // unique per event; dedupe retries on it
	Type       string          `json:"type"`
	RequestID  string          `json:"request_id"`
	Reference  string          `json:"reference,omitempty"`
	State      SessionState    `json:"state"`
	Previous   SessionState    `json:"previous"`
	Version    int64           `json:"version"`
	Error      *SessionFailure `json:"error,omitempty"`
	OccurredAt time.Time       `json:"occurred_at"`
}

// SessionEventType is the type of every state-change event.
const SessionEventType = "session.state_changed"

// Webhook signature headers: the signature is hex HMAC-SHA256 over
// timestamp + "." + body with the shared webhook secret, prefixed "v1=".
const (
	WebhookTimestampHeader = "X-Idgate-Timestamp"
	WebhookSignatureHeader = "X-Idgate-Signature"
	WebhookEventHeader     = "X-Idgate-Event-Id"
)

// SignWebhook returns the signature header value for body sent at ts.
func SignWebhook(secret []byte, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	return timestamp, "v1=" + hex.EncodeToString(webhookMAC(secret, timestamp, body))
}

func webhookMAC(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Webhook verification failures.
var (
	ErrWebhookSignature = errors.New("webhook: signature mismatch")
	ErrWebhookStale     = errors.New("webhook: timestamp outside tolerance")
)

// VerifyWebhook checks a delivery's headers against its body. tolerance
// bounds the clock skew and replay window (5 minutes is customary).
func VerifyWebhook(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrWebhookStale
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrWebhookStale
	}
	hexSig, ok := strings.CutPrefix(signature, "v1=")
	if !ok {
		return ErrWebhookSignature
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || !hmac.Equal(got, webhookMAC(secret, timestamp, body)) {
		return ErrWebhookSignature
	}
	return nil
}

// SessionMagic is an expected ID number that forces one path through a
// session, like the check API's magic identities. They share the division
// 110101 and the birth date 1922-02-22; the sequence picks the path. Prefer
// is the outcome selection it stands for, in the Prefer header's grammar.
type SessionMagic struct {
	IDCard  string
	Name    string
	Outcome string
	Prefer  string
}

// SessionMagics is the table the README documents; the numbers carry valid
// check characters (see TestSessionMagicsAreValid).
var SessionMagics = []SessionMagic{
	{"110101192202220017", "测试会话通过", "approved after review", "review=approved"},
	{"110101192202220113", "测试会话不一致", "rejected by review, 2006 name/ID mismatch (billed)", "review=2006"},
	{"11010119220222021X", "测试会话低分", "rejected by review, 2016 similarity below 70 (billed)", "review=2016"},
	{"110101192202220316", "测试会话无记录", "rejected by review, 2005 no record (not billed)", "review=2005"},
	{"110101192202220412", "测试会话换卡", "NFC read returns another card: failed 301", "nfc=301"},
	{"110101192202220519", "测试会话过期卡", "NFC read returns an expired card: failed 302", "nfc=302"},
	{"110101192202220615", "测试会话非身份证", "NFC read: failed 66664024 wrong card type", "nfc=66664024"},
	{"110101192202220711", "测试会话超时", "every NFC read times out (600103) until the attempt limit: failed 16", "nfc=600103"},
	{"110101192202220818", "测试会话翻拍", "every liveness attempt: 1002 suspected fake, then failed 16", "liveness=1002"},
	{"110101192202220914", "测试会话人脸不符", "every liveness attempt: 1008 similarity below 70, then failed 16", "liveness=1008"},
	{"11010119220222101X", "测试会话未实名", "app authorisation: 7001 account not real-name verified", "app_auth=not_verified"},
	{"110101192202221116", "测试会话已认证", "app authorisation: 7002 account already verified another account", "app_auth=verified_other"},
}

// LookupSessionMagic finds the magic identity with this ID number.
func LookupSessionMagic(idCard string) (SessionMagic, bool) {
	for _, m := range SessionMagics {
		if m.IDCard == idCard {
			return m, true
		}
	}
	return SessionMagic{}, false
}
