package tencent

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/idgate/idgate/contracts"
)

func TestDecodeSessionRequests(t *testing.T) {
	long := strings.Repeat("x", MaxExtra+1)
	cases := []struct {
		name     string
		decode   func([]byte) (any, *Error)
		body     string
		want     any
		wantCode string
	}{
		{"detect auth", detectAuth, `{"RuleId":"1","IdCard":"110101192202220017","Name":"测试会话通过","Extra":"order-7"}`,
			contracts.CreateSessionRequest{Flow: contracts.FlowNFC, Name: "测试会话通过", IDCard: "110101192202220017", Reference: "order-7"}, ""},
		{"detect auth minimal", detectAuth, `{"RuleId":"1"}`, contracts.CreateSessionRequest{Flow: contracts.FlowNFC}, ""},
		{"detect auth extra at limit", detectAuth, `{"RuleId":"1","Extra":"` + long[1:] + `"}`, contracts.CreateSessionRequest{Flow: contracts.FlowNFC, Reference: long[1:]}, ""},
		{"detect auth extra too long", detectAuth, `{"RuleId":"1","Extra":"` + long + `"}`, nil, CodeInvalidParameterVal},
		{"detect auth no rule", detectAuth, `{"Name":"x"}`, nil, CodeMissingParameter},
		{"detect auth null rule", detectAuth, `{"RuleId":null}`, nil, CodeMissingParameter},
		{"detect auth empty rule", detectAuth, `{"RuleId":""}`, nil, CodeMissingParameter},
		{"detect auth rule wrong type", detectAuth, `{"RuleId":1}`, nil, CodeInvalidParameter},
		{"detect auth repeated key", detectAuth, `{"RuleId":"1","IdCard":"a","IdCard":"b"}`, nil, CodeInvalidParameter},
		{"detect auth key case", detectAuth, `{"RuleId":"1","idcard":"a"}`, nil, CodeInvalidParameter},
		{"detect auth not object", detectAuth, `["RuleId"]`, nil, CodeInvalidParameter},
		{"detect auth not json", detectAuth, `{"RuleId":`, nil, CodeInvalidParameter},
		{"detect auth encryption incomplete", detectAuth, `{"RuleId":"1","Encryption":{"EncryptList":["Name"]}}`, nil, CodeMissingParameter},
		{"detect auth encryption", detectAuth, `{"RuleId":"1","Encryption":{"EncryptList":["Name"],"CiphertextBlob":"a","Iv":"b"}}`, nil, CodeUnsupportedOperation},
		{"detect auth encryption key case", detectAuth, `{"RuleId":"1","Encryption":{"encryptList":["Name"]}}`, nil, CodeInvalidParameter},
		{"eid token", eidToken, `{"MerchantId":"m","Name":"测试会话通过","IdCard":"110101192202220017","Config":{"InputType":"4"},"Extra":"e"}`,
			contracts.CreateSessionRequest{Flow: contracts.FlowAppAuth, Name: "测试会话通过", IDCard: "110101192202220017", Reference: "e"}, ""},
		{"eid token no merchant", eidToken, `{"Name":"x"}`, nil, CodeMissingParameter},
		{"eid token extra too long", eidToken, `{"MerchantId":"m","Extra":"` + long + `"}`, nil, CodeInvalidParameterVal},
		{"nfc token empty", nfcToken, ``, contracts.CreateSessionRequest{Flow: contracts.FlowNFCRead}, ""},
		{"nfc token null", nfcToken, `null`, contracts.CreateSessionRequest{Flow: contracts.FlowNFCRead}, ""},
		{"nfc token object", nfcToken, `{}`, contracts.CreateSessionRequest{Flow: contracts.FlowNFCRead}, ""},
		{"nfc token repeated key", nfcToken, `{"a":1,"a":2}`, nil, CodeInvalidParameter},
		{"nfc token array", nfcToken, `[]`, nil, CodeInvalidParameter},
		{"detect info", detectInfo, `{"BizToken":"t","RuleId":"1","InfoType":"12","IsNeedIdCardAvatar":true}`,
			GetDetectInfoEnhancedRequest{BizToken: "t", RuleId: "1", InfoType: "12", IsNeedIdCardAvatar: true}, ""},
		{"detect info no token", detectInfo, `{"RuleId":"1"}`, nil, CodeMissingParameter},
		{"detect info no rule", detectInfo, `{"BizToken":"t"}`, nil, CodeMissingParameter},
		{"detect info bad info type", detectInfo, `{"BizToken":"t","RuleId":"1","InfoType":"1a"}`, nil, CodeInvalidParameterVal},
		{"detect info encrypted answer", detectInfo, `{"BizToken":"t","RuleId":"1","IsEncryptResponse":true}`, nil, CodeUnsupportedOperation},
		{"detect info encryption", detectInfo, `{"BizToken":"t","RuleId":"1","Encryption":{"Algorithm":"AES-256-CBC"}}`, nil, CodeUnsupportedOperation},
		{"eid result", eidResult, `{"EidToken":"t","InfoType":"0"}`, GetEidResultRequest{EidToken: "t", InfoType: "0"}, ""},
		{"eid result no token", eidResult, `{}`, nil, CodeMissingParameter},
		{"eid result key case", eidResult, `{"EidToken":"t","eidtoken":"u"}`, nil, CodeInvalidParameter},
		{"wx nfc result", wxNFC, `{"NFCToken":"t"}`, GetWxNFCResultRequest{NFCToken: "t"}, ""},
		{"wx nfc result no token", wxNFC, `{"NfcToken":"t"}`, nil, CodeInvalidParameter},
		{"wx nfc result missing", wxNFC, `{}`, nil, CodeMissingParameter},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, e := c.decode([]byte(c.body))
			if c.wantCode != "" {
				if e == nil || e.Code != c.wantCode {
					t.Fatalf("error %v, want %s", e, c.wantCode)
				}
				if strings.Contains(e.Message, "110101") || strings.Contains(e.Message, "测试") {
					t.Errorf("message %q repeats a value", e.Message)
				}
				return
			}
			if e != nil {
				t.Fatalf("error %v", e)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func detectAuth(b []byte) (any, *Error) {
	r, e := DecodeDetectAuthRequest(b)
	if e != nil {
		return nil, e
	}
	return r.Contract()
}

func eidToken(b []byte) (any, *Error) {
	r, e := DecodeGetEidTokenRequest(b)
	if e != nil {
		return nil, e
	}
	return r.Contract()
}

func nfcToken(b []byte) (any, *Error) {
	if e := DecodeGetNFCTokenRequest(b); e != nil {
		return nil, e
	}
	return NFCTokenContract(), nil
}

func detectInfo(b []byte) (any, *Error) {
	r, e := DecodeGetDetectInfoEnhancedRequest(b)
	if e != nil {
		return nil, e
	}
	return r, nil
}

func eidResult(b []byte) (any, *Error) {
	r, e := DecodeGetEidResultRequest(b)
	if e != nil {
		return nil, e
	}
	return r, nil
}

func wxNFC(b []byte) (any, *Error) {
	r, e := DecodeGetWxNFCResultRequest(b)
	if e != nil {
		return nil, e
	}
	return r, nil
}

func TestCreateAnswers(t *testing.T) {
	s := &contracts.Session{RequestID: "req-1", QRURL: "https://sim.test/qr/req-1"}
	cases := []struct {
		name string
		got  any
		want string
	}{
		{"detect auth", DetectAuthAnswer(s), `{"Url":"https://sim.test/qr/req-1","BizToken":"req-1"}`},
		{"eid token", EidTokenAnswer(s), `{"EidToken":"req-1","Url":"https://sim.test/qr/req-1"}`},
		{"nfc token", NFCTokenAnswer(s), `{"Token":"req-1"}`},
	}
	for _, c := range cases {
		b, _ := json.Marshal(c.got)
		if string(b) != c.want {
			t.Errorf("%s: %s, want %s", c.name, b, c.want)
		}
	}
}

func testCard() *contracts.CardData {
	return &contracts.CardData{
		Name: "测试会话通过", Gender: "男", GenderCode: "1", Ethnicity: "汉", EthnicityCode: "01", BirthDate: "19220222",
		Address: "北京市东城区", IDCard: "110101192202220017", IssuingAuthority: "北京市公安局东城分局",
		ValidityBegin: "20100305", ValidityEnd: "00000000", PhotoPNG: "cG5n",
	}
}

func result(flow contracts.SessionFlow, decision contracts.SessionState, code contracts.SessionCode, card *contracts.CardData, live *contracts.LivenessResult, sim *float64) *SessionRead {
	return &SessionRead{Status: http.StatusOK, Result: &contracts.SessionResult{
		RequestID: "req-1", Flow: flow, State: decision, Decision: decision, Code: code, Message: code.Message(),
		Reference: "order-7", Card: card, Liveness: live, FaceSimilarity: sim,
	}}
}

func TestDetectInfo(t *testing.T) {
	high, low := 91.5, 52.0
	live := &contracts.LivenessResult{Mode: "action", Passed: true, Score: 99, Code: 0, Message: "ok"}
	cases := []struct {
		name     string
		read     *SessionRead
		req      GetDetectInfoEnhancedRequest
		wantCode string
		check    func(t *testing.T, r GetDetectInfoEnhancedResponse)
	}{
		{"approved", result(contracts.FlowNFC, contracts.StateApproved, 0, testCard(), live, &high), GetDetectInfoEnhancedRequest{}, "", func(t *testing.T, r GetDetectInfoEnhancedResponse) {
			x := r.Text
			if x == nil || *x.ErrCode != 0 || x.IdCard != "110101192202220017" || x.OcrName != "测试会话通过" || x.OcrBirth != "1922/2/22" ||
				x.OcrValidDate != "2010.03.05-长期" || x.IdInfoFrom != "NFC" || *x.LiveStatus != 0 || *x.LivenessMode != 2 ||
				*x.Comparestatus != 0 || x.Sim != "91.50" || x.Extra != "order-7" || x.OcrNation != "汉" || x.OcrGender != "男" {
				t.Errorf("text %+v", x)
			}
			if r.IdCardData == nil || r.IdCardData.Avatar != "" {
				t.Errorf("card data %+v", r.IdCardData)
			}
		}},
		{"avatar and text only parts", result(contracts.FlowNFC, contracts.StateApproved, 0, testCard(), live, &high), GetDetectInfoEnhancedRequest{InfoType: "2", IsNeedIdCardAvatar: true}, "", func(t *testing.T, r GetDetectInfoEnhancedResponse) {
			if r.Text != nil || r.IdCardData == nil || r.IdCardData.Avatar != "cG5n" {
				t.Errorf("answer %+v", r)
			}
		}},
		{"rejected 2016", result(contracts.FlowNFC, contracts.StateRejected, contracts.CodeSimilarityLow, testCard(), live, &low), GetDetectInfoEnhancedRequest{InfoType: "1"}, "", func(t *testing.T, r GetDetectInfoEnhancedResponse) {
			if x := r.Text; *x.ErrCode != 2016 || *x.Comparestatus != 2016 || x.Sim != "52.00" || r.IdCardData != nil {
				t.Errorf("answer %+v %+v", x, r.IdCardData)
			}
		}},
		{"failed before the card", result(contracts.FlowNFC, contracts.StateFailed, contracts.CodeNFCWrongCard, nil, nil, nil), GetDetectInfoEnhancedRequest{}, "", func(t *testing.T, r GetDetectInfoEnhancedResponse) {
			if x := r.Text; *x.ErrCode != 66664024 || x.ErrMsg == "" || x.LiveStatus != nil || x.Comparestatus != nil || x.IdCard != "" || r.IdCardData != nil {
				t.Errorf("answer %+v", x)
			}
		}},
		{"not finished", &SessionRead{Status: 409, Code: contracts.ErrFlowNotFinished}, GetDetectInfoEnhancedRequest{}, "", func(t *testing.T, r GetDetectInfoEnhancedResponse) {
			if r.Text == nil || *r.Text.ErrCode != 17 || r.Text.ErrMsg == "" {
				t.Errorf("answer %+v", r.Text)
			}
		}},
		{"unknown", &SessionRead{Status: 404, Code: contracts.ErrSessionNotFound}, GetDetectInfoEnhancedRequest{}, CodeBizTokenIllegal, nil},
		{"expired", &SessionRead{Status: 410, Code: contracts.ErrSessionExpired}, GetDetectInfoEnhancedRequest{}, CodeBizTokenExpired, nil},
		{"another flow", result(contracts.FlowAppAuth, contracts.StateApproved, 0, nil, nil, nil), GetDetectInfoEnhancedRequest{}, CodeBizTokenIllegal, nil},
		{"rate limited", &SessionRead{Status: 429, Code: contracts.ErrTooManyRequests}, GetDetectInfoEnhancedRequest{}, CodeRequestLimitExceeded, nil},
		{"upstream error", &SessionRead{Status: 500, Code: contracts.ErrAPIError}, GetDetectInfoEnhancedRequest{}, CodeInternalError, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, e := c.read.DetectInfo(&c.req)
			if c.wantCode != "" {
				if e == nil || e.Code != c.wantCode {
					t.Fatalf("error %v, want %s", e, c.wantCode)
				}
				return
			}
			if e != nil {
				t.Fatalf("error %v", e)
			}
			c.check(t, got)
		})
	}
}

func TestEidResult(t *testing.T) {
	cases := []struct {
		name     string
		read     *SessionRead
		wantCode string
		wantErr  int
	}{
		{"approved", result(contracts.FlowAppAuth, contracts.StateApproved, 0, testCard(), nil, nil), "", 0},
		{"not verified", result(contracts.FlowAppAuth, contracts.StateFailed, contracts.CodeAppNotVerified, nil, nil, nil), "", 7001},
		{"not finished", &SessionRead{Status: 409, Code: contracts.ErrFlowNotFinished}, "", 17},
		{"unknown", &SessionRead{Status: 404}, CodeBizTokenIllegal, 0},
		{"expired", &SessionRead{Status: 410}, CodeBizTokenExpired, 0},
		{"nfc token", result(contracts.FlowNFC, contracts.StateApproved, 0, nil, nil, nil), CodeBizTokenIllegal, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, e := c.read.EidResult(&GetEidResultRequest{EidToken: "t"})
			if c.wantCode != "" {
				if e == nil || e.Code != c.wantCode {
					t.Fatalf("error %v, want %s", e, c.wantCode)
				}
				return
			}
			if e != nil || got.Text == nil || *got.Text.ErrCode != c.wantErr {
				t.Fatalf("answer %+v %v", got.Text, e)
			}
			if got.Text.IdCard != "" || got.Text.Name != "" || got.EidInfo != nil {
				t.Errorf("eID answer shows the identity: %+v", got.Text)
			}
		})
	}
}

func TestWxNFCResult(t *testing.T) {
	card := testCard()
	cases := []struct {
		name     string
		read     *SessionRead
		want     GetWxNFCResultResponse
		wantCode string
	}{
		{"read", result(contracts.FlowNFCRead, contracts.StateApproved, 0, card, nil, nil), GetWxNFCResultResponse{
			ResultCode: "0", IdNum: card.IDCard, Name: card.Name, Picture: "cG5n", BirthDate: "19220222", BeginTime: "20100305",
			EndTime: "长期", Address: card.Address, Nation: "汉", Sex: "男", IdType: "01", SigningOrganization: card.IssuingAuthority,
		}, ""},
		{"read failed", result(contracts.FlowNFCRead, contracts.StateFailed, contracts.CodeNFCWrongCard, nil, nil, nil), GetWxNFCResultResponse{ResultCode: "-1"}, ""},
		{"not finished", &SessionRead{Status: 409, Code: contracts.ErrFlowNotFinished}, GetWxNFCResultResponse{ResultCode: "-1"}, ""},
		{"unknown", &SessionRead{Status: 404}, GetWxNFCResultResponse{}, CodeBizTokenIllegal},
		{"expired", &SessionRead{Status: 410}, GetWxNFCResultResponse{}, CodeBizTokenExpired},
		{"nfc session", result(contracts.FlowNFC, contracts.StateApproved, 0, card, nil, nil), GetWxNFCResultResponse{}, CodeBizTokenIllegal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, e := c.read.WxNFCResult()
			if c.wantCode != "" {
				if e == nil || e.Code != c.wantCode {
					t.Fatalf("error %v, want %s", e, c.wantCode)
				}
				return
			}
			if e != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v %v, want %+v", got, e, c.want)
			}
		})
	}
	ended := *card
	ended.ValidityEnd = "20300305"
	got, _ := result(contracts.FlowNFCRead, contracts.StateApproved, 0, &ended, nil, nil).WxNFCResult()
	if got.EndTime != "20300305" {
		t.Errorf("end %q", got.EndTime)
	}
}

func TestParseSessionRead(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		want    SessionRead
		wantErr bool
	}{
		{"result", 200, `{"request_id":"r","flow":"nfc_read","decision":"approved","reference":"x"}`,
			SessionRead{Status: 200, Result: &contracts.SessionResult{RequestID: "r", Flow: contracts.FlowNFCRead, Decision: contracts.StateApproved, Reference: "x"}}, false},
		{"not finished", 409, `{"success":false,"error":{"code":"flow_not_finished","message":"m","session_code":17}}`,
			SessionRead{Status: 409, Code: contracts.ErrFlowNotFinished, Message: "m"}, false},
		{"unreadable result", 200, `nope`, SessionRead{}, true},
		{"unreadable error", 404, `nope`, SessionRead{}, true},
	}
	for _, c := range cases {
		got, err := ParseSessionRead(c.status, []byte(c.body))
		if (err != nil) != c.wantErr || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v %v", c.name, got, err)
		}
	}
}

func TestDateFormats(t *testing.T) {
	cases := []struct{ in, slash, dot string }{
		{"19220222", "1922/2/22", "1922.02.22"},
		{"20011101", "2001/11/1", "2001.11.01"},
		{"2001", "2001", "2001"},
	}
	for _, c := range cases {
		if got := slashDate(c.in); got != c.slash {
			t.Errorf("slash %s: %s", c.in, got)
		}
		if got := dotDate(c.in); got != c.dot {
			t.Errorf("dot %s: %s", c.in, got)
		}
	}
}

func FuzzDecodeSessionRequests(f *testing.F) {
	for _, s := range []string{`{"RuleId":"1","Extra":"x"}`, `{"BizToken":"t","RuleId":"1","InfoType":"12"}`, `{"MerchantId":"m","Config":{"InputType":"4"}}`,
		`{"EidToken":"t"}`, `{"NFCToken":"t"}`, `null`, `{"a":{"a":1,"a":2}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, d := range []func([]byte) (any, *Error){detectAuth, eidToken, nfcToken, detectInfo, eidResult, wxNFC} {
			if v, e := d(b); e == nil && v == nil {
				t.Fatal("no value and no error")
			}
		}
	})
}
