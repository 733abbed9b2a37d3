// Package admin is the operator API, served on its own listener behind its
// own bearer token: tenants, keys (create, disable, enable, rotate), quota
// remaining, usage per tenant per day by class, and CSV exports. New key
// secrets are shown once, in the response that creates them; only their
// SHA-256 digests are stored. A key may also get a Tencent Cloud API 3.0
// pair (SecretId, SecretKey); its SecretKey is likewise shown once and
// stored sealed (gateway/keystore), never shown again.
package admin

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/gateway/auth"
	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/gateway/reconcile"
	"github.com/idgate/idgate/internal/secret"
)

// Directory returns the key snapshot in force.
type Directory interface {
	Current() *auth.Directory
}

// KeyWriter persists a key change and makes it effective. CreateKey fails
// with ErrKeyExists when the id is taken, checked under the same lock as the
// write, so two concurrent creations cannot both win.
type KeyWriter interface {
	PutKey(ctx context.Context, o auth.Override) error
	CreateKey(ctx context.Context, o auth.Override) error
	// CanSealPairs reports whether a Tencent pair can be stored (the
	// sealing key, auth.secret_encryption_key, is configured).
	CanSealPairs() bool
}

// ErrKeyExists is CreateKey's answer for an id in use.
var ErrKeyExists = errors.New("key id exists")

// QuotaReader reports today's usage; an error says the quota store could
// not be read (the admin API answers 503 rather than a usage it does not
// know).
type QuotaReader interface {
	Tenant(id string, now time.Time) (quota.Usage, error)
	Key(id string, now time.Time) (quota.Usage, error)
}

// LedgerReader answers usage questions.
type LedgerReader interface {
	Usage(ctx context.Context, f ledger.Filter) ([]ledger.UsageRow, error)
	Export(ctx context.Context, w io.Writer, f ledger.Filter) error
	Search(ctx context.Context, f ledger.Filter, m ledger.Match, limit int) ([]ledger.SearchRow, bool, error)
}

// Options wires the admin API.
type Options struct {
	Token  secret.Secret
	Dir    Directory
	Keys   KeyWriter
	Quota  QuotaReader
	Ledger LedgerReader
	// Calendar names the quota day; its Location says when the day turns.
	Calendar interface {
		Day(time.Time) string
		Location() *time.Location
	}
	// Reload re-reads the configuration; the report names the settings
	// that changed, applied and ignored (they need a restart).
	Reload func() (ReloadReport, error)
	// Reconcile compares the ledger with an authority's statement for a
	// day range, resolving unknown entries when resolve is set (nil: the
	// route answers 404).
	Reconcile func(ctx context.Context, st contracts.Statement, from, to string, resolve bool) (reconcile.Report, error)
	Now       func() time.Time
	// IDs makes the trace id of every error answer (nil: none).
	IDs interface{ Next() string }
}

type api struct{ Options }

// Register mounts the API under /admin on app.
func Register(app *fiber.App, o Options) {
	a := &api{o}
	g := app.Group("/admin", a.authorize)
	g.Get("/tenants", a.listTenants)
	g.Get("/tenants/:tenant", a.getTenant)
	g.Post("/tenants/:tenant/keys", a.createKey)
	g.Post("/keys/:key/disable", a.setDisabled(true))
	g.Post("/keys/:key/enable", a.setDisabled(false))
	g.Post("/keys/:key/rotate", a.rotateKey)
	g.Post("/keys/:key/limits", a.setLimits)
	g.Get("/quota", a.quota)
	g.Get("/usage", a.usage)
	g.Get("/usage.csv", a.usageCSV)
	g.Get("/ledger.csv", a.ledgerCSV)
	g.Get("/ledger", a.ledgerSearch)
	g.Post("/reload", a.reload)
	g.Post("/reconcile", a.reconcile)
}

// authorize admits a request bearing the admin token, once: with two
// Authorization headers fasthttp reads the first and a proxy in front may
// have checked the other, so the request is refused (400
// token_mismatched) before either is compared, as on the client listener.
func (a *api) authorize(c *fiber.Ctx) error {
	if r := contracts.RepeatedHeaders(c.Request().Header.RawHeaders()) & contracts.HeaderAuthorization; r != 0 {
		return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, r.Refusal())
	}
	tok, ok := contracts.BearerToken(c.Request().Header.Peek(fiber.HeaderAuthorization))
	if !ok || subtle.ConstantTimeCompare(tok, []byte(a.Token.Reveal())) != 1 {
		return a.fail(c, fiber.StatusUnauthorized, contracts.ErrInvalidToken, "missing or invalid admin token")
	}
	return c.Next()
}

// fail answers the contract's error body (contracts.ErrorBody), the one
// every listener of the gateway uses, with a code from its vocabulary:
// invalid_token for the admin token, token_mismatched for input that names
// nothing or is not valid (404 for an unknown tenant or key, 409 for a key
// id in use, 400 otherwise), api_not_implemented for a route that is not
// available, api_error for a failure of the gateway's own.
func (a *api) fail(c *fiber.Ctx, status int, code contracts.ErrorCode, msg string) error {
	return WriteError(c, a.IDs, status, code, msg)
}

type usageView struct {
	Limit     int64 `json:"limit"` // 0: unlimited
	Used      int64 `json:"used"`
	Reserved  int64 `json:"reserved"`
	Remaining int64 `json:"remaining"` // -1: unlimited
}

func view(limit int64, u quota.Usage) usageView {
	v := usageView{Limit: limit, Used: u.Used, Reserved: u.Reserved, Remaining: -1}
	if limit > 0 {
		v.Remaining = max(0, limit-u.Used-u.Reserved)
	}
	return v
}

type keyView struct {
	ID         string    `json:"id"`
	Tenant     string    `json:"tenant"`
	Disabled   bool      `json:"disabled"`
	Managed    bool      `json:"managed"`
	Rate       float64   `json:"rate"`
	Burst      int       `json:"burst"`
	DailyQuota int64     `json:"daily_quota"`
	Quota      usageView `json:"quota_today"`
	Key        string    `json:"key,omitempty"` // only when just created or rotated
	// SecretID names the key's Tencent pair; SecretKey is shown only when
	// the pair was just made.
	SecretID  string `json:"secret_id,omitempty"`
	SecretKey string `json:"secret_key,omitempty"`
}

type tenantView struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Disabled   bool      `json:"disabled"`
	DailyQuota int64     `json:"daily_quota"`
	Quota      usageView `json:"quota_today"`
	Keys       []keyView `json:"keys"`
}

// keyView is k with today's usage; the error says the quota store could
// not be read (the view then shows zero usage).
func (a *api) keyView(k *auth.Key, now time.Time) (keyView, error) {
	u, err := a.Quota.Key(k.ID, now)
	return keyView{ID: k.ID, Tenant: k.Tenant.ID, Disabled: k.Disabled, Managed: k.Managed, Rate: k.Rate,
		Burst: k.Burst, DailyQuota: k.DailyQuota, Quota: view(k.DailyQuota, u), SecretID: k.SecretID}, err
}

// writtenKeyView is the answer to a key write that succeeded: it is given
// even when the usage cannot be read (shown as zero), since the write took
// effect and a new secret is shown only in this answer.
func (a *api) writtenKeyView(k *auth.Key) keyView {
	v, _ := a.keyView(k, a.Now())
	return v
}

func (a *api) tenantView(d *auth.Directory, t *auth.Tenant, now time.Time) (tenantView, error) {
	u, err := a.Quota.Tenant(t.ID, now)
	if err != nil {
		return tenantView{}, err
	}
	v := tenantView{ID: t.ID, Name: t.Name, Disabled: t.Disabled, DailyQuota: t.DailyQuota,
		Quota: view(t.DailyQuota, u), Keys: []keyView{}}
	for _, k := range d.Keys(t.ID) {
		kv, err := a.keyView(k, now)
		if err != nil {
			return tenantView{}, err
		}
		v.Keys = append(v.Keys, kv)
	}
	return v, nil
}

// quotaUnreadable answers a read whose usage the quota store could not
// give: 503, never a usage of zero it does not know.
func (a *api) quotaUnreadable(c *fiber.Ctx, err error) error {
	return a.fail(c, fiber.StatusServiceUnavailable, contracts.ErrServiceUnavailable, "quota store unavailable: "+err.Error())
}

func (a *api) listTenants(c *fiber.Ctx) error {
	d, now := a.Dir.Current(), a.Now()
	out := []tenantView{}
	for _, t := range d.Tenants() {
		v, err := a.tenantView(d, t, now)
		if err != nil {
			return a.quotaUnreadable(c, err)
		}
		out = append(out, v)
	}
	return c.JSON(fiber.Map{"day": a.Calendar.Day(now), "tenants": out})
}

func (a *api) getTenant(c *fiber.Ctx) error {
	d := a.Dir.Current()
	t, ok := d.Tenant(c.Params("tenant"))
	if !ok {
		return a.fail(c, fiber.StatusNotFound, contracts.ErrTokenMismatched, "no such tenant")
	}
	v, err := a.tenantView(d, t, a.Now())
	if err != nil {
		return a.quotaUnreadable(c, err)
	}
	return c.JSON(v)
}

func (a *api) quota(c *fiber.Ctx) error {
	d, now := a.Dir.Current(), a.Now()
	type row struct {
		Tenant string               `json:"tenant"`
		Quota  usageView            `json:"quota"`
		Keys   map[string]usageView `json:"keys"`
	}
	q := c.Query("tenant")
	if q != "" && !auth.ValidID(q) {
		return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, errTenantQuery.Error())
	}
	out := []row{}
	for _, t := range d.Tenants() {
		if q != "" && q != t.ID {
			continue
		}
		u, err := a.Quota.Tenant(t.ID, now)
		if err != nil {
			return a.quotaUnreadable(c, err)
		}
		r := row{Tenant: t.ID, Quota: view(t.DailyQuota, u), Keys: map[string]usageView{}}
		for _, k := range d.Keys(t.ID) {
			ku, err := a.Quota.Key(k.ID, now)
			if err != nil {
				return a.quotaUnreadable(c, err)
			}
			r.Keys[k.ID] = view(k.DailyQuota, ku)
		}
		out = append(out, r)
	}
	loc := a.Calendar.Location()
	t := now.In(loc)
	turns := time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
	return c.JSON(fiber.Map{"day": a.Calendar.Day(now), "zone": loc.String(), "day_turns": turns.Format(time.RFC3339), "quotas": out})
}

type keyRequest struct {
	ID         string  `json:"id"`
	Rate       float64 `json:"rate"`
	Burst      int     `json:"burst"`
	DailyQuota int64   `json:"daily_quota"`
	// TencentPair also makes the key a Tencent Cloud API 3.0 pair.
	TencentPair bool `json:"tencent_pair"`
}

// errNoSealing refuses a pair the key store could not keep.
const errNoSealing = "a Tencent pair needs auth.secret_encryption_key (its SecretKey is stored sealed with it)"

func (a *api) createKey(c *fiber.Ctx) error {
	d := a.Dir.Current()
	t, ok := d.Tenant(c.Params("tenant"))
	if !ok {
		return a.fail(c, fiber.StatusNotFound, contracts.ErrTokenMismatched, "no such tenant")
	}
	var req keyRequest
	if len(c.Body()) > 0 {
		if err := DecodeJSON(c.Body(), &req); err != nil {
			return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, "body must be JSON {id, rate, burst, daily_quota, tencent_pair}: "+err.Error())
		}
	}
	if req.TencentPair && !a.Keys.CanSealPairs() {
		return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, errNoSealing)
	}
	// The configuration's bounds (JSON has no NaN or infinity to send).
	if err := auth.CheckLimits(req.Rate, req.Burst, req.DailyQuota); err != nil {
		return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, err.Error())
	}
	if req.ID == "" {
		req.ID = t.ID + "-" + strconv.FormatInt(a.Now().UnixNano(), 36)
	}
	if !auth.ValidID(req.ID) {
		return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, "id must match "+auth.IDPattern)
	}
	secret, digest, err := newSecret()
	if err != nil {
		return err
	}
	o := auth.Override{KeyID: req.ID, TenantID: t.ID, Digest: digest, Rate: req.Rate, Burst: req.Burst, DailyQuota: req.DailyQuota}
	if req.TencentPair {
		o.SecretID, o.SecretKey = newPair()
	}
	if err := a.Keys.CreateKey(c.UserContext(), o); errors.Is(err, ErrKeyExists) {
		return a.fail(c, fiber.StatusConflict, contracts.ErrTokenMismatched, "key id exists")
	} else if err != nil {
		return a.fail(c, fiber.StatusInternalServerError, contracts.ErrAPIError, err.Error())
	}
	k, _ := a.Dir.Current().Key(req.ID)
	v := a.writtenKeyView(k)
	v.Key, v.SecretKey = secret, o.SecretKey.Reveal()
	return c.Status(fiber.StatusCreated).JSON(v)
}

// overrideOf is k's state as the key store keeps it. A Tencent pair from
// the config stays in the config; one the store made stays in the store.
func overrideOf(k *auth.Key) auth.Override {
	o := auth.Override{KeyID: k.ID, TenantID: k.Tenant.ID, Digest: k.Digest, Disabled: k.Disabled,
		Rate: k.Rate, Burst: k.Burst, DailyQuota: k.DailyQuota}
	if k.StoredPair {
		o.SecretID, o.SecretKey = k.SecretID, k.SecretKey
	}
	return o
}

func (a *api) setDisabled(disabled bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		k, ok := a.Dir.Current().Key(c.Params("key"))
		if !ok {
			return a.fail(c, fiber.StatusNotFound, contracts.ErrTokenMismatched, "no such key")
		}
		o := overrideOf(k)
		o.Disabled = disabled
		if err := a.Keys.PutKey(c.UserContext(), o); err != nil {
			return a.fail(c, fiber.StatusInternalServerError, contracts.ErrAPIError, err.Error())
		}
		k, _ = a.Dir.Current().Key(o.KeyID)
		return c.JSON(a.writtenKeyView(k))
	}
}

// limitsRequest is the body of POST /admin/keys/{key}/limits: every
// limit, as key creation takes them (0: none, the tenant's only).
type limitsRequest struct {
	Rate       float64 `json:"rate"`
	Burst      int     `json:"burst"`
	DailyQuota int64   `json:"daily_quota"`
}

// setLimits replaces a key's rate, burst and daily quota, within the
// configuration's bounds; the key's secrets and state are kept. A quota
// at or under today's use refuses the key's next request (402 used_up).
func (a *api) setLimits(c *fiber.Ctx) error {
	k, ok := a.Dir.Current().Key(c.Params("key"))
	if !ok {
		return a.fail(c, fiber.StatusNotFound, contracts.ErrTokenMismatched, "no such key")
	}
	var req limitsRequest
	if err := DecodeJSON(c.Body(), &req); err != nil {
		return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, "body must be JSON {rate, burst, daily_quota}: "+err.Error())
	}
	if err := auth.CheckLimits(req.Rate, req.Burst, req.DailyQuota); err != nil {
		return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, err.Error())
	}
	o := overrideOf(k)
	o.Rate, o.Burst, o.DailyQuota = req.Rate, req.Burst, req.DailyQuota
	if err := a.Keys.PutKey(c.UserContext(), o); err != nil {
		return a.fail(c, fiber.StatusInternalServerError, contracts.ErrAPIError, err.Error())
	}
	k, _ = a.Dir.Current().Key(o.KeyID)
	return c.JSON(a.writtenKeyView(k))
}

// The secrets POST /admin/keys/{key}/rotate replaces ({"rotate": …}).
const (
	rotateKey  = "key"          // the bearer key (the default)
	rotatePair = "tencent_pair" // the Tencent pair (made if the key had none)
	rotateBoth = "both"
)

// rotateKey replaces a key's secret, its Tencent pair or both; an old
// secret stops working at once.
func (a *api) rotateKey(c *fiber.Ctx) error {
	k, ok := a.Dir.Current().Key(c.Params("key"))
	if !ok {
		return a.fail(c, fiber.StatusNotFound, contracts.ErrTokenMismatched, "no such key")
	}
	var req struct {
		Rotate string `json:"rotate"`
	}
	if len(c.Body()) > 0 {
		if err := DecodeJSON(c.Body(), &req); err != nil {
			return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, `body must be JSON {"rotate": "key" | "tencent_pair" | "both"}: `+err.Error())
		}
	}
	switch req.Rotate {
	case "":
		req.Rotate = rotateKey
	case rotateKey, rotatePair, rotateBoth:
	default:
		return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, `rotate must be "key", "tencent_pair" or "both"`)
	}
	pair := req.Rotate != rotateKey
	if pair && !a.Keys.CanSealPairs() {
		return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, errNoSealing)
	}
	o := overrideOf(k)
	var secret string
	var err error
	if req.Rotate != rotatePair {
		if secret, o.Digest, err = newSecret(); err != nil {
			return err
		}
	}
	if pair {
		o.SecretID, o.SecretKey = newPair()
	}
	if err := a.Keys.PutKey(c.UserContext(), o); err != nil {
		return a.fail(c, fiber.StatusInternalServerError, contracts.ErrAPIError, err.Error())
	}
	k, _ = a.Dir.Current().Key(o.KeyID)
	v := a.writtenKeyView(k)
	v.Key = secret
	if pair {
		v.SecretKey = o.SecretKey.Reveal()
	}
	return c.JSON(v)
}

// newPair draws a Tencent pair: a SecretId shaped like Tencent's ("AKID"
// and 26 base32 characters, 128 random bits) and a SecretKey of 256
// random bits.
func newPair() (string, secret.Secret) {
	return "AKID" + rand.Text(), secret.Secret(rand.Text() + rand.Text())
}

// newSecret draws 32 random bytes; "idg_" marks them in secret scanners.
func newSecret() (string, [sha256.Size]byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", [sha256.Size]byte{}, fmt.Errorf("admin: random: %w", err)
	}
	s := "idg_" + base64.RawURLEncoding.EncodeToString(b[:])
	return s, sha256.Sum256([]byte(s)), nil
}

var dayPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// errTenantQuery refuses a tenant query parameter that cannot name a
// tenant; the value itself is neither repeated nor logged.
var errTenantQuery = errors.New("tenant must match " + auth.IDPattern)

func filterOf(c *fiber.Ctx) (ledger.Filter, error) {
	f := ledger.Filter{Tenant: c.Query("tenant"), From: c.Query("from"), To: c.Query("to")}
	if f.Tenant != "" && !auth.ValidID(f.Tenant) {
		return f, errTenantQuery
	}
	if day := c.Query("day"); day != "" {
		f.From, f.To = day, day
	}
	for _, d := range []string{f.From, f.To} {
		if d != "" && !dayPattern.MatchString(d) {
			return f, errors.New("days are YYYY-MM-DD")
		}
	}
	return f, nil
}

// reconcile: POST /admin/reconcile?from=&to=[&resolve=false] with the
// statement's JSON as the body; the answer is the report, 200 whether or
// not the two agree (the report's discrepancies say).
func (a *api) reconcile(c *fiber.Ctx) error {
	if a.Reconcile == nil {
		return a.fail(c, fiber.StatusNotFound, contracts.ErrAPINotImplemented, "reconciliation is not available")
	}
	if len(c.Body()) > MaxStatementBytes {
		return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, fmt.Sprintf("statement exceeds %d bytes: reconcile it with `gateway reconcile -statement`", MaxStatementBytes))
	}
	st, err := reconcile.ParseStatement(bytes.NewReader(c.Body()))
	if err != nil {
		return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, err.Error())
	}
	from := c.Query("from", a.Calendar.Day(a.Now()))
	to := c.Query("to", from)
	if !isDay(from) || !isDay(to) {
		return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, "from and to must be days, YYYY-MM-DD")
	}
	resolve := c.Query("resolve", "true") != "false"
	rep, err := a.Reconcile(c.UserContext(), st, from, to, resolve)
	if err != nil {
		return a.fail(c, fiber.StatusInternalServerError, contracts.ErrAPIError, err.Error())
	}
	return c.JSON(rep)
}

func isDay(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

func (a *api) usage(c *fiber.Ctx) error {
	f, err := filterOf(c)
	if err != nil {
		return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, err.Error())
	}
	rows, err := a.Ledger.Usage(c.UserContext(), f)
	if err != nil {
		return a.fail(c, fiber.StatusInternalServerError, contracts.ErrAPIError, err.Error())
	}
	return c.JSON(fiber.Map{"usage": rows})
}

func (a *api) usageCSV(c *fiber.Ctx) error {
	f, err := filterOf(c)
	if err != nil {
		return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, err.Error())
	}
	rows, err := a.Ledger.Usage(c.UserContext(), f)
	if err != nil {
		return a.fail(c, fiber.StatusInternalServerError, contracts.ErrAPIError, err.Error())
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="usage.csv"`)
	w := csv.NewWriter(c.Response().BodyWriter())
	_ = w.Write([]string{"day", "tenant", "class", "count"})
	for _, r := range rows {
		_ = w.Write([]string{r.Day, r.Tenant, r.Class, strconv.FormatInt(r.Count, 10)})
	}
	w.Flush()
	return w.Error()
}

func (a *api) ledgerCSV(c *fiber.Ctx) error {
	f, err := filterOf(c)
	if err != nil {
		return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, err.Error())
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="ledger.csv"`)
	bw := bufio.NewWriter(c.Response().BodyWriter())
	if err := a.Ledger.Export(c.UserContext(), bw, f); err != nil {
		c.Response().ResetBody()
		c.Response().Header.Del(fiber.HeaderContentDisposition)
		return a.fail(c, fiber.StatusInternalServerError, contracts.ErrAPIError, err.Error())
	}
	return bw.Flush()
}

// Bounds of GET /admin/ledger.
const (
	DefaultSearchLimit = 200
	MaxSearchLimit     = 1000
)

// searchValue admits the ids and classes a search names: what the gateway
// writes (request ids, upstream ids, class names) is printable ASCII
// without spaces, and a value is at most 128 bytes.
var searchValue = regexp.MustCompile(`^[\x21-\x7e]{1,128}$`)

// ledgerSearch: GET /admin/ledger?tenant=&from=&to=&day=&request_id=
// &upstream_id=&class=&limit= answers the matching entries, newest first,
// at most limit (default 200, at most 1000), and whether more matched.
// Entries carry the masked ID number only.
func (a *api) ledgerSearch(c *fiber.Ctx) error {
	f, err := filterOf(c)
	if err != nil {
		return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, err.Error())
	}
	m := ledger.Match{RequestID: c.Query("request_id"), UpstreamID: c.Query("upstream_id"), Class: c.Query("class")}
	for name, v := range map[string]string{"request_id": m.RequestID, "upstream_id": m.UpstreamID, "class": m.Class} {
		if v != "" && !searchValue.MatchString(v) {
			return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, name+" must be 1 to 128 printable ASCII characters without spaces")
		}
	}
	limit := DefaultSearchLimit
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxSearchLimit {
			return a.fail(c, fiber.StatusBadRequest, contracts.ErrTokenMismatched, fmt.Sprintf("limit must be from 1 to %d", MaxSearchLimit))
		}
		limit = n
	}
	rows, more, err := a.Ledger.Search(c.UserContext(), f, m, limit)
	if err != nil {
		return a.fail(c, fiber.StatusInternalServerError, contracts.ErrAPIError, err.Error())
	}
	return c.JSON(fiber.Map{"entries": rows, "more": more})
}

// ReloadReport is what a reload changed, as YAML paths of the settings
// (secrets by path only, never by value).
type ReloadReport struct {
	// Applied: changed settings the reload put in force.
	Applied []string `json:"applied"`
	// Ignored: changed settings that need a restart; the running values
	// stay.
	Ignored []string `json:"ignored"`
}

func (a *api) reload(c *fiber.Ctx) error {
	r, err := a.Reload()
	if err != nil {
		return a.fail(c, fiber.StatusInternalServerError, contracts.ErrAPIError, err.Error())
	}
	if r.Applied == nil {
		r.Applied = []string{}
	}
	if r.Ignored == nil {
		r.Ignored = []string{}
	}
	return c.JSON(fiber.Map{"reloaded": true, "applied": r.Applied, "ignored": r.Ignored})
}
