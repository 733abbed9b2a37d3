package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/idgate/idgate/contracts"
)

// A valid identity no magic table claims: the standard's own example.
const (
	validID   = "11010519491231002X"
	validName = "张三"
)

// Checks lists the checks that apply to a target.
func Checks(t Target) []Check {
	cs := []Check{
		{"valid request answers 0", checkValid},
		{"same input same answer", checkDeterministic},
		{"illegal ID number answers -2", checkIllegal(contracts.CheckRequest{Name: validName, IDCard: "110105194912310021"}, contracts.ResultIllegalID)},
		{"lower-case x answers -2", checkIllegal(contracts.CheckRequest{Name: validName, IDCard: "11010519491231002x"}, contracts.ResultIllegalID)},
		{"illegal name answers -3", checkIllegal(contracts.CheckRequest{Name: "Zhang San", IDCard: validID}, contracts.ResultIllegalName)},
		{"look-alike dot answers -3", checkIllegal(contracts.CheckRequest{Name: "买买提•艾力", IDCard: validID}, contracts.ResultIllegalName)},
		{"missing token is 401", checkToken("")},
		{"unknown token is 401", checkToken("not-a-token")},
		{"malformed JSON is 400 token_mismatched", checkBadBody(`{"name":`, "application/json")},
		{"wrong field type is 400 token_mismatched", checkBadBody(`{"name":1,"id_card":"11010519491231002X"}`, "application/json")},
		{"missing field is 400 token_mismatched", checkBadBody(`{"name":"张三"}`, "application/json")},
		{"wrong content type is 400 token_mismatched", checkBadBody(`{"name":"张三","id_card":"11010519491231002X"}`, "text/plain")},
		{"invalid validity period is 400 token_mismatched", checkBadBody(`{"name":"张三","id_card":"11010519491231002X","validity_begin":"20100101","validity_end":"20300101"}`, "application/json")},
		{"oversized body is 400 token_mismatched", checkOversized},
		{"unknown path is 400 api_not_implemented", checkUnknownPath},
		{"GET on the check path is 400 api_not_implemented", checkWrongMethod},
	}
	if t.Sessions {
		cs = append(cs, sessionChecks(t)...)
	}
	if t.TencentSecretID != "" {
		cs = append(cs, tcChecks(t)...)
	}
	if t.Magic {
		for _, m := range contracts.MagicIdentities {
			cs = append(cs, Check{"magic " + m.IDCard + ": " + m.Outcome, checkMagic(m)})
		}
	}
	if t.Prefer {
		for _, r := range contracts.Results {
			cs = append(cs, Check{"Prefer result=" + string(r.Code), checkPreferResult(r.Code)})
		}
		cs = append(cs,
			Check{"Prefer status=429 is too_many_requests with Retry-After", checkPreferStatus(http.StatusTooManyRequests, contracts.ErrTooManyRequests)},
			Check{"Prefer status=500 is api_error", checkPreferStatus(http.StatusInternalServerError, contracts.ErrAPIError)},
			Check{"Prefer status=400 is token_mismatched", checkPreferStatus(http.StatusBadRequest, contracts.ErrTokenMismatched)},
			Check{"face comparison reports sim", checkFace},
		)
		if !t.Gateway {
			// Behind a gateway an upstream 401 means the gateway's own
			// credential is wrong, which is not the client's error.
			cs = append(cs, Check{"Prefer status=401 is invalid_token", checkPreferStatus(http.StatusUnauthorized, contracts.ErrInvalidToken)})
		}
		if t.Gateway {
			cs = append(cs,
				Check{"upstream connection reset is 500 api_error", checkGatewayFault("connection_reset")},
				Check{"upstream empty response is 500 api_error", checkGatewayFault("empty_response")},
				Check{"upstream malformed chunk is 500 api_error", checkGatewayFault("malformed_chunk")},
				Check{"upstream random bytes is 500 api_error", checkGatewayFault("random_then_close")},
			)
		}
	}
	return cs
}

func checkValid(ctx context.Context, e *Env) error {
	a, err := e.Check(ctx, contracts.CheckRequest{Name: validName, IDCard: validID}, nil)
	if err != nil {
		return err
	}
	_, err = e.ExpectResult(a, contracts.ResultConsistent)
	return err
}

func checkDeterministic(ctx context.Context, e *Env) error {
	req := contracts.CheckRequest{Name: "李四", IDCard: "440524188001010014", ImageURL: "https://example.invalid/face.jpg"}
	var first string
	for i := 0; i < 3; i++ {
		a, err := e.Check(ctx, req, nil)
		if err != nil {
			return err
		}
		if a.Status != http.StatusOK {
			return fmt.Errorf("status %d: %s", a.Status, a.Body)
		}
		if i == 0 {
			first = string(a.Body)
		} else if string(a.Body) != first {
			return fmt.Errorf("answers differ: %s then %s", first, a.Body)
		}
	}
	return nil
}

func checkIllegal(req contracts.CheckRequest, want contracts.ResultCode) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		a, err := e.Check(ctx, req, nil)
		if err != nil {
			return err
		}
		_, err = e.ExpectResult(a, want)
		return err
	}
}

func checkToken(token string) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		a, err := e.Do(ctx, Request{Path: contracts.CheckPath, Token: token, ContentType: "application/json",
			Body: []byte(`{"name":"张三","id_card":"11010519491231002X"}`)})
		if err != nil {
			return err
		}
		_, err = e.ExpectError(a, contracts.ErrInvalidToken)
		return err
	}
}

func checkBadBody(body, ct string) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		a, err := e.Do(ctx, Request{Path: contracts.CheckPath, Token: e.Token, ContentType: ct, Body: []byte(body)})
		if err != nil {
			return err
		}
		_, err = e.ExpectError(a, contracts.ErrTokenMismatched)
		return err
	}
}

func checkOversized(ctx context.Context, e *Env) error {
	// Above any sane limit for a two-field check, within contracts.BodyReadCap:
	// the server must read it and answer in the API's vocabulary.
	body := `{"name":"张三","id_card":"11010519491231002X","image_url":"` + strings.Repeat("a", contracts.BodyReadCap/2) + `"}`
	a, err := e.Do(ctx, Request{Path: contracts.CheckPath, Token: e.Token, ContentType: "application/json", Body: []byte(body)})
	if err != nil {
		// Refusing by closing the connection is not the contract.
		return fmt.Errorf("oversized body: %w", err)
	}
	if a.Status == http.StatusRequestEntityTooLarge {
		return errors.New("413 is not in the authority's vocabulary; want 400 token_mismatched")
	}
	_, err = e.ExpectError(a, contracts.ErrTokenMismatched)
	return err
}

func checkUnknownPath(ctx context.Context, e *Env) error {
	a, err := e.Do(ctx, Request{Path: "/identity/idcard/check-9e", Token: e.Token, ContentType: "application/json", Body: []byte(`{}`)})
	if err != nil {
		return err
	}
	_, err = e.ExpectError(a, contracts.ErrAPINotImplemented)
	return err
}

func checkWrongMethod(ctx context.Context, e *Env) error {
	a, err := e.Do(ctx, Request{Method: http.MethodGet, Path: contracts.CheckPath, Token: e.Token})
	if err != nil {
		return err
	}
	_, err = e.ExpectError(a, contracts.ErrAPINotImplemented)
	return err
}

func checkMagic(m contracts.MagicIdentity) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		req := contracts.CheckRequest{Name: validName, IDCard: m.IDCard}
		if m.Sim != 0 {
			req.ImageURL = "https://example.invalid/face.jpg"
		}
		a, err := e.Check(ctx, req, nil)
		switch {
		case m.Fault != "" && !e.Gateway:
			// Directly, a fault is a broken connection or response.
			if err == nil && a.Status < 500 && e.ValidateSchema("CheckResponse", a.Body) == nil {
				return fmt.Errorf("fault %s answered %d %s", m.Fault, a.Status, a.Body)
			}
			return nil
		case err != nil:
			return err
		case m.Fault != "":
			_, err = e.ExpectError(a, contracts.ErrAPIError)
			return err
		case m.Status != 0:
			code := map[int]contracts.ErrorCode{429: contracts.ErrTooManyRequests, 500: contracts.ErrAPIError}[m.Status]
			_, err = e.ExpectError(a, code)
			return err
		}
		r, err := e.ExpectResult(a, m.Result)
		if err != nil {
			return err
		}
		if m.Sim != 0 && (r.Sim == nil || *r.Sim != m.Sim) {
			return fmt.Errorf("sim = %v, want %v", r.Sim, m.Sim)
		}
		return nil
	}
}

func checkPreferResult(code contracts.ResultCode) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		a, err := e.Check(ctx, contracts.CheckRequest{Name: validName, IDCard: validID}, map[string]string{"Prefer": "result=" + string(code)})
		if err != nil {
			return err
		}
		_, err = e.ExpectResult(a, code)
		return err
	}
}

func checkPreferStatus(status int, code contracts.ErrorCode) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		a, err := e.Check(ctx, contracts.CheckRequest{Name: validName, IDCard: validID}, map[string]string{"Prefer": fmt.Sprintf("status=%d", status)})
		if err != nil {
			return err
		}
		if _, err := e.ExpectError(a, code); err != nil {
			return err
		}
		if status == http.StatusTooManyRequests && a.Header.Get("Retry-After") == "" {
			return errors.New("429 without Retry-After")
		}
		return nil
	}
}

func checkFace(ctx context.Context, e *Env) error {
	a, err := e.Check(ctx, contracts.CheckRequest{Name: validName, IDCard: validID, ImageURL: "https://example.invalid/face.jpg"}, nil)
	if err != nil {
		return err
	}
	r, err := e.ExpectResult(a, contracts.ResultConsistent)
	if err != nil {
		return err
	}
	if r.Sim == nil || *r.Sim < 0 || *r.Sim > 100 {
		return fmt.Errorf("sim = %v, want 0..100", r.Sim)
	}
	return nil
}

func checkGatewayFault(fault string) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		a, err := e.Check(ctx, contracts.CheckRequest{Name: validName, IDCard: validID}, map[string]string{"Prefer": "fault=" + fault})
		if err != nil {
			return fmt.Errorf("gateway let an upstream fault through: %w", err)
		}
		_, err = e.ExpectError(a, contracts.ErrAPIError)
		return err
	}
}
