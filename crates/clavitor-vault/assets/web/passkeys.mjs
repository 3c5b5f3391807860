// The Passkeys page: the owner's passkeys (name, PRF, whether each unlocks
// the personal key), rename, remove (a passkey tap bound to that removal),
// add (a tap of an enrolled passkey first, then the new one), and the
// recovery code (create or replace).

import * as api from './api.mjs';
import * as webauthn from './webauthn.mjs';
import * as personal from './personal.mjs';
import * as unlock from './unlock.mjs';
import { utf8 } from './b64.mjs';
import { h, toast, page, fail, action, fmtTime } from './dom.mjs';

function recoveryCard(code, title) {
  return h('div', { class: 'card', id: 'recovery-card' },
    h('h2', {}, title),
    h('p', {}, 'Write this code down and keep it offline. It unlocks your personal fields when no passkey can. It is shown only once.'),
    h('pre', { class: 'token', id: 'recovery-code' }, code));
}

/** Step 1 of adding: a tap of an enrolled passkey (which also opens the personal key when it can). */
async function confirmAdd(box) {
  const start = await api.post('/v1/web/assert/start', { purpose: 'passkey', action: 'add' });
  const a = await webauthn.get(start.options, start.prf_salts);
  const key = await unlock.personalKey();
  let d = null;
  if (key.public_key) d = await unlock.openRaw(key, a, box, { skippable: true });
  else if (a.prf.output) a.prf.output.fill(0);
  // The opened key waits for step 2 no longer than the step-up stays valid.
  if (d) setTimeout(() => d.fill(0), 5 * 60 * 1000);
  return { stepUp: { ceremony: start.ceremony, credential: a.json }, key, d };
}

/** Step 2: the new passkey; wraps the personal key for it (or creates the key). */
async function createPasskey(confirmed, name, withRecovery, box) {
  const { stepUp, key, d } = confirmed;
  let prf = null;
  try {
    const start = await api.post('/v1/web/passkeys/register/start', { name, step_up: stepUp });
    const reg = await webauthn.create(start.options, start.prf_salt);
    await api.post('/v1/web/passkeys/register/finish', { ceremony: start.ceremony, credential: reg.json, prf_capable: reg.prf.enabled });
    prf = reg.prf.output;
    if (!prf && reg.prf.enabled) prf = (await webauthn.prfOnly(reg.id, start.prf_salt, location.hostname)).output;
    let message;
    let code = null;
    if (!prf) {
      message = 'Passkey added. It has no PRF support: it signs you in, but personal fields need your recovery code or another passkey.';
    } else if (!key.public_key) {
      code = await unlock.create(key.vault_id, prf, reg.id, withRecovery);
      message = 'Passkey added and your personal key created: this passkey unlocks personal fields.';
    } else if (d) {
      await unlock.wrapForPasskey(key, d, prf, reg.id);
      message = 'Passkey added: it unlocks your personal fields too.';
    } else {
      message = 'Passkey added. It signs you in; it does not unlock personal fields (the personal key was not opened).';
    }
    await passkeysPage();
    const result = document.getElementById('passkey-result');
    result.replaceChildren(...[h('p', { class: 'ok', id: 'passkey-added' }, message), code && recoveryCard(code, 'Recovery code')].filter(Boolean));
    toast('Passkey added');
  } finally {
    if (prf) prf.fill(0);
    if (d) d.fill(0);
    box.replaceChildren();
  }
}

function addCard(key) {
  const name = h('input', { id: 'new-passkey-name', value: 'Second passkey', 'aria-label': 'New passkey name' });
  const withRecovery = h('input', { type: 'checkbox', id: 'new-passkey-recovery', checked: true });
  const status = h('p', { class: 'muted', id: 'add-passkey-status' });
  const steps = h('div', { id: 'add-passkey-steps' });
  const confirm = action('Add a passkey', { class: 'primary', id: 'add-passkey-confirm' }, status, async () => {
    status.className = 'muted';
    status.textContent = 'Step 1 of 2: touch one of your current passkeys…';
    const confirmed = await confirmAdd(steps);
    status.textContent = 'Step 2 of 2: create the new passkey on the device or security key you are adding.';
    steps.replaceChildren(action('Create the new passkey', { class: 'primary', id: 'add-passkey-create' }, status, async () => {
      status.textContent = 'Touch the new passkey…';
      await createPasskey(confirmed, name.value, withRecovery.checked, steps);
      status.textContent = '';
    }));
  });
  return h('div', { class: 'card', id: 'add-passkey' },
    h('h2', {}, 'Add a passkey'),
    h('p', {}, 'A second passkey (another device or a security key) keeps your vault and personal fields open if you lose one. ',
      'Adding one needs a tap of a passkey you already have.'),
    h('div', { class: 'row' }, h('label', {}, 'Name', name),
      key.public_key ? null : h('label', { class: 'inline' }, withRecovery, 'Also create a recovery code (if this passkey creates your personal key)'),
      confirm),
    steps, status);
}

/**
 * A new recovery code, wrapping the personal key opened by a passkey tap;
 * the tap is a server-verified assertion bound to this replacement (a
 * stolen session alone cannot overwrite the code's wrap).
 */
async function newRecoveryCode(key, box) {
  const start = await api.post('/v1/web/assert/start', { purpose: 'passkey', action: 'replace-recovery' });
  const a = await webauthn.get(start.options, start.prf_salts);
  const d = await unlock.openRaw(key, a, box);
  try {
    const code = unlock.recoveryCode();
    const wrap = await personal.wrap(d, utf8(code), key.vault_id, 'recovery', 'recovery');
    await api.post('/v1/web/personal-key', { public_key: key.public_key, wrap, step_up: { ceremony: start.ceremony, credential: a.json } });
    return code;
  } finally {
    d.fill(0);
  }
}

export async function passkeysPage() {
  const [list, key] = await Promise.all([api.get('/v1/web/passkeys'), unlock.personalKey()]);
  const status = h('p', { class: 'muted', id: 'passkeys-status', role: 'status' });
  const result = h('div', { id: 'passkey-result' });
  const unlocks = (p) => key.wraps.some((w) => w.kind === 'passkey' && w.credential === p.id);
  const hasRecovery = key.wraps.some((w) => w.kind === 'recovery');
  const methods = list.filter(unlocks).length + (hasRecovery ? 1 : 0);
  const rows = list.map((p) => {
    const nameCell = h('td', { class: 'passkey-name' }, p.name, p.current ? h('span', { class: 'muted' }, ' (this session)') : null);
    const rename = h('button', { type: 'button', class: 'rename-passkey', onclick: () => {
      const input = h('input', { class: 'rename-input', value: p.name, 'aria-label': 'Passkey name' });
      const form = h('form', { class: 'row' }, input, h('button', { type: 'submit', class: 'primary' }, 'Save'));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        try {
          await api.post('/v1/web/passkey/rename', { id: p.id, name: input.value });
          await passkeysPage();
        } catch (e) { fail(status, e); }
      });
      nameCell.replaceChildren(form);
      input.focus();
    } }, 'Rename');
    const remove = action('Remove', { class: 'danger remove-passkey' }, status, async () => {
      if (!confirm(`Remove the passkey "${p.name}" (created ${fmtTime(p.created_at)}, last used ${fmtTime(p.last_used_at)})? It will no longer sign in${unlocks(p) ? ' or unlock personal fields' : ''}.`)) return;
      status.className = 'muted';
      status.textContent = 'Touch a passkey to confirm…';
      const start = await api.post('/v1/web/assert/start', { purpose: 'passkey', action: `remove:${p.id}` });
      const a = await webauthn.get(start.options);
      await api.post('/v1/web/passkey/remove', { id: p.id, ceremony: start.ceremony, credential: a.json });
      await passkeysPage();
      toast(`Removed ${p.name}`);
    });
    return h('tr', { 'data-passkey': p.name },
      nameCell, h('td', {}, p.prf ? 'yes' : 'no'),
      h('td', { class: 'unlocks' }, unlocks(p) ? 'yes' : 'no'),
      h('td', {}, fmtTime(p.created_at)), h('td', {}, fmtTime(p.last_used_at)),
      h('td', { class: 'row' }, rename, remove));
  });
  const recoveryBox = h('div', { id: 'recovery-box' });
  const recovery = key.public_key && action(hasRecovery ? 'Replace the recovery code' : 'Create a recovery code',
    { id: 'new-recovery' }, status, async () => {
      if (hasRecovery && !confirm('The old recovery code stops working. Continue?')) return;
      const code = await newRecoveryCode(key, recoveryBox);
      await passkeysPage();
      document.getElementById('passkey-result').replaceChildren(recoveryCard(code, 'New recovery code'));
    });
  page('Passkeys', result,
    h('table', {}, h('thead', {}, h('tr', {}, ['Name', 'PRF', 'Unlocks personal key', 'Created', 'Last used', ''].map((t) => h('th', {}, t)))),
      h('tbody', { id: 'passkeys' }, rows)),
    h('div', { class: 'card', id: 'personal-key-status' },
      h('h2', {}, 'Personal key'),
      key.public_key
        ? h('p', { class: methods < 2 ? 'warn' : '' }, `${methods} unlock method(s): ${list.filter(unlocks).length} passkey(s)${hasRecovery ? ' and a recovery code' : ', no recovery code'}.`,
          methods < 2 ? ' With a single method, losing it loses your personal fields: add a passkey or a recovery code.' : '')
        : h('p', { id: 'no-personal-key' }, 'No personal key yet: your passkeys do not support PRF. Info and shared fields work; personal fields need a PRF-capable passkey (add one below).'),
      h('div', { class: 'row' }, recovery), recoveryBox),
    addCard(key), status);
}
