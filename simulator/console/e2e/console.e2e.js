// End-to-end test of the QA phone console in headless Chromium. Started by
// console_e2e_test.go against the real simulator binary; exits non-zero on
// the first failed expectation.
//
//   BASE_URL=http://127.0.0.1:8081 SCREENSHOT=../../../test-artifacts/console.png node console.e2e.js
//
// Besides the flows, every state the test passes through is audited: no
// visible broken image, no visible label without a shown control, no empty
// heading, no "undefined"/"null"/"NaN"/"Invalid Date" on screen.
'use strict';

const { chromium } = require('playwright-core');

const BASE = process.env.BASE_URL || 'http://127.0.0.1:8081';
const SCREENSHOT = process.env.SCREENSHOT || 'console.png';
const SCREENSHOT_INITIAL = process.env.SCREENSHOT_INITIAL || SCREENSHOT.replace(/(\.png)?$/, '-initial.png');
const TOKEN = process.env.SIM_TOKEN || 'sim-token';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_TIMEOUT = 10_000;

function fail(msg) { throw new Error(msg); }

async function expectState(page, state) {
  await page.waitForFunction((s) => document.getElementById('state').textContent === s, state, { timeout: STEP_TIMEOUT })
    .catch(async () => fail(`state ${await page.textContent('#state')}, want ${state}; message: ${await page.textContent('#message')}`));
}

async function expectText(page, sel, text) {
  await page.waitForFunction(([sel, t]) => document.querySelector(sel).textContent.includes(t), [sel, text], { timeout: STEP_TIMEOUT })
    .catch(async () => fail(`${sel} is ${JSON.stringify(await page.textContent(sel))}, want it to contain ${JSON.stringify(text)}`));
}

// audit fails when the page, as shown now, has a visible image that did not
// decode, a visible label with no control or whose control is not shown, an
// empty visible heading, or a visible "undefined", "null", "NaN" or
// "Invalid Date".
async function audit(page, where) {
  const problems = await page.evaluate(async () => {
    const out = [];
    const shown = (el) => el.checkVisibility({ checkVisibilityCSS: true }) && el.getClientRects().length > 0;
    const name = (el) => `<${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className ? '.' + el.className.replace(/ +/g, '.') : ''}>`;
    for (const img of document.images) {
      if (!shown(img)) continue;
      if (!img.getAttribute('src')) { out.push(`${name(img)} is shown without a src`); continue; }
      await img.decode().catch(() => {});
      if (!img.complete || img.naturalWidth === 0) out.push(`${name(img)} is shown broken (naturalWidth 0)`);
    }
    for (const l of document.querySelectorAll('label')) {
      if (!shown(l)) continue;
      const t = l.textContent.trim();
      if (!t) out.push(`${name(l)} is shown empty`);
      if (!l.control) out.push(`label "${t}" has no control`);
      else if (!shown(l.control)) out.push(`label "${t}" is shown but its control ${name(l.control)} is not`);
    }
    for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6, th, legend, caption')) {
      if (shown(h) && !h.textContent.trim()) out.push(`${name(h)} is shown empty`);
    }
    const bad = /\b(undefined|null|NaN|Invalid Date)\b/;
    const texts = [document.body.innerText];
    for (const sel of document.querySelectorAll('select')) if (shown(sel)) texts.push(...[...sel.options].map((o) => o.textContent));
    for (const inp of document.querySelectorAll('input')) if (shown(inp)) texts.push(inp.value, inp.placeholder);
    for (const t of texts) {
      const m = bad.exec(t);
      if (m) out.push(`"${m[0]}" is shown: ${JSON.stringify(t.slice(Math.max(0, m.index - 40), m.index + 40))}`);
    }
    return out;
  });
  if (problems.length) fail(`${where}: ${problems.join('; ')}`);
}

async function expectShown(page, sel, shown) {
  const is = await page.isVisible(sel);
  if (is !== shown) fail(`${sel} is ${is ? 'shown' : 'hidden'}, want it ${shown ? 'shown' : 'hidden'}`);
}

// createSession uses the page's tenant form and returns the request ID.
async function createSession(page, { flow = 'nfc', prefer = '' } = {}) {
  await page.selectOption('#flow', flow);
  await page.fill('#create-prefer', prefer);
  const before = await page.textContent('#created-id');
  await page.click('#create');
  await page.waitForFunction((b) => { const t = document.getElementById('created-id').textContent; return t && t !== b; }, before, { timeout: STEP_TIMEOUT });
  const id = await page.textContent('#created-id');
  const src = await page.getAttribute('#qr', 'src');
  if (!src.startsWith('data:image/png;base64,iVBOR')) fail('the QR code is not a PNG');
  await expectShown(page, '#qr', true);
  await expectShown(page, '#qr-placeholder', false);
  await expectShown(page, '#no-created', false);
  await audit(page, `created ${flow} session`);
  return id;
}

async function openByRequestID(page, id) {
  await page.fill('#request-id-input', id);
  await page.click('#open-id');
  await expectState(page, 'scanned');
  await expectText(page, '#phone-id', id);
  await audit(page, `opened ${id}`);
}

async function readCard(page, device, outcome) {
  await page.selectOption('#device', { label: device });
  await page.selectOption('#nfc-outcome', outcome);
  await page.click('#read');
}

async function main() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (e) => { console.error('page error:', e.message); process.exitCode = 1; });
    await page.goto(BASE + '/console/');
    await page.fill('#token', TOKEN);
    // The outcome menus come from GET /phone/codes.
    await page.waitForSelector('#nfc-outcome option[value="66664020"]', { state: 'attached', timeout: STEP_TIMEOUT });

    // 0. Before any session: placeholders instead of an empty QR image and
    //    instead of the phone's step forms.
    await expectShown(page, '#no-created', true);
    await expectShown(page, '#qr', false);
    await expectShown(page, '#no-phone', true);
    await expectShown(page, '#phone-body', false);
    await audit(page, 'initial state');
    await page.screenshot({ path: SCREENSHOT_INITIAL, fullPage: true });

    // 1. Main path: scan the QR code from the live list, a card that moves
    //    once, then a good read, confirm, liveness, review approved.
    const id = await createSession(page);
    await page.click(`#sessions tr[data-id="${id}"] button.scan`, { timeout: STEP_TIMEOUT });
    await page.waitForSelector('#scanned-qr:not([hidden])', { timeout: STEP_TIMEOUT });
    await page.click('#open-qr');
    await expectState(page, 'scanned');
    await readCard(page, 'Xiaomi 14 · Android 14', '66664020');
    await expectText(page, '#code', '66664020');
    await expectText(page, '#attempts', 'attempts left: 2');
    await expectState(page, 'scanned');
    await audit(page, 'nfc: read retried');
    await readCard(page, 'iPhone 15 · iOS 17.2', 'success');
    await expectState(page, 'card_read');
    await page.waitForSelector('#card:not([hidden]) [data-field="ID number"]', { timeout: STEP_TIMEOUT });
    await audit(page, 'nfc: card read');
    await page.click('#confirm');
    await expectState(page, 'confirmed');
    await audit(page, 'nfc: confirmed');
    await page.selectOption('#liveness-mode', 'action');
    await page.selectOption('#liveness-outcome', 'pass');
    await page.selectOption('#review-outcome', 'approved');
    await page.fill('#review-delay', ''); // the configured 15 min × time_scale
    await page.click('#liveness');
    await expectState(page, 'under_review');
    await audit(page, 'nfc: under review');
    await expectState(page, 'approved'); // the poll shows the review finishing
    await audit(page, 'nfc: approved');
    for (const s of ['scanned', 'card_read', 'confirmed', 'under_review', 'approved']) {
      if (!(await page.$(`#log li[data-state="${s}"]`))) fail(`state log lacks ${s}`);
    }
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const res = await fetch(`${BASE}/identity/sessions/${id}/result`, { headers: { Authorization: 'Bearer ' + TOKEN } });
    const result = await res.json();
    if (res.status !== 200 || result.decision !== 'approved' || result.billing !== 'billed' || !result.card || result.liveness.mode !== 'action') {
      fail(`result ${res.status} ${JSON.stringify(result).slice(0, 300)}`);
    }
    // A second scan of the used session is refused.
    await page.fill('#request-id-input', id);
    await page.click('#open-id');
    await expectText(page, '#message', 'session_completed');

    // 2. iPhone App Clip path on an unsupported device: typed Request ID,
    //    Google Pixel refused with 600100.
    const pixel = await createSession(page);
    await openByRequestID(page, pixel);
    await page.fill('#request-id-input', pixel);
    await page.click('#open-id');
    await expectText(page, '#message', 'qr_already_used');
    await readCard(page, 'Google Pixel 8 · Android 14 (unsupported)', 'success');
    await expectState(page, 'failed');
    await expectText(page, '#code', '600100');
    await audit(page, 'nfc: refused device');

    // 3. Liveness failure (1003) leaves the session at confirmed, then a
    //    rejected review (2016) through the review menu.
    const rej = await createSession(page);
    await openByRequestID(page, rej);
    await readCard(page, 'HUAWEI Mate 60 · Android 12', 'success');
    await expectState(page, 'card_read');
    await page.click('#confirm');
    await expectState(page, 'confirmed');
    await page.selectOption('#liveness-outcome', '1003');
    await page.click('#liveness');
    await expectText(page, '#code', '1003');
    await expectState(page, 'confirmed');
    await audit(page, 'nfc: liveness failed');
    await page.selectOption('#liveness-outcome', 'pass');
    await page.selectOption('#review-outcome', '2016');
    await page.fill('#review-delay', '0s');
    await page.click('#liveness');
    await expectState(page, 'rejected');
    await expectText(page, '#code', '2016');
    await audit(page, 'nfc: rejected');

    // 4. App authorisation: account not real-name verified.
    const app = await createSession(page, { flow: 'app_auth' });
    await openByRequestID(page, app);
    await page.selectOption('#app-outcome', 'not_verified');
    await page.click('#authorize');
    await expectState(page, 'failed');
    await expectText(page, '#code', '7001');
    await audit(page, 'app_auth: refused');

    // 4b. App authorisation granted: no NFC or liveness form is shown.
    const appOK = await createSession(page, { flow: 'app_auth' });
    await openByRequestID(page, appOK);
    await expectShown(page, '#nfc-step', false);
    await expectShown(page, '#liveness-step', false);
    await page.selectOption('#app-outcome', 'authorized');
    await page.click('#authorize');
    await expectState(page, 'approved');
    await audit(page, 'app_auth: approved');

    // 4c. NFC read only (GetNFCToken): a good read ends the session, with
    //     no confirm button and no liveness form.
    const nfcRead = await createSession(page, { flow: 'nfc_read' });
    await openByRequestID(page, nfcRead);
    await expectShown(page, '#app-step', false);
    await expectShown(page, '#liveness-step', false);
    await expectShown(page, '#confirm', false);
    await readCard(page, 'Xiaomi 14 · Android 14', 'success');
    await expectState(page, 'approved');
    await page.waitForSelector('#card:not([hidden]) [data-field="ID number"]', { timeout: STEP_TIMEOUT });
    await audit(page, 'nfc_read: approved');

    // 5. Permission refused on open: the user quit (600101).
    const quit = await createSession(page);
    await page.uncheck('#grant');
    await page.fill('#request-id-input', quit);
    await page.click('#open-id');
    await expectState(page, 'failed');
    await expectText(page, '#code', '600101');
    await audit(page, 'permission refused');
    await page.check('#grant');

    // 6. The QR code expires (Prefer ttl=3s, kept by the regenerated code
    //    too), opening it is refused with session_expired (15), the tenant
    //    regenerates it, and the new one opens at once.
    const exp = await createSession(page, { prefer: 'ttl=3s' });
    const oldQR = await page.getAttribute('#qr', 'src');
    await expectText(page, '#created-state', 'expired');
    await page.fill('#request-id-input', exp);
    await page.click('#open-id');
    await expectText(page, '#message', 'session_expired');
    await audit(page, 'expired');
    await page.click('#regenerate');
    await expectText(page, '#created-state', 'created');
    if ((await page.getAttribute('#qr', 'src')) === oldQR) fail('regenerate kept the old QR code');
    await openByRequestID(page, exp);
    await audit(page, 'end');

    console.log('console e2e: ok');
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.error('console e2e:', e.message); process.exit(1); });
