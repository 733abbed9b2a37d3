// Shared helpers for every idgate k6 script. Configuration comes from the
// environment so the same scripts run against a laptop, CI or staging:
//   BASE_URL   gateway (or simulator) base URL   default http://127.0.0.1:8080
//   API_KEY    bearer key                         default demo-key
//   DATA_FILE  JSON from `go run ./loadtest/cmd/idgen`; an absolute path, or
//              relative to this file (k6 resolves open() from lib/)
//   RESULTS_DIR  where handleSummary writes       default loadtest/results
import http from 'k6/http';
import { SharedArray } from 'k6/data';

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
export const API_KEY = __ENV.API_KEY || 'demo-key';
export const CHECK_PATH = '/identity/idcard/check-2e';
const DATA_FILE = __ENV.DATA_FILE || '../../results/data.json'; // loadtest/results/
const RESULTS_DIR = __ENV.RESULTS_DIR || 'loadtest/results';

const raw = JSON.parse(open(DATA_FILE));
export const identities = new SharedArray('identities', () => raw.identities);
export const magic = new SharedArray('magic', () => raw.magic);

// check2e sends one check request. body may be an object or a raw string.
export function check2e(body, opts = {}) {
  const headers = { 'Content-Type': opts.contentType || 'application/json', Accept: 'application/json' };
  const key = opts.key === undefined ? API_KEY : opts.key;
  if (key) headers.Authorization = `Bearer ${key}`;
  if (opts.prefer) headers.Prefer = opts.prefer;
  if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey;
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  return http.post(`${BASE_URL}${opts.path || CHECK_PATH}`, payload, {
    headers,
    tags: Object.assign({ name: 'check-2e' }, opts.tags || {}),
    responseCallback: opts.expectedStatuses ? http.expectedStatuses(...opts.expectedStatuses) : undefined,
  });
}

// Parsed JSON body, or null when the body is not JSON.
export function body(res) {
  try {
    return JSON.parse(res.body);
  } catch (e) {
    return null;
  }
}

export function isResult(res, code) {
  const b = body(res);
  return res.status === 200 && b !== null && b.result === code && typeof b.description === 'string';
}

export function isError(res, status, code) {
  const b = body(res);
  return res.status === status && b !== null && b.success === false && b.error && b.error.code === code &&
    typeof b.error.message === 'string' && typeof b.trace_id === 'string' && b.trace_id !== '';
}

// pick returns the i-th identity, cycling.
export function pick(i) {
  return identities[i % identities.length];
}

// summary builds a handleSummary that writes the full JSON summary and a
// short plain-text digest (k6's own text summary lives on a CDN this
// environment cannot reach).
export function summary(name) {
  return (data) => {
    const m = data.metrics;
    const lines = [`${name}:`];
    const v = (k, f) => (m[k] && m[k].values ? m[k].values[f] : undefined);
    lines.push(`  requests ${v('http_reqs', 'count')}  rate ${fmt(v('http_reqs', 'rate'))}/s`);
    lines.push(`  duration p50 ${fmt(v('http_req_duration', 'med'))}ms p95 ${fmt(v('http_req_duration', 'p(95)'))}ms p99 ${fmt(v('http_req_duration', 'p(99)'))}ms`);
    lines.push(`  failed ${fmt(100 * (v('http_req_failed', 'rate') || 0))}%  checks ${fmt(100 * (v('checks', 'rate') || 0))}%`);
    for (const [k, t] of Object.entries(data.metrics)) {
      if (t.thresholds) {
        for (const [expr, r] of Object.entries(t.thresholds)) lines.push(`  threshold ${k} ${expr}: ${r.ok ? 'ok' : 'FAILED'}`);
      }
    }
    const out = { stdout: lines.join('\n') + '\n' };
    out[`${RESULTS_DIR}/${name}-summary.json`] = JSON.stringify(data, null, 2);
    return out;
  };
}

function fmt(x) {
  return x === undefined ? '-' : Number(x).toFixed(2);
}
