// Verification sessions end to end: each iteration creates a session through
// BASE_URL (the gateway, or the simulator), plays the phone against SIM_URL
// (the simulator's /phone/ API: the phone talks to the authority, never to
// the tenant's gateway), polls until the session ends, fetches the result,
// and checks every answer. Outcomes cycle through approved, 2006, 2016 (all
// billed) and 2005 (not billed) via Prefer.
//
//   SIM_URL      simulator base URL for the phone side   default http://127.0.0.1:8081
//   VUS          concurrent sessions                      default 4
//   ITERATIONS   sessions in total                        default 16
//   POLL_MS      status poll interval                     default 100
//   MAX_WAIT_S   give up on a session after               default 30
//
// The simulator's review takes 15 minutes unless it runs with
// IDGATE_SIM_SESSIONS_TIME_SCALE (0.001: 0.9 s).
import http from 'k6/http';
import exec from 'k6/execution';
import { check, fail, group, sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import { body, isError, summary, BASE_URL, API_KEY } from './lib/common.js';

const SIM_URL = (__ENV.SIM_URL || 'http://127.0.0.1:8081').replace(/\/$/, '');
const VUS = parseInt(__ENV.VUS || '4', 10);
const ITERATIONS = parseInt(__ENV.ITERATIONS || '16', 10);
const POLL_S = parseInt(__ENV.POLL_MS || '100', 10) / 1000;
const MAX_WAIT_S = parseFloat(__ENV.MAX_WAIT_S || '30');

export const options = {
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  scenarios: {
    sessions: { executor: 'shared-iterations', vus: VUS, iterations: ITERATIONS, maxDuration: '5m' },
  },
  thresholds: {
    checks: ['rate==1'],
    http_req_failed: ['rate==0'],
    sessions_completed: [`count==${ITERATIONS}`],
  },
};

// Exported so the Go test can count the billed ones: the i-th session
// (global iteration index) gets OUTCOMES[i % 4].
const OUTCOMES = [
  { prefer: 'review=approved', state: 'approved', code: 0, billing: 'billed' },
  { prefer: 'review=2006', state: 'rejected', code: 2006, billing: 'billed' },
  { prefer: 'review=2016', state: 'rejected', code: 2016, billing: 'billed' },
  { prefer: 'review=2005', state: 'rejected', code: 2005, billing: 'not_billed' },
];

const completed = new Counter('sessions_completed');
const billed = new Counter('sessions_billed');
const sessionTime = new Trend('session_time', true);
const polls = new Trend('session_polls');

function tenant(method, path, payload, prefer, name) {
  const headers = { Accept: 'application/json', Authorization: `Bearer ${API_KEY}` };
  if (payload !== null) headers['Content-Type'] = 'application/json';
  if (prefer) headers.Prefer = prefer;
  return http.request(method, `${BASE_URL}${path}`, payload === null ? null : JSON.stringify(payload), {
    headers,
    tags: { name },
    responseCallback: http.expectedStatuses(200, 201, 404, 409),
  });
}

function phone(path, payload, name, expected) {
  return http.post(`${SIM_URL}${path}`, payload === null ? null : JSON.stringify(payload), {
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    tags: { name },
    responseCallback: expected ? http.expectedStatuses(expected) : undefined,
  });
}

export default function () {
  const i = exec.scenario.iterationInTest;
  const want = OUTCOMES[i % OUTCOMES.length];
  const t0 = Date.now();

  const created = tenant('POST', '/identity/sessions', { reference: `k6-${i}` }, want.prefer, 'sessions create');
  const s = body(created);
  if (!check(created, {
    'create is 201 with request_id and QR': (r) => r.status === 201 && s && s.request_id && s.qr_url && s.qr_png && s.state === 'created',
  })) {
    fail(`create: ${created.status} ${created.body}`);
  }
  const id = s.request_id;
  const path = `/identity/sessions/${id}`;

  group('wrong moves', () => {
    check(tenant('GET', '/identity/sessions/0123456789abcdef0123456789abcdef', null, '', 'sessions status'), {
      'unknown request_id is 404 session_not_found': (r) => isError(r, 404, 'session_not_found'),
    });
    check(tenant('GET', `${path}/result`, null, '', 'sessions result'), {
      'result before the end is 409 flow_not_finished': (r) => isError(r, 409, 'flow_not_finished'),
    });
    check(phone(`/phone/sessions/${id}/confirm`, null, 'phone confirm', 409), {
      'confirm before scan is 409 step_out_of_order': (r) => isError(r, 409, 'step_out_of_order'),
    });
  });

  group('phone', () => {
    const device = { device: { platform: 'android', model: 'Xiaomi 14', os_version: '14' } };
    check(phone('/phone/open', { request_id: id }, 'phone open'), { 'open is 200 scanned': (r) => r.status === 200 && body(r).state === 'scanned' });
    check(phone(`/phone/sessions/${id}/nfc`, device, 'phone nfc'), { 'nfc is 200 card_read': (r) => r.status === 200 && body(r).state === 'card_read' });
    check(phone(`/phone/sessions/${id}/confirm`, null, 'phone confirm'), { 'confirm is 200 confirmed': (r) => r.status === 200 && body(r).state === 'confirmed' });
    check(phone(`/phone/sessions/${id}/liveness`, { mode: 'silent' }, 'phone liveness'), {
      'liveness is 200 under_review': (r) => r.status === 200 && ['liveness_passed', 'under_review'].includes(body(r).state),
    });
  });

  let last = null;
  let n = 0;
  const deadline = Date.now() + MAX_WAIT_S * 1000;
  while (Date.now() < deadline) {
    const r = tenant('GET', path, null, '', 'sessions status');
    n++;
    last = body(r);
    if (r.status !== 200 || last === null) break;
    if (['approved', 'rejected', 'failed', 'expired'].includes(last.state)) break;
    sleep(POLL_S);
  }
  polls.add(n);
  if (!check(last, { [`session ends ${want.state}`]: (v) => v !== null && v.state === want.state })) return;
  sessionTime.add(Date.now() - t0);

  const res = tenant('GET', `${path}/result`, null, '', 'sessions result');
  const r = body(res);
  check(res, {
    'result is 200': (x) => x.status === 200 && r !== null,
    [`result code ${want.code}, ${want.billing}`]: () => r !== null && r.decision === want.state && r.code === want.code && r.billing === want.billing,
    'result has the card and liveness': () => r !== null && !!r.card && !!r.liveness && r.liveness.passed === true,
  });
  // Polling a finished session again changes nothing (billed once).
  check(tenant('GET', path, null, '', 'sessions status'), { 'poll after the end still answers': (x) => x.status === 200 });
  completed.add(1);
  if (want.billing === 'billed') billed.add(1);
}

export const handleSummary = summary('sessions');
