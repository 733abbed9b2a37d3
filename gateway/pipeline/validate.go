package pipeline

import (
	"cmp"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
	"github.com/idgate/idgate/contracts/idcard"
	"github.com/idgate/idgate/contracts/tencent"
)

// verdict of local validation: at most one of tcErr, errCode and result
// is set.
type verdict struct {
	// tcErr is the Tencent body decoder's refusal, in its own words.
	tcErr   *tencent.Error
	errCode contracts.ErrorCode
	reason  string
	result  string
	// sess is the client's data key when the route opened its encrypted
	// request (the answer is sealed with it).
	sess *fieldcrypto.Session
}

// check decodes the body into req, which must be zero on entry, and
// validates it; tc: the body is the Tencent action's (Name, IdCard, …),
// decoded into the aggregator's form. req stays zero when the body was
// refused before it was read (content type, size, syntax, decryption).
func (p *Pipeline) check(ctx *fasthttp.RequestCtx, rt *Route, now time.Time, req *contracts.CheckRequest, tc bool) verdict {
	if ct := ctx.Request.Header.ContentType(); !contracts.IsJSONContentType(b2s(ct)) {
		return verdict{errCode: contracts.ErrTokenMismatched, reason: "content type must be application/json"}
	}
	if err := contracts.ContentEncodingError(ctx.Request.Header.ContentEncoding()); err != nil {
		return verdict{errCode: contracts.ErrTokenMismatched, reason: err.Error()}
	}
	body := ctx.Request.Body()
	if len(body) > p.MaxBody {
		if tc {
			return verdict{tcErr: &tencent.Error{Code: tencent.CodeRequestSizeLimit, Message: "The request body exceeds " + strconv.Itoa(p.MaxBody) + " bytes."}}
		}
		return verdict{errCode: contracts.ErrTokenMismatched, reason: "request body exceeds " + strconv.Itoa(p.MaxBody) + " bytes"}
	}
	if tc {
		decoded, terr := tencent.DecodeCheckRequestNoCopy(body, rt.RequireValidity)
		if terr != nil {
			return verdict{tcErr: terr}
		}
		if !rt.RequireValidity {
			// IdCardVerification has no validity parameters: FaceID
			// ignores them, and so does the gateway.
			decoded.ValidityBegin, decoded.ValidityEnd = "", ""
		}
		*req = decoded
	} else {
		decoded, err := contracts.DecodeCheckRequestNoCopy(body)
		if err != nil {
			return verdict{errCode: contracts.ErrTokenMismatched, reason: err.Error()}
		}
		if rt.RequireValidity && (decoded.ValidityBegin == "" || decoded.ValidityEnd == "") {
			return verdict{errCode: contracts.ErrTokenMismatched, reason: "missing required field validity_begin or validity_end"}
		}
		*req = decoded
	}
	var sess *fieldcrypto.Session
	var err error
	if rt.Crypto != nil {
		if sess, err = rt.Crypto.Open(req); err != nil {
			*req = contracts.CheckRequest{}
			// One answer for every decrypt failure (no padding oracle).
			rej := fieldcrypto.Rejection(err)
			return verdict{errCode: rej.Error, reason: rej.Reason}
		}
	}
	if req.Encryption != nil || !rt.LocalValidation {
		// Fields still encrypted can only be read by the authority; it
		// validates them.
		if req.Encryption == nil && (req.Name == "" || req.IDCard == "") {
			return verdict{errCode: contracts.ErrTokenMismatched, reason: "missing required field", sess: sess}
		}
		return verdict{sess: sess}
	}
	// For CBC, a -2/-3 about a decrypted field is answered as the decrypt
	// failure: otherwise it tells a padding oracle the padding was right.
	validate := contracts.Validate
	if rt.RequireValidity {
		// The API with a validity period tells a period that contradicts
		// the ID number (it begins before the birth date) from a
		// malformed one.
		validate = contracts.ValidateDate
	}
	rej := sess.MaskRejection(validate(req, now))
	if rej == nil {
		return verdict{sess: sess}
	}
	var local string
	switch {
	case rej.Result == contracts.ResultIllegalID:
		local = rt.Local.IllegalID
	case rej.Result == contracts.ResultIllegalName:
		local = rt.Local.IllegalName
	case rt.RequireValidity && rej.Result == contracts.DateIllegalValidity:
		local = rt.Local.IllegalValidity
	case rt.RequireValidity && rej.Result == contracts.DateInvalidIdentity:
		local = cmp.Or(rt.Local.InvalidIdentity, rt.Local.IllegalValidity)
	case rej.Error != "" && req.Name != "" && req.IDCard != "":
		// Both fields present, so the refusal is about the validity period.
		local = rt.Local.IllegalValidity
	}
	if local != "" {
		return verdict{result: local, sess: sess}
	}
	code := rej.Error
	if code == "" {
		code = contracts.ErrTokenMismatched
	}
	return verdict{errCode: code, reason: rej.Reason, sess: sess}
}

// maskedID is the only form of the ID number the ledger sees.
func maskedID(req *contracts.CheckRequest) string {
	if req.IDCard == "" {
		return ""
	}
	if req.Encryption != nil {
		for _, f := range req.Encryption.EncryptList {
			if f == "id_card" {
				return "encrypted"
			}
		}
	}
	return idcard.Mask(req.IDCard)
}

// excused reports whether a test chose this request's outcome: only on a
// route that forwards Prefer (prefer is the forwarded header), which is a
// route towards the simulator.
func excused(rt *Route, prefer []byte, req *contracts.CheckRequest) bool {
	if !rt.ForwardPrefer {
		return false
	}
	if len(prefer) > 0 {
		return true
	}
	_, magic := contracts.LookupMagic(req.IDCard)
	return magic
}

func preferOf(ctx *fasthttp.RequestCtx, rt *Route) []byte {
	if !rt.ForwardPrefer {
		return nil
	}
	return ctx.Request.Header.Peek("Prefer")
}
