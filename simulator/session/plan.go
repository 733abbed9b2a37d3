package session

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/idgate/idgate/contracts"
)

// Plan is the outcome a session's steps will have. Each field is optional;
// a plan from a more specific source overrides a less specific one, field by
// field: the step's Prefer header, then the create request's Prefer header,
// then the expected ID number's magic identity, then the token's scenario.
// What no source sets is the happy path, with scores drawn from the
// session's seeded random source.
type Plan struct {
	NFC         *contracts.SessionCode // 0 = success
	Liveness    *contracts.SessionCode // 0 = pass
	Review      *contracts.SessionCode // 0 = approved
	AppAuth     *contracts.SessionCode // 0 = authorized
	Score       *float64               // liveness score
	Similarity  *float64               // face similarity
	ReviewDelay *time.Duration         // before time scaling
	TTL         *time.Duration         // QR validity (create only)
}

// Merge returns p with every field that o sets taken from o.
func (p Plan) Merge(o Plan) Plan {
	if o.NFC != nil {
		p.NFC = o.NFC
	}
	if o.Liveness != nil {
		p.Liveness = o.Liveness
	}
	if o.Review != nil {
		p.Review = o.Review
	}
	if o.AppAuth != nil {
		p.AppAuth = o.AppAuth
	}
	if o.Score != nil {
		p.Score = o.Score
	}
	if o.Similarity != nil {
		p.Similarity = o.Similarity
	}
	if o.ReviewDelay != nil {
		p.ReviewDelay = o.ReviewDelay
	}
	if o.TTL != nil {
		p.TTL = o.TTL
	}
	return p
}

// ParsePlan reads the session preferences of a Prefer header (RFC 7240):
// comma-separated key=value pairs; keys this package does not know (the
// check API's result=, status=, latency=, ...) are ignored, as the RFC asks.
//
//	nfc=success | <NFC code: 600100-600106, 66664020-66664026, 301, 302, 303>
//	liveness=pass | <liveness code 1001-1008>
//	review=approved | rejected (= 2006) | 2005 | 2006 | 2016
//	app_auth=authorized | not_verified (7001) | verified_other (7002)
//	score=<0-100>       liveness score to report
//	similarity=<0-100>  face similarity to report; below 70 fails liveness
//	                    with 1008 unless liveness= says otherwise
//	review_delay=<Go duration>, before time scaling
//	ttl=<Go duration>   QR validity instead of the configured one (on
//	                    create or in a scenario; a step ignores it)
//
// Several Prefer headers may be joined with commas before parsing.
func ParsePlan(header string) (Plan, error) {
	var p Plan
	for _, part := range strings.Split(header, ",") {
		// RFC 7240 allows parameters after ';'; none are meaningful here.
		part, _, _ = strings.Cut(part, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.ToLower(strings.Trim(strings.TrimSpace(v), `"`))
		switch k {
		case "nfc":
			c, err := stageCode(v, "success", contracts.StageNFC, contracts.CodeCardMismatch, contracts.CodeCardExpired, contracts.CodeScanFailed)
			if err != nil {
				return Plan{}, fmt.Errorf("prefer nfc: %w", err)
			}
			p.NFC = &c
		case "liveness":
			c, err := stageCode(v, "pass", contracts.StageLiveness)
			if err != nil {
				return Plan{}, fmt.Errorf("prefer liveness: %w", err)
			}
			p.Liveness = &c
		case "review":
			var c contracts.SessionCode
			var err error
			switch v {
			case "approved":
			case "rejected":
				c = contracts.CodeNameIDMismatch
			default:
				c, err = stageCode(v, "", contracts.StageReview)
			}
			if err != nil {
				return Plan{}, fmt.Errorf("prefer review: %w", err)
			}
			p.Review = &c
		case "app_auth":
			var c contracts.SessionCode
			switch v {
			case "authorized":
			case "not_verified", "7001":
				c = contracts.CodeAppNotVerified
			case "verified_other", "7002":
				c = contracts.CodeAppVerifiedOther
			default:
				return Plan{}, fmt.Errorf("prefer app_auth: %q is not authorized, not_verified or verified_other", v)
			}
			p.AppAuth = &c
		case "score", "similarity":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 100 {
				return Plan{}, fmt.Errorf("prefer %s: %q is not a number from 0 to 100", k, v)
			}
			if k == "score" {
				p.Score = &f
			} else {
				p.Similarity = &f
			}
		case "review_delay":
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return Plan{}, fmt.Errorf("prefer review_delay: %q is not a non-negative duration", v)
			}
			p.ReviewDelay = &d
		case "ttl":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 || d > 24*time.Hour {
				return Plan{}, fmt.Errorf("prefer ttl: %q is not a duration from 1ns to 24h", v)
			}
			p.TTL = &d
		}
	}
	return p, nil
}

// stageCode accepts okWord (code 0), a code of the stage, or one of extra.
func stageCode(v, okWord string, stage contracts.CodeStage, extra ...contracts.SessionCode) (contracts.SessionCode, error) {
	if okWord != "" && (v == okWord || v == "0") {
		return contracts.CodeOK, nil
	}
	n, err := strconv.Atoi(v)
	if err == nil {
		c := contracts.SessionCode(n)
		if info, ok := contracts.LookupSessionCode(c); ok && info.Stage == stage {
			return c, nil
		}
		for _, e := range extra {
			if c == e {
				return c, nil
			}
		}
	}
	return 0, fmt.Errorf("%q is not %s", v, stageWords(okWord, stage, extra))
}

func stageWords(okWord string, stage contracts.CodeStage, extra []contracts.SessionCode) string {
	var w []string
	if okWord != "" {
		w = append(w, okWord)
	}
	for _, c := range contracts.SessionCodes {
		if c.Stage == stage {
			w = append(w, strconv.Itoa(int(c.Code)))
		}
	}
	for _, c := range extra {
		w = append(w, strconv.Itoa(int(c)))
	}
	return "one of " + strings.Join(w, ", ")
}

// Applied renders the fields p sets in the Prefer grammar, for the
// Preference-Applied response header (RFC 7240 section 3).
func (p Plan) Applied() string {
	var parts []string
	code := func(k string, c *contracts.SessionCode, ok string) {
		if c == nil {
			return
		}
		if *c == contracts.CodeOK {
			parts = append(parts, k+"="+ok)
		} else {
			parts = append(parts, k+"="+strconv.Itoa(int(*c)))
		}
	}
	code("nfc", p.NFC, "success")
	code("liveness", p.Liveness, "pass")
	code("review", p.Review, "approved")
	code("app_auth", p.AppAuth, "authorized")
	if p.Score != nil {
		parts = append(parts, "score="+strconv.FormatFloat(*p.Score, 'f', -1, 64))
	}
	if p.Similarity != nil {
		parts = append(parts, "similarity="+strconv.FormatFloat(*p.Similarity, 'f', -1, 64))
	}
	if p.ReviewDelay != nil {
		parts = append(parts, "review_delay="+p.ReviewDelay.String())
	}
	if p.TTL != nil {
		parts = append(parts, "ttl="+p.TTL.String())
	}
	return strings.Join(parts, ", ")
}
