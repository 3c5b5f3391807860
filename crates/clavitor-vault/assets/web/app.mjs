// The Clavitor owner web vault: a small single-page app, no framework, no
// inline script (CSP), no secret in localStorage/IndexedDB/URLs.

import * as api from './api.mjs';
import * as webauthn from './webauthn.mjs';
import * as personal from './personal.mjs';
import { b64, utf8 } from './b64.mjs';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
let session = { stage: 'none', passkeys: 0, vault_id: '' };
let timers = [];

// ---- small DOM helpers -------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function toast(message) {
  const box = document.getElementById('toast');
  const item = h('div', {}, message);
  box.append(item);
  setTimeout(() => item.remove(), 5000);
}

function errorText(e) {
  if (e instanceof api.ApiError) return e.code ? `${e.code}: ${e.message}` : e.message;
  if (e && e.name === 'NotAllowedError') return 'The passkey request was cancelled or not allowed.';
  return (e && e.message) || String(e);
}

function page(title, ...children) {
  for (const t of timers) clearInterval(t);
  timers = [];
  main.replaceChildren(h('h1', {}, title), ...children);
  document.title = `${title} · Clavitor`;
  for (const a of nav.querySelectorAll('a')) {
    a.toggleAttribute('aria-current', a.getAttribute('href') === location.pathname);
    if (a.getAttribute('href') === location.pathname) a.setAttribute('aria-current', 'page');
  }
}

const fmtTime = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '—');
const randomId = (prefix) => prefix + b64(globalThis.crypto.getRandomValues(new Uint8Array(12)));

// ---- tiers and kinds (DESIGN.md §3) -------------------------------------------

const SHARED = ['password', 'passphrase', 'secret', 'token', 'key', 'api_key', 'access_key', 'secret_key',
  'client_secret', 'private_key', 'connection_string', 'database_url', 'dsn', 'totp'];
const PERSONAL = ['card_number', 'cvv', 'cvc', 'pin', 'ssn', 'passport', 'national_id', 'recovery_codes',
  'seed_phrase', 'mnemonic', 'iban', 'account_number', 'routing_number'];
const KINDS = ['text', 'password', 'totp', 'url', 'email', 'note', 'ssh-key'];
const ENTRY_KINDS = ['', 'login', 'api', 'ssh', 'database', 'card', 'identity', 'note'];

function labelKey(label) {
  return label.normalize('NFC').trim().toLowerCase().replace(/[ -]/g, '_');
}
export function defaultTier(label) {
  const k = labelKey(label);
  if (PERSONAL.includes(k)) return 'personal';
  if (SHARED.includes(k)) return 'shared';
  return 'info';
}
function defaultKind(label) {
  const k = labelKey(label);
  if (k === 'password' || k === 'passphrase') return 'password';
  if (k === 'totp' || k === 'otp') return 'totp';
  if (k === 'url' || k === 'website') return 'url';
  if (k === 'email') return 'email';
  if (k === 'note' || k === 'notes') return 'note';
  if (k === 'ssh_key' || k === 'private_key') return 'ssh-key';
  return 'text';
}

// ---- routing -----------------------------------------------------------------

const routes = {
  '/setup': setupPage,
  '/login': loginPage,
  '/entries': entriesPage,
  '/agents': agentsPage,
  '/audit': auditPage,
  '/passkeys': passkeysPage,
};

function go(path) {
  if (location.pathname !== path) history.pushState({}, '', path);
  render();
}

async function refreshSession() {
  session = await api.get('/v1/web/session');
  api.setCsrf(session.csrf);
  nav.hidden = session.stage !== 'owner';
}

async function render() {
  try {
    await refreshSession();
  } catch (e) {
    page('Vault unavailable', h('p', { class: 'error' }, errorText(e)));
    return;
  }
  let path = location.pathname;
  if (path === '/setup' && session.stage !== 'owner') return setupPage();
  if (session.stage !== 'owner') {
    if (path !== '/login') history.replaceState({}, '', '/login');
    return loginPage();
  }
  if (!routes[path] || path === '/login' || path === '/setup') {
    path = '/entries';
    history.replaceState({}, '', path);
  }
  try {
    await routes[path]();
  } catch (e) {
    page('Something went wrong', h('p', { class: 'error' }, errorText(e)));
  }
}

document.addEventListener('click', (ev) => {
  const a = ev.target.closest && ev.target.closest('a[data-link]');
  if (a && !ev.ctrlKey && !ev.metaKey && !ev.shiftKey) {
    ev.preventDefault();
    go(a.getAttribute('href'));
  }
});
window.addEventListener('popstate', render);
document.getElementById('logout').addEventListener('click', async () => {
  try {
    await api.post('/v1/web/logout');
  } finally {
    api.setCsrf(null);
    go('/login');
  }
});

// ---- setup -------------------------------------------------------------------

function recoveryCode() {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(25));
  const chars = Array.from(bytes, (b) => alphabet[b % 32]).join('');
  return chars.match(/.{5}/g).join('-');
}

async function setupPage() {
  const token = location.hash.slice(1);
  const status = h('p', { id: 'setup-status', class: 'muted' });
  const button = h('button', { class: 'primary', id: 'setup-passkey', type: 'button' }, 'Create passkey');
  const name = h('input', { id: 'passkey-name', value: 'My passkey', 'aria-label': 'Passkey name' });
  page(
    'Set up your vault',
    h('div', { class: 'card' },
      h('p', {}, 'Your vault is opened with a passkey only: your fingerprint, face or security key. ',
        'The passkey also unlocks your personal key, which encrypts personal fields in this browser: ',
        'the server stores only ciphertext.'),
      h('div', { class: 'row' }, h('label', {}, 'Passkey name', name), button),
      status),
  );
  if (!webauthn.supported()) {
    status.textContent = 'This browser does not support passkeys.';
    button.disabled = true;
    return;
  }
  button.addEventListener('click', async () => {
    button.disabled = true;
    status.className = 'muted';
    try {
      if (session.stage === 'none') {
        if (!token) throw new Error('Open the one-time setup link printed by `clavitor serve`.');
        const opened = await api.post('/v1/web/setup', { token });
        api.setCsrf(opened.csrf);
        history.replaceState({}, '', '/setup');
      }
      status.textContent = 'Touch your passkey…';
      const start = await api.post('/v1/web/passkeys/register/start', { name: name.value });
      const reg = await webauthn.create(start.options, start.prf_salt);
      const done = await api.post('/v1/web/passkeys/register/finish', {
        ceremony: start.ceremony,
        credential: reg.json,
        prf_capable: reg.prf.enabled,
      });
      api.setCsrf(done.csrf);
      await refreshSession();
      let prf = reg.prf.output;
      if (!prf && reg.prf.enabled) {
        status.textContent = 'Touch your passkey once more to create your personal key…';
        prf = (await webauthn.prfOnly(reg.id, start.prf_salt, location.hostname)).output;
      }
      if (!prf) {
        page('Passkey registered',
          h('div', { class: 'card' },
            h('p', { id: 'no-prf' }, 'This passkey or browser does not support the PRF extension, so no personal key was created. ',
              'You can manage info and shared fields; personal fields need a PRF-capable passkey.'),
            h('a', { href: '/entries', 'data-link': true, class: 'button primary' }, 'Go to entries')));
        return;
      }
      const keys = await personal.generate();
      const vaultId = session.vault_id;
      const publicKey = b64(keys.publicRaw);
      const wrap = await personal.wrap(keys.d, prf, vaultId, 'passkey', reg.id);
      await api.post('/v1/web/personal-key', { public_key: publicKey, wrap });
      const code = recoveryCode();
      const rwrap = await personal.wrap(keys.d, utf8(code), vaultId, 'recovery', 'recovery');
      await api.post('/v1/web/personal-key', { public_key: publicKey, wrap: rwrap });
      keys.d.fill(0);
      prf.fill(0);
      page('Your vault is ready',
        h('div', { class: 'card', id: 'setup-done' },
          h('p', {}, 'Passkey registered and personal key created.'),
          h('h2', {}, 'Recovery code'),
          h('p', {}, 'Write this code down and keep it offline. It unlocks your personal fields if you lose your passkey. It is shown only once.'),
          h('pre', { class: 'token', id: 'recovery-code' }, code),
          h('a', { href: '/entries', 'data-link': true, class: 'button primary', id: 'go-entries' }, 'Go to entries')));
    } catch (e) {
      status.className = 'error';
      status.textContent = errorText(e);
      button.disabled = false;
    }
  });
}

// ---- login -------------------------------------------------------------------

async function loginPage() {
  const status = h('p', { id: 'login-status', class: 'muted' });
  const button = h('button', { class: 'primary', id: 'login', type: 'button' }, 'Sign in with passkey');
  page('Sign in', h('div', { class: 'card' },
    session.passkeys === 0
      ? h('p', {}, 'No passkey is enrolled yet: open the one-time setup link printed by `clavitor serve`.')
      : h('p', {}, 'Use your passkey to open the vault.'),
    button, status));
  button.disabled = session.passkeys === 0;
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      status.textContent = 'Touch your passkey…';
      const start = await api.post('/v1/web/login/start');
      const a = await webauthn.get(start.options);
      const opened = await api.post('/v1/web/login/finish', { ceremony: start.ceremony, credential: a.json });
      api.setCsrf(opened.csrf);
      go('/entries');
    } catch (e) {
      status.className = 'error';
      status.textContent = errorText(e);
      button.disabled = false;
    }
  });
}

// ---- entries -----------------------------------------------------------------

async function personalKey() {
  return api.get('/v1/web/personal-key');
}

/** Passkey tap → PRF → unwrap the personal private key (kept only in memory). */
async function unlockPersonal(start) {
  const a = await webauthn.get(start.options, start.prf_salts);
  if (!a.prf.output) throw new Error('This passkey gave no PRF output: personal fields need a PRF-capable passkey.');
  return a;
}

async function entriesPage() {
  const list = await api.get('/v1/web/entries');
  const search = h('input', { type: 'search', id: 'entry-search', placeholder: 'Search entries', 'aria-label': 'Search entries', class: 'grow' });
  const tbody = h('tbody', { id: 'entries' });
  const detail = h('div', { id: 'entry-detail' });
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const rows = list.filter((e) => !q || e.name.toLowerCase().includes(q) ||
      e.fields.some((f) => f.label.toLowerCase().includes(q)) || (e.kind || '').includes(q));
    tbody.replaceChildren(...rows.map((e) => h('tr', {},
      h('td', {}, h('a', { href: '#', onclick: (ev) => { ev.preventDefault(); showEntry(e.name, detail); } }, e.name)),
      h('td', {}, e.kind || ''),
      h('td', {}, e.fields.map((f) => h('span', { class: `tier-${f.tier}` }, `${f.label} `))),
      h('td', {}, fmtTime(e.updated_at)))));
    if (!rows.length) tbody.replaceChildren(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, list.length ? 'No entry matches.' : 'No entries yet: create the first one.')));
  };
  search.addEventListener('input', draw);
  const newButton = h('button', { class: 'primary', id: 'new-entry', type: 'button', onclick: () => entryForm(detail) }, 'New entry');
  page('Entries',
    h('div', { class: 'row' }, search, newButton),
    detail,
    h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Kind'), h('th', {}, 'Fields'), h('th', {}, 'Updated'))), tbody));
  draw();
}

function fieldRow(field) {
  const label = h('input', { class: 'f-label', value: field.label || '', 'aria-label': 'Field label', placeholder: 'label' });
  const kind = h('select', { class: 'f-kind', 'aria-label': 'Field kind' }, KINDS.map((k) => h('option', { value: k }, k)));
  const tier = h('select', { class: 'f-tier', 'aria-label': 'Field tier' }, ['info', 'shared', 'personal'].map((t) => h('option', { value: t }, t)));
  const value = h('input', { class: 'f-value', 'aria-label': 'Field value', placeholder: 'value', autocomplete: 'off' });
  const injectOnly = h('input', { type: 'checkbox', class: 'f-inject' });
  let tierTouched = false;
  let kindTouched = false;
  tier.addEventListener('change', () => { tierTouched = true; });
  kind.addEventListener('change', () => { kindTouched = true; value.type = kind.value === 'password' ? 'password' : 'text'; });
  label.addEventListener('input', () => {
    if (!tierTouched) tier.value = defaultTier(label.value);
    if (!kindTouched) kind.value = defaultKind(label.value);
  });
  tier.value = field.tier || defaultTier(label.value);
  kind.value = field.kind || defaultKind(label.value);
  const gen = h('button', { type: 'button', title: 'Generate a password', onclick: () => {
    const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.!';
    const bytes = globalThis.crypto.getRandomValues(new Uint8Array(24));
    value.value = Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
  } }, 'Generate');
  const row = h('div', { class: 'field-row' },
    h('label', {}, 'Label', label), h('label', {}, 'Kind', kind), h('label', {}, 'Tier', tier),
    h('label', {}, 'Value', value), h('label', {}, 'Inject only', injectOnly),
    h('div', { class: 'row' }, gen, h('button', { type: 'button', class: 'danger', onclick: () => row.remove() }, 'Remove')));
  row.read = () => ({ label: label.value.trim(), kind: kind.value, tier: tier.value, value: value.value, inject_only: injectOnly.checked });
  return row;
}

function entryForm(container) {
  const name = h('input', { id: 'entry-name', required: true, 'aria-label': 'Entry name' });
  const kind = h('select', { id: 'entry-kind', 'aria-label': 'Entry kind' }, ENTRY_KINDS.map((k) => h('option', { value: k }, k || '(none)')));
  const hosts = h('input', { id: 'entry-hosts', placeholder: 'api.example.com, *.example.com', 'aria-label': 'Host patterns' });
  const fields = h('div', { id: 'entry-fields' }, fieldRow({ label: 'username' }), fieldRow({ label: 'password' }));
  const status = h('p', { class: 'muted', id: 'entry-status' });
  const save = h('button', { class: 'primary', type: 'submit', id: 'save-entry' }, 'Save entry');
  const form = h('form', { class: 'card', id: 'entry-form' },
    h('h2', {}, 'New entry'),
    h('div', { class: 'row' }, h('label', { class: 'grow' }, 'Name', name), h('label', {}, 'Kind', kind), h('label', { class: 'grow' }, 'Host patterns', hosts)),
    h('h2', {}, 'Fields'), fields,
    h('div', { class: 'row' },
      h('button', { type: 'button', id: 'add-field', onclick: () => fields.append(fieldRow({})) }, 'Add field'),
      save, h('button', { type: 'button', onclick: () => container.replaceChildren() }, 'Cancel')),
    status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    save.disabled = true;
    try {
      const specs = Array.from(fields.children).map((r) => r.read()).filter((f) => f.label);
      const entryId = randomId('e_');
      const needPersonal = specs.some((f) => f.tier === 'personal');
      let key = null;
      if (needPersonal) {
        key = await personalKey();
        if (!key.public_key) throw new Error('No personal key yet: personal fields need a PRF-capable passkey.');
        if (!key.wraps.some((w) => w.kind === 'recovery') && key.wraps.length < 2 &&
            !confirm('Only one unlock method exists for your personal key. Save anyway?')) {
          throw new Error('Cancelled.');
        }
      }
      const out = [];
      for (const f of specs) {
        const spec = { id: randomId('f_'), label: f.label, kind: f.kind, tier: f.tier, inject_only: f.inject_only, hosts: [] };
        if (f.tier === 'personal') {
          spec.sealed = await personal.sealText(key.public_key,
            { vault_id: key.vault_id, entry_id: entryId, field_id: spec.id, revision: 1 }, f.value);
        } else {
          spec.value = f.value;
        }
        out.push(spec);
      }
      const req = {
        id: entryId,
        name: name.value.trim(),
        kind: kind.value || undefined,
        hosts: hosts.value.split(',').map((s) => s.trim()).filter(Boolean),
        fields: out,
      };
      const created = await api.post('/v1/web/entries', req);
      toast(`Saved ${created.name}`);
      await entriesPage();
      await showEntry(created.name, document.getElementById('entry-detail'));
    } catch (e) {
      status.className = 'error';
      status.textContent = errorText(e);
      save.disabled = false;
    }
  });
  container.replaceChildren(form);
  name.focus();
}

async function showEntry(name, container) {
  const entry = await api.get(`/v1/web/entry?name=${encodeURIComponent(name)}`);
  const status = h('p', { class: 'muted', id: 'detail-status' });
  const rows = entry.fields.map((f) => {
    const value = h('span', { class: 'value', 'data-field': f.label });
    if (f.tier === 'info') value.textContent = f.value ?? '';
    else if (f.tier === 'shared') value.textContent = f.kind === 'totp' ? '(live code below)' : '••••••••';
    else value.textContent = '🔒 personal';
    return h('tr', {}, h('td', {}, f.label), h('td', {}, f.kind), h('td', { class: `tier-${f.tier}` }, f.tier),
      h('td', {}, f.inject_only ? 'inject only' : ''), h('td', {}, value));
  });
  const reveal = h('button', { type: 'button', id: 'reveal-shared', onclick: async () => {
    try {
      const full = await api.post('/v1/web/entry/reveal', { name: entry.name });
      for (const f of full.fields) {
        if (f.tier === 'shared' && f.kind !== 'totp') {
          const el = container.querySelector(`[data-field="${CSS.escape(f.label)}"]`);
          if (el) el.textContent = f.value ?? '';
        }
      }
    } catch (e) { status.textContent = errorText(e); }
  } }, 'Reveal shared');
  const hasPersonal = entry.fields.some((f) => f.tier === 'personal');
  const revealPersonal = hasPersonal && h('button', { type: 'button', id: 'reveal-personal', onclick: async () => {
    try {
      status.className = 'muted';
      status.textContent = 'Touch your passkey…';
      const start = await api.post('/v1/web/assert/start', { purpose: 'reveal', entry: entry.name });
      const a = await unlockPersonal(start);
      const view = await api.post('/v1/web/entry/personal', { name: entry.name, ceremony: start.ceremony, credential: a.json });
      const key = await personalKey();
      const w = key.wraps.find((x) => x.kind === 'passkey' && x.credential === a.id);
      if (!w) throw new Error('This passkey does not unlock your personal key.');
      const sk = await personal.unwrap(w, a.prf.output, key.vault_id, key.public_key);
      a.prf.output.fill(0);
      for (const f of view.fields.filter((x) => x.tier === 'personal')) {
        const el = container.querySelector(`[data-field="${CSS.escape(f.label)}"]`);
        try {
          el.textContent = await personal.openText(sk, key.public_key,
            { vault_id: key.vault_id, entry_id: view.id, field_id: f.id, revision: f.sealed_rev }, f.sealed);
        } catch {
          el.textContent = '(cannot be decrypted)';
        }
      }
      status.textContent = '';
    } catch (e) {
      status.className = 'error';
      status.textContent = errorText(e);
    }
  } }, 'Reveal personal (passkey)');
  const totpBox = h('div', { id: 'totp' });
  const del = h('button', { type: 'button', class: 'danger', onclick: async () => {
    if (!confirm(`Delete ${entry.name}?`)) return;
    try {
      await api.post('/v1/web/entry/delete', { name: entry.name, rev: entry.rev });
      toast(`Deleted ${entry.name}`);
      await entriesPage();
    } catch (e) { status.textContent = errorText(e); }
  } }, 'Delete');
  container.replaceChildren(h('div', { class: 'card', id: 'entry-card' },
    h('h2', {}, entry.name, ' ', h('span', { class: 'muted' }, `rev ${entry.rev}`)),
    entry.hosts.length ? h('p', { class: 'muted' }, `Hosts: ${entry.hosts.join(', ')}`) : null,
    h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Label'), h('th', {}, 'Kind'), h('th', {}, 'Tier'), h('th', {}, ''), h('th', {}, 'Value'))), h('tbody', {}, rows)),
    totpBox,
    h('div', { class: 'row' }, reveal, revealPersonal, del),
    status));
  if (entry.fields.some((f) => f.kind === 'totp' && f.tier !== 'personal')) {
    let codes = [];
    let fetchedAt = 0;
    const tick = async () => {
      const elapsed = Math.floor((Date.now() - fetchedAt) / 1000);
      if (!codes.length || codes.some((c) => c.seconds_left - elapsed <= 0)) {
        codes = await api.post('/v1/web/entry/totp', { name: entry.name });
        fetchedAt = Date.now();
      }
      const el2 = Math.floor((Date.now() - fetchedAt) / 1000);
      totpBox.replaceChildren(...codes.map((c) => h('p', {}, `${c.field}: `, h('strong', { class: 'mono', id: 'totp-code' }, c.code), h('span', { class: 'muted' }, ` ${c.seconds_left - el2}s`))));
    };
    await tick();
    timers.push(setInterval(() => tick().catch(() => {}), 1000));
  }
}

// ---- agents ------------------------------------------------------------------

async function agentsPage() {
  const [agents, entries] = await Promise.all([api.get('/v1/web/agents'), api.get('/v1/web/entries')]);
  const shown = h('div', { id: 'agent-token-box' });
  const status = h('p', { class: 'muted', id: 'agents-status' });
  const name = h('input', { id: 'agent-name', 'aria-label': 'Agent name', placeholder: 'Codex' });
  const minute = h('input', { id: 'agent-minute', type: 'number', min: 1, value: 3, 'aria-label': 'Distinct names per minute' });
  const hour = h('input', { id: 'agent-hour', type: 'number', min: 1, value: 10, 'aria-label': 'Distinct names per hour' });
  const ips = h('input', { id: 'agent-ips', placeholder: '10.0.0.0/8, 192.0.2.7', 'aria-label': 'IP allow-list' });
  const picks = entries.map((e) => h('label', { class: 'row' }, h('input', { type: 'checkbox', value: e.name, class: 'agent-entry' }), e.name));
  const showToken = (t, who) => shown.replaceChildren(h('div', { class: 'card' },
    h('h2', {}, `Setup token for ${who}`),
    h('p', {}, 'Shown once. It expires ', fmtTime(t.expires_at), ' UTC and works once.'),
    h('pre', { class: 'token', id: 'agent-token' }, t.token),
    h('p', {}, 'On the agent machine:'),
    h('pre', { class: 'token', id: 'agent-init' }, `export CLAVITOR_TOKEN='${t.token}'\n${t.init}`),
    h('button', { type: 'button', id: 'copy-token', onclick: async () => {
      try { await navigator.clipboard.writeText(t.token); toast('Token copied'); } catch { toast('Copy failed: select the token and copy it.'); }
    } }, 'Copy token')));
  const form = h('form', { class: 'card', id: 'agent-form' },
    h('h2', {}, 'Create an agent'),
    h('div', { class: 'row' }, h('label', { class: 'grow' }, 'Name', name), h('label', {}, 'Names / minute', minute), h('label', {}, 'Names / hour', hour), h('label', { class: 'grow' }, 'IP allow-list', ips)),
    h('p', {}, 'Entries it may use:'),
    picks.length ? h('div', { class: 'row' }, picks) : h('p', { class: 'muted' }, 'No entries yet.'),
    h('button', { class: 'primary', type: 'submit', id: 'create-agent' }, 'Create agent'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const grants = picks.map((p) => p.querySelector('input')).filter((i) => i.checked).map((i) => ({ entry: i.value }));
      const req = { name: name.value.trim(), grants, rate_minute: Number(minute.value), rate_hour: Number(hour.value),
        ips: ips.value.split(',').map((s) => s.trim()).filter(Boolean) };
      const t = await api.post('/v1/web/agents', req);
      await agentsPage();
      document.getElementById('agent-token-box').replaceWith(shown);
      showToken(t, req.name);
      main.prepend(shown);
    } catch (e) { status.className = 'error'; status.textContent = errorText(e); }
  });
  const act = (label, fn) => h('button', { type: 'button', onclick: async () => {
    try { await fn(); } catch (e) { status.className = 'error'; status.textContent = errorText(e); }
  } }, label);
  const tbody = h('tbody', { id: 'agents' }, agents.length ? agents.map((a) => h('tr', { 'data-agent': a.name },
    h('td', {}, a.name),
    h('td', {}, h('span', { class: `badge ${a.state === 'active' ? 'ok' : a.state === 'locked' ? 'warn' : 'bad'}`, 'data-state': a.state }, a.state)),
    h('td', {}, a.grants.map((g) => g.entry).join(', ')),
    h('td', {}, `${a.rate_minute}/min, ${a.rate_hour}/h`),
    h('td', {}, fmtTime(a.last_used_at)),
    h('td', {}, String(a.use_count)),
    h('td', { class: 'row' },
      a.state === 'locked' ? act('Unlock (passkey)', async () => {
        const start = await api.post('/v1/web/assert/start', { purpose: 'unlock', agent: a.name });
        const as = await webauthn.get(start.options);
        await api.post('/v1/web/agent/unlock', { name: a.name, ceremony: start.ceremony, credential: as.json });
        toast(`${a.name} unlocked`);
        await agentsPage();
      }) : null,
      a.state !== 'revoked' ? act('New token', async () => {
        const t = await api.post('/v1/web/agent/token', { name: a.name });
        showToken(t, a.name);
      }) : null,
      a.state !== 'revoked' ? act('Revoke', async () => {
        if (!confirm(`Revoke ${a.name}? Its credential stops working at once.`)) return;
        await api.post('/v1/web/agent/revoke', { name: a.name });
        await agentsPage();
      }) : null)))
    : [h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No agents yet.'))]);
  page('Agents', shown, form, status,
    h('table', {}, h('thead', {}, h('tr', {}, ['Name', 'State', 'Entries', 'Limits', 'Last use', 'Uses', ''].map((t) => h('th', {}, t)))), tbody));
}

// ---- audit -------------------------------------------------------------------

async function auditPage() {
  const f = {
    agent: h('input', { id: 'audit-agent', 'aria-label': 'Agent', placeholder: 'agent' }),
    entry: h('input', { id: 'audit-entry', 'aria-label': 'Entry', placeholder: 'entry' }),
    action: h('input', { id: 'audit-action', 'aria-label': 'Action', placeholder: 'action' }),
    outcome: h('select', { id: 'audit-outcome', 'aria-label': 'Outcome' }, ['', 'ok', 'refused'].map((o) => h('option', { value: o }, o || 'any outcome'))),
    since: h('input', { id: 'audit-since', type: 'date', 'aria-label': 'Since' }),
    until: h('input', { id: 'audit-until', type: 'date', 'aria-label': 'Until' }),
  };
  const badge = h('span', { id: 'audit-verified', class: 'badge' }, 'checking…');
  const tbody = h('tbody', { id: 'audit-rows' });
  const csv = h('a', { class: 'button', id: 'audit-csv', href: '/v1/web/audit.csv', download: 'clavitor-audit.csv' }, 'Export CSV');
  const query = () => {
    const q = new URLSearchParams();
    for (const k of ['agent', 'entry', 'action', 'outcome']) if (f[k].value.trim()) q.set(k, f[k].value.trim());
    if (f.since.value) q.set('since', String(Date.parse(`${f.since.value}T00:00:00Z`)));
    if (f.until.value) q.set('until', String(Date.parse(`${f.until.value}T00:00:00Z`) + 86400000));
    return q.toString();
  };
  const load = async () => {
    const q = query();
    const rows = await api.get(`/v1/web/audit${q ? `?${q}` : ''}`);
    csv.href = `/v1/web/audit.csv${q ? `?${q}` : ''}`;
    tbody.replaceChildren(...(rows.length ? rows.slice().reverse().map((r) => h('tr', {},
      h('td', { class: 'mono' }, fmtTime(r.at)), h('td', {}, r.action), h('td', {}, r.entry || ''), h('td', {}, r.actor),
      h('td', {}, h('span', { class: `badge ${r.outcome === 'ok' ? 'ok' : 'bad'}` }, r.outcome)),
      h('td', {}, r.reason || ''), h('td', {}, r.field || ''), h('td', {}, r.host || ''), h('td', {}, r.source || '')))
      : [h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'No records match.'))]));
  };
  const form = h('form', { class: 'card row', id: 'audit-filters' }, Object.values(f), h('button', { type: 'submit' }, 'Filter'), csv);
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load().catch((e) => toast(errorText(e))); });
  page('Audit', h('p', {}, 'Hash chain: ', badge), form,
    h('table', {}, h('thead', {}, h('tr', {}, ['TIME', 'ACTION', 'ENTRY', 'ACTOR', 'OUTCOME', 'REASON', 'FIELD', 'HOST', 'FROM'].map((t) => h('th', {}, t)))), tbody));
  const v = await api.get('/v1/web/audit/verify');
  badge.className = `badge ${v.ok ? 'ok' : 'bad'}`;
  badge.textContent = v.ok ? `verified (${v.records} records)` : `broken at #${v.broken_at}: ${v.problem || ''}`;
  await load();
}

// ---- passkeys ----------------------------------------------------------------

async function passkeysPage() {
  const [list, key] = await Promise.all([api.get('/v1/web/passkeys'), personalKey()]);
  page('Passkeys',
    h('table', {}, h('thead', {}, h('tr', {}, ['Name', 'PRF', 'Unlocks personal key', 'Created', 'Last used'].map((t) => h('th', {}, t)))),
      h('tbody', {}, list.map((p) => h('tr', {}, h('td', {}, p.name), h('td', {}, p.prf ? 'yes' : 'no'),
        h('td', {}, key.wraps.some((w) => w.credential === p.id) ? 'yes' : 'no'),
        h('td', {}, fmtTime(p.created_at)), h('td', {}, fmtTime(p.last_used_at)))))),
    h('p', { class: 'muted' }, key.public_key
      ? `Personal key: ${key.wraps.length} unlock method(s) (passkeys and recovery code).`
      : 'No personal key yet.'));
}

render();
