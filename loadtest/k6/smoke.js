// Every outcome once through the gateway (or the simulator), with checks.
// Any failed check fails the run (threshold checks rate == 1).
import { check, group } from 'k6';
import { check2e, isResult, isError, pick, magic, summary, BASE_URL } from './lib/common.js';

export const options = {
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  vus: 1,
  iterations: 1,
  thresholds: { checks: ['rate==1'] },
};

const RESULTS = ['0', '-1', '-2', '-3', '-4', '-5', '-6', '-7'];
// Behind a gateway (the default), network faults come back as 500 api_error.
const GATEWAY = (__ENV.GATEWAY || 'true') === 'true';

export default function () {
  const id = pick(0);

  group('valid identity', () => {
    const res = check2e(id);
    check(res, {
      'valid answers 0': (r) => isResult(r, '0'),
      'X-Request-Id set': (r) => !GATEWAY || !!r.headers['X-Request-Id'],
    });
  });

  group('every result via Prefer', () => {
    for (const code of RESULTS) {
      const res = check2e(id, { prefer: `result=${code}` });
      check(res, { [`Prefer result=${code}`]: (r) => isResult(r, code) });
    }
  });

  group('magic identities', () => {
    for (const m of magic) {
      const res = check2e({ name: m.name, id_card: m.id_card }, { expectedStatuses: [200, 429, 500] });
      let ok;
      if (m.fault) ok = GATEWAY ? isError(res, 500, 'api_error') : res.status === 0 || res.status >= 500;
      else if (m.status === 429) ok = isError(res, 429, 'too_many_requests');
      else if (m.status === 500) ok = isError(res, 500, 'api_error');
      else ok = isResult(res, m.result);
      check(res, { [`magic ${m.outcome}`]: () => ok });
    }
  });

  group('local validation', () => {
    const badCheck = id.id_card.slice(0, 17) + (id.id_card[17] === '0' ? '1' : '0');
    check(check2e({ name: id.name, id_card: badCheck }), { 'bad check char answers -2': (r) => isResult(r, '-2') });
    check(check2e({ name: 'Zhang San', id_card: id.id_card }), { 'bad name answers -3': (r) => isResult(r, '-3') });
  });

  group('errors', () => {
    const opts = { expectedStatuses: [400, 401, 429, 500] };
    check(check2e(id, Object.assign({ key: '' }, opts)), { 'no key is 401 invalid_token': (r) => isError(r, 401, 'invalid_token') });
    check(check2e(id, Object.assign({ key: 'wrong-key' }, opts)), { 'bad key is 401 invalid_token': (r) => isError(r, 401, 'invalid_token') });
    check(check2e('{"name":', opts), { 'malformed JSON is 400 token_mismatched': (r) => isError(r, 400, 'token_mismatched') });
    check(check2e(id, Object.assign({ contentType: 'text/plain' }, opts)), { 'wrong content type is 400': (r) => isError(r, 400, 'token_mismatched') });
    check(check2e(id, Object.assign({ path: '/identity/idcard/nope' }, opts)), { 'unknown path is 400 api_not_implemented': (r) => isError(r, 400, 'api_not_implemented') });
    const r429 = check2e(id, Object.assign({ prefer: 'status=429' }, opts));
    check(r429, {
      'Prefer status=429 is too_many_requests': (r) => isError(r, 429, 'too_many_requests'),
      '429 carries Retry-After': (r) => !!r.headers['Retry-After'],
    });
    check(check2e(id, Object.assign({ prefer: 'status=500' }, opts)), { 'Prefer status=500 is api_error': (r) => isError(r, 500, 'api_error') });
  });
}

export const handleSummary = summary('smoke');
