package billing

import (
	"errors"
	"fmt"
	"strings"

	"github.com/idgate/idgate/contracts"
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
}

// LocalAnswers names the result code per kind of invalid input.
type LocalAnswers struct {
	IllegalID       string `yaml:"illegal_id"`
	IllegalName     string `yaml:"illegal_name"`
	IllegalValidity string `yaml:"illegal_validity"`
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
		Results:    map[string]Result{},
		Encryption: encryption.DefaultRoute(),
	}
	for _, ri := range contracts.Results {
		r.Results[string(ri.Code)] = Result{Billed: ri.Billing == contracts.Billed, Description: ri.Description}
	}
	return r
}

// DefaultRoutes is the route table of a configuration that lists none.
func DefaultRoutes() []RouteConfig { return []RouteConfig{CheckRoute()} }

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
		for _, code := range []string{r.LocalAnswers.IllegalID, r.LocalAnswers.IllegalName, r.LocalAnswers.IllegalValidity} {
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
