package ledger

import "strings"

// The SQL that stores an entry, shared by the writer's batches and
// InsertTx. An entry is one ledger_entries row (its own values) pointing at
// one ledger_dims row (the values that repeat from request to request), and
// adds one to its usage_daily count; see schema.go for the tables.

// entryColumns are the ledger_entries columns an insert fills, in the order
// of entryRow.
const entryColumns = "ts, dim, request_id, upstream_us, id_masked, attempts, upstream_id"
const entryNcol = 7

// insertEntriesSQL is a multi-row INSERT of n entries.
func insertEntriesSQL(n int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", entryNcol), ",") + ")"
	return "INSERT INTO ledger_entries(" + entryColumns + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+",", n), ",")
}

// entryRow is e's ledger_entries row, in entryColumns' order, dim being
// the id of its ledger_dims row.
func entryRow(e *Entry, dim int64) [entryNcol]any {
	return [entryNcol]any{e.Time.UnixNano(), dim, e.RequestID, e.UpstreamLatency.Microseconds(), e.IDMasked, int64(e.Attempts), e.UpstreamID}
}

// upsertDim returns the id of a dims row, adding it when new. DO UPDATE
// (a no-op write) rather than DO NOTHING, so RETURNING answers on conflict
// too; it runs once per new combination, not per entry.
const upsertDim = `
INSERT INTO ledger_dims(day, tenant, key_id, route, result, class, billed, http_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(day, tenant, key_id, route, result, class, billed, http_status) DO UPDATE SET day = excluded.day
RETURNING id`

// dimKey is what a ledger_dims row holds.
type dimKey struct {
	day, tenant, key, route, result, class string
	billed                                 bool
	status                                 int
}

func dimOf(e *Entry) dimKey {
	return dimKey{e.Day, e.Tenant, e.KeyID, e.Route, e.Result, e.Class, e.Billed, e.HTTPStatus}
}

// args are upsertDim's arguments for k, in order.
func (k dimKey) args() []any {
	billed := int64(0)
	if k.billed {
		billed = 1
	}
	return []any{k.day, k.tenant, k.key, k.route, k.result, k.class, billed, int64(k.status)}
}

// upsertUsage adds count entries to a usage_daily row.
const upsertUsage = `
INSERT INTO usage_daily(day, tenant, key_id, class, count) VALUES (?, ?, ?, ?, ?)
ON CONFLICT(day, tenant, key_id, class) DO UPDATE SET count = count + excluded.count`
