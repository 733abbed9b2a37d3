package session

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idgate/idgate/contracts"
)

// The phone side: what the mini program or App Clip does with a session.

// Device is the phone that reads the card.
type Device struct {
	Platform  string `json:"platform"` // android | ios
	Model     string `json:"model"`
	OSVersion string `json:"os_version"`
}

// supported applies the authority's device rules: no Google Pixel reads
// these cards, and iPhones need iOS 16 or later. A missing or unknown platform is a bad
// parameter of the read.
func (d Device) supported() contracts.SessionCode {
	switch strings.ToLower(d.Platform) {
	case "android":
		if strings.Contains(strings.ToLower(d.Model), "pixel") {
			return contracts.CodeNFCUnsupported
		}
		return contracts.CodeOK
	case "ios", "iphone":
		major, _, _ := strings.Cut(strings.TrimSpace(d.OSVersion), ".")
		n, err := strconv.Atoi(major)
		if err != nil || n < 16 {
			return contracts.CodeNFCUnsupported
		}
		return contracts.CodeOK
	}
	return contracts.CodeNFCBadParams
}

// OpenRequest is the phone opening a session: by the token in the QR code
// or by the typed Request ID (iPhone App Clip), after the user granted the
// mini program permission to verify them.
type OpenRequest struct {
	QRToken           string `json:"qr_token,omitempty"`
	RequestID         string `json:"request_id,omitempty"`
	PermissionGranted *bool  `json:"permission_granted,omitempty"`
}

// Open moves a created session to scanned. A refused permission ends the
// session as the user quitting (600101).
func (s *Service) Open(req OpenRequest) (PhoneView, error) {
	var x *session
	switch {
	case req.QRToken != "":
		s.mu.RLock()
		x = s.byQR[req.QRToken]
		s.mu.RUnlock()
		if x == nil {
			return PhoneView{}, errf(contracts.ErrSessionNotFound, "unknown or replaced QR code")
		}
	case req.RequestID != "":
		var err error
		if x, err = s.lookup("", req.RequestID); err != nil {
			return PhoneView{}, err
		}
	default:
		return PhoneView{}, errf(contracts.ErrTokenMismatched, "give qr_token or request_id")
	}
	now := s.clock.Now()
	x.mu.Lock()
	defer x.mu.Unlock()
	s.expireIfDue(x, now)
	switch {
	case x.state == contracts.StateExpired:
		return PhoneView{}, errf(contracts.ErrSessionExpired, "the QR code expired; ask for a new one")
	case x.state.Final():
		return PhoneView{}, errf(contracts.ErrSessionCompleted, "the session is already %s", x.state)
	case x.state != contracts.StateCreated:
		return PhoneView{}, errf(contracts.ErrQRAlreadyUsed, "the session was already opened on a phone")
	}
	if req.PermissionGranted != nil && !*req.PermissionGranted {
		s.emit(x, x.change(now, contracts.StateFailed, contracts.Failure(contracts.CodeNFCUserQuit)))
		return s.phoneView(x), nil
	}
	s.emit(x, x.change(now, contracts.StateScanned, nil))
	return s.phoneView(x), nil
}

// step locks the session for a phone step that needs state want in flow
// (or, when given, in the other flow also).
func (s *Service) step(id string, flow contracts.SessionFlow, want contracts.SessionState, also ...contracts.SessionFlow) (*session, time.Time, error) {
	x, err := s.lookup("", id)
	if err != nil {
		return nil, time.Time{}, err
	}
	now := s.clock.Now()
	x.mu.Lock()
	s.expireIfDue(x, now)
	var e *Error
	switch {
	case x.state == contracts.StateExpired:
		e = errf(contracts.ErrSessionExpired, "the session expired")
	case x.state.Final():
		e = errf(contracts.ErrSessionCompleted, "the session is already %s", x.state)
	case x.flow != flow && !slices.Contains(also, x.flow):
		e = errf(contracts.ErrStepOutOfOrder, "this step belongs to the %s flow; the session is %s", flow, x.flow)
	case x.state != want:
		e = errf(contracts.ErrStepOutOfOrder, "this step needs state %s; the session is %s", want, x.state)
	}
	if e != nil {
		x.mu.Unlock()
		return nil, now, e
	}
	return x, now, nil
}

// fail records a failed attempt: a retryable code leaves the state alone
// until the attempt limit, then ends the session with 16.
func (s *Service) fail(x *session, now time.Time, code contracts.SessionCode) {
	info, _ := contracts.LookupSessionCode(code)
	if !info.Retryable {
		s.emit(x, x.change(now, contracts.StateFailed, contracts.Failure(code)))
		return
	}
	x.attempts++
	if x.attempts >= s.cfg.MaxAttempts {
		f := contracts.Failure(contracts.CodeRetryLimit)
		f.Message += " (last: " + strconv.Itoa(int(code)) + " " + info.Message + ")"
		s.emit(x, x.change(now, contracts.StateFailed, f))
		return
	}
	// Not a state change: the phone shows the error and lets the user
	// retry. Pollers see it in error and attempts.
	x.failure, x.updated = contracts.Failure(code), now
}

// ReadCard is the NFC read. In the nfc_read flow a good read is the whole
// session: card_read, then approved at once.
func (s *Service) ReadCard(id string, dev Device, prefer string) (PhoneView, error) {
	hdr, err := ParsePlan(prefer)
	if err != nil {
		return PhoneView{}, errf(contracts.ErrTokenMismatched, "%v", err)
	}
	x, now, err := s.step(id, contracts.FlowNFC, contracts.StateScanned, contracts.FlowNFCRead)
	if err != nil {
		return PhoneView{}, err
	}
	defer x.mu.Unlock()
	plan := x.plan.Merge(hdr)
	if c := dev.supported(); c != contracts.CodeOK {
		s.fail(x, now, c)
		return s.phoneView(x), nil
	}
	code := contracts.CodeOK
	if plan.NFC != nil {
		code = *plan.NFC
	}
	switch code {
	case contracts.CodeOK, contracts.CodeCardMismatch, contracts.CodeCardExpired:
	default:
		s.fail(x, now, code)
		return s.phoneView(x), nil
	}
	var card contracts.CardData
	if x.expID != "" && code != contracts.CodeCardMismatch {
		card = completeCard(x.rng, now, x.expName, x.expID)
	} else {
		card = s.identity(x.rng, now)
		for x.expID != "" && card.IDCard == x.expID {
			card = s.identity(x.rng, now)
		}
	}
	if code == contracts.CodeCardExpired {
		expireCard(&card, now)
	}
	x.card = &card
	// The chip is the authority: a card for another person or an expired
	// one ends the session whatever the plan said.
	switch {
	case x.expID != "" && card.IDCard != x.expID, code == contracts.CodeCardMismatch:
		s.emit(x, x.change(now, contracts.StateFailed, contracts.Failure(contracts.CodeCardMismatch)))
	case cardExpired(&card, now):
		s.emit(x, x.change(now, contracts.StateFailed, contracts.Failure(contracts.CodeCardExpired)))
	default:
		x.failure = nil
		s.emit(x, x.change(now, contracts.StateCardRead, nil))
		if x.flow == contracts.FlowNFCRead {
			s.emit(x, x.change(now, contracts.StateApproved, nil))
		}
	}
	return s.phoneView(x), nil
}

// Confirm is the user accepting the card data shown after the read.
func (s *Service) Confirm(id string) (PhoneView, error) {
	x, now, err := s.step(id, contracts.FlowNFC, contracts.StateCardRead)
	if err != nil {
		return PhoneView{}, err
	}
	defer x.mu.Unlock()
	x.attempts, x.failure = 0, nil
	s.emit(x, x.change(now, contracts.StateConfirmed, nil))
	return s.phoneView(x), nil
}

// LivenessRequest picks the liveness mode, one of the authority's five.
type LivenessRequest struct {
	Mode string `json:"mode,omitempty"` // silent (default), action, lip, flash, near_far
}

var livenessModes = map[string]bool{"silent": true, "action": true, "lip": true, "flash": true, "near_far": true}

// Liveness is one liveness attempt. A pass moves on to review at once.
func (s *Service) Liveness(id string, req LivenessRequest, prefer string) (PhoneView, error) {
	if req.Mode == "" {
		req.Mode = "silent"
	}
	if !livenessModes[req.Mode] {
		return PhoneView{}, errf(contracts.ErrTokenMismatched, "mode must be silent, action, lip, flash or near_far")
	}
	hdr, err := ParsePlan(prefer)
	if err != nil {
		return PhoneView{}, errf(contracts.ErrTokenMismatched, "%v", err)
	}
	x, now, err := s.step(id, contracts.FlowNFC, contracts.StateConfirmed)
	if err != nil {
		return PhoneView{}, err
	}
	defer x.mu.Unlock()
	plan := x.plan.Merge(hdr)
	code := contracts.CodeOK
	if plan.Liveness != nil {
		code = *plan.Liveness
	} else if plan.Similarity != nil && *plan.Similarity < contracts.FaceThreshold {
		code = contracts.CodeLivenessSimLow
	}
	score := round1(85 + x.rng.Float64()*14.9)
	sim := round1(75 + x.rng.Float64()*23)
	if code != contracts.CodeOK {
		score = round1(10 + x.rng.Float64()*50)
	}
	if code == contracts.CodeLivenessSimLow {
		sim = round1(30 + x.rng.Float64()*39)
	}
	if plan.Score != nil {
		score = *plan.Score
	}
	if plan.Similarity != nil {
		sim = *plan.Similarity
	}
	x.liveness = &contracts.LivenessResult{Mode: req.Mode, Passed: code == contracts.CodeOK, Score: score, Code: code, Message: code.Message()}
	x.sim = &sim
	if code != contracts.CodeOK {
		s.fail(x, now, code)
		return s.phoneView(x), nil
	}
	x.failure = nil
	s.emit(x, x.change(now, contracts.StateLivenessPassed, nil))
	s.emit(x, x.change(now, contracts.StateUnderReview, nil))
	delay := s.cfg.ReviewDelay
	if plan.ReviewDelay != nil {
		delay = *plan.ReviewDelay
	}
	delay = time.Duration(float64(delay) * s.cfg.TimeScale)
	decision := contracts.CodeOK
	if plan.Review != nil {
		decision = *plan.Review
	}
	x.review = s.clock.AfterFunc(delay, func() { s.finishReview(x, decision) })
	return s.phoneView(x), nil
}

func round1(f float64) float64 { return float64(int(f*10+0.5)) / 10 }

func (s *Service) finishReview(x *session, decision contracts.SessionCode) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.state != contracts.StateUnderReview {
		return
	}
	now := s.clock.Now()
	x.review = nil
	if decision == contracts.CodeOK {
		s.emit(x, x.change(now, contracts.StateApproved, nil))
		return
	}
	s.emit(x, x.change(now, contracts.StateRejected, contracts.Failure(decision)))
}

// Authorize is the app-authorisation flow: an app that already knows the
// user releases its real-name data, or refuses.
func (s *Service) Authorize(id, prefer string) (PhoneView, error) {
	hdr, err := ParsePlan(prefer)
	if err != nil {
		return PhoneView{}, errf(contracts.ErrTokenMismatched, "%v", err)
	}
	x, now, err := s.step(id, contracts.FlowAppAuth, contracts.StateScanned)
	if err != nil {
		return PhoneView{}, err
	}
	defer x.mu.Unlock()
	plan := x.plan.Merge(hdr)
	if plan.AppAuth != nil && *plan.AppAuth != contracts.CodeOK {
		s.emit(x, x.change(now, contracts.StateFailed, contracts.Failure(*plan.AppAuth)))
		return s.phoneView(x), nil
	}
	var card contracts.CardData
	if x.expID != "" {
		card = completeCard(x.rng, now, x.expName, x.expID)
	} else {
		card = s.identity(x.rng, now)
	}
	x.card = &card
	s.emit(x, x.change(now, contracts.StateApproved, nil))
	return s.phoneView(x), nil
}

// PhoneStatus is the phone's (and the console's) poll.
func (s *Service) PhoneStatus(id string) (PhoneView, error) {
	x, err := s.lookup("", id)
	if err != nil {
		return PhoneView{}, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	s.expireIfDue(x, s.clock.Now())
	return s.phoneView(x), nil
}
