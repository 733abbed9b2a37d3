// The phone console: plain DOM and fetch, no framework, no build step.
'use strict';

const $ = (id) => document.getElementById(id);
let current = null;      // request ID the phone has open
let lastSeen = '';       // version:state:code of the last logged status
let pendingQR = new URLSearchParams(location.search).get('qr');
let createdID = null;    // the session the tenant panel created last

async function api(method, path, { body, token, prefer } = {}) {
  const headers = { 'Accept': 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers['Authorization'] = 'Bearer ' + token;
  if (prefer) headers['Prefer'] = prefer;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = data.error || {};
    const err = new Error(`${res.status} ${e.code || ''}${e.session_code ? ' (' + e.session_code + ')' : ''}: ${e.message || res.statusText}`);
    err.code = e.code;
    throw err;
  }
  return data;
}

function say(text) { $('message').textContent = text || ''; }

// text is the value to show, or '' when the server left it out: the page
// never prints "undefined", "null" or "NaN".
function text(v) { return v === undefined || v === null || (typeof v === 'number' && Number.isNaN(v)) ? '' : String(v); }

// clock is a timestamp's local time, or '—' when it is missing or invalid.
function clock(ts) {
  const d = new Date(ts);
  return ts && !Number.isNaN(d.getTime()) ? d.toLocaleTimeString() : '—';
}

// showImage puts a base64 PNG in img, or hides img and shows placeholder
// when there is none, so no broken-image icon is ever drawn.
function showImage(img, placeholder, png) {
  if (png) {
    img.src = 'data:image/png;base64,' + png;
    img.hidden = false;
    placeholder.hidden = true;
  } else {
    img.hidden = true;
    img.removeAttribute('src');
    placeholder.hidden = false;
  }
}

function fill(select, codes, stage) {
  for (const c of codes.filter((c) => c.stage === stage)) {
    const o = document.createElement('option');
    o.value = String(c.code);
    o.textContent = `${c.code} ${c.message}`;
    select.appendChild(o);
  }
}

async function loadCodes() {
  const { codes } = await api('GET', '/phone/codes');
  fill($('nfc-outcome'), codes, 'nfc');
  fill($('liveness-outcome'), codes, 'liveness');
  fill($('review-outcome'), codes, 'review');
}

// ---- tenant side -------------------------------------------------------

$('create').onclick = async () => {
  say('');
  const body = { flow: $('flow').value };
  if ($('exp-name').value || $('exp-id').value) { body.name = $('exp-name').value.trim(); body.id_card = $('exp-id').value.trim(); }
  try {
    const s = await api('POST', '/identity/sessions', { body, token: $('token').value.trim(), prefer: $('create-prefer').value.trim() });
    showCreated(s);
    $('request-id-input').value = s.request_id;
    refreshList();
  } catch (e) { say(e.message); }
};

function showCreated(s) {
  createdID = s.request_id;
  showImage($('qr'), $('qr-placeholder'), s.qr_png);
  $('created-id').textContent = text(s.request_id) || '—';
  $('created-url').textContent = text(s.qr_url) || '—';
  renderCreated(s);
  $('no-created').hidden = true;
  $('created').hidden = false;
}

function renderCreated(s) {
  $('created-state').textContent = text(s.state) || 'unknown';
  $('created-state').className = 'badge ' + text(s.state);
  $('regenerate').disabled = s.state !== 'expired';
}

// The tenant's own poll of the session it created (GET /identity/sessions/{id}).
async function pollCreated() {
  if (!createdID) return;
  try { renderCreated(await api('GET', '/identity/sessions/' + encodeURIComponent(createdID), { token: $('token').value.trim() })); } catch (e) { /* shown by the phone side */ }
}

$('regenerate').onclick = async () => {
  say('');
  try {
    showCreated(await api('POST', `/identity/sessions/${encodeURIComponent(createdID)}/qr`, { token: $('token').value.trim() }));
    refreshList();
  } catch (e) { say(e.message); }
};

// ---- live sessions -----------------------------------------------------

async function refreshList() {
  let list;
  // The list is per tenant: the token field says whose sessions to show.
  try { ({ sessions: list } = await api('GET', '/phone/sessions?limit=50', { token: $('token').value.trim() })); } catch (e) { return; }
  const tbody = $('sessions');
  tbody.replaceChildren();
  for (const s of list) {
    const tr = document.createElement('tr');
    tr.dataset.id = s.request_id;
    const cells = [text(s.request_id).slice(0, 12) + '…', text(s.flow), text(s.state), clock(s.expires_at)];
    for (const t of cells) { const td = document.createElement('td'); td.textContent = t; tr.appendChild(td); }
    const td = document.createElement('td');
    const scan = document.createElement('button');
    scan.className = 'scan';
    scan.textContent = 'Scan QR';
    scan.disabled = s.state !== 'created';
    scan.disabled = scan.disabled || !s.qr_url;
    scan.onclick = () => { pendingQR = s.qr_url.slice(s.qr_url.lastIndexOf('/') + 1); showScanned(); };
    const watch = document.createElement('button');
    watch.className = 'watch';
    watch.textContent = 'Watch';
    watch.onclick = () => follow(s.request_id);
    td.append(scan, watch);
    tr.appendChild(td);
    tbody.appendChild(tr);
  }
  $('no-sessions').hidden = list.length > 0;
  $('sessions-table').hidden = list.length === 0;
}

function showScanned() {
  $('qr-token').textContent = pendingQR;
  $('scanned-qr').hidden = !pendingQR;
}

$('open-qr').onclick = () => open({ qr_token: pendingQR });
$('open-id').onclick = () => open({ request_id: $('request-id-input').value.trim() });

async function open(req) {
  say('');
  req.permission_granted = $('grant').checked;
  try {
    const v = await api('POST', '/phone/open', { body: req });
    pendingQR = null;
    showScanned();
    follow(v.request_id, v);
  } catch (e) { say(e.message); }
}

// ---- the phone ---------------------------------------------------------

function follow(id, view) {
  if (current !== id) { current = id; lastSeen = ''; $('log').replaceChildren(); }
  $('phone-id').textContent = id;
  $('no-phone').hidden = true;
  $('phone-body').hidden = false;
  if (view) render(view); else poll();
}

function render(v) {
  const code = v.error ? text(v.error.code) : '';
  $('state').textContent = text(v.state) || 'unknown';
  $('state').className = 'badge ' + text(v.state);
  $('code').textContent = v.error ? [code, text(v.error.message)].filter(Boolean).join(' ') : '';
  $('attempts').textContent = v.attempts && Number.isFinite(v.attempts_left) ? `attempts left: ${v.attempts_left}` : '';
  const key = `${v.version}:${v.state}:${code}:${v.attempts}`;
  if (key !== lastSeen) {
    lastSeen = key;
    const li = document.createElement('li');
    li.dataset.state = text(v.state);
    li.textContent = `${clock(v.updated_at)} ${text(v.state) || 'unknown'}${code !== '' ? ' · ' + code : ''}`;
    $('log').appendChild(li);
  }
  const card = $('card');
  if (v.card) {
    const c = v.card;
    card.replaceChildren();
    const valid = text(c.validity_begin) || text(c.validity_end) ? `${text(c.validity_begin) || '?'}–${text(c.validity_end) || '?'}` : '';
    const rows = [['Name', c.name], ['Gender', c.gender], ['Ethnicity', c.ethnicity], ['Birth', c.birth_date], ['Address', c.address],
      ['ID number', c.id_card], ['Issued by', c.issuing_authority], ['Valid', valid]].map(([k, val]) => [k, text(val)]).filter(([, val]) => val !== '');
    // The phone sees the chip photo only when the server sends it; until
    // then a short note stands in its place.
    const photo = document.createElement('img');
    photo.className = 'photo';
    photo.alt = 'card photo';
    photo.width = 102;
    photo.height = 126;
    const noPhoto = document.createElement('span');
    noPhoto.className = 'photo placeholder';
    noPhoto.textContent = 'no photo';
    showImage(photo, noPhoto, c.photo_png);
    card.append(photo, noPhoto);
    for (const [k, val] of rows) {
      const dt = document.createElement('span'); dt.textContent = k;
      const dd = document.createElement('span'); dd.textContent = val; dd.dataset.field = k;
      card.append(dt, dd);
    }
    card.hidden = false;
  } else {
    card.hidden = true;
  }
  // nfc_read (FaceID's GetNFCToken) is the card read alone.
  const nfc = v.flow === 'nfc' || v.flow === 'nfc_read';
  const full = v.flow === 'nfc';
  $('nfc-step').hidden = !nfc;
  $('liveness-step').hidden = !full;
  $('confirm').hidden = !full;
  $('app-step').hidden = nfc;
  $('read').disabled = v.state !== 'scanned';
  $('confirm').disabled = v.state !== 'card_read';
  $('liveness').disabled = v.state !== 'confirmed';
  $('authorize').disabled = v.state !== 'scanned';
}

async function poll() {
  if (!current) return;
  try { render(await api('GET', '/phone/sessions/' + encodeURIComponent(current))); } catch (e) { say(e.message); }
}

async function step(path, body, prefer) {
  say('');
  try { render(await api('POST', `/phone/sessions/${encodeURIComponent(current)}/${path}`, { body, prefer })); }
  catch (e) { say(e.message); }
}

$('read').onclick = () => {
  const [platform, model, os_version] = $('device').value.split('|');
  step('nfc', { device: { platform, model, os_version } }, 'nfc=' + $('nfc-outcome').value);
};
$('confirm').onclick = () => step('confirm', {});
$('liveness').onclick = () => {
  const prefer = ['liveness=' + $('liveness-outcome').value, 'review=' + $('review-outcome').value];
  if ($('review-delay').value.trim()) prefer.push('review_delay=' + $('review-delay').value.trim());
  step('liveness', { mode: $('liveness-mode').value }, prefer.join(', '));
};
$('authorize').onclick = () => step('authorize', {}, 'app_auth=' + $('app-outcome').value);

// Poll, not SSE: it survives proxies and restarts, and a QA page needs no
// more than twice a second.
setInterval(() => { refreshList(); poll(); pollCreated(); }, 500);
loadCodes().catch((e) => say(e.message));
refreshList();
showScanned();
