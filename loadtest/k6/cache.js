// A realistic repeat ratio against the gateway's answer cache: most
// verifications are of new people, a minority re-check someone seen
// recently (a re-login, a retried onboarding). Requests are tagged hot or
// cold so the summary shows the cache's effect on latency.
//   RATE          arrival rate, requests/s        default 300
//   DURATION      default 20s
//   REPEAT_RATIO  share of requests for a hot identity   default 0.3
//   HOT           size of the hot set              default 200
import { check } from 'k6';
import { check2e, isResult, identities, summary } from './lib/common.js';

const RATE = parseInt(__ENV.RATE || '300', 10);
const REPEAT = parseFloat(__ENV.REPEAT_RATIO || '0.3');
const HOT = Math.min(parseInt(__ENV.HOT || '200', 10), Math.floor(identities.length / 2));

export const options = {
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  scenarios: {
    repeat: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: __ENV.DURATION || '20s',
      preAllocatedVUs: Math.max(10, Math.ceil(RATE / 20)),
      maxVUs: Math.max(40, Math.ceil(RATE / 5)),
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    // Hits skip the upstream: they must be at least as fast as misses.
    'http_req_duration{set:hot}': [`p(95)<${__ENV.HOT_P95_MS || 50}`],
    'http_req_duration{set:cold}': [`p(95)<${__ENV.COLD_P95_MS || 100}`],
  },
};

export default function () {
  const hot = Math.random() < REPEAT;
  // Cold identities come from the part of the data the hot set never uses.
  const id = hot ? identities[Math.floor(Math.random() * HOT)]
    : identities[HOT + Math.floor(Math.random() * (identities.length - HOT))];
  const res = check2e(id, { tags: { set: hot ? 'hot' : 'cold' } });
  check(res, { 'answers 0': (r) => isResult(r, '0') });
}

export const handleSummary = summary('cache');
