// idgate operator console. Every call is the admin API with the admin
// token as a bearer header; the token lives in sessionStorage (gone when
// the tab closes) and never in a cookie, so no other site can make the
// browser call the API. Everything the page writes into the document goes
// through textContent: nothing the API answers is parsed as HTML.
'use strict';

const TOKEN_KEY = 'idgate-admin-token';
const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const COLORS = { billed: '#2f6fdb', not_billed: '#7fb77e', unknown: '#e0a030', refused: '#c94c4c' };
const PALETTE = ['#8e6bd8', '#3aa6a6', '#d86bb0', '#6b7f99', '#b5a33a'];

function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

function say(text, kind) {
  const m = $('message');
  m.textContent = text || '';
  m.className = text ? (kind || 'ok') : '';
}

// api calls the admin API and answers the parsed JSON (or the text when
// asText); an error answer becomes an exception carrying its message.
async function api(method, path, body, asText) {
  const headers = { Authorization: 'Bearer ' + token() };
  if (body !== undefined && typeof body !== 'string') { body = JSON.stringify(body); headers['Content-Type'] = 'application/json'; }
  const resp = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'omit' });
  const text = await resp.text();
  if (!resp.ok) {
    let msg = text;
    try { const e = JSON.parse(text); msg = (e.error && (e.error.code + ': ' + e.error.message)) || e.message || text; } catch (_) { /* keep text */ }
    if (resp.status === 401) msg = 'the admin token was refused: ' + msg;
    throw new Error(method + ' ' + path.split('?')[0] + ': ' + resp.status + ' ' + msg);
  }
  return asText ? text : JSON.parse(text);
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function fillBody(table, rows) {
  const tb = table.tBodies[0];
  tb.replaceChildren(...rows.map((cells) => el('tr', {}, ...cells.map((c) =>
    c instanceof Node ? el('td', {}, c) : el('td', typeof c === 'number' ? { class: 'num' } : {}, c)))));
}

function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function colorOf(cls, i) { return COLORS[cls] || PALETTE[i % PALETTE.length]; }

// barChart draws stacked bars, one per label, one segment per series,
// with a y axis of round steps and a legend. Hand-rolled SVG: the console
// has no build step and vendors no chart library.
function barChart(labels, series, title) {
  const W = 860, H = 260, L = 50, B = 40, T = 10, R = 10;
  const totals = labels.map((_, i) => series.reduce((s, se) => s + (se.values[i] || 0), 0));
  const top = niceMax(Math.max(1, ...totals));
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title });
  root.append(svg('title', {}, title));
  const y = (v) => T + (H - T - B) * (1 - v / top);
  for (let k = 0; k <= 4; k++) {
    const v = top * k / 4;
    root.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#e3e6ec' }));
    root.append(svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmt(v)));
  }
  const slot = (W - L - R) / Math.max(1, labels.length);
  const bw = Math.min(60, slot * 0.7);
  labels.forEach((lab, i) => {
    let acc = 0;
    const x = L + slot * i + (slot - bw) / 2;
    series.forEach((se, j) => {
      const v = se.values[i] || 0;
      if (v <= 0) return;
      const r = svg('rect', { x, y: y(acc + v), width: bw, height: y(acc) - y(acc + v), fill: se.color || colorOf(se.name, j), 'data-series': se.name, 'data-label': lab });
      r.append(svg('title', {}, `${lab} ${se.name}: ${v}`));
      root.append(r);
      acc += v;
    });
    root.append(svg('text', { x: x + bw / 2, y: H - B + 16, 'text-anchor': 'middle' }, lab));
    if (totals[i] > 0) root.append(svg('text', { x: x + bw / 2, y: y(totals[i]) - 3, 'text-anchor': 'middle' }, fmt(totals[i])));
  });
  // Swatches are SVG: the page's CSP allows no inline style attributes.
  const legend = el('div', { class: 'legend' }, ...series.map((se, j) =>
    el('span', { 'data-series': se.name }, svg('svg', { width: 10, height: 10, class: 'swatch' }, svg('rect', { width: 10, height: 10, fill: se.color || colorOf(se.name, j) })), ' ', se.name)));
  return [root, legend];
}

// lineChart draws one polyline of points (t in seconds, v) over window seconds.
function lineChart(points, windowSec, title) {
  const W = 860, H = 160, L = 50, B = 24, T = 10, R = 10;
  const top = niceMax(Math.max(1, ...points.map((p) => p.v)));
  const now = points.length ? points[points.length - 1].t : 0;
  const x = (t) => L + (W - L - R) * (1 - (now - t) / windowSec);
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title });
  root.append(svg('title', {}, title));
  for (let k = 0; k <= 2; k++) {
    const v = top * k / 2;
    root.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#e3e6ec' }));
    root.append(svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmt(v)));
  }
  root.append(svg('text', { x: L, y: H - 6 }, `-${windowSec}s`));
  root.append(svg('text', { x: W - R, y: H - 6, 'text-anchor': 'end' }, 'now'));
  if (points.length > 1) {
    root.append(svg('polyline', { fill: 'none', stroke: '#2f6fdb', 'stroke-width': 2,
      points: points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ') }));
  }
  return root;
}

function niceMax(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v) { return Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1); }

function today() {
  // The quota day is the server's (its zone); a date input only needs a default.
  return state.day || new Date().toISOString().slice(0, 10);
}

const state = { day: '', tenants: [], samples: [], timer: 0 };

// ---- overview: /metrics (public on the admin listener) and /readyz, polled

// parseMetrics sums the gateway's request counter by class and reads the
// breaker's state gauge from Prometheus' text format.
function parseMetrics(text) {
  const out = { byClass: {}, total: 0, breaker: null };
  for (const line of text.split('\n')) {
    if (line.startsWith('idgate_gateway_requests_total{')) {
      const cls = (line.match(/class="([^"]*)"/) || [])[1] || '';
      const v = Number(line.slice(line.lastIndexOf(' ') + 1));
      out.byClass[cls] = (out.byClass[cls] || 0) + v;
      out.total += v;
    } else if (line.startsWith('idgate_gateway_breaker_state')) {
      const v = Number(line.slice(line.lastIndexOf(' ') + 1));
      out.breaker = Math.max(out.breaker === null ? 0 : out.breaker, v);
    }
  }
  return out;
}

async function pollOverview() {
  try {
    const [mt, ready] = await Promise.all([
      api('GET', '/metrics', undefined, true),
      fetch('/readyz', { cache: 'no-store' }).then((r) => r.json()).catch(() => null),
    ]);
    const m = parseMetrics(mt);
    const t = Date.now() / 1000;
    const prev = state.samples[state.samples.length - 1];
    state.samples.push({ t, m });
    while (state.samples.length > 1 && t - state.samples[0].t > 120) state.samples.shift();
    const rate = (cls) => {
      if (!prev) return 0;
      const dt = t - prev.t;
      const a = cls === null ? m.total : (m.byClass[cls] || 0);
      const b = cls === null ? prev.m.total : (prev.m.byClass[cls] || 0);
      return dt > 0 ? Math.max(0, a - b) / dt : 0;
    };
    $('ov-rps').textContent = fmt(rate(null));
    $('ov-billed').textContent = fmt(rate('billed'));
    $('ov-total').textContent = String(m.total);
    const bs = ready && ready.checks && ready.checks.breaker !== undefined ? String(ready.checks.breaker)
      : m.breaker === null ? 'none' : ['closed', 'half-open', 'open'][m.breaker] || String(m.breaker);
    $('ov-breaker').textContent = bs;
    $('ov-breaker').className = 'value ' + bs;
    $('ov-ready').textContent = ready ? (ready.ready ? 'yes' : 'no') : '?';
    fillBody($('ov-classes'), Object.keys(m.byClass).sort().map((c) => [c || '(none)', m.byClass[c], fmt(rate(c))]));
    const pts = [];
    for (let i = 1; i < state.samples.length; i++) {
      const a = state.samples[i], b = state.samples[i - 1];
      pts.push({ t: a.t, v: Math.max(0, a.m.total - b.m.total) / (a.t - b.t) });
    }
    $('ov-chart').replaceChildren(lineChart(pts, 120, 'requests per second'));
    $('ov-updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) { say(e.message, 'error'); }
}

// ---- tenants and keys

async function loadTenants() {
  const r = await api('GET', '/admin/tenants');
  state.day = r.day;
  state.tenants = r.tenants;
  $('tn-day').textContent = 'quota day ' + r.day;
  for (const id of ['ck-tenant', 'us-tenant', 'lg-tenant']) {
    const s = $(id), keep = s.value;
    const opts = r.tenants.map((t) => el('option', { value: t.id }, t.id));
    s.replaceChildren(...(id === 'ck-tenant' ? [] : [el('option', { value: '' }, 'all')]), ...opts);
    if (keep) s.value = keep;
  }
  return r;
}

async function showTenants() {
  const r = await loadTenants();
  $('tn-list').replaceChildren(...r.tenants.map((t) => {
    const rows = t.keys.map((k) => {
      const rate = el('input', { type: 'number', min: 0, step: 'any', value: k.rate, 'data-field': 'rate' });
      const burst = el('input', { type: 'number', min: 0, value: k.burst, 'data-field': 'burst' });
      const quota = el('input', { type: 'number', min: 0, value: k.daily_quota, 'data-field': 'daily_quota' });
      const act = async (what, fn) => { try { await fn(); say(what); await showTenants(); } catch (e) { say(e.message, 'error'); } };
      const tr = el('tr', { 'data-key': k.id },
        el('td', {}, k.id), el('td', { class: k.disabled ? 'disabled' : '' }, k.disabled ? 'disabled' : 'active'),
        el('td', {}, k.managed ? 'admin API' : 'config'), el('td', {}, rate), el('td', {}, burst), el('td', {}, quota),
        el('td', { class: 'num' }, k.quota_today.used),
        el('td', {},
          el('button', { type: 'button', 'data-action': 'save', onclick: () => act(`limits of ${k.id} saved`, () =>
            api('POST', `/admin/keys/${encodeURIComponent(k.id)}/limits`, { rate: Number(rate.value), burst: Number(burst.value), daily_quota: Number(quota.value) })) }, 'Save limits'),
          ' ',
          el('button', { type: 'button', 'data-action': k.disabled ? 'enable' : 'disable', onclick: () => act(`${k.id} ${k.disabled ? 'enabled' : 'disabled'}`, () =>
            api('POST', `/admin/keys/${encodeURIComponent(k.id)}/${k.disabled ? 'enable' : 'disable'}`)) }, k.disabled ? 'Enable' : 'Disable'),
          ' ',
          el('button', { type: 'button', 'data-action': 'rotate', onclick: async () => {
            if (!confirm(`Rotate ${k.id}? Its current secret stops working at once.`)) return;
            try { const v = await api('POST', `/admin/keys/${encodeURIComponent(k.id)}/rotate`, { rotate: 'key' }); showSecret(v); say(`${k.id} rotated`); await showTenants(); } catch (e) { say(e.message, 'error'); }
          } }, 'Rotate')));
      return tr;
    });
    const table = el('table', {}, el('thead', {}, el('tr', {}, ...['Key', 'State', 'Made by', 'Rate/s', 'Burst', 'Daily quota', 'Used today', ''].map((h) => el('th', {}, h)))), el('tbody', {}, ...rows));
    return el('div', { class: 'tenant', 'data-tenant': t.id },
      el('h3', {}, t.id, t.disabled ? el('span', { class: 'disabled' }, ' (disabled)') : ''),
      el('div', { class: 'hint' }, `tenant daily quota ${t.daily_quota || 'none'}; used today ${t.quota_today.used}`),
      table);
  }));
}

// showSecret shows a new secret once; it is dropped from the page when
// the operator confirms or leaves the page.
function showSecret(v) {
  $('secret-key-id').textContent = v.id;
  $('secret-value').textContent = v.key;
  $('secret-box').hidden = false;
}
function hideSecret() { $('secret-value').textContent = ''; $('secret-box').hidden = true; }

async function createKey(ev) {
  ev.preventDefault();
  const body = { rate: Number($('ck-rate').value), burst: Number($('ck-burst').value), daily_quota: Number($('ck-quota').value) };
  if ($('ck-id').value.trim()) body.id = $('ck-id').value.trim();
  try {
    const v = await api('POST', `/admin/tenants/${encodeURIComponent($('ck-tenant').value)}/keys`, body);
    showSecret(v);
    $('ck-id').value = '';
    say(`key ${v.id} created`);
    await showTenants();
  } catch (e) { say(e.message, 'error'); }
}

// ---- quota

async function showQuota() {
  const r = await api('GET', '/admin/quota');
  const turns = new Date(r.day_turns);
  $('qt-day').textContent = `Day ${r.day} (${r.zone}); it turns at ${r.day_turns} (${turns.toLocaleString()} here, in ${fmtIn(turns - Date.now())}).`;
  const lim = (u) => (u.limit ? u.limit : 'none');
  const left = (u) => (u.remaining < 0 ? 'unlimited' : u.remaining);
  const rows = [];
  for (const q of r.quotas) {
    rows.push([q.tenant, '(tenant)', lim(q.quota), q.quota.used, q.quota.reserved, left(q.quota)]);
    for (const k of Object.keys(q.keys).sort()) {
      const u = q.keys[k];
      rows.push([q.tenant, k, lim(u), u.used, u.reserved, left(u)]);
    }
  }
  fillBody($('qt-table'), rows);
}

function fmtIn(ms) {
  const m = Math.max(0, Math.round(ms / 60000));
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

// ---- usage

function usageQuery() {
  const p = new URLSearchParams();
  if ($('us-tenant').value) p.set('tenant', $('us-tenant').value);
  if ($('us-from').value) p.set('from', $('us-from').value);
  if ($('us-to').value) p.set('to', $('us-to').value);
  return p.toString();
}

async function showUsage(ev) {
  if (ev) ev.preventDefault();
  const q = usageQuery();
  const r = await api('GET', '/admin/usage' + (q ? '?' + q : ''));
  const days = [...new Set(r.usage.map((u) => u.day))].sort();
  const classes = [...new Set(r.usage.map((u) => u.class))].sort();
  const series = classes.map((c) => ({ name: c, values: days.map((d) => r.usage.filter((u) => u.day === d && u.class === c).reduce((s, u) => s + u.count, 0)) }));
  const tenant = $('us-tenant').value || 'all tenants';
  $('us-chart').replaceChildren(...(days.length ? barChart(days, series, `requests per day by class, ${tenant}`) : [el('p', {}, 'No usage in this range.')]));
  fillBody($('us-table'), r.usage.map((u) => [u.day, u.tenant, u.class, u.count]));
  // The CSV is fetched with the token and offered as a blob: a plain link
  // could not carry the bearer header.
  const csv = await api('GET', '/admin/usage.csv' + (q ? '?' + q : ''), undefined, true);
  const a = $('us-csv');
  if (a.href.startsWith('blob:')) URL.revokeObjectURL(a.href);
  a.href = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
}

// ---- ledger search: GET /admin/ledger, filtered by the gateway

const LEDGER_LIMIT = 500;

async function searchLedger(ev) {
  if (ev) ev.preventDefault();
  const p = new URLSearchParams({ day: $('lg-day').value || today(), limit: LEDGER_LIMIT });
  if ($('lg-tenant').value) p.set('tenant', $('lg-tenant').value);
  for (const [k, id] of [['request_id', 'lg-request'], ['upstream_id', 'lg-upstream'], ['class', 'lg-class']]) {
    const v = $(id).value.trim();
    if (v) p.set(k, v);
  }
  const r = await api('GET', '/admin/ledger?' + p);
  $('lg-count').textContent = `${r.entries.length} ${r.entries.length === 1 ? 'entry' : 'entries'} of ${p.get('day')}, newest first` +
    (r.more ? `; more match than the ${LEDGER_LIMIT} shown: narrow the search` : '');
  const cols = ['time', 'request_id', 'tenant', 'key_id', 'route', 'result', 'class', 'billed', 'http_status', 'id_masked', 'upstream_id'];
  fillBody($('lg-table'), r.entries.map((e) => cols.map((c) => (c === 'billed' ? (e.billed ? 'yes' : 'no') : String(e[c] ?? '')))));
}

// ---- reconciliation

async function reconcile(ev) {
  ev.preventDefault();
  const f = $('rc-file').files[0];
  if (!f) { say('choose a statement file first', 'error'); return; }
  const p = new URLSearchParams({ from: $('rc-from').value || today(), to: $('rc-to').value || $('rc-from').value || today() });
  if (!$('rc-resolve').checked) p.set('resolve', 'false');
  try {
    const r = await api('POST', '/admin/reconcile?' + p, await f.text());
    $('rc-summary').textContent = `${r.from} to ${r.to}, credential ${r.credential}: ${r.discrepancies} discrepanc${r.discrepancies === 1 ? 'y' : 'ies'}, ${r.newly_resolved} newly resolved.`;
    fillBody($('rc-table'), r.rows.map((x) => [x.day, x.api, x.ledger_billed, x.unknown, x.resolved, x.statement_billed, x.difference,
      el('span', { class: 'verdict-' + x.verdict }, x.verdict)]));
    say('statement reconciled');
  } catch (e) { say(e.message, 'error'); }
}

// ---- navigation

const pages = { overview: pollOverview, tenants: showTenants, quota: showQuota, usage: showUsage, ledger: searchLedger, reconcile: async () => {} };

async function route() {
  const name = (location.hash || '#overview').slice(1);
  const page = pages[name] ? name : 'overview';
  hideSecret();
  for (const s of document.querySelectorAll('.page')) s.classList.toggle('active', s.id === 'page-' + page);
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === page);
  clearInterval(state.timer);
  say('');
  if (!token()) { say('type the admin token to start', 'error'); return; }
  if (page === 'overview') state.timer = setInterval(pollOverview, 2000);
  try {
    if (!state.day) await loadTenants();
    for (const id of ['us-from', 'us-to', 'lg-day', 'rc-from', 'rc-to']) if (!$(id).value) $(id).value = today();
    if (page === 'usage') { const d = new Date(today()); d.setDate(d.getDate() - 6); $('us-from').value = $('us-from').dataset.set ? $('us-from').value : d.toISOString().slice(0, 10); $('us-from').dataset.set = '1'; }
    await pages[page]();
    document.body.dataset.page = page;
  } catch (e) { say(e.message, 'error'); }
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  $('token').value = '';
  $('who').textContent = 'token set for this tab';
  say('');
  state.day = '';
  route();
});
$('sign-out').addEventListener('click', () => { sessionStorage.removeItem(TOKEN_KEY); $('who').textContent = ''; say('token forgotten', 'ok'); });
$('create-key').addEventListener('submit', createKey);
$('secret-hide').addEventListener('click', hideSecret);
$('usage-form').addEventListener('submit', (ev) => showUsage(ev).catch((e) => say(e.message, 'error')));
$('ledger-form').addEventListener('submit', (ev) => searchLedger(ev).catch((e) => say(e.message, 'error')));
$('reconcile-form').addEventListener('submit', reconcile);
window.addEventListener('hashchange', route);
if (token()) $('who').textContent = 'token set for this tab';
route();
