package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/idgate/idgate/contracts"
)

// Session checks walk the verification-session API: the tenant side
// against the target (simulator or gateway), the phone side always against
// Target.PhoneURL (the simulator: the phone talks to the authority, never
// to the tenant's gateway). The full walks need the target's review to
// finish within the check's deadline: run the simulator with
// IDGATE_SIM_SESSIONS_TIME_SCALE=0.001 or so.

func sessionChecks(t Target) []Check {
	cs := []Check{
		{"session: missing token is 401", checkSessionNoToken},
		{"session: unknown request_id is 404 session_not_found", checkSessionUnknown},
		{"session: malformed create body is 400 token_mismatched", checkSessionBadBody},
		{"session: create answers 201 Session with a QR code", checkSessionCreate},
		{"session: result before the end is 409 flow_not_finished (17)", checkSessionResultEarly},
	}
	if t.PhoneURL != "" {
		cs = append(cs,
			Check{"session: NFC walk create → scanned → … → approved, result billed", checkSessionWalk},
			Check{"session: app authorisation walk → approved", checkSessionAppAuth},
			Check{"session: step out of order is 409 step_out_of_order", checkSessionOutOfOrder},
			Check{"session: second scan is 409 qr_already_used", checkSessionSecondScan},
			Check{"session: step on a finished session is 409 session_completed (14)", checkSessionReplay},
		)
		if t.Prefer {
			cs = append(cs, Check{"session: Prefer nfc=66664024 fails the session, result not billed", checkSessionNFCFailure})
		}
	}
	return cs
}

// session calls a tenant route of the target.
func (e *Env) session(ctx context.Context, method, path string, body any, prefer string) (*Answer, error) {
	r := Request{Method: method, Path: path, Token: e.Token}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r.Body, r.ContentType = b, "application/json"
	}
	if prefer != "" {
		r.Header = map[string]string{"Prefer": prefer}
	}
	return e.Do(ctx, r)
}

// phone calls the simulator's phone side (no token: the request ID is
// the capability).
func (e *Env) phone(ctx context.Context, path string, body any) (*Answer, error) {
	pe := *e
	pe.BaseURL = strings.TrimRight(e.PhoneURL, "/")
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	return pe.Do(ctx, Request{Method: http.MethodPost, Path: path, ContentType: "application/json", Body: b})
}

func (e *Env) createSession(ctx context.Context, req contracts.CreateSessionRequest, prefer string) (contracts.Session, error) {
	var s contracts.Session
	a, err := e.session(ctx, http.MethodPost, contracts.SessionsPath, req, prefer)
	if err != nil {
		return s, err
	}
	if a.Status != http.StatusCreated {
		return s, fmt.Errorf("create: status %d, want 201 (body %s)", a.Status, truncate(a.Body))
	}
	if err := e.common(a, "Session"); err != nil {
		return s, fmt.Errorf("create: %w", err)
	}
	if err := json.Unmarshal(a.Body, &s); err != nil {
		return s, fmt.Errorf("create: decode: %w", err)
	}
	return s, nil
}

// expectSessionError asserts a session error with its status and, where
// the contract has one, its numeric session_code.
func (e *Env) expectSessionError(a *Answer, want contracts.ErrorCode) error {
	info, ok := contracts.LookupSessionError(want)
	if !ok {
		return fmt.Errorf("unknown session error %s", want)
	}
	if a.Status != info.Status {
		return fmt.Errorf("status %d, want %d %s (body %s)", a.Status, info.Status, want, truncate(a.Body))
	}
	if err := e.common(a, "SessionErrorBody"); err != nil {
		return err
	}
	var b contracts.SessionErrorBody
	if err := json.Unmarshal(a.Body, &b); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if b.Success || b.Error.Code != want || b.Error.Message == "" || b.TraceID == "" {
		return fmt.Errorf("error body %s, want code %s with message and trace_id", truncate(a.Body), want)
	}
	if b.Error.SessionCode != contracts.SessionErrorCodes[want] {
		return fmt.Errorf("session_code %d, want %d", b.Error.SessionCode, contracts.SessionErrorCodes[want])
	}
	return nil
}

// expectPhoneError is expectSessionError for an answer of the phone side,
// which comes from the simulator even when a gateway is the target.
func (e *Env) expectPhoneError(a *Answer, want contracts.ErrorCode) error {
	pe := *e
	pe.Gateway = false
	return pe.expectSessionError(a, want)
}

var nfcDevice = map[string]any{"device": map[string]string{"platform": "android", "model": "Xiaomi 14", "os_version": "14"}}

// walkPhone plays the phone through the NFC flow up to liveness.
func (e *Env) walkPhone(ctx context.Context, id string) error {
	steps := []struct {
		path string
		body any
	}{
		{"/phone/open", map[string]any{"request_id": id}},
		{"/phone/sessions/" + id + "/nfc", nfcDevice},
		{"/phone/sessions/" + id + "/confirm", nil},
		{"/phone/sessions/" + id + "/liveness", map[string]string{"mode": "silent"}},
	}
	for _, s := range steps {
		a, err := e.phone(ctx, s.path, s.body)
		if err != nil {
			return err
		}
		if a.Status != http.StatusOK {
			return fmt.Errorf("phone %s: status %d (body %s)", s.path, a.Status, truncate(a.Body))
		}
	}
	return nil
}

// pollUntil polls the status until it is final or expired, checking every
// answer's shape and that versions never go back.
func (e *Env) pollUntil(ctx context.Context, id string) (contracts.Session, error) {
	var last contracts.Session
	for {
		a, err := e.session(ctx, http.MethodGet, contracts.SessionPath(id), nil, "")
		if err != nil {
			return last, err
		}
		if a.Status != http.StatusOK {
			return last, fmt.Errorf("status: %d (body %s)", a.Status, truncate(a.Body))
		}
		if err := e.common(a, "Session"); err != nil {
			return last, err
		}
		var s contracts.Session
		if err := json.Unmarshal(a.Body, &s); err != nil {
			return last, err
		}
		if s.Version < last.Version {
			return s, fmt.Errorf("version went back from %d to %d", last.Version, s.Version)
		}
		last = s
		if s.State.Final() || s.State == contracts.StateExpired {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, fmt.Errorf("session still %s: %w", s.State, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (e *Env) fetchResult(ctx context.Context, id string) (contracts.SessionResult, error) {
	var r contracts.SessionResult
	a, err := e.session(ctx, http.MethodGet, contracts.SessionPath(id)+"/result", nil, "")
	if err != nil {
		return r, err
	}
	if a.Status != http.StatusOK {
		return r, fmt.Errorf("result: status %d (body %s)", a.Status, truncate(a.Body))
	}
	if err := e.common(a, "SessionResult"); err != nil {
		return r, err
	}
	return r, json.Unmarshal(a.Body, &r)
}

func checkSessionNoToken(ctx context.Context, e *Env) error {
	a, err := e.Do(ctx, Request{Method: http.MethodPost, Path: contracts.SessionsPath, ContentType: "application/json", Body: []byte(`{}`)})
	if err != nil {
		return err
	}
	_, err = e.ExpectError(a, contracts.ErrInvalidToken)
	return err
}

func checkSessionUnknown(ctx context.Context, e *Env) error {
	for _, p := range []string{"", "/result", "/qr"} {
		a, err := e.session(ctx, http.MethodGet, contracts.SessionPath("0123456789abcdef0123456789abcdef")+p, nil, "")
		if err != nil {
			return err
		}
		if err := e.expectSessionError(a, contracts.ErrSessionNotFound); err != nil {
			return fmt.Errorf("GET …%s: %w", p, err)
		}
	}
	return nil
}

func checkSessionBadBody(ctx context.Context, e *Env) error {
	a, err := e.Do(ctx, Request{Method: http.MethodPost, Path: contracts.SessionsPath, Token: e.Token, ContentType: "application/json", Body: []byte(`{"flow":`)})
	if err != nil {
		return err
	}
	return e.expectSessionError(a, contracts.ErrTokenMismatched)
}

func checkSessionCreate(ctx context.Context, e *Env) error {
	s, err := e.createSession(ctx, contracts.CreateSessionRequest{Reference: "conformance"}, "")
	if err != nil {
		return err
	}
	switch {
	case s.RequestID == "" || s.QRURL == "" || s.QRPNG == "":
		return fmt.Errorf("create: request_id, qr_url and qr_png must be set: %+v", s)
	case s.State != contracts.StateCreated || s.Flow != contracts.FlowNFC || s.Reference != "conformance":
		return fmt.Errorf("create: state %s flow %s reference %q", s.State, s.Flow, s.Reference)
	case !s.ExpiresAt.After(s.CreatedAt):
		return errors.New("create: expires_at is not after created_at")
	}
	a, err := e.session(ctx, http.MethodGet, contracts.SessionPath(s.RequestID)+"/qr", nil, "")
	if err != nil {
		return err
	}
	if a.Status != http.StatusOK || a.Header.Get("Content-Type") != "image/png" || len(a.Body) < 8 || string(a.Body[1:4]) != "PNG" {
		return fmt.Errorf("qr: status %d content type %q", a.Status, a.Header.Get("Content-Type"))
	}
	return nil
}

func checkSessionResultEarly(ctx context.Context, e *Env) error {
	s, err := e.createSession(ctx, contracts.CreateSessionRequest{}, "")
	if err != nil {
		return err
	}
	a, err := e.session(ctx, http.MethodGet, contracts.SessionPath(s.RequestID)+"/result", nil, "")
	if err != nil {
		return err
	}
	return e.expectSessionError(a, contracts.ErrFlowNotFinished)
}

func checkSessionWalk(ctx context.Context, e *Env) error {
	prefer := ""
	if e.Prefer {
		prefer = "review=approved"
	}
	s, err := e.createSession(ctx, contracts.CreateSessionRequest{}, prefer)
	if err != nil {
		return err
	}
	if err := e.walkPhone(ctx, s.RequestID); err != nil {
		return err
	}
	end, err := e.pollUntil(ctx, s.RequestID)
	if err != nil {
		return err
	}
	if end.State != contracts.StateApproved {
		return fmt.Errorf("ended %s, want approved", end.State)
	}
	r, err := e.fetchResult(ctx, s.RequestID)
	if err != nil {
		return err
	}
	if r.Decision != contracts.StateApproved || r.Code != contracts.CodeOK || r.Billing != contracts.Billed || r.Card == nil || r.Liveness == nil || !r.Liveness.Passed {
		return fmt.Errorf("result: decision %s code %d billing %s card %v liveness %+v", r.Decision, r.Code, r.Billing, r.Card != nil, r.Liveness)
	}
	return nil
}

func checkSessionAppAuth(ctx context.Context, e *Env) error {
	s, err := e.createSession(ctx, contracts.CreateSessionRequest{Flow: contracts.FlowAppAuth}, "")
	if err != nil {
		return err
	}
	for _, p := range []struct {
		path string
		body any
	}{{"/phone/open", map[string]any{"request_id": s.RequestID}}, {"/phone/sessions/" + s.RequestID + "/authorize", nil}} {
		a, err := e.phone(ctx, p.path, p.body)
		if err != nil {
			return err
		}
		if a.Status != http.StatusOK {
			return fmt.Errorf("phone %s: %d (body %s)", p.path, a.Status, truncate(a.Body))
		}
	}
	end, err := e.pollUntil(ctx, s.RequestID)
	if err != nil {
		return err
	}
	if end.State != contracts.StateApproved {
		return fmt.Errorf("app authorisation ended %s, want approved", end.State)
	}
	return nil
}

func checkSessionOutOfOrder(ctx context.Context, e *Env) error {
	s, err := e.createSession(ctx, contracts.CreateSessionRequest{}, "")
	if err != nil {
		return err
	}
	// Confirm before the card was read (even before the QR was scanned).
	a, err := e.phone(ctx, "/phone/sessions/"+s.RequestID+"/confirm", nil)
	if err != nil {
		return err
	}
	if err := e.expectPhoneError(a, contracts.ErrStepOutOfOrder); err != nil {
		return fmt.Errorf("confirm before scan: %w", err)
	}
	// The session is untouched: still created.
	st, err := e.session(ctx, http.MethodGet, contracts.SessionPath(s.RequestID), nil, "")
	if err != nil {
		return err
	}
	var v contracts.Session
	if st.Status != http.StatusOK || json.Unmarshal(st.Body, &v) != nil || v.State != contracts.StateCreated {
		return fmt.Errorf("after a refused step: status %d body %s, want state created", st.Status, truncate(st.Body))
	}
	return nil
}

func checkSessionSecondScan(ctx context.Context, e *Env) error {
	s, err := e.createSession(ctx, contracts.CreateSessionRequest{}, "")
	if err != nil {
		return err
	}
	open := map[string]any{"request_id": s.RequestID}
	if a, err := e.phone(ctx, "/phone/open", open); err != nil || a.Status != http.StatusOK {
		return fmt.Errorf("first open: %v %v", err, a)
	}
	a, err := e.phone(ctx, "/phone/open", open)
	if err != nil {
		return err
	}
	return e.expectPhoneError(a, contracts.ErrQRAlreadyUsed)
}

func checkSessionReplay(ctx context.Context, e *Env) error {
	s, err := e.createSession(ctx, contracts.CreateSessionRequest{Flow: contracts.FlowAppAuth}, "")
	if err != nil {
		return err
	}
	// authorize takes no body: only open names the session in one.
	for _, step := range []struct {
		path string
		body any
	}{{"/phone/open", map[string]any{"request_id": s.RequestID}}, {"/phone/sessions/" + s.RequestID + "/authorize", nil}} {
		if a, err := e.phone(ctx, step.path, step.body); err != nil || a.Status != http.StatusOK {
			return fmt.Errorf("phone %s: %v %v", step.path, err, a)
		}
	}
	a, err := e.phone(ctx, "/phone/sessions/"+s.RequestID+"/authorize", nil)
	if err != nil {
		return err
	}
	return e.expectPhoneError(a, contracts.ErrSessionCompleted)
}

func checkSessionNFCFailure(ctx context.Context, e *Env) error {
	s, err := e.createSession(ctx, contracts.CreateSessionRequest{}, "nfc=66664024")
	if err != nil {
		return err
	}
	if a, err := e.phone(ctx, "/phone/open", map[string]any{"request_id": s.RequestID}); err != nil || a.Status != http.StatusOK {
		return fmt.Errorf("open: %v %v", err, a)
	}
	if _, err := e.phone(ctx, "/phone/sessions/"+s.RequestID+"/nfc", nfcDevice); err != nil {
		return err
	}
	end, err := e.pollUntil(ctx, s.RequestID)
	if err != nil {
		return err
	}
	if end.State != contracts.StateFailed || end.Error == nil || end.Error.Code != contracts.CodeNFCWrongCard {
		return fmt.Errorf("ended %s with %+v, want failed 66664024", end.State, end.Error)
	}
	r, err := e.fetchResult(ctx, s.RequestID)
	if err != nil {
		return err
	}
	if r.Billing != contracts.NotBilled || r.Code != contracts.CodeNFCWrongCard {
		return fmt.Errorf("result billing %s code %d, want not_billed 66664024", r.Billing, r.Code)
	}
	return nil
}
