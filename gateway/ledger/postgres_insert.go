package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idgate/idgate/gateway/billing"
)

// insertPG stores a batch of entries, given as one array per column, and
// adds them to usage_daily: one statement, so one round trip and one
// implicit transaction — all of the batch or none of it.
//
// A request id already stored is left as it is (a replay stores nothing
// twice), except that an unknown entry takes the real outcome of the same
// request when one comes later (the outcome fields only: the entry keeps
// its time, day, tenant and key). usage_daily then moves the entry's unit
// from unknown to its class. An unknown never replaces anything.
//
// The daily counts are written in key order, so two replicas' batches
// lock the rows they share in the same order and cannot deadlock.
const insertPG = `
WITH ins AS (
	INSERT INTO ledger_entries AS e (ts, day, request_id, tenant, key_id, route, result, class, billed, http_status, upstream_us, id_masked, attempts, upstream_id)
	SELECT ts, day, request_id, tenant, key_id, route, result, class, billed, http_status, upstream_us, id_masked, attempts, upstream_id
	FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
	            $9::boolean[], $10::integer[], $11::bigint[], $12::text[], $13::integer[], $14::text[])
	     WITH ORDINALITY AS r(ts, day, request_id, tenant, key_id, route, result, class, billed, http_status, upstream_us, id_masked, attempts, upstream_id, ord)
	ORDER BY ord
	ON CONFLICT (request_id, resolution) DO UPDATE SET
		route = excluded.route, result = excluded.result, class = excluded.class, billed = excluded.billed,
		http_status = excluded.http_status, upstream_us = excluded.upstream_us, id_masked = excluded.id_masked,
		attempts = excluded.attempts, upstream_id = excluded.upstream_id
	WHERE e.class = 'unknown' AND excluded.class <> 'unknown'
	RETURNING e.day, e.tenant, e.key_id, e.class, e.xmax::text = '0' AS fresh
), delta AS (
	SELECT day, tenant, key_id, class, 1 AS n FROM ins
	UNION ALL
	SELECT day, tenant, key_id, 'unknown', -1 FROM ins WHERE NOT fresh
)
INSERT INTO usage_daily AS u (day, tenant, key_id, class, count)
SELECT day, tenant, key_id, class, SUM(n) FROM delta
GROUP BY day, tenant, key_id, class ORDER BY day, tenant, key_id, class
ON CONFLICT (day, tenant, key_id, class) DO UPDATE SET count = u.count + excluded.count`

// pgColumns are a batch as insertPG's arrays, reused from batch to batch.
type pgColumns struct {
	ts, upstreamUS                                              []int64
	day, rid, tenant, key, route, result, class, idMasked, upID []string
	billed                                                      []bool
	status, attempts                                            []int32
}

func (c *pgColumns) reset() {
	c.ts, c.upstreamUS = c.ts[:0], c.upstreamUS[:0]
	c.day, c.rid, c.tenant, c.key, c.route = c.day[:0], c.rid[:0], c.tenant[:0], c.key[:0], c.route[:0]
	c.result, c.class, c.idMasked, c.upID = c.result[:0], c.class[:0], c.idMasked[:0], c.upID[:0]
	c.billed, c.status, c.attempts = c.billed[:0], c.status[:0], c.attempts[:0]
}

func (c *pgColumns) add(e *Entry) {
	c.ts = append(c.ts, e.Time.UnixNano())
	c.day = append(c.day, pgText(e.Day))
	c.rid = append(c.rid, pgText(e.RequestID))
	c.tenant = append(c.tenant, pgText(e.Tenant))
	c.key = append(c.key, pgText(e.KeyID))
	c.route = append(c.route, pgText(e.Route))
	c.result = append(c.result, pgText(e.Result))
	c.class = append(c.class, pgText(e.Class))
	c.billed = append(c.billed, e.Billed)
	c.status = append(c.status, int32(e.HTTPStatus))
	c.upstreamUS = append(c.upstreamUS, e.UpstreamLatency.Microseconds())
	c.idMasked = append(c.idMasked, pgText(e.IDMasked))
	c.attempts = append(c.attempts, int32(e.Attempts))
	c.upID = append(c.upID, pgText(e.UpstreamID))
}

// pgText is s as PostgreSQL's text takes it: valid UTF-8 without NUL.
// Some values come from the upstream (its request id, its result code);
// one PostgreSQL refuses would fail its whole batch on every retry, and
// the ledger would stop, so the offending bytes become U+FFFD instead.
func pgText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// args are insertPG's arguments.
func (c *pgColumns) args() []any {
	return []any{c.ts, c.day, c.rid, c.tenant, c.key, c.route, c.result, c.class, c.billed, c.status, c.upstreamUS, c.idMasked, c.attempts, c.upID}
}

// isResolution reports whether class is a resolution's (resolve.go): the
// one entry that shares its request id with another.
func isResolution(class string) bool {
	return class == ClassResolvedBilled || class == ClassResolvedNotBilled
}

// entryKey is what makes an entry unique in PostgreSQL.
type entryKey struct {
	requestID  string
	resolution bool
}

// dedupe keeps one entry per entryKey, in place: the first, unless a
// later one is a real outcome of an unknown kept so far (the upgrade
// insertPG makes across batches). One statement cannot touch a row twice.
func dedupe(buf []Entry, seen map[entryKey]int) []Entry {
	clear(seen)
	out := buf[:0]
	for _, e := range buf {
		k := entryKey{pgText(e.RequestID), isResolution(e.Class)}
		if i, ok := seen[k]; ok {
			if out[i].Class == string(billing.Unknown) && e.Class != string(billing.Unknown) {
				out[i] = e
			}
			continue
		}
		seen[k] = len(out)
		out = append(out, e)
	}
	return out
}

// InsertPGTx writes one entry and its usage_daily count inside the
// caller's PostgreSQL transaction, bypassing the spool: the PostgreSQL
// counterpart of InsertTx, for an entry that must commit together with
// the caller's own state (a verification session's billing event). The
// entry obeys the ledger's rule for its request id: stored once; an
// unknown entry of it takes a real outcome.
func InsertPGTx(ctx context.Context, tx pgx.Tx, e Entry) error {
	var c pgColumns
	c.add(&e)
	if _, err := tx.Exec(ctx, insertPG, c.args()...); err != nil {
		return fmt.Errorf("ledger: postgres: insert in transaction: %w", err)
	}
	return nil
}

// pgWriteTimeout bounds one batch's statement: a PostgreSQL that hangs
// fails the attempt, and the writer retries on another connection.
const pgWriteTimeout = 10 * time.Second

// presentChunk is how many request ids one present query asks about.
const presentChunk = 4096

// pgSink stores batches into PostgreSQL through the pool; only the
// spool's writer goroutine uses it.
type pgSink struct {
	pool *pgxpool.Pool
	cols pgColumns
	rows []Entry // the batch less its repeats
	seen map[entryKey]int
}

func (k *pgSink) insert(buf []Entry) error {
	if k.seen == nil {
		k.seen = map[entryKey]int{}
	}
	// dedupe works on a copy: buf is the spool's, which counts it whole.
	k.rows = dedupe(append(k.rows[:0], buf...), k.seen)
	k.cols.reset()
	for i := range k.rows {
		k.cols.add(&k.rows[i])
	}
	clear(k.rows)
	ctx, cancel := context.WithTimeout(context.Background(), pgWriteTimeout)
	defer cancel()
	if _, err := k.pool.Exec(ctx, insertPG, k.cols.args()...); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

func (k *pgSink) reset() {}

// present asks the request id index which of ids are stored.
func (k *pgSink) present(ids []string, _ int64) (map[string]bool, error) {
	out := map[string]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for len(ids) > 0 {
		n := min(len(ids), presentChunk)
		rows, err := k.pool.Query(ctx, `SELECT request_id FROM ledger_entries WHERE request_id = ANY($1)`, ids[:n])
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("postgres: %w", err)
			}
			out[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		ids = ids[n:]
	}
	return out, nil
}
