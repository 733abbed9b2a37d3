package server

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/admin"
)

// TestAdminBadInput: every admin body is bounded and exact; a bad one is
// refused without effect.
func TestAdminBadInput(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(t, up.url, filepath.Join(t.TempDir(), "l.db"))
	cfg.Cache.Enabled, cfg.Cache.KeySecret = true, "server-test-cache-secret"
	g := startGateway(t, cfg, "")
	const tok = "gateway-admin-token"
	big := `{"id":"acme-big","pad":"` + strings.Repeat("x", 2<<20) + `"}`
	type row struct {
		name, method, path, body string
		status                   int
		code                     contracts.ErrorCode
	}
	rows := []row{
		{"unknown field on key creation", "POST", "/admin/tenants/acme/keys", `{"id":"acme-u","quota":5}`, 400, contracts.ErrTokenMismatched},
		{"two objects on key creation", "POST", "/admin/tenants/acme/keys", `{"id":"acme-t"}{"id":"acme-v"}`, 400, contracts.ErrTokenMismatched},
		{"repeated id on key creation", "POST", "/admin/tenants/acme/keys", `{"id":"acme-r","id":"acme-s"}`, 400, contracts.ErrTokenMismatched},
		{"field in another case on key creation", "POST", "/admin/tenants/acme/keys", `{"ID":"acme-c"}`, 400, contracts.ErrTokenMismatched},
		{"null key creation", "POST", "/admin/tenants/acme/keys", `null`, 400, contracts.ErrTokenMismatched},
		{"2 MiB key creation", "POST", "/admin/tenants/acme/keys", big, 400, contracts.ErrTokenMismatched},
		{"just over the JSON bound", "POST", "/admin/tenants/acme/keys", `{"id":"acme-j"}` + strings.Repeat(" ", admin.MaxJSONBytes), 400, contracts.ErrTokenMismatched},
		{"negative limit", "POST", "/admin/tenants/acme/keys", `{"id":"acme-n","rate":-1}`, 400, contracts.ErrTokenMismatched},
		{"rate over the maximum", "POST", "/admin/tenants/acme/keys", `{"id":"acme-n","rate":1000001}`, 400, contracts.ErrTokenMismatched},
		{"burst over the maximum", "POST", "/admin/tenants/acme/keys", `{"id":"acme-n","burst":10000001}`, 400, contracts.ErrTokenMismatched},
		{"daily_quota over the maximum", "POST", "/admin/tenants/acme/keys", `{"id":"acme-n","daily_quota":1000000000001}`, 400, contracts.ErrTokenMismatched},
		{"rate out of float range", "POST", "/admin/tenants/acme/keys", `{"id":"acme-n","rate":1e400}`, 400, contracts.ErrTokenMismatched},
		{"burst out of int range", "POST", "/admin/tenants/acme/keys", `{"id":"acme-n","burst":9223372036854775808}`, 400, contracts.ErrTokenMismatched},
		{"bad key id", "POST", "/admin/tenants/acme/keys", `{"id":"../x"}`, 400, contracts.ErrTokenMismatched},
		{"key id in use", "POST", "/admin/tenants/acme/keys", `{"id":"acme-1"}`, 409, contracts.ErrTokenMismatched},
		{"unknown tenant", "GET", "/admin/tenants/nope", "", 404, contracts.ErrTokenMismatched},
		{"unknown key", "POST", "/admin/keys/nope/disable", "", 404, contracts.ErrTokenMismatched},
		{"limits of an unknown key", "POST", "/admin/keys/nope/limits", `{"daily_quota":5}`, 404, contracts.ErrTokenMismatched},
		{"limits without a body", "POST", "/admin/keys/acme-1/limits", "", 400, contracts.ErrTokenMismatched},
		{"unknown field on limits", "POST", "/admin/keys/acme-1/limits", `{"quota":5}`, 400, contracts.ErrTokenMismatched},
		{"negative daily_quota on limits", "POST", "/admin/keys/acme-1/limits", `{"daily_quota":-1}`, 400, contracts.ErrTokenMismatched},
		{"rate over the maximum on limits", "POST", "/admin/keys/acme-1/limits", `{"rate":1000001}`, 400, contracts.ErrTokenMismatched},
		{"burst as a string on limits", "POST", "/admin/keys/acme-1/limits", `{"burst":"5"}`, 400, contracts.ErrTokenMismatched},
		{"request id with a space in ledger search", "GET", "/admin/ledger?request_id=a%20b", "", 400, contracts.ErrTokenMismatched},
		{"upstream id too long in ledger search", "GET", "/admin/ledger?upstream_id=" + strings.Repeat("u", 129), "", 400, contracts.ErrTokenMismatched},
		{"class not ASCII in ledger search", "GET", "/admin/ledger?class=%E5%BC%A0", "", 400, contracts.ErrTokenMismatched},
		{"limit 0 in ledger search", "GET", "/admin/ledger?limit=0", "", 400, contracts.ErrTokenMismatched},
		{"limit over the maximum in ledger search", "GET", "/admin/ledger?limit=1001", "", 400, contracts.ErrTokenMismatched},
		{"limit not a number in ledger search", "GET", "/admin/ledger?limit=ten", "", 400, contracts.ErrTokenMismatched},
		{"tenant not an id on cache purge", "DELETE", "/admin/cache/tenants/evil%0Atenant", "", 400, contracts.ErrTokenMismatched},
		{"tenant with a dot first on cache purge", "DELETE", "/admin/cache/tenants/.evil", "", 400, contracts.ErrTokenMismatched},
		{"not a statement", "POST", "/admin/reconcile", `{"days":[{"day":"yesterday"}]}`, 400, contracts.ErrTokenMismatched},
		{"unknown admin route", "GET", "/admin/nope", "", 404, contracts.ErrAPINotImplemented},
		{"unknown route", "GET", "/nope", "", 404, contracts.ErrAPINotImplemented},
		{"unknown field on cache purge", "POST", "/admin/cache/purge", `{"name":"a","id_card":"b","tenant":"c"}`, 400, contracts.ErrTokenMismatched},
		{"repeated id_card on cache purge", "POST", "/admin/cache/purge", `{"name":"a","id_card":"b","id_card":"c"}`, 400, contracts.ErrTokenMismatched},
		{"field in another case on cache purge", "POST", "/admin/cache/purge", `{"Name":"a","id_card":"b"}`, 400, contracts.ErrTokenMismatched},
		{"2 MiB cache purge", "POST", "/admin/cache/purge", big, 400, contracts.ErrTokenMismatched},
		{"a statement over the bound", "POST", "/admin/reconcile", `{"days":[]}` + strings.Repeat(" ", admin.MaxStatementBytes), 400, contracts.ErrTokenMismatched},
	}
	// Every reading that takes a day or a tenant refuses a bad one the same
	// way (each bad tenant names "evil", which the log must never show).
	for _, p := range []string{"/admin/usage", "/admin/ledger.csv", "/admin/ledger"} {
		rows = append(rows, row{"bad day on " + p, "GET", p + "?day=yesterday", "", 400, contracts.ErrTokenMismatched})
	}
	for _, p := range []string{"/admin/usage", "/admin/usage.csv", "/admin/ledger.csv", "/admin/ledger", "/admin/quota"} {
		for _, tenant := range []string{"evil%0Atenant", "..%2Fevil", "%E5%BC%A0evil", "evil" + strings.Repeat("t", 61), "-evil"} {
			rows = append(rows, row{"tenant " + tenant + " on " + p, "GET", p + "?tenant=" + tenant, "", 400, contracts.ErrTokenMismatched})
		}
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			code, b := adminDo(t, g, tc.method, tc.path, tok, tc.body)
			if code != tc.status {
				t.Fatalf("%d %.200s, want %d", code, b, tc.status)
			}
			assertErrorBody(t, b, tc.code)
		})
	}
	for _, bad := range []string{"", "wrong"} {
		code, b := adminDo(t, g, "GET", "/admin/tenants", bad, "")
		if code != 401 {
			t.Fatalf("token %q: %d", bad, code)
		}
		assertErrorBody(t, b, contracts.ErrInvalidToken)
	}
	// A refused tenant is never written to the log; a valid one is served.
	if strings.Contains(g.logs.String(), "evil") {
		t.Errorf("a refused tenant reached the log:\n%s", g.logs.String())
	}
	for _, p := range []string{"/admin/usage?tenant=acme", "/admin/ledger.csv?tenant=acme", "/admin/quota?tenant=acme", "/admin/ledger?tenant=acme&class=billed&limit=5"} {
		if code, b := adminDo(t, g, "GET", p, tok, ""); code != 200 {
			t.Errorf("GET %s: %d %s", p, code, b)
		}
	}
	if code, b := adminDo(t, g, "DELETE", "/admin/cache/tenants/acme", tok, ""); code != 204 {
		t.Errorf("purge acme: %d %s", code, b)
	}
	// None of the refused creations made a key.
	for _, id := range []string{"acme-u", "acme-t", "acme-v", "acme-big", "acme-j", "acme-r", "acme-s", "acme-c", "acme-n"} {
		if _, ok := g.s.dir.Current().Key(id); ok {
			t.Errorf("refused creation made key %s", id)
		}
	}
	// The quota says when its day turns: the next midnight in its zone.
	code, b := adminDo(t, g, "GET", "/admin/quota", tok, "")
	var q struct {
		Day      string `json:"day"`
		Zone     string `json:"zone"`
		DayTurns string `json:"day_turns"`
	}
	if err := json.Unmarshal(b, &q); code != 200 || err != nil {
		t.Fatalf("quota: %d %s %v", code, b, err)
	}
	turns, err := time.Parse(time.RFC3339, q.DayTurns)
	if until := time.Until(turns); err != nil || until <= 0 || until > 25*time.Hour || turns.In(g.s.calendar.Location()).Format("15:04:05") != "00:00:00" || q.Zone != g.s.calendar.Location().String() {
		t.Errorf("quota day %s in %s turns at %q (%v)", q.Day, q.Zone, q.DayTurns, err)
	}
	// The refused limits left acme-1 as it was; valid ones take effect.
	before, _ := g.s.dir.Current().Key("acme-1")
	if code, b := adminDo(t, g, "POST", "/admin/keys/acme-1/limits", tok, `{"rate":7,"burst":3,"daily_quota":9}`); code != 200 {
		t.Fatalf("set limits: %d %s", code, b)
	}
	after, _ := g.s.dir.Current().Key("acme-1")
	if after.Rate != 7 || after.Burst != 3 || after.DailyQuota != 9 || after.Digest != before.Digest || after.Disabled != before.Disabled {
		t.Errorf("limits: %+v, want rate 7 burst 3 daily_quota 9 and the rest of %+v", after, before)
	}
}

// assertErrorBody: b is exactly the contract's error body with code and a
// trace id.
func assertErrorBody(t *testing.T, b []byte, code contracts.ErrorCode) {
	t.Helper()
	var e contracts.ErrorBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("not the contract's error body: %v: %.200s", err, b)
	}
	if e.Success || e.Error.Code != code || e.Error.Message == "" || e.TraceID == "" {
		t.Fatalf("error body %.200s, want code %s with a message and a trace id", b, code)
	}
}
