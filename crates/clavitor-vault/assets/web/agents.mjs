// The Agents page: list with state, last use and access counts; create
// (entries, optional fields, limits, IP allow-list, expiry) with the setup
// token shown once; edit; unlock with a passkey tap; new token; revoke.

import * as api from './api.mjs';
import * as webauthn from './webauthn.mjs';
import { h, toast, page, fail, action, fmtTime, splitList } from './dom.mjs';

const DAY_S = 86400;

/**
 * Entry checkboxes (class `agent-entry`), each with its info and shared
 * fields to narrow the grant to; personal fields are never grantable.
 */
function grantPicker(entries, grants = []) {
  const items = entries.map((e) => {
    const granted = grants.find((g) => g.entry === e.name);
    const box = h('input', { type: 'checkbox', value: e.name, class: 'agent-entry', 'aria-label': `Grant ${e.name}` });
    box.checked = !!granted;
    const grantable = e.fields.filter((f) => f.tier !== 'personal');
    const fieldBoxes = grantable.map((f) => {
      const fb = h('input', { type: 'checkbox', value: f.label, class: 'agent-field', 'data-entry': e.name });
      fb.checked = !granted || !granted.fields || granted.fields.includes(f.label);
      return h('label', { class: 'inline' }, fb, f.label);
    });
    const fieldsBox = h('div', { class: 'row grant-fields', hidden: !box.checked }, h('span', { class: 'muted' }, 'fields:'), fieldBoxes);
    box.addEventListener('change', () => { fieldsBox.hidden = !box.checked; });
    const read = () => {
      if (!box.checked) return null;
      const picked = fieldBoxes.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
      return picked.length === grantable.length ? { entry: e.name } : { entry: e.name, fields: picked };
    };
    return { el: h('div', { class: 'grant' }, h('label', { class: 'inline' }, box, h('strong', {}, e.name)), fieldsBox), read };
  });
  return {
    el: items.length ? h('div', { class: 'grants' }, items.map((i) => i.el)) : h('p', { class: 'muted' }, 'No entries yet.'),
    read: () => items.map((i) => i.read()).filter(Boolean),
  };
}

const grantText = (g) => (g.fields ? `${g.entry} (${g.fields.join(', ')})` : g.entry);

function tokenCard(t, who) {
  return h('div', { class: 'card' },
    h('h2', {}, `Setup token for ${who}`),
    h('p', {}, 'Shown once. It expires ', fmtTime(t.expires_at), ' UTC and works once.'),
    h('pre', { class: 'token', id: 'agent-token' }, t.token),
    h('p', {}, 'On the agent machine:'),
    h('pre', { class: 'token', id: 'agent-init' }, `export CLAVITOR_TOKEN='${t.token}'\n${t.init}`),
    h('button', { type: 'button', id: 'copy-token', onclick: async () => {
      try { await navigator.clipboard.writeText(t.token); toast('Token copied'); } catch { toast('Copy failed: select the token and copy it.'); }
    } }, 'Copy token'));
}

function editForm(a, entries, box, status) {
  const minute = h('input', { id: 'edit-minute', type: 'number', min: 1, value: a.rate_minute, 'aria-label': 'Distinct names per minute' });
  const hour = h('input', { id: 'edit-hour', type: 'number', min: 1, value: a.rate_hour, 'aria-label': 'Distinct names per hour' });
  const ips = h('input', { id: 'edit-ips', value: a.ips.join(', '), 'aria-label': 'IP allow-list', placeholder: 'any address' });
  const mode = h('select', { id: 'edit-expiry-mode', 'aria-label': 'Expiry' },
    h('option', { value: 'keep' }, a.expires_at ? `keep (${fmtTime(a.expires_at)})` : 'keep (never)'),
    h('option', { value: 'never' }, 'never expires'),
    h('option', { value: 'days' }, 'expires in days:'));
  const days = h('input', { id: 'edit-expiry-days', type: 'number', min: 1, value: 30, 'aria-label': 'Days until expiry' });
  const picker = grantPicker(entries, a.grants);
  const form = h('form', { class: 'card', id: 'agent-edit-form' },
    h('h2', {}, `Edit ${a.name}`),
    h('div', { class: 'row' }, h('label', {}, 'Names / minute', minute), h('label', {}, 'Names / hour', hour),
      h('label', { class: 'grow' }, 'IP allow-list', ips), h('label', {}, 'Expiry', mode), h('label', {}, 'Days', days)),
    h('p', {}, 'Entries it may use:'), picker.el,
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', id: 'save-agent' }, 'Save'),
      h('button', { type: 'button', onclick: () => box.replaceChildren() }, 'Cancel')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const req = { name: a.name, grants: picker.read(), rate_minute: Number(minute.value), rate_hour: Number(hour.value), ips: splitList(ips.value) };
      if (mode.value === 'never') req.expires_in = null;
      if (mode.value === 'days') req.expires_in = Number(days.value) * DAY_S;
      await api.post('/v1/web/agent/edit', req);
      toast(`${a.name} saved`);
      await agentsPage();
    } catch (e) { fail(status, e); }
  });
  box.replaceChildren(form);
  minute.focus();
}

export async function agentsPage() {
  const [agents, entries] = await Promise.all([api.get('/v1/web/agents'), api.get('/v1/web/entries')]);
  const shown = h('div', { id: 'agent-token-box' });
  const editBox = h('div', { id: 'agent-edit' });
  const status = h('p', { class: 'muted', id: 'agents-status', role: 'status' });
  const name = h('input', { id: 'agent-name', 'aria-label': 'Agent name', placeholder: 'Codex' });
  const minute = h('input', { id: 'agent-minute', type: 'number', min: 1, value: 3, 'aria-label': 'Distinct names per minute' });
  const hour = h('input', { id: 'agent-hour', type: 'number', min: 1, value: 10, 'aria-label': 'Distinct names per hour' });
  const ips = h('input', { id: 'agent-ips', placeholder: '10.0.0.0/8, 192.0.2.7', 'aria-label': 'IP allow-list' });
  const expiry = h('input', { id: 'agent-expiry', type: 'number', min: 1, placeholder: 'never', 'aria-label': 'Expires in days' });
  const picker = grantPicker(entries);
  const form = h('form', { class: 'card', id: 'agent-form' },
    h('h2', {}, 'Create an agent'),
    h('div', { class: 'row' }, h('label', { class: 'grow' }, 'Name', name), h('label', {}, 'Names / minute', minute),
      h('label', {}, 'Names / hour', hour), h('label', { class: 'grow' }, 'IP allow-list', ips), h('label', {}, 'Expires in days', expiry)),
    h('p', {}, 'Entries it may use (untick fields to narrow a grant; personal fields are never granted):'),
    picker.el,
    h('button', { class: 'primary', type: 'submit', id: 'create-agent' }, 'Create agent'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const req = { name: name.value.trim(), grants: picker.read(), rate_minute: Number(minute.value), rate_hour: Number(hour.value),
        ips: splitList(ips.value) };
      if (expiry.value) req.expires_in = Number(expiry.value) * DAY_S;
      const t = await api.post('/v1/web/agents', req);
      await agentsPage();
      document.getElementById('agent-token-box').replaceChildren(tokenCard(t, req.name));
    } catch (e) { fail(status, e); }
  });
  const rows = agents.map((a) => h('tr', { 'data-agent': a.name },
    h('td', {}, a.name),
    h('td', {}, h('span', { class: `badge ${a.state === 'active' ? 'ok' : a.state === 'locked' ? 'warn' : 'bad'}`, 'data-state': a.state }, a.state),
      a.expires_at ? h('div', { class: 'muted' }, `expires ${fmtTime(a.expires_at)}`) : null),
    h('td', { class: 'grants-cell' }, a.grants.map(grantText).join(', ')),
    h('td', { class: 'limits-cell' }, `${a.rate_minute}/min, ${a.rate_hour}/h`, a.ips.length ? h('div', { class: 'muted' }, a.ips.join(', ')) : null),
    h('td', {}, fmtTime(a.last_used_at)),
    h('td', {}, String(a.use_count)),
    h('td', { class: 'row' },
      a.state === 'locked' ? action('Unlock (passkey)', {}, status, async () => {
        const start = await api.post('/v1/web/assert/start', { purpose: 'unlock', agent: a.name });
        const as = await webauthn.get(start.options);
        await api.post('/v1/web/agent/unlock', { name: a.name, ceremony: start.ceremony, credential: as.json });
        toast(`${a.name} unlocked`);
        await agentsPage();
      }) : null,
      a.state !== 'revoked' ? h('button', { type: 'button', class: 'edit-agent', onclick: () => editForm(a, entries, editBox, status) }, 'Edit') : null,
      a.state !== 'revoked' ? action('New token', {}, status, async () => {
        const t = await api.post('/v1/web/agent/token', { name: a.name });
        shown.replaceChildren(tokenCard(t, a.name));
      }) : null,
      a.state !== 'revoked' ? action('Revoke', { class: 'danger' }, status, async () => {
        if (!confirm(`Revoke ${a.name}? Its credential stops working at once.`)) return;
        await api.post('/v1/web/agent/revoke', { name: a.name });
        await agentsPage();
      }) : null)));
  page('Agents', shown, editBox, status,
    h('table', {}, h('thead', {}, h('tr', {}, ['Name', 'State', 'Entries', 'Limits', 'Last use', 'Uses', ''].map((t) => h('th', {}, t)))),
      h('tbody', { id: 'agents' }, rows.length ? rows : h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No agents yet: create one below.')))),
    form);
}
