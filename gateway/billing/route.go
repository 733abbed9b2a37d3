package billing

import (
	"errors"
	"fmt"
	"strings"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/tencent"
	"github.com/idgate/idgate/gateway/encryption"
)

// RouteConfig is one API the gateway serves (an entry of `routes:`), with
// its billing table. The pipeline serves it, the cache and the retry
// policy key their per-route settings by its Name, and its Results decide
// what every answer costs.
type RouteConfig struct {
	// Name labels the route in metrics and the ledger.
	Name         string `yaml:"name"`
	Path         string `yaml:"path"`
	UpstreamPath string `yaml:"upstream_path"`
	// ForwardPrefer passes the client's Prefer header on (the simulator's
	// outcome switch). Off towards the real authority.
	ForwardPrefer bool `yaml:"forward_prefer"`
	// LocalValidation answers invalid input without an upstream call.
	LocalValidation bool `yaml:"local_validation"`
	// LocalAnswers maps the gateway's validation findings to this route's
	// result codes. A finding without an entry is answered 400.
	LocalAnswers LocalAnswers `yaml:"local_answers"`
	// Results is the billing table: every result code the route can answer.
	// A code missing here is treated as upstream garbage.
	Results map[string]Result `yaml:"results"`
	// Encryption is the route's mode: passthrough (default), terminate or
	// encrypt-upstream.
	Encryption encryption.RouteConfig `yaml:"encryption"`
	// Action is the Tencent Cloud API 3.0 action (FaceID 2018-03-01:
	// IdCardVerification, CheckIdNameDate) that also serves this route:
	// POST / with X-TC-Action, TC3-signed with a key's Tencent pair. Both
	// dialects share the route: its billing table, cache, quota and
	// ledger name. "" serves the path only.
	Action string `yaml:"action"`
	// UpstreamDialect is what the upstream speaks: aggregator (default,
	// POST upstream_path with the bearer token) or tencent (POST / with
	// UpstreamAction, signed with upstream.tencent's pair).
	UpstreamDialect string `yaml:"upstream_dialect"`
	UpstreamAction  string `yaml:"upstream_action"`
}

// The upstream dialects.
const (
	DialectAggregator = "aggregator"
	DialectTencent    = "tencent"
)

// TencentUpstream reports whether the route's upstream speaks Tencent
// Cloud API 3.0.
func (r RouteConfig) TencentUpstream() bool { return r.UpstreamDialect == DialectTencent }

// checkAction reports whether a is an action a check route can serve or
// call.
func checkAction(a string) bool {
	return a == tencent.ActionIdCardVerification || a == tencent.ActionCheckIdNameDate
}

// LocalAnswers names the result code per kind of invalid input.
type LocalAnswers struct {
	IllegalID       string `yaml:"illegal_id"`
	IllegalName     string `yaml:"illegal_name"`
	IllegalValidity string `yaml:"illegal_validity"`
	// InvalidIdentity answers a validity period that contradicts the ID
	// number itself (it begins before the holder's birth date) on a route
	// whose API requires the period (CheckIdNameDate's "-5"); empty: such
	// a period is an illegal validity period.
	InvalidIdentity string `yaml:"invalid_identity"`
}

// Result is one row of a route's billing table.
type Result struct {
	Billed      bool   `yaml:"billed"`
	Description string `yaml:"description"`
}

// CheckRoute is the default route: check-2e with its billing table from
// contracts.
func CheckRoute() RouteConfig {
	r := RouteConfig{
		Name:            "check-2e",
		Path:            contracts.CheckPath,
		UpstreamPath:    contracts.CheckPath,
		ForwardPrefer:   true,
		LocalValidation: true,
		LocalAnswers: LocalAnswers{
			IllegalID:   string(contracts.ResultIllegalID),
			IllegalName: string(contracts.ResultIllegalName),
		},
		Results:         map[string]Result{},
		Encryption:      encryption.DefaultRoute(),
		Action:          tencent.ActionIdCardVerification,
		UpstreamDialect: DialectAggregator,
	}
	for _, ri := range contracts.Results {
		r.Results[string(ri.Code)] = Result{Billed: ri.Billing == contracts.Billed, Description: ri.Description}
	}
	return r
}

// CheckDatePath is the aggregator path of the check with the card's
// validity period (the authority's CheckIdNameDate).
const CheckDatePath = "/identity/idcard/check-id-name-date"

// DateRoute is the check with the card's validity period: its own result
// table (the authority numbers the codes differently: "-4" illegal
// validity, "-5" identity invalid, "-6" database exception, "-7" no
// record, "-8" daily limit; only "0" and "-1" billed), served on its path
// and as CheckIdNameDate, towards an upstream of the Tencent dialect.
func DateRoute() RouteConfig {
	return RouteConfig{
		Name:            "check-id-name-date",
		Path:            CheckDatePath,
		UpstreamPath:    CheckDatePath,
		ForwardPrefer:   true,
		LocalValidation: true,
		LocalAnswers:    LocalAnswers{IllegalID: "-2", IllegalName: "-3", IllegalValidity: "-4", InvalidIdentity: "-5"},
		Results: map[string]Result{
			"0":  {Billed: true, Description: "Name, ID card number and validity period are consistent"},
			"-1": {Billed: true, Description: "Name, ID card number and validity period are inconsistent"},
			"-2": {Description: "Illegal ID card number (length, check digit, etc. are incorrect)"},
			"-3": {Description: "Illegal name (length, format, etc. are incorrect)"},
			"-4": {Description: "Illegal validity period (format, order or length is incorrect)"},
			"-5": {Description: "The identity information is invalid"},
			"-6": {Description: "Document database service exception"},
			"-7": {Description: "No record of this ID card in the document database"},
			"-8": {Description: "The number of authentications has exceeded the daily limit"},
		},
		Encryption:      encryption.DefaultRoute(),
		Action:          tencent.ActionCheckIdNameDate,
		UpstreamDialect: DialectTencent,
		UpstreamAction:  tencent.ActionCheckIdNameDate,
	}
}

// DefaultRoutes is the route table of a configuration that lists none:
// the two-factor check (also served as IdCardVerification).
func DefaultRoutes() []RouteConfig { return []RouteConfig{CheckRoute()} }

// DemoRoutes are the demo's routes: the two-factor check towards an
// aggregator upstream and the check with validity period towards a
// Tencent one, both also served as Tencent actions, so `make run`
// exercises both dialects both ways.
func DemoRoutes() []RouteConfig { return []RouteConfig{CheckRoute(), DateRoute()} }

// SetDefaults fills what a route may leave out: the upstream path is the
// served path, the name the path without its slashes, the mode
// passthrough.
func (r *RouteConfig) SetDefaults() {
	if r.UpstreamPath == "" {
		r.UpstreamPath = r.Path
	}
	if r.Name == "" {
		r.Name = strings.Trim(r.Path, "/")
	}
	if r.UpstreamDialect == "" {
		r.UpstreamDialect = DialectAggregator
	}
	r.Encryption.SetDefaults()
}

// Billed reports whether code is a billed code of the route's table.
func (r RouteConfig) Billed(code string) bool { return r.Results[code].Billed }

// ValidateRoutes checks a route table: paths, unique names and paths, a
// billing table per route, and local answers that are non-billed codes of
// it.
func ValidateRoutes(routes []RouteConfig) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	paths := map[string]bool{}
	names := map[string]bool{}
	actions := map[string]bool{}
	for _, r := range routes {
		if !strings.HasPrefix(r.Path, "/") {
			bad("route %q: path must start with /", r.Path)
		}
		if paths[r.Path] || names[r.Name] {
			bad("route %q: duplicate path or name", r.Path)
		}
		paths[r.Path], names[r.Name] = true, true
		if len(r.Results) == 0 {
			bad("route %q: results (the billing table) is empty", r.Path)
		}
		if r.Path == "/" {
			bad("route %q: / is the Tencent dialect's endpoint (serve an action with `action`)", r.Path)
		}
		if r.Action != "" {
			if !checkAction(r.Action) {
				bad("route %q: action %q: a check route serves %s or %s", r.Path, r.Action, tencent.ActionIdCardVerification, tencent.ActionCheckIdNameDate)
			}
			if actions[r.Action] {
				bad("route %q: action %s is served by another route", r.Path, r.Action)
			}
			actions[r.Action] = true
		}
		switch r.UpstreamDialect {
		case "", DialectAggregator:
			if r.UpstreamAction != "" {
				bad("route %q: upstream_action needs upstream_dialect: tencent", r.Path)
			}
		case DialectTencent:
			if !checkAction(r.UpstreamAction) {
				bad("route %q: upstream_dialect tencent needs upstream_action %s or %s", r.Path, tencent.ActionIdCardVerification, tencent.ActionCheckIdNameDate)
			}
		default:
			bad("route %q: upstream_dialect %q: want aggregator or tencent", r.Path, r.UpstreamDialect)
		}
		for _, code := range []string{r.LocalAnswers.IllegalID, r.LocalAnswers.IllegalName, r.LocalAnswers.IllegalValidity, r.LocalAnswers.InvalidIdentity} {
			if _, ok := r.Results[code]; code != "" && (!ok || r.Results[code].Billed) {
				bad("route %q: local answer %q must be a non-billed code of its results table", r.Path, code)
			}
		}
	}
	return errors.Join(errs...)
}

// RouteNames is the set of the table's route names.
func RouteNames(routes []RouteConfig) map[string]bool {
	m := make(map[string]bool, len(routes))
	for _, r := range routes {
		m[r.Name] = true
	}
	return m
}
