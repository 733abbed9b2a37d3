#!/usr/bin/env node
// Calls the FaceID actions with the official tencentcloud-sdk-nodejs
// client, exactly as a FaceID customer would, against any endpoint that
// speaks Tencent Cloud API 3.0 (the simulator, or the gateway in front of
// it), and prints one JSON line per call:
//
//   {"name","action","ok":true,"response":{...the SDK's Response...}}
//   {"name","action","ok":false,"error":{"code","message","requestId","httpCode"?}}
//
// A call the SDK could not complete (connection broken, HTTP status other
// than 200) has an empty code. The phone side of a session is played over
// plain HTTP against the simulator's /phone routes and printed as action
// "phone" with the session's final state.
//
// Usage:
//   node faceid.js --endpoint 127.0.0.1:8081 [--secret-id ID --secret-key KEY]
//                  [--prefer 'latency=0ms'] [--keys-url URL] [--phone-url URL]
//                  [--scenarios all|a,b,c] [--list]
// Every flag has an environment variable: TC_ENDPOINT, TC_SECRET_ID,
// TC_SECRET_KEY, TC_PREFER, TC_KEYS_URL, TC_PHONE_URL, TC_SCENARIOS.
// --keys-url is where GET /encryption/public-keys answers with the keys
// the encrypted scenarios seal for (default: the endpoint); --phone-url is
// the simulator that plays the phone side (default: the endpoint).
//
// Encryption (AES-256-CBC with an RSA PKCS#1 v1.5 wrapped key, SM4-GCM
// with an SM2 C1C3C2 wrapped key) is done here the way the FaceID crypto
// tools do it, with Node's crypto and sm-crypto's SM4 block and SM2
// (the approach of contracts/fieldcrypto/testdata/interop/interop.mjs).
'use strict';

const crypto = require('node:crypto');
const { parseArgs } = require('node:util');
const tencentcloud = require('tencentcloud-sdk-nodejs');
const Sign = require('tencentcloud-sdk-nodejs/tencentcloud/common/sign.js').default;
const { sm2, sm4 } = require('sm-crypto');

const FaceidClient = tencentcloud.faceid.v20180301.Client;
const VERSION = '2018-03-01';

// ---- options ---------------------------------------------------------------

const { values: opt } = parseArgs({
  options: {
    endpoint: { type: 'string', default: process.env.TC_ENDPOINT || '127.0.0.1:8081' },
    'secret-id': { type: 'string', default: process.env.TC_SECRET_ID || 'sim-secret-id' },
    'secret-key': { type: 'string', default: process.env.TC_SECRET_KEY || 'sim-secret-key' },
    prefer: { type: 'string', default: process.env.TC_PREFER || '' },
    'keys-url': { type: 'string', default: process.env.TC_KEYS_URL || '' },
    'phone-url': { type: 'string', default: process.env.TC_PHONE_URL || '' },
    scenarios: { type: 'string', default: process.env.TC_SCENARIOS || 'all' },
    'rule-id': { type: 'string', default: process.env.TC_RULE_ID || '1' },
    'session-timeout': { type: 'string', default: process.env.TC_SESSION_TIMEOUT || '30000' },
    // Sent as Prefer review_delay= on DetectAuth (the simulator's review
    // takes 15 minutes otherwise); "" sends none.
    'review-delay': { type: 'string', default: process.env.TC_REVIEW_DELAY ?? '1s' },
    list: { type: 'boolean', default: false },
  },
});
const endpoint = opt.endpoint.replace(/^https?:\/\//, '').replace(/\/+$/, '');
const baseURL = 'http://' + endpoint;
const keysURL = (opt['keys-url'] || baseURL).replace(/\/+$/, '');
const phoneURL = (opt['phone-url'] || baseURL).replace(/\/+$/, '');
const sessionTimeout = Number(opt['session-timeout']);
const reviewDelay = opt['review-delay'] ? 'review_delay=' + opt['review-delay'] : '';
// detectAuthClient is the client that starts DetectAuth sessions: the
// review delay (and any other session choice) in its Prefer header.
const detectAuthClient = (prefer = '') => client({ prefer: [prefer, reviewDelay].filter(Boolean).join(', ') });

// ---- the SDK client ---------------------------------------------------------

// client builds the official client for the endpoint over plain HTTP. The
// SDK signs with service = the endpoint's first label ("127" for a
// loopback address) and the URL's hostname without its port.
function client({ secretId = opt['secret-id'], secretKey = opt['secret-key'], prefer = '', region = '', language } = {}) {
  const headers = {};
  const p = [opt.prefer, prefer].filter(Boolean).join(', ');
  if (p) headers.Prefer = p;
  return new FaceidClient({
    credential: { secretId, secretKey },
    region,
    profile: { httpProfile: { endpoint, protocol: 'http://', reqTimeout: 30, headers }, language },
  });
}

function print(line) {
  process.stdout.write(JSON.stringify(line) + '\n');
}

// call runs one SDK call and prints its line; it returns the Response or
// null when the call failed.
async function call(name, action, fn) {
  try {
    const response = await fn();
    print({ name, action, ok: true, response });
    return response;
  } catch (e) {
    const error = { code: e.code || '', message: String(e.message || e), requestId: e.requestId || '' };
    if (e.httpCode) error.httpCode = e.httpCode;
    print({ name, action, ok: false, error });
    return null;
  }
}

// withSkewedClock runs fn with Date (what the SDK takes X-TC-Timestamp
// from) moved by skewMs, and puts the real Date back afterwards.
async function withSkewedClock(skewMs, fn) {
  const RealDate = globalThis.Date;
  class SkewedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + skewMs);
      else super(...args);
    }
    static now() {
      return RealDate.now() + skewMs;
    }
  }
  globalThis.Date = SkewedDate;
  try {
    return await fn();
  } finally {
    globalThis.Date = RealDate;
  }
}

// ---- identities ------------------------------------------------------------

// Magic identities (contracts.MagicIdentities): the simulator answers them
// with one outcome whatever the name.
const MAGIC = {
  consistent: '110101191111110010',
  inconsistent: '110101191111110029',
  dbError: '110101191111110045',
  noRecord: '110101191111110053',
  upgrading: '110101191111110061',
  dailyLimit: '11010119111111007X',
  rateLimited: '11010119111111429X',
  serverError: '110101191111115006',
  connectionReset: '110101191111119015',
};
const NAME = '张三';
const VALID_ID = '11010519491231002X'; // GB 11643's own example, no magic
const BAD_CHECK_DIGIT = '110105194912310021';
const BAD_NAME = 'Zhang San';
// Born 1911 and 1949: a card issued in 2010 is long-term (issued at 46 or later).
const LONG_TERM = { ValidityBegin: '20100101', ValidityEnd: '00000000' };
// A 20-year card for someone who was 60 at issue: not a period the law allows.
const BAD_VALIDITY = { ValidityBegin: '20100101', ValidityEnd: '20300101' };

// ---- encryption ------------------------------------------------------------

function sm4Block(key, block) {
  return Buffer.from(sm4.encrypt(Array.from(block), Array.from(key), { padding: 'none', output: 'array' }));
}

const R = 0xe1n << 120n;
const toBig = (b) => BigInt('0x' + (b.length ? b.toString('hex') : '0'));
const toBuf = (x) => Buffer.from(x.toString(16).padStart(32, '0'), 'hex');

function gfMul(x, y) {
  let z = 0n;
  let v = y;
  for (let i = 127; i >= 0; i--) {
    if ((x >> BigInt(i)) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ R : v >> 1n;
  }
  return z;
}

function ghash(h, ct) {
  let y = 0n;
  for (let i = 0; i < ct.length; i += 16) {
    const blk = Buffer.alloc(16);
    ct.copy(blk, 0, i, Math.min(i + 16, ct.length));
    y = gfMul(y ^ toBig(blk), h);
  }
  const lens = Buffer.alloc(16);
  lens.writeBigUInt64BE(0n, 0);
  lens.writeBigUInt64BE(BigInt(ct.length * 8), 8);
  return gfMul(y ^ toBig(lens), h);
}

// sm4GCMSeal is GCM (NIST SP 800-38D, 12-byte nonce, no AAD) over
// sm-crypto's SM4 block, as interop.mjs composes and self-tests it.
function sm4GCMSeal(key, iv, pt) {
  const h = toBig(sm4Block(key, Buffer.alloc(16)));
  const j0 = Buffer.concat([iv, Buffer.from([0, 0, 0, 1])]);
  const ct = Buffer.alloc(pt.length);
  for (let i = 0; i < pt.length; i += 16) {
    const cb = Buffer.from(j0);
    cb.writeUInt32BE((j0.readUInt32BE(12) + i / 16 + 1) >>> 0, 12);
    const ks = sm4Block(key, cb);
    for (let j = i; j < Math.min(i + 16, pt.length); j++) ct[j] = pt[j] ^ ks[j - i];
  }
  const tag = toBuf(ghash(h, ct) ^ toBig(sm4Block(key, j0)));
  return { ct, tag };
}

let publicKeys = null;

// receiverKeys reads the receiver's public keys (GET /encryption/public-keys)
// once: the RSA key as PEM, the SM2 key as sm-crypto's hex (04 || X || Y,
// the last 65 bytes of its SubjectPublicKeyInfo).
async function receiverKeys() {
  if (publicKeys) return publicKeys;
  const res = await fetch(keysURL + '/encryption/public-keys');
  if (res.status !== 200) throw new Error(`public keys: HTTP ${res.status}: ${await res.text()}`);
  const body = await res.json();
  publicKeys = {};
  for (const k of body.keys || []) {
    if (k.algorithm === 'AES-256-CBC') publicKeys.rsa = k.pem;
    if (k.algorithm === 'SM4-GCM') {
      const der = Buffer.from(k.pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
      const point = der.subarray(der.length - 65);
      if (point[0] !== 0x04) throw new Error('public keys: SM2 key is not an uncompressed point');
      publicKeys.sm2 = point.toString('hex');
    }
  }
  return publicKeys;
}

// seal replaces the named fields of req with their ciphertexts and adds
// FaceID's Encryption object (base64 Iv, CiphertextBlob and TagList).
async function seal(req, algorithm, fields) {
  const keys = await receiverKeys();
  const out = { ...req };
  const enc = { EncryptList: fields, Algorithm: algorithm };
  if (algorithm === 'AES-256-CBC') {
    if (!keys.rsa) throw new Error('the receiver has no RSA key');
    const key = crypto.randomBytes(32);
    const iv = crypto.randomBytes(16);
    enc.CiphertextBlob = crypto.publicEncrypt({ key: keys.rsa, padding: crypto.constants.RSA_PKCS1_PADDING }, key).toString('base64');
    enc.Iv = iv.toString('base64');
    for (const f of fields) {
      const c = crypto.createCipheriv('aes-256-cbc', key, iv);
      out[f] = Buffer.concat([c.update(req[f], 'utf8'), c.final()]).toString('base64');
    }
  } else {
    if (!keys.sm2) throw new Error('the receiver has no SM2 key');
    const key = crypto.randomBytes(16);
    const iv = crypto.randomBytes(12);
    // sm-crypto's C1C3C2 without the 0x04 point prefix, as FaceID's tools send it.
    enc.CiphertextBlob = Buffer.from(sm2.doEncrypt(Array.from(key), keys.sm2, 1), 'hex').toString('base64');
    enc.Iv = iv.toString('base64');
    enc.TagList = [];
    for (const f of fields) {
      const { ct, tag } = sm4GCMSeal(key, iv, Buffer.from(req[f], 'utf8'));
      out[f] = ct.toString('base64');
      enc.TagList.push(tag.toString('base64'));
    }
  }
  out.Encryption = enc;
  return out;
}

// ---- the phone side of sessions -----------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function phone(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(phoneURL + path, init);
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // reported below
  }
  if (res.status !== 200) throw new Error(`phone ${method} ${path}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return json;
}

const DEVICE = { device: { platform: 'android', model: 'Xiaomi 14', os_version: '14' } };

// drive plays the user's phone through the session whose request ID is
// id until it ends (approved, rejected or failed), whatever its flow, and
// prints the end as one "phone" line.
async function drive(name, id) {
  const deadline = Date.now() + sessionTimeout;
  const steps = [];
  try {
    for (;;) {
      if (Date.now() > deadline) throw new Error(`session still unfinished after ${sessionTimeout} ms (steps ${steps.join(' ')})`);
      const v = await phone('GET', '/phone/sessions/' + encodeURIComponent(id));
      const p = '/phone/sessions/' + encodeURIComponent(id);
      switch (v.state) {
        case 'created':
          steps.push('open');
          await phone('POST', '/phone/open', { request_id: id });
          break;
        case 'scanned':
          if (v.flow === 'app_auth') {
            steps.push('authorize');
            await phone('POST', p + '/authorize');
          } else {
            steps.push('nfc');
            await phone('POST', p + '/nfc', DEVICE);
          }
          break;
        case 'card_read':
          steps.push('confirm');
          await phone('POST', p + '/confirm');
          break;
        case 'confirmed':
          steps.push('liveness');
          await phone('POST', p + '/liveness', { mode: 'silent' });
          break;
        case 'approved':
        case 'rejected':
        case 'failed':
          print({ name, action: 'phone', ok: true, response: { state: v.state, flow: v.flow, steps, error: v.error || null } });
          return v;
        case 'expired':
          throw new Error('session expired');
        default: // liveness_passed, under_review: the review runs
          await sleep(50);
      }
    }
  } catch (e) {
    print({ name, action: 'phone', ok: false, error: { code: '', message: String(e.message || e), requestId: '' } });
    return null;
  }
}

// ---- scenarios -------------------------------------------------------------

const scenarios = new Map();
function scenario(name, fn) {
  scenarios.set(name, fn);
}

// Check actions: one scenario per result code.
const idcard = (name, req, prefer) =>
  scenario(name, () => call(name, 'IdCardVerification', () => client({ prefer }).IdCardVerification(req)));
idcard('IdCardVerification/0', { IdCard: MAGIC.consistent, Name: NAME });
idcard('IdCardVerification/-1', { IdCard: MAGIC.inconsistent, Name: NAME });
idcard('IdCardVerification/-2 bad check digit', { IdCard: BAD_CHECK_DIGIT, Name: NAME });
idcard('IdCardVerification/-3 bad name', { IdCard: VALID_ID, Name: BAD_NAME });
idcard('IdCardVerification/-4', { IdCard: MAGIC.dbError, Name: NAME });
idcard('IdCardVerification/-5', { IdCard: MAGIC.noRecord, Name: NAME });
idcard('IdCardVerification/-6', { IdCard: MAGIC.upgrading, Name: NAME });
idcard('IdCardVerification/-7', { IdCard: MAGIC.dailyLimit, Name: NAME });
idcard('IdCardVerification/Prefer result=-1', { IdCard: VALID_ID, Name: NAME }, 'result=-1');
// As most FaceID customers configure the client: X-TC-Region and X-TC-Language sent.
scenario('IdCardVerification/with Region and Language', () =>
  call('IdCardVerification/with Region and Language', 'IdCardVerification', () =>
    client({ region: 'ap-guangzhou', language: 'en-US' }).IdCardVerification({ IdCard: MAGIC.consistent, Name: NAME }),
  ),
);
idcard('IdCardVerification/rate limited', { IdCard: MAGIC.rateLimited, Name: NAME });
idcard('IdCardVerification/server error', { IdCard: MAGIC.serverError, Name: NAME });
idcard('IdCardVerification/connection reset', { IdCard: MAGIC.connectionReset, Name: NAME });

const cind = (name, req, prefer) =>
  scenario(name, () => call(name, 'CheckIdNameDate', () => client({ prefer }).CheckIdNameDate(req)));
cind('CheckIdNameDate/0', { IdCard: MAGIC.consistent, Name: NAME, ...LONG_TERM });
cind('CheckIdNameDate/-1', { IdCard: MAGIC.inconsistent, Name: NAME, ...LONG_TERM });
cind('CheckIdNameDate/-2 bad check digit', { IdCard: BAD_CHECK_DIGIT, Name: NAME, ...LONG_TERM });
cind('CheckIdNameDate/-3 bad name', { IdCard: VALID_ID, Name: BAD_NAME, ...LONG_TERM });
cind('CheckIdNameDate/-4 bad validity', { IdCard: VALID_ID, Name: NAME, ...BAD_VALIDITY });
cind('CheckIdNameDate/-4 malformed validity', { IdCard: VALID_ID, Name: NAME, ValidityBegin: '2010-01-01', ValidityEnd: '00000000' });
cind('CheckIdNameDate/-5 validity before birth', { IdCard: VALID_ID, Name: NAME, ValidityBegin: '19400101', ValidityEnd: '19500101' });
cind('CheckIdNameDate/-6', { IdCard: MAGIC.dbError, Name: NAME, ...LONG_TERM });
cind('CheckIdNameDate/-6 upgrading', { IdCard: MAGIC.upgrading, Name: NAME, ...LONG_TERM });
cind('CheckIdNameDate/-7', { IdCard: MAGIC.noRecord, Name: NAME, ...LONG_TERM });
cind('CheckIdNameDate/-8', { IdCard: MAGIC.dailyLimit, Name: NAME, ...LONG_TERM });
// Prefer result= takes check-2e's codes, mapped by meaning (-5 no record is -7 here).
cind('CheckIdNameDate/Prefer result=-5', { IdCard: VALID_ID, Name: NAME, ...LONG_TERM }, 'result=-5');

// Encrypted requests, both algorithms, both fields and one.
for (const alg of ['AES-256-CBC', 'SM4-GCM']) {
  for (const fields of [['Name', 'IdCard'], ['IdCard']]) {
    const name = `encrypted ${alg} ${fields.join('+')}`;
    scenario('IdCardVerification/' + name, async () => {
      let req;
      try {
        req = await seal({ IdCard: MAGIC.consistent, Name: NAME }, alg, fields);
      } catch (e) {
        return print({ name: 'IdCardVerification/' + name, action: 'IdCardVerification', ok: false, error: { code: '', message: 'seal: ' + e.message, requestId: '' } });
      }
      return call('IdCardVerification/' + name, 'IdCardVerification', () => client().IdCardVerification(req));
    });
  }
  const name = `CheckIdNameDate/encrypted ${alg} -1`;
  scenario(name, async () => {
    let req;
    try {
      req = await seal({ IdCard: MAGIC.inconsistent, Name: NAME, ...LONG_TERM }, alg, ['Name', 'IdCard']);
    } catch (e) {
      return print({ name, action: 'CheckIdNameDate', ok: false, error: { code: '', message: 'seal: ' + e.message, requestId: '' } });
    }
    return call(name, 'CheckIdNameDate', () => client().CheckIdNameDate(req));
  });
}

// Error classes.
scenario('error/stale timestamp', () =>
  withSkewedClock(-10 * 60 * 1000, () =>
    call('error/stale timestamp', 'IdCardVerification', () => client().IdCardVerification({ IdCard: MAGIC.consistent, Name: NAME })),
  ),
);
scenario('error/timestamp from the future', () =>
  withSkewedClock(10 * 60 * 1000, () =>
    call('error/timestamp from the future', 'IdCardVerification', () => client().IdCardVerification({ IdCard: MAGIC.consistent, Name: NAME })),
  ),
);
scenario('error/unknown SecretId', () =>
  call('error/unknown SecretId', 'IdCardVerification', () =>
    client({ secretId: 'AKIDnot-a-known-secret-id' }).IdCardVerification({ IdCard: MAGIC.consistent, Name: NAME }),
  ),
);
scenario('error/wrong SecretKey', () =>
  call('error/wrong SecretKey', 'IdCardVerification', () =>
    client({ secretKey: opt['secret-key'] + 'x' }).IdCardVerification({ IdCard: MAGIC.consistent, Name: NAME }),
  ),
);
scenario('error/unknown action', () => call('error/unknown action', 'Nope', () => client().request('Nope', {})));
scenario('error/missing parameter', () =>
  call('error/missing parameter', 'IdCardVerification', () => client().IdCardVerification({ Name: NAME })),
);
scenario('error/missing validity', () =>
  call('error/missing validity', 'CheckIdNameDate', () => client().CheckIdNameDate({ IdCard: VALID_ID, Name: NAME })),
);
scenario('error/body altered after signing', async () => {
  const name = 'error/body altered after signing';
  try {
    const signed = JSON.stringify({ IdCard: MAGIC.consistent, Name: NAME });
    const sent = JSON.stringify({ IdCard: MAGIC.inconsistent, Name: NAME });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'Content-Type': 'application/json',
      'X-TC-Action': 'IdCardVerification',
      'X-TC-Version': VERSION,
      'X-TC-Timestamp': String(timestamp),
      'X-TC-RequestClient': 'idgate-sdk-test',
    };
    if (opt.prefer) headers.Prefer = opt.prefer;
    headers.Authorization = Sign.sign3({
      method: 'POST',
      url: baseURL + '/',
      payload: JSON.parse(signed),
      timestamp,
      service: endpoint.split('.')[0],
      secretId: opt['secret-id'],
      secretKey: opt['secret-key'],
      headers,
    });
    const res = await fetch(baseURL + '/', { method: 'POST', headers, body: sent });
    const text = await res.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    const r = body && body.Response;
    if (res.status === 200 && r && !r.Error) return print({ name, action: 'IdCardVerification', ok: true, response: r });
    const error = r && r.Error ? { code: r.Error.Code, message: r.Error.Message, requestId: r.RequestId || '' } : { code: '', message: text.slice(0, 300), requestId: '' };
    if (res.status !== 200) error.httpCode = res.status;
    return print({ name, action: 'IdCardVerification', ok: false, error });
  } catch (e) {
    return print({ name, action: 'IdCardVerification', ok: false, error: { code: '', message: String(e.message || e), requestId: '' } });
  }
});

// Sessions: start, play the phone to the end, read the result twice.
scenario('session/DetectAuth', async () => {
  const c = client();
  const start = await call('session/DetectAuth start', 'DetectAuth', () =>
    detectAuthClient().DetectAuth({ RuleId: opt['rule-id'], IdCard: VALID_ID, Name: NAME, Extra: 'sdk-e2e' }),
  );
  if (!start || !start.BizToken) return;
  if (!(await drive('session/DetectAuth phone', start.BizToken))) return;
  for (const n of [1, 2]) {
    await call(`session/DetectAuth result #${n}`, 'GetDetectInfoEnhanced', () =>
      c.GetDetectInfoEnhanced({ BizToken: start.BizToken, RuleId: opt['rule-id'], InfoType: '0' }),
    );
  }
});
scenario('session/GetEidToken', async () => {
  const c = client();
  const start = await call('session/GetEidToken start', 'GetEidToken', () =>
    c.GetEidToken({ MerchantId: '0NSJ2106071143020', IdCard: VALID_ID, Name: NAME, Extra: 'sdk-e2e' }),
  );
  if (!start || !start.EidToken) return;
  if (!(await drive('session/GetEidToken phone', start.EidToken))) return;
  for (const n of [1, 2]) {
    await call(`session/GetEidToken result #${n}`, 'GetEidResult', () => c.GetEidResult({ EidToken: start.EidToken, InfoType: '0' }));
  }
});
scenario('session/GetNFCToken', async () => {
  const c = client();
  const start = await call('session/GetNFCToken start', 'GetNFCToken', () => c.GetNFCToken({}));
  if (!start || !start.Token) return;
  if (!(await drive('session/GetNFCToken phone', start.Token))) return;
  for (const n of [1, 2]) {
    await call(`session/GetNFCToken result #${n}`, 'GetWxNFCResult', () => c.GetWxNFCResult({ NFCToken: start.Token }));
  }
});
// Sessions rejected by review, chosen by the expected identity (session
// magic identities, contracts.SessionMagics): 2016 is billed, once; 2005
// is not.
for (const [code, id] of [['2016', '11010119220222021X'], ['2005', '110101192202220316']]) {
  scenario(`session/DetectAuth rejected ${code}`, async () => {
    const c = client();
    const start = await call(`session/DetectAuth rejected ${code} start`, 'DetectAuth', () =>
      detectAuthClient().DetectAuth({ RuleId: opt['rule-id'], IdCard: id, Name: NAME, Extra: 'sdk-e2e' }),
    );
    if (!start || !start.BizToken) return;
    if (!(await drive(`session/DetectAuth rejected ${code} phone`, start.BizToken))) return;
    for (const n of [1, 2]) {
      await call(`session/DetectAuth rejected ${code} result #${n}`, 'GetDetectInfoEnhanced', () =>
        c.GetDetectInfoEnhanced({ BizToken: start.BizToken, RuleId: opt['rule-id'], InfoType: '0' }),
      );
    }
  });
}
// A session whose card read fails (Prefer on the start applies to the
// whole session): its result shows the code and is never billed.
scenario('session/DetectAuth failed read', async () => {
  const start = await call('session/DetectAuth failed read start', 'DetectAuth', () =>
    detectAuthClient('nfc=66664024').DetectAuth({ RuleId: opt['rule-id'], IdCard: VALID_ID, Name: NAME, Extra: 'sdk-e2e' }),
  );
  if (!start || !start.BizToken) return;
  if (!(await drive('session/DetectAuth failed read phone', start.BizToken))) return;
  await call('session/DetectAuth failed read result', 'GetDetectInfoEnhanced', () =>
    client().GetDetectInfoEnhanced({ BizToken: start.BizToken, RuleId: opt['rule-id'], InfoType: '0' }),
  );
  // The token of a DetectAuth session read as an eID token.
  await call('session/DetectAuth token read by GetEidResult', 'GetEidResult', () => client().GetEidResult({ EidToken: start.BizToken }));
});
// Results asked for before the user finished.
scenario('session/results before the end', async () => {
  const c = client();
  const da = await call('session/DetectAuth unfinished start', 'DetectAuth', () =>
    c.DetectAuth({ RuleId: opt['rule-id'], IdCard: VALID_ID, Name: NAME, Extra: 'sdk-e2e' }),
  );
  if (da && da.BizToken) {
    await call('session/DetectAuth unfinished result', 'GetDetectInfoEnhanced', () =>
      c.GetDetectInfoEnhanced({ BizToken: da.BizToken, RuleId: opt['rule-id'], InfoType: '0' }),
    );
  }
  const nfc = await call('session/GetNFCToken unread start', 'GetNFCToken', () => c.GetNFCToken({}));
  if (nfc && nfc.Token) {
    await call('session/GetNFCToken unread result', 'GetWxNFCResult', () => c.GetWxNFCResult({ NFCToken: nfc.Token }));
  }
});
// DetectAuth with the expected identity sealed (FaceID documents
// Encryption on DetectAuth and GetEidToken).
scenario('session/DetectAuth encrypted identity', async () => {
  const name = 'session/DetectAuth encrypted identity';
  let req;
  try {
    req = await seal({ RuleId: opt['rule-id'], IdCard: VALID_ID, Name: NAME, Extra: 'sdk-e2e' }, 'SM4-GCM', ['Name', 'IdCard']);
  } catch (e) {
    return print({ name, action: 'DetectAuth', ok: false, error: { code: '', message: 'seal: ' + e.message, requestId: '' } });
  }
  return call(name, 'DetectAuth', () => client().DetectAuth(req));
});
scenario('session/DetectAuth bad check digit', () =>
  call('session/DetectAuth bad check digit', 'DetectAuth', () =>
    client().DetectAuth({ RuleId: opt['rule-id'], IdCard: BAD_CHECK_DIGIT, Name: NAME }),
  ),
);
scenario('session/unknown BizToken', () =>
  call('session/unknown BizToken', 'GetDetectInfoEnhanced', () =>
    client().GetDetectInfoEnhanced({ BizToken: '0123456789abcdef0123456789abcdef', RuleId: opt['rule-id'], InfoType: '0' }),
  ),
);

// ---- main --------------------------------------------------------------------

async function main() {
  if (opt.list) {
    for (const name of scenarios.keys()) process.stdout.write(name + '\n');
    return;
  }
  let names = [...scenarios.keys()];
  if (opt.scenarios !== 'all') {
    names = opt.scenarios.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = names.filter((n) => !scenarios.has(n));
    if (unknown.length) {
      process.stderr.write(`unknown scenarios: ${unknown.join(', ')}\n`);
      process.exit(2);
    }
  }
  for (const name of names) await scenarios.get(name)();
}

main().catch((e) => {
  process.stderr.write(String((e && e.stack) || e) + '\n');
  process.exit(1);
});
