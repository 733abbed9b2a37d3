// Drives one key to its daily quota and checks that exactly QUOTA billed
// answers are admitted, however many clients push at once.
//   ADMIN_URL    gateway admin listener   default http://127.0.0.1:9080
//   ADMIN_TOKEN  admin bearer token        default gateway-admin-token
//   TENANT       tenant to create the key under   default demo
//   QUOTA        the key's daily quota     default 50
//   VUS / REQUESTS  concurrency and total requests (default 32 / 3×QUOTA)
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import { check2e, body, isError, pick, summary } from './lib/common.js';

const ADMIN_URL = (__ENV.ADMIN_URL || 'http://127.0.0.1:9080').replace(/\/$/, '');
const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || 'gateway-admin-token';
const TENANT = __ENV.TENANT || 'demo';
const QUOTA = parseInt(__ENV.QUOTA || '50', 10);
const VUS = parseInt(__ENV.VUS || '32', 10);
const REQUESTS = parseInt(__ENV.REQUESTS || String(3 * QUOTA), 10);

const billed = new Counter('billed_answers');
const usedUp = new Counter('used_up_answers');
const other = new Counter('other_answers');

export const options = {
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  scenarios: {
    drain: { executor: 'shared-iterations', vus: VUS, iterations: REQUESTS, maxDuration: '2m' },
  },
  thresholds: {
    billed_answers: [`count==${QUOTA}`],
    used_up_answers: [`count==${REQUESTS - QUOTA}`],
    other_answers: ['count==0'],
    checks: ['rate==1'],
  },
};

function admin(method, path, payload) {
  return http.request(method, `${ADMIN_URL}${path}`, payload ? JSON.stringify(payload) : null, {
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    tags: { name: 'admin' },
  });
}

export function setup() {
  const id = `k6-quota-${Date.now()}`;
  const res = admin('POST', `/admin/tenants/${TENANT}/keys`, { id, daily_quota: QUOTA, rate: 1e6, burst: 1e6 });
  const b = body(res);
  if (!(res.status === 200 || res.status === 201) || !b || !b.key) {
    throw new Error(`creating the quota key failed: ${res.status} ${res.body}`);
  }
  return { id, key: b.key };
}

export default function (data) {
  // Every identity is valid and the simulator answers "0": every admitted
  // request is billed, so admitted == billed.
  const res = check2e(pick(__ITER), { key: data.key, expectedStatuses: [200, 402] });
  const b = body(res);
  if (res.status === 200 && b && (b.result === '0' || b.result === '-1')) billed.add(1);
  else if (isError(res, 402, 'used_up')) usedUp.add(1);
  else other.add(1);
}

export function teardown(data) {
  const res = admin('GET', `/admin/quota?tenant=${TENANT}`);
  const b = body(res);
  const row = b && b.quotas ? b.quotas.find((q) => q.tenant === TENANT) : null;
  const k = row && row.keys ? row.keys[data.id] : null;
  check(k, {
    'admin API shows the quota used exactly': (v) => v !== null && v !== undefined && v.used === QUOTA && v.remaining === 0 && v.reserved === 0,
  });
  admin('POST', `/admin/keys/${data.id}/disable`);
}

export const handleSummary = summary('quota');
