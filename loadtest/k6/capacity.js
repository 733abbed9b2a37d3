// Capacity: a constant arrival rate, then a ramp, against the gateway.
//   RATE      target arrival rate, requests/s   (default 500)
//   DURATION  length of the constant phase      (default 30s)
//   SCENARIO  constant | ramping | both          (default both)
//   P95_MS / P99_MS  latency thresholds          (default 50 / 200)
import { check } from 'k6';
import { check2e, isResult, pick, summary } from './lib/common.js';

const RATE = parseInt(__ENV.RATE || '500', 10);
const DURATION = __ENV.DURATION || '30s';
const SCENARIO = __ENV.SCENARIO || 'both';
const VUS = Math.max(20, Math.ceil(RATE / 20));

const scenarios = {};
if (SCENARIO === 'constant' || SCENARIO === 'both') {
  scenarios.constant = {
    executor: 'constant-arrival-rate',
    rate: RATE,
    timeUnit: '1s',
    duration: DURATION,
    preAllocatedVUs: VUS,
    maxVUs: VUS * 4,
  };
}
if (SCENARIO === 'ramping' || SCENARIO === 'both') {
  scenarios.ramping = {
    executor: 'ramping-arrival-rate',
    startRate: Math.ceil(RATE / 10),
    timeUnit: '1s',
    preAllocatedVUs: VUS,
    maxVUs: VUS * 4,
    stages: [
      { target: RATE, duration: '10s' },
      { target: RATE * 2, duration: '10s' },
      { target: RATE, duration: '10s' },
    ],
    startTime: SCENARIO === 'both' ? DURATION : '0s',
  };
}

export const options = {
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  scenarios,
  discardResponseBodies: false,
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: [`p(95)<${__ENV.P95_MS || 50}`, `p(99)<${__ENV.P99_MS || 200}`],
    checks: ['rate>0.99'],
  },
};

export default function () {
  const res = check2e(pick(__ITER + __VU * 100000));
  check(res, { 'answers 0': (r) => isResult(r, '0') });
}

export const handleSummary = summary('capacity');
