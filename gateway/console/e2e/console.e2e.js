// End-to-end test of the gateway's operator console in headless Chromium.
// Started by gateway/console/e2e_test.go against the real simulator and
// gateway binaries; exits non-zero on the first failed expectation.
// playwright-core comes from simulator/console/e2e (one pin for both
// consoles): NODE_PATH=simulator/console/e2e/node_modules.
//
//   ADMIN_URL=http://127.0.0.1:9080 GATEWAY_URL=http://127.0.0.1:8080 SIM_URL=http://127.0.0.1:8081 \
//   ADMIN_TOKEN=gateway-admin-token SIM_ADMIN_TOKEN=sim-admin-token ARTIFACTS=/tmp/shots node console.e2e.js
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const env = (k, d) => process.env[k] || d;
const ADMIN = env('ADMIN_URL', 'http://127.0.0.1:9080');
const GATEWAY = env('GATEWAY_URL', 'http://127.0.0.1:8080');
const SIM = env('SIM_URL', 'http://127.0.0.1:8081');
const ADMIN_TOKEN = env('ADMIN_TOKEN', 'gateway-admin-token');
const SIM_ADMIN_TOKEN = env('SIM_ADMIN_TOKEN', 'sim-admin-token');
const ARTIFACTS = env('ARTIFACTS', '.');
const DOCS_SHOT = env('DOCS_SCREENSHOT', '');
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
const CHECK_PATH = '/identity/idcard/check-2e';
const STEP_TIMEOUT = 10_000;
// A magic identity of the simulator: consistent, billed. It must never
// show on any page.
const PERSON = { name: '测试一致', id_card: '110101191111110010' };
const KEY_ID = 'console-e2e';

function fail(msg) { throw new Error(msg); }

async function expectText(page, sel, text) {
  await page.waitForFunction(([s, t]) => { const e = document.querySelector(s); return e && e.textContent.includes(t); }, [sel, text], { timeout: STEP_TIMEOUT })
    .catch(async () => fail(`${sel} is ${JSON.stringify(await page.textContent(sel).catch(() => null))}, want it to contain ${JSON.stringify(text)}; message: ${await page.textContent('#message')}`));
}

async function check(key) {
  const resp = await fetch(GATEWAY + CHECK_PATH, {
    method: 'POST', headers: { Authorization: 'Bearer ' + key, 'Content-Type': 'application/json' }, body: JSON.stringify(PERSON),
  });
  return { status: resp.status, requestID: resp.headers.get('x-request-id'), body: await resp.json().catch(() => null) };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, name + '.png'), fullPage: true });
}

async function visit(page, name) {
  await page.click(`#nav a[data-page="${name}"]`);
  await page.waitForFunction((n) => document.body.dataset.page === n, name, { timeout: STEP_TIMEOUT })
    .catch(async () => fail(`page ${name} did not load; message: ${await page.textContent('#message')}`));
}

// noPersonalData: the page shows neither the name nor the full ID number.
async function noPersonalData(page, where) {
  const text = await page.evaluate(() => document.body.innerText + document.documentElement.outerHTML);
  if (text.includes(PERSON.name) || text.includes(PERSON.id_card)) fail(`${where}: personal data on the page`);
}

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  // Traffic for the overview before the page opens.
  const demo = await check('demo-key');
  if (demo.status !== 200) fail(`demo-key check: ${demo.status} ${JSON.stringify(demo.body)}`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('dialog', (d) => d.accept());
    // Nothing on the page may need more than its CSP allows.
    page.on('console', (m) => { if (m.text().includes('Content Security Policy')) errors.push('CSP: ' + m.text()); });
    // No request may leave the admin listener.
    page.on('request', (r) => { if (!r.url().startsWith(ADMIN) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) errors.push('request off the admin listener: ' + r.url()); });

    await page.goto(ADMIN + '/admin/console/');
    await expectText(page, '#message', 'type the admin token');
    // A wrong token is refused by the API, not by the page.
    await page.fill('#token', 'wrong-token');
    await page.click('#sign-in');
    await expectText(page, '#message', 'admin token was refused');
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#sign-in');
    const stored = await page.evaluate(() => [sessionStorage.getItem('idgate-admin-token'), document.cookie]);
    if (stored[0] !== ADMIN_TOKEN || stored[1] !== '') fail(`token kept as ${JSON.stringify(stored)}, want sessionStorage only`);

    // Overview: polled from /metrics and /readyz.
    await page.waitForFunction(() => Number(document.getElementById('ov-total').textContent) >= 1, null, { timeout: STEP_TIMEOUT })
      .catch(() => fail('overview: no requests counted'));
    await expectText(page, '#ov-breaker', 'closed');
    await check('demo-key');
    await page.waitForSelector('#ov-chart polyline', { timeout: STEP_TIMEOUT });
    await expectText(page, '#ov-classes', 'billed');
    await shot(page, 'overview');

    // Tenants and keys: create a key; its secret is shown once.
    await visit(page, 'tenants');
    await page.waitForSelector('[data-tenant="demo"]');
    await page.selectOption('#ck-tenant', 'demo');
    await page.fill('#ck-id', KEY_ID);
    await page.fill('#ck-rate', '50');
    await page.fill('#ck-burst', '10');
    await page.click('#ck-create');
    await expectText(page, '#message', `key ${KEY_ID} created`);
    const key = await page.textContent('#secret-value');
    if (!key.startsWith('idg_')) fail(`new key secret ${JSON.stringify(key)}`);
    await page.waitForSelector(`tr[data-key="${KEY_ID}"]`);
    await shot(page, 'tenants-new-key');
    await page.click('#secret-hide');
    if (await page.textContent('#secret-value') !== '' || !(await page.isHidden('#secret-box'))) fail('the secret stays on the page');
    await visit(page, 'overview');
    await visit(page, 'tenants');
    if ((await page.content()).includes(key)) fail('the secret is shown again');

    // The new key works on the client listener.
    const first = await check(key);
    if (first.status !== 200) fail(`check with the new key: ${first.status} ${JSON.stringify(first.body)}`);
    const second = await check(key);
    if (second.status !== 200) fail(`second check with the new key: ${second.status}`);

    // Edit the quota down to what is used: the next request is refused.
    await visit(page, 'overview');
    await visit(page, 'tenants');
    const row = `tr[data-key="${KEY_ID}"]`;
    await expectText(page, `${row} td:nth-child(7)`, '2');
    await page.fill(`${row} input[data-field="daily_quota"]`, '2');
    await page.click(`${row} button[data-action="save"]`);
    await expectText(page, '#message', `limits of ${KEY_ID} saved`);
    const refused = await check(key);
    if (refused.status !== 402 || !refused.body || refused.body.error.code !== 'used_up') fail(`over quota: ${refused.status} ${JSON.stringify(refused.body)}, want 402 used_up`);
    // A bad limit is refused by the admin API and changes nothing.
    await page.fill(`${row} input[data-field="burst"]`, '-1');
    await page.click(`${row} button[data-action="save"]`);
    await expectText(page, '#message', 'burst must be');
    await noPersonalData(page, 'tenants');

    // Quota: the key's day is used up; the day's turn is shown.
    await visit(page, 'quota');
    await expectText(page, '#qt-day', 'turns at');
    const qrow = await page.evaluate((k) => [...document.querySelectorAll('#qt-table tbody tr')].map((tr) => [...tr.cells].map((c) => c.textContent)).find((c) => c[1] === k), KEY_ID);
    if (!qrow || qrow[2] !== '2' || qrow[3] !== '2' || qrow[5] !== '0') fail(`quota row ${JSON.stringify(qrow)}, want limit 2, used 2, left 0`);
    await shot(page, 'quota');

    // Usage: an SVG bar chart by class, and the CSV.
    await visit(page, 'usage');
    await page.waitForSelector('#us-chart svg rect[data-series="billed"]');
    const csvHref = await page.getAttribute('#us-csv', 'href');
    if (!csvHref.startsWith('blob:')) fail(`usage.csv link ${csvHref}`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#us-csv')]);
    const csv = fs.readFileSync(await download.path(), 'utf8');
    if (!csv.startsWith('day,tenant,class,count') || !csv.includes(',demo,billed,')) fail(`usage.csv: ${csv}`);
    await shot(page, 'usage');
    if (DOCS_SHOT) await page.screenshot({ path: DOCS_SHOT });

    // Ledger search by request id: one entry, the ID masked.
    await visit(page, 'ledger');
    await page.fill('#lg-request', first.requestID);
    await page.click('#lg-search');
    await expectText(page, '#lg-count', '1 entry of');
    const cells = await page.evaluate(() => [...document.querySelectorAll('#lg-table tbody tr td')].map((c) => c.textContent));
    if (!cells.includes(first.requestID) || !cells.includes('billed') || !cells.includes(KEY_ID) || !cells.some((c) => /^110101\*+/.test(c))) fail(`ledger row ${JSON.stringify(cells)}`);
    await page.fill('#lg-request', '');
    await page.fill('#lg-class', 'billed');
    await page.click('#lg-search');
    await expectText(page, '#lg-count', '4 entries of');
    await noPersonalData(page, 'ledger');
    await shot(page, 'ledger');

    // Reconciliation: the simulator's statement, uploaded through the page.
    const st = await fetch(SIM + '/admin/statement', { headers: { Authorization: 'Bearer ' + SIM_ADMIN_TOKEN } });
    if (st.status !== 200) fail(`simulator statement: ${st.status}`);
    const stFile = path.join(ARTIFACTS, 'statement.json');
    fs.writeFileSync(stFile, await st.text());
    await visit(page, 'reconcile');
    await page.setInputFiles('#rc-file', stFile);
    await page.click('#rc-run');
    await expectText(page, '#rc-summary', '0 discrepancies');
    await expectText(page, '#rc-table', 'agrees');
    const billed = await page.evaluate(() => [...document.querySelectorAll('#rc-table tbody tr')].map((tr) => [tr.cells[2].textContent, tr.cells[5].textContent]));
    if (!billed.some(([l, s]) => l === '4' && s === '4')) fail(`reconciled rows ${JSON.stringify(billed)}, want 4 billed on both sides`);
    await shot(page, 'reconcile');

    // Rotate and disable through the page: the old secret stops at once.
    await visit(page, 'tenants');
    await page.click(`${row} button[data-action="rotate"]`);
    await expectText(page, '#message', `${KEY_ID} rotated`);
    const rotated = await page.textContent('#secret-value');
    if (!rotated.startsWith('idg_') || rotated === key) fail('rotation showed no new secret');
    if ((await check(key)).status !== 401) fail('the old secret still works after rotation');
    await page.click(`${row} button[data-action="disable"]`);
    await expectText(page, '#message', `${KEY_ID} disabled`);
    await expectText(page, `${row} td:nth-child(2)`, 'disabled');
    if ((await check(rotated)).status !== 401) fail('a disabled key still works');
    await shot(page, 'tenants');

    if (errors.length) fail('page errors: ' + errors.join('; '));
    console.log('operator console: overview, tenants & keys, quota, usage, ledger, reconciliation OK');
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
