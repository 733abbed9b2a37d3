package server

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/simulator/outcome"
)

// AdminPrefix is where the admin API lives.
const AdminPrefix = "/admin"

// ScenarioStatus is the body of GET /admin/scenarios/{token}.
type ScenarioStatus struct {
	Token    string               `json:"token"`
	Scenario outcome.ScenarioSpec `json:"scenario"`
	// Draws is the number of requests the scenario has decided since it
	// was set or reset.
	Draws uint64 `json:"draws"`
}

// JournalState is the body of PUT /admin/journal and part of GET.
type JournalState struct {
	Enabled bool `json:"enabled"`
}

// JournalPage is the body of GET /admin/journal.
type JournalPage struct {
	Enabled bool            `json:"enabled"`
	Size    int             `json:"size"`
	Entries json.RawMessage `json:"entries"`
}

func (s *Server) registerAdmin() {
	g := s.app.Group(AdminPrefix, s.adminAuth)
	g.Get("/stats", func(c *fiber.Ctx) error { return writeJSON(c, fiber.StatusOK, s.book.Snapshot()) })
	g.Post("/reset", s.adminReset)
	g.Get("/statement", s.adminStatement)
	g.Get("/journal", s.adminJournal)
	g.Put("/journal", s.adminJournalSwitch)
	g.Get("/scenarios", s.adminScenarios)
	g.Get("/scenarios/:token", s.adminScenarioGet)
	g.Put("/scenarios/:token", s.adminScenarioPut)
	g.Delete("/scenarios/:token", s.adminScenarioDelete)
}

// adminAuth admits requests bearing the admin token; the comparison takes
// constant time so the token cannot be guessed byte by byte.
func (s *Server) adminAuth(c *fiber.Ctx) error {
	tok, ok := contracts.BearerToken(c.Request().Header.PeekBytes(headerAuth))
	if !ok || subtle.ConstantTimeCompare(tok, s.adminToken) != 1 {
		return adminError(c, contracts.ErrInvalidToken, "missing or invalid admin token")
	}
	return c.Next()
}

func adminError(c *fiber.Ctx, code contracts.ErrorCode, msg string) error {
	var buf [512]byte
	c.Status(code.Status())
	c.Set(fiber.HeaderContentType, applicationJSON)
	return c.Send(contracts.AppendError(buf[:0], contracts.NewError(code, msg, newTraceID())))
}

func writeJSON(c *fiber.Ctx, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return adminError(c, contracts.ErrAPIError, "encoding the answer failed")
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, applicationJSON)
	return c.Send(b)
}

// adminReset zeroes the stats and the statement, empties the journal,
// forgets the daily counts, refills the rate limiters and rewinds every
// scenario to its seed, so a test run starts from a known state.
func (s *Server) adminReset(c *fiber.Ctx) error {
	s.book.Reset()
	s.statement.Reset()
	s.journal.Reset()
	if s.daily != nil {
		s.daily.Reset()
	}
	for _, name := range credentials(&s.cfg) {
		t := s.credential(name)
		if t.limiter.Load() != nil {
			// A fresh limiter is the only way to refill a bucket.
			t.limiter.Store(rate.NewLimiter(rate.Limit(s.cfg.RateLimit.PerSecond), s.cfg.RateLimit.Burst))
		}
		if sc := t.scenario.Load(); sc != nil {
			sc.Reset()
		}
	}
	return writeJSON(c, fiber.StatusOK, map[string]bool{"reset": true})
}

func (s *Server) adminJournal(c *fiber.Ctx) error {
	limit := 100
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return adminError(c, contracts.ErrTokenMismatched, "limit must be a positive integer")
		}
		limit = n
	}
	entries, err := json.Marshal(s.journal.Last(limit))
	if err != nil {
		return adminError(c, contracts.ErrAPIError, "encoding the journal failed")
	}
	return writeJSON(c, fiber.StatusOK, JournalPage{Enabled: s.journal.Enabled(), Size: s.journal.Size(), Entries: entries})
}

func (s *Server) adminJournalSwitch(c *fiber.Ctx) error {
	var st struct {
		Enabled *bool `json:"enabled"`
	}
	if err := decodeAdmin(c.Body(), &journalSchema, &st); err != nil || st.Enabled == nil {
		return adminError(c, contracts.ErrTokenMismatched, `body must be {"enabled": true|false}`)
	}
	s.journal.SetEnabled(*st.Enabled)
	s.log.Info("simulator: journal switched", "enabled", *st.Enabled)
	return writeJSON(c, fiber.StatusOK, JournalState{Enabled: *st.Enabled})
}

// tokenParam resolves the {token} path segment to a configured token.
func (s *Server) tokenParam(c *fiber.Ctx) (*tokenState, error) {
	raw, err := url.PathUnescape(c.Params("token"))
	if err != nil {
		return nil, adminError(c, contracts.ErrTokenMismatched, "token path segment is not valid")
	}
	t := s.credential(raw)
	if t == nil {
		return nil, adminError(c, contracts.ErrTokenMismatched, "no such API token or Tencent SecretId in this simulator's configuration")
	}
	return t, nil
}

func (s *Server) adminScenarios(c *fiber.Ctx) error {
	out := []ScenarioStatus{}
	for _, name := range credentials(&s.cfg) {
		if sc := s.credential(name).scenario.Load(); sc != nil {
			out = append(out, ScenarioStatus{Token: name, Scenario: sc.Spec(), Draws: sc.Seq()})
		}
	}
	return writeJSON(c, fiber.StatusOK, out)
}

func (s *Server) adminScenarioGet(c *fiber.Ctx) error {
	t, err := s.tokenParam(c)
	if t == nil {
		return err
	}
	sc := t.scenario.Load()
	if sc == nil {
		return adminError(c, contracts.ErrTokenMismatched, "this token has no scenario")
	}
	return writeJSON(c, fiber.StatusOK, ScenarioStatus{Token: t.name, Scenario: sc.Spec(), Draws: sc.Seq()})
}

func (s *Server) adminScenarioPut(c *fiber.Ctx) error {
	t, err := s.tokenParam(c)
	if t == nil {
		return err
	}
	spec, err := decodeScenario(c.Body())
	if err != nil {
		return adminError(c, contracts.ErrTokenMismatched, err.Error())
	}
	sc, err := outcome.NewScenario(spec, s.maxLatency)
	if err != nil {
		return adminError(c, contracts.ErrTokenMismatched, err.Error())
	}
	t.scenario.Store(sc)
	s.log.Info("simulator: scenario set", "outcomes", len(spec.Outcomes), "fault_rate", spec.FaultRate, "latency", spec.Latency.Distribution, "seed", spec.Seed)
	return writeJSON(c, fiber.StatusOK, ScenarioStatus{Token: t.name, Scenario: spec})
}

// scenarioSchema is a scenario's top-level members and its latency's, as
// spelt.
var scenarioSchema = contracts.KeySchema{
	Fields:       []string{"seed", "outcomes", "latency", "fault_rate", "faults"},
	Nested:       "latency",
	NestedFields: []string{"distribution", "value", "min", "max", "median", "sigma"},
}

// journalSchema is the member of a PUT /admin/journal body.
var journalSchema = contracts.KeySchema{Fields: []string{"enabled"}}

// decodeScenario reads a PUT /admin/scenarios/{token} body (decodeAdmin).
// The values are NewScenario's to check.
func decodeScenario(body []byte) (outcome.ScenarioSpec, error) {
	var spec outcome.ScenarioSpec
	if err := decodeAdmin(body, &scenarioSchema, &spec); err != nil {
		return spec, errors.New("scenario " + err.Error())
	}
	return spec, nil
}

// decodeAdmin reads an admin body into v: one JSON object (not null) with
// nothing after it, no unknown field, no key repeated in any object, and
// the field names of schema exact. An admin request means exactly what
// the operator wrote.
func decodeAdmin(body []byte, schema *contracts.KeySchema, v any) error {
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return errors.New("must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("is not valid JSON: " + err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("is not valid JSON: data after the object")
	}
	if err := contracts.CheckKeys(body, schema); err != nil {
		return errors.New("has " + err.Error())
	}
	return nil
}

func (s *Server) adminScenarioDelete(c *fiber.Ctx) error {
	t, err := s.tokenParam(c)
	if t == nil {
		return err
	}
	t.scenario.Store(nil)
	return c.SendStatus(fiber.StatusNoContent)
}
