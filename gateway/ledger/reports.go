package ledger

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/idgate/idgate/gateway/billing"
)

// billedOnQuery sums a day's quota units per tenant and key: the classes
// that count quota (billing.Class.CountsQuota), less one for each unknown
// resolved not billed (an unknown resolved billed keeps its unit: the
// unknown entry already counts it).
var billedOnQuery = func() string {
	in := []string{"'" + ClassResolvedNotBilled + "'"}
	for _, c := range billing.Classes {
		if c.CountsQuota() {
			in = append(in, "'"+string(c)+"'")
		}
	}
	return `SELECT tenant, key_id, SUM(CASE WHEN class = '` + ClassResolvedNotBilled + `' THEN -count ELSE count END)
FROM usage_daily WHERE day = ? AND class IN (` + strings.Join(in, ", ") + `) GROUP BY tenant, key_id`
}()

// Counts maps tenant → key id → number of entries.
type Counts map[string]map[string]int64

// BilledOn counts the entries of one day that used a quota unit, per
// tenant and key: the quota counters' starting point after a restart.
// Those are billed answers, cache hits a tenant's policy counts
// (cached_quota) and unknown outcomes (the authority may have billed them).
func (l *Reader) BilledOn(ctx context.Context, day string) (Counts, error) {
	rows, err := l.db.QueryContext(ctx, l.sql(billedOnQuery), day)
	if err != nil {
		return nil, fmt.Errorf("ledger: billed on %s: %w", day, err)
	}
	defer rows.Close()
	out := Counts{}
	for rows.Next() {
		var t, k string
		var n int64
		if err := rows.Scan(&t, &k, &n); err != nil {
			return nil, fmt.Errorf("ledger: billed on %s: %w", day, err)
		}
		if out[t] == nil {
			out[t] = map[string]int64{}
		}
		out[t][k] += n
	}
	return out, rows.Err()
}

// UsageRow is the number of requests of one class, per tenant and day.
type UsageRow struct {
	Day    string `json:"day"`
	Tenant string `json:"tenant"`
	Class  string `json:"class"`
	Count  int64  `json:"count"`
}

// Filter selects ledger rows; empty fields match everything. Days are
// inclusive, 2006-01-02.
type Filter struct {
	Tenant string
	From   string
	To     string
}

// where is the filter as a WHERE clause ("" when it matches everything)
// and its arguments, with extra conditions ANDed to it.
func (f Filter) where(extra ...string) (string, []any) {
	var cond []string
	var args []any
	if f.Tenant != "" {
		cond, args = append(cond, "tenant = ?"), append(args, f.Tenant)
	}
	if f.From != "" {
		cond, args = append(cond, "day >= ?"), append(args, f.From)
	}
	if f.To != "" {
		cond, args = append(cond, "day <= ?"), append(args, f.To)
	}
	cond = append(cond, extra...)
	if len(cond) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(cond, " AND "), args
}

// Usage counts requests per day, tenant and class.
func (l *Reader) Usage(ctx context.Context, f Filter) ([]UsageRow, error) {
	w, args := f.where()
	rows, err := l.db.QueryContext(ctx, l.sql(`SELECT day, tenant, class, SUM(count) FROM usage_daily`+w+` GROUP BY day, tenant, class HAVING SUM(count) <> 0 ORDER BY day, tenant, class`), args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: usage: %w", err)
	}
	defer rows.Close()
	out := []UsageRow{}
	for rows.Next() {
		var r UsageRow
		if err := rows.Scan(&r.Day, &r.Tenant, &r.Class, &r.Count); err != nil {
			return nil, fmt.Errorf("ledger: usage: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ExportHeader is the CSV header of Export.
var ExportHeader = []string{"time", "day", "request_id", "tenant", "key_id", "route", "result", "class", "billed", "http_status", "upstream_us", "id_masked", "attempts", "upstream_id"}

// exportColumns are the ledger view's columns, in ExportHeader's order.
const exportColumns = "ts, day, request_id, tenant, key_id, route, result, class, billed, http_status, upstream_us, id_masked, attempts, upstream_id"

// Export writes the selected entries as CSV, oldest first.
func (l *Reader) Export(ctx context.Context, w io.Writer, f Filter) error {
	wh, args := f.where()
	rows, err := l.db.QueryContext(ctx, l.sql(`SELECT `+exportColumns+` FROM ledger`+wh+` ORDER BY id`), args...)
	if err != nil {
		return fmt.Errorf("ledger: export: %w", err)
	}
	defer rows.Close()
	cw := csv.NewWriter(w)
	if err := cw.Write(ExportHeader); err != nil {
		return fmt.Errorf("ledger: export: %w", err)
	}
	var (
		ts, billed, status, us, att                       int64
		day, rid, tenant, key, route, res, cls, idm, upID string
	)
	for rows.Next() {
		if err := rows.Scan(&ts, &day, &rid, &tenant, &key, &route, &res, &cls, &billed, &status, &us, &idm, &att, &upID); err != nil {
			return fmt.Errorf("ledger: export: %w", err)
		}
		rec := []string{time.Unix(0, ts).UTC().Format(time.RFC3339Nano), day, rid, tenant, key, route, res, cls,
			strconv.FormatBool(billed == 1), strconv.FormatInt(status, 10), strconv.FormatInt(us, 10), idm, strconv.FormatInt(att, 10), upID}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("ledger: export: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("ledger: export: %w", err)
	}
	return rows.Err()
}

// Count returns how many entries match (tests and reconciliation).
func (l *Reader) Count(ctx context.Context, f Filter, billedOnly bool) (int64, error) {
	var extra []string
	if billedOnly {
		extra = append(extra, "billed = 1")
	}
	w, args := f.where(extra...)
	var n int64
	if err := l.db.QueryRowContext(ctx, l.sql(`SELECT COUNT(*) FROM ledger`+w), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("ledger: count: %w", err)
	}
	return n, nil
}

// Match narrows a search beyond Filter; an empty field matches every
// entry.
type Match struct {
	RequestID  string
	UpstreamID string
	Class      string
}

// SearchRow is one ledger entry as a search answers it: the ID number
// masked, never a name (the ledger holds none).
type SearchRow struct {
	Time       string `json:"time"`
	Day        string `json:"day"`
	RequestID  string `json:"request_id"`
	Tenant     string `json:"tenant"`
	KeyID      string `json:"key_id"`
	Route      string `json:"route"`
	Result     string `json:"result"`
	Class      string `json:"class"`
	Billed     bool   `json:"billed"`
	HTTPStatus int64  `json:"http_status"`
	UpstreamUS int64  `json:"upstream_us"`
	IDMasked   string `json:"id_masked"`
	Attempts   int64  `json:"attempts"`
	UpstreamID string `json:"upstream_id"`
}

// Search answers at most limit entries matching f and m, newest first,
// and whether more matched.
func (l *Reader) Search(ctx context.Context, f Filter, m Match, limit int) ([]SearchRow, bool, error) {
	var extra []string
	var margs []any
	for _, c := range []struct{ col, v string }{{"request_id", m.RequestID}, {"upstream_id", m.UpstreamID}, {"class", m.Class}} {
		if c.v != "" {
			extra, margs = append(extra, c.col+" = ?"), append(margs, c.v)
		}
	}
	w, args := f.where(extra...)
	args = append(args, margs...)
	args = append(args, limit+1)
	rows, err := l.db.QueryContext(ctx, l.sql(`SELECT `+exportColumns+` FROM ledger`+w+` ORDER BY id DESC LIMIT ?`), args...)
	if err != nil {
		return nil, false, fmt.Errorf("ledger: search: %w", err)
	}
	defer rows.Close()
	out := []SearchRow{}
	for rows.Next() {
		var r SearchRow
		var ts, billed int64
		if err := rows.Scan(&ts, &r.Day, &r.RequestID, &r.Tenant, &r.KeyID, &r.Route, &r.Result, &r.Class, &billed, &r.HTTPStatus, &r.UpstreamUS, &r.IDMasked, &r.Attempts, &r.UpstreamID); err != nil {
			return nil, false, fmt.Errorf("ledger: search: %w", err)
		}
		r.Time, r.Billed = time.Unix(0, ts).UTC().Format(time.RFC3339Nano), billed == 1
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("ledger: search: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}
