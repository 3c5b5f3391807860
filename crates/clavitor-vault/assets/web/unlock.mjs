// Opening and creating the owner's personal key in the browser: with a
// passkey's PRF output, or with the printed recovery code when the passkey
// at hand has no wrap of the key (no PRF, or added later). The raw private
// scalar lives in memory for one operation and is zeroed after.

import * as api from './api.mjs';
import * as personal from './personal.mjs';
import { b64, utf8 } from './b64.mjs';
import { h } from './dom.mjs';

export const personalKey = () => api.get('/v1/web/personal-key');

/** A fresh recovery code: 25 characters in groups of five (125 bits). */
export function recoveryCode() {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(25));
  const chars = Array.from(bytes, (b) => alphabet[b % 32]).join('');
  return chars.match(/.{5}/g).join('-');
}

/** The code as printed, whatever the case, spaces or dashes typed. */
export function normalizeCode(text) {
  const chars = text.toUpperCase().replace(/[^A-Z0-9]/g, '');
  return (chars.match(/.{1,5}/g) || []).join('-');
}

/**
 * Asks for the recovery code inside `container`; resolves with the code,
 * or with null when the owner skips (`skippable`).
 */
export function askRecoveryCode(container, why, skippable = false) {
  return new Promise((resolve) => {
    const input = h('input', { id: 'recovery-input', autocomplete: 'off', spellcheck: 'false',
      'aria-label': 'Recovery code', placeholder: 'XXXXX-XXXXX-XXXXX-XXXXX-XXXXX', class: 'grow mono' });
    const form = h('form', { class: 'card', id: 'recovery-form' },
      h('p', {}, why),
      h('div', { class: 'row' }, input,
        h('button', { type: 'submit', class: 'primary', id: 'recovery-submit' }, 'Unlock'),
        skippable ? h('button', { type: 'button', id: 'recovery-skip', onclick: () => { form.remove(); resolve(null); } }, 'Skip') : null));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const code = normalizeCode(input.value);
      form.remove();
      resolve(code);
    });
    container.append(form);
    input.focus();
  });
}

/**
 * The raw private scalar, from the PRF output of assertion `a` when this
 * passkey holds a wrap, else from the recovery code asked in `container`.
 * Returns null when skipped. Throws when the code is wrong.
 */
export async function openRaw(key, a, container, { skippable = false } = {}) {
  const prf = a && a.prf.output;
  const w = prf && key.wraps.find((x) => x.kind === 'passkey' && x.credential === a.id);
  try {
    if (w) return await personal.unwrapRaw(w, prf, key.vault_id);
  } catch {
    // A damaged wrap: the recovery code below still opens the key.
  } finally {
    if (prf) prf.fill(0);
  }
  const r = key.wraps.find((x) => x.kind === 'recovery' && x.credential === 'recovery');
  if (!r) {
    if (skippable) return null;
    throw new Error('This passkey does not unlock your personal key and no recovery code exists: use a passkey that does.');
  }
  const code = await askRecoveryCode(container,
    'This passkey does not unlock your personal key. Enter your recovery code to open it.', skippable);
  if (code === null) return null;
  try {
    return await personal.unwrapRaw(r, utf8(code), key.vault_id);
  } catch {
    throw new Error('That recovery code does not unlock your personal key.');
  }
}

/** A non-extractable private key (see `openRaw`). */
export async function open(key, a, container) {
  const d = await openRaw(key, a, container);
  try {
    return await personal.importPrivate(d, key.public_key);
  } finally {
    d.fill(0);
  }
}

/**
 * How many ways open the personal key: enrolled passkeys holding a wrap,
 * plus the recovery code.
 */
export async function unlockMethods(key) {
  const list = await api.get('/v1/web/passkeys');
  const passkeys = list.filter((p) => key.wraps.some((w) => w.kind === 'passkey' && w.credential === p.id)).length;
  const recovery = key.wraps.some((w) => w.kind === 'recovery' && w.credential === 'recovery') ? 1 : 0;
  return passkeys + recovery;
}

/** Stores a wrap of `d` under a passkey's PRF output. */
export async function wrapForPasskey(key, d, prf, credentialId) {
  const wrap = await personal.wrap(d, prf, key.vault_id, 'passkey', credentialId);
  await api.post('/v1/web/personal-key', { public_key: key.public_key, wrap });
}

/**
 * Creates the personal key for a PRF-capable passkey; returns the printed
 * recovery code, or null without one.
 */
export async function create(vaultId, prf, credentialId, withRecovery) {
  const keys = await personal.generate();
  try {
    const key = { vault_id: vaultId, public_key: b64(keys.publicRaw) };
    await wrapForPasskey(key, keys.d, prf, credentialId);
    if (!withRecovery) return null;
    const code = recoveryCode();
    const wrap = await personal.wrap(keys.d, utf8(code), vaultId, 'recovery', 'recovery');
    await api.post('/v1/web/personal-key', { public_key: key.public_key, wrap });
    return code;
  } finally {
    keys.d.fill(0);
  }
}
