// The Entries page: list and search, create and edit (with templates, tiers,
// per-field hosts), revision history, the two-tab conflict view, reveal of
// shared values and of personal values after a passkey tap, live TOTP codes.

import * as api from './api.mjs';
import * as webauthn from './webauthn.mjs';
import * as personal from './personal.mjs';
import * as unlock from './unlock.mjs';
import { h, toast, errorText, page, every, fail, action, fmtTime, randomId, splitList } from './dom.mjs';
import { ENTRY_KINDS, TEMPLATES, fieldRow } from './fields.mjs';

const sameList = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

export async function entriesPage() {
  const list = await api.get('/v1/web/entries');
  const search = h('input', { type: 'search', id: 'entry-search', placeholder: 'Search entries', 'aria-label': 'Search entries', class: 'grow' });
  const tbody = h('tbody', { id: 'entries' });
  const detail = h('div', { id: 'entry-detail' });
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const rows = list.filter((e) => !q || e.name.toLowerCase().includes(q) ||
      e.fields.some((f) => f.label.toLowerCase().includes(q)) || (e.kind || '').includes(q));
    tbody.replaceChildren(...rows.map((e) => h('tr', {},
      h('td', {}, h('a', { href: '#', onclick: (ev) => { ev.preventDefault(); showEntry(e.name, detail).catch((err) => toast(errorText(err))); } }, e.name)),
      h('td', {}, e.kind || ''),
      h('td', {}, e.fields.map((f) => h('span', { class: `tier-${f.tier}` }, `${f.label} `))),
      h('td', {}, fmtTime(e.updated_at)))));
    if (!rows.length) tbody.replaceChildren(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, list.length ? 'No entry matches.' : 'No entries yet: create the first one.')));
  };
  search.addEventListener('input', draw);
  const newButton = h('button', { class: 'primary', id: 'new-entry', type: 'button', onclick: () => entryForm(detail, null) }, 'New entry');
  page('Entries',
    h('div', { class: 'row' }, search, newButton),
    detail,
    h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Kind'), h('th', {}, 'Fields'), h('th', {}, 'Updated'))), tbody));
  draw();
}

/** Personal values need the public key; warns when one unlock method exists. */
async function keyForSealing() {
  const key = await unlock.personalKey();
  if (!key.public_key) {
    throw new Error('Personal fields need a personal key, created by a PRF-capable passkey: add one on the Passkeys page. Info and shared fields work without it.');
  }
  const methods = await unlock.unlockMethods(key);
  if (methods === 0) {
    throw new Error('No passkey or recovery code unlocks your personal key any more, so a personal value saved now could never be read: add a PRF-capable passkey first.');
  }
  if (methods < 2 && !confirm(
    'Your personal key has only one unlock method (one passkey, no recovery code). If you lose it, personal fields cannot be recovered by anyone. Save anyway?')) {
    throw new Error('Not saved: add a second passkey or a recovery code on the Passkeys page first.');
  }
  return key;
}

async function sealed(key, ctx, text) {
  return personal.sealText(key.public_key, { vault_id: key.vault_id, ...ctx }, text);
}

/** The create (existing = null) or edit form. */
function entryForm(container, existing) {
  const name = h('input', { id: 'entry-name', required: true, 'aria-label': 'Entry name', value: existing ? existing.name : '' });
  const kind = h('select', { id: 'entry-kind', 'aria-label': 'Entry kind' }, ENTRY_KINDS.map((k) => h('option', { value: k }, k || '(none)')));
  kind.value = existing ? existing.kind || '' : '';
  const hosts = h('input', { id: 'entry-hosts', placeholder: 'api.example.com, *.example.com', 'aria-label': 'Host patterns',
    value: existing ? existing.hosts.join(', ') : '' });
  const rows = [];
  const fields = h('div', { id: 'entry-fields' });
  const addRow = (row) => { rows.push(row); fields.append(row); };
  if (existing) for (const f of existing.fields) addRow(fieldRow(f, true));
  else for (const label of ['username', 'password']) addRow(fieldRow({ label }));
  kind.addEventListener('change', () => {
    // A template replaces the starting rows while nothing was typed in them.
    const t = TEMPLATES[kind.value];
    const live = rows.filter((r) => !r.removed);
    if (existing || !t || live.some((r) => !r.isEmpty())) return;
    for (const r of live) { r.removed = true; r.remove(); }
    for (const label of t) addRow(fieldRow({ label }));
  });
  const status = h('p', { class: 'muted', id: 'entry-status' });
  const conflict = h('div', { id: 'entry-conflict' });
  const save = h('button', { class: 'primary', type: 'submit', id: 'save-entry' }, existing ? 'Save changes' : 'Save entry');
  const form = h('form', { class: 'card', id: 'entry-form' },
    h('h2', {}, existing ? `Edit ${existing.name}` : 'New entry'),
    h('div', { class: 'row' }, h('label', { class: 'grow' }, 'Name', name), h('label', {}, 'Kind', kind), h('label', { class: 'grow' }, 'Host patterns', hosts)),
    h('h2', {}, 'Fields'),
    existing ? h('p', { class: 'muted' }, 'Leave a value empty to keep it. Changing a tier needs the value again.') : null,
    fields,
    h('div', { class: 'row' },
      h('button', { type: 'button', id: 'add-field', onclick: () => addRow(fieldRow({})) }, 'Add field'),
      save, h('button', { type: 'button', onclick: () => container.replaceChildren() }, 'Cancel')),
    conflict, status);
  let base = existing;
  const submit = async () => {
    save.disabled = true;
    status.className = 'muted';
    status.textContent = 'Saving…';
    try {
      const saved = existing ? await saveEdit(base, name, kind, hosts, rows) : await saveNew(name, kind, hosts, rows);
      toast(`Saved ${saved.name}`);
      await entriesPage();
      await showEntry(saved.name, document.getElementById('entry-detail'));
    } catch (e) {
      save.disabled = false;
      if (existing && e instanceof api.ApiError && e.code === 'CV-1003') {
        status.textContent = '';
        showConflict(conflict, base, (current) => { base = current; submit(); }, container);
        return;
      }
      fail(status, e);
    }
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); submit(); });
  container.replaceChildren(form);
  name.focus();
}

async function saveNew(name, kind, hosts, rows) {
  const specs = rows.filter((r) => !r.removed).map((r) => r.read()).filter((f) => f.label);
  const entryId = randomId('e_');
  const key = specs.some((f) => f.tier === 'personal') ? await keyForSealing() : null;
  const out = [];
  for (const f of specs) {
    const spec = { id: randomId('f_'), label: f.label, kind: f.kind, tier: f.tier, inject_only: f.inject_only, hosts: f.hosts };
    if (f.tier === 'personal') spec.sealed = await sealed(key, { entry_id: entryId, field_id: spec.id, revision: 1 }, f.value);
    else spec.value = f.value;
    out.push(spec);
  }
  return api.post('/v1/web/entries', {
    id: entryId, name: name.value.trim(), kind: kind.value || undefined, hosts: splitList(hosts.value), fields: out,
  });
}

/** Sends only what changed against `base`, so applying it on top of a newer revision merges by field. */
async function saveEdit(base, name, kind, hosts, rows) {
  const req = { name: base.name, rev: base.rev, set: [], remove: [] };
  if (name.value.trim() !== base.name) req.rename = name.value.trim();
  if (kind.value !== (base.kind || '')) req.kind = kind.value;
  if (!sameList(splitList(hosts.value), base.hosts)) req.hosts = splitList(hosts.value);
  const current = (label) => base.fields.find((f) => f.label === label);
  for (const r of rows.filter((x) => x.removed && x.original)) {
    if (current(r.original.label)) req.remove.push(r.original.label);
  }
  const changes = [];
  for (const r of rows.filter((x) => !x.removed)) {
    const f = r.read();
    if (!f.label) continue;
    const o = r.original && current(r.original.label);
    if (o) {
      const meta = f.kind !== o.kind || f.inject_only !== o.inject_only || !sameList(f.hosts, o.hosts);
      if (!f.value && f.tier !== o.tier) throw new Error(`Enter the value of ${f.label} again to change its tier.`);
      if (!f.value && !meta) continue;
      changes.push({ f, id: o.id });
    } else if (r.original && !f.value) {
      continue; // removed elsewhere and not retyped here
    } else {
      changes.push({ f, id: randomId('f_') });
    }
  }
  const needKey = changes.some(({ f }) => f.tier === 'personal' && (f.value || !current(f.label)));
  const key = needKey ? await keyForSealing() : null;
  for (const { f, id } of changes) {
    const spec = { id, label: f.label, kind: f.kind, inject_only: f.inject_only, hosts: f.hosts };
    if (f.value || !current(f.label)) {
      spec.tier = f.tier;
      if (f.tier === 'personal') spec.sealed = await sealed(key, { entry_id: base.id, field_id: id, revision: base.rev + 1 }, f.value);
      else spec.value = f.value;
    }
    req.set.push(spec);
  }
  return api.post('/v1/web/entry/edit', req);
}

/** Another tab (or the CLI) saved first: show what is there now; the edits stay in the form. */
async function showConflict(box, base, applyOnTop, container) {
  let current;
  try {
    current = await api.get(`/v1/web/entry?name=${encodeURIComponent(base.name)}`);
  } catch (e) {
    box.replaceChildren(h('p', { class: 'error' }, `This entry was changed or removed elsewhere: ${errorText(e)}`));
    return;
  }
  box.replaceChildren(h('div', { class: 'card warn', role: 'alert' },
    h('p', {}, h('strong', {}, 'Changed elsewhere. '),
      `${current.name} is now at revision ${current.rev} (you started from ${base.rev}); its fields: ${current.fields.map((f) => f.label).join(', ') || 'none'}. `,
      'Your edits are still in this form.'),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'primary', id: 'conflict-apply', onclick: () => { box.replaceChildren(); applyOnTop(current); } },
        `Apply my changes on top of revision ${current.rev}`),
      h('button', { type: 'button', id: 'conflict-discard', onclick: () => showEntry(current.name, container) }, 'Discard my changes'))));
}

async function showHistory(entry, box) {
  const revs = await api.get(`/v1/web/entry/history?name=${encodeURIComponent(entry.name)}`);
  box.replaceChildren(h('h3', {}, 'Revision history'),
    h('table', { id: 'history' }, h('thead', {}, h('tr', {}, ['Revision', 'Saved', 'Name', 'Fields'].map((t) => h('th', {}, t)))),
      h('tbody', {}, revs.slice().reverse().map((r) => h('tr', { 'data-rev': r.rev },
        h('td', {}, String(r.rev)), h('td', { class: 'mono' }, fmtTime(r.at)),
        h('td', {}, r.tombstone ? `${r.name} (deleted)` : r.name), h('td', {}, r.labels.join(', ')))))),
    h('p', { class: 'muted' }, 'Values are not kept in the history view; every revision stays encrypted in the vault.'));
}

export async function showEntry(name, container) {
  const entry = await api.get(`/v1/web/entry?name=${encodeURIComponent(name)}`);
  const status = h('p', { class: 'muted', id: 'detail-status' });
  const extra = h('div', { id: 'entry-extra' });
  const rows = entry.fields.map((f) => {
    const value = h('span', { class: 'value', 'data-field': f.label });
    if (f.tier === 'info') value.textContent = f.value ?? '';
    else if (f.tier === 'shared') value.textContent = f.kind === 'totp' ? '(live code below)' : '••••••••';
    else value.textContent = '🔒 personal';
    return h('tr', {}, h('td', {}, f.label), h('td', {}, f.kind), h('td', { class: `tier-${f.tier}` }, f.tier),
      h('td', {}, [f.inject_only ? 'inject only' : '', f.hosts.length ? ` hosts: ${f.hosts.join(', ')}` : ''].join('').trim()),
      h('td', {}, value));
  });
  const cell = (label) => container.querySelector(`[data-field="${CSS.escape(label)}"]`);
  /** Shows a revealed value with a copy button (the value stays in this page only). */
  const show = (label, text) => {
    const el = cell(label);
    if (!el) return;
    const copy = h('button', { type: 'button', class: 'copy', 'aria-label': `Copy ${label}`, onclick: async () => {
      try { await navigator.clipboard.writeText(text); toast(`${label} copied`); } catch { toast('Copy failed: select the value and copy it.'); }
    } }, 'Copy');
    el.replaceChildren(text, ' ', copy);
  };
  const reveal = action('Reveal shared', { id: 'reveal-shared' }, status, async () => {
    const full = await api.post('/v1/web/entry/reveal', { name: entry.name });
    for (const f of full.fields) {
      if (f.tier === 'shared' && f.kind !== 'totp') show(f.label, f.value ?? '');
    }
  });
  const hasPersonal = entry.fields.some((f) => f.tier === 'personal');
  const revealPersonal = hasPersonal && action('Reveal personal (passkey)', { id: 'reveal-personal' }, status, async () => {
    status.className = 'muted';
    status.textContent = 'Touch your passkey…';
    const start = await api.post('/v1/web/assert/start', { purpose: 'reveal', entry: entry.name });
    const a = await webauthn.get(start.options, start.prf_salts);
    const view = await api.post('/v1/web/entry/personal', { name: entry.name, ceremony: start.ceremony, credential: a.json });
    const key = await unlock.personalKey();
    status.textContent = '';
    const sk = await unlock.open(key, a, extra);
    for (const f of view.fields.filter((x) => x.tier === 'personal')) {
      try {
        show(f.label, await personal.openText(sk, key.public_key,
          { vault_id: key.vault_id, entry_id: view.id, field_id: f.id, revision: f.sealed_rev }, f.sealed));
      } catch {
        cell(f.label).textContent = '(cannot be decrypted)';
      }
    }
  });
  const totpBox = h('div', { id: 'totp' });
  const edit = h('button', { type: 'button', id: 'edit-entry', onclick: () => entryForm(container, entry) }, 'Edit');
  const history = action('History', { id: 'entry-history' }, status, () => showHistory(entry, extra));
  const del = action('Delete', { class: 'danger', id: 'delete-entry' }, status, async () => {
    if (!confirm(`Delete ${entry.name}? Agents lose access at once.`)) return;
    await api.post('/v1/web/entry/delete', { name: entry.name, rev: entry.rev });
    toast(`Deleted ${entry.name}`);
    await entriesPage();
  });
  container.replaceChildren(h('div', { class: 'card', id: 'entry-card' },
    h('h2', {}, entry.name, ' ', h('span', { class: 'muted', id: 'entry-rev' }, `rev ${entry.rev}`)),
    entry.hosts.length ? h('p', { class: 'muted' }, `Hosts: ${entry.hosts.join(', ')}`) : null,
    h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Label'), h('th', {}, 'Kind'), h('th', {}, 'Tier'), h('th', {}, ''), h('th', {}, 'Value'))), h('tbody', {}, rows)),
    totpBox,
    h('div', { class: 'row' }, edit, reveal, revealPersonal, history, del),
    status, extra));
  if (entry.fields.some((f) => f.kind === 'totp' && f.tier !== 'personal')) await liveCodes(entry.name, totpBox);
}

/** Live TOTP codes: fetched (and audited) once per period, counted down locally. */
async function liveCodes(name, box) {
  let codes = [];
  let fetchedAt = 0;
  const tick = async () => {
    const elapsed = Math.floor((Date.now() - fetchedAt) / 1000);
    if (!codes.length || codes.some((c) => c.seconds_left - elapsed <= 0)) {
      codes = await api.post('/v1/web/entry/totp', { name });
      fetchedAt = Date.now();
    }
    const el = Math.floor((Date.now() - fetchedAt) / 1000);
    box.replaceChildren(...codes.map((c) => h('p', {}, `${c.field}: `, h('strong', { class: 'mono', id: 'totp-code' }, c.code), h('span', { class: 'muted' }, ` ${c.seconds_left - el}s`))));
  };
  await tick();
  every(1000, () => tick().catch(() => {}));
}
