// Field rows of the entry form: tier and kind defaults by label (DESIGN.md
// §3), entry templates, the password generator, per-field hosts.

import { h, splitList } from './dom.mjs';

const SHARED = ['password', 'passphrase', 'secret', 'token', 'key', 'api_key', 'access_key', 'secret_key',
  'client_secret', 'private_key', 'connection_string', 'database_url', 'dsn', 'totp'];
const PERSONAL = ['card_number', 'cvv', 'cvc', 'pin', 'ssn', 'passport', 'national_id', 'recovery_codes',
  'seed_phrase', 'mnemonic', 'iban', 'account_number', 'routing_number'];
const KINDS = ['text', 'password', 'totp', 'url', 'email', 'note', 'ssh-key'];
export const ENTRY_KINDS = ['', 'login', 'api', 'ssh', 'database', 'card', 'identity', 'note'];

/** The fields a new entry of each kind starts with. */
export const TEMPLATES = {
  login: ['username', 'password', 'totp', 'url'],
  api: ['api_key', 'url'],
  ssh: ['username', 'private_key'],
  database: ['connection_string'],
  card: ['cardholder', 'card_number', 'expiry', 'cvv', 'pin'],
  identity: ['full_name', 'birth_date', 'passport', 'national_id', 'ssn'],
  note: ['note'],
};

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

function generatePassword() {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.!';
  // Rejection sampling keeps every character equally likely.
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < 24) {
    for (const b of globalThis.crypto.getRandomValues(new Uint8Array(32))) {
      if (b < limit && out.length < 24) out += alphabet[b % alphabet.length];
    }
  }
  return out;
}

/**
 * One field row. `field` is a FieldView when editing an existing field (its
 * label is fixed and its value is kept unless a new one is typed).
 */
export function fieldRow(field, existing = false) {
  const label = h('input', { class: 'f-label', value: field.label || '', 'aria-label': 'Field label', placeholder: 'label',
    readonly: existing });
  const kind = h('select', { class: 'f-kind', 'aria-label': 'Field kind' }, KINDS.map((k) => h('option', { value: k }, k)));
  const tier = h('select', { class: 'f-tier', 'aria-label': 'Field tier' }, ['info', 'shared', 'personal'].map((t) => h('option', { value: t }, t)));
  const value = h('input', { class: 'f-value', 'aria-label': 'Field value', autocomplete: 'off',
    placeholder: existing ? '(unchanged)' : 'value' });
  const hosts = h('input', { class: 'f-hosts', 'aria-label': 'Field host patterns', placeholder: 'entry hosts',
    value: (field.hosts || []).join(', ') });
  const injectOnly = h('input', { type: 'checkbox', class: 'f-inject', 'aria-label': 'Inject only' });
  injectOnly.checked = !!field.inject_only;
  let tierTouched = existing;
  let kindTouched = existing;
  const syncType = () => { value.type = kind.value === 'password' ? 'password' : 'text'; };
  tier.addEventListener('change', () => { tierTouched = true; });
  kind.addEventListener('change', () => { kindTouched = true; syncType(); });
  label.addEventListener('input', () => {
    if (!tierTouched) tier.value = defaultTier(label.value);
    if (!kindTouched) { kind.value = defaultKind(label.value); syncType(); }
  });
  tier.value = field.tier || defaultTier(label.value);
  kind.value = field.kind || defaultKind(label.value);
  syncType();
  const gen = h('button', { type: 'button', class: 'f-generate', title: 'Generate a password',
    onclick: () => { value.value = generatePassword(); } }, 'Generate');
  const row = h('div', { class: 'field-row', 'data-label': field.label || '' },
    h('label', {}, 'Label', label), h('label', {}, 'Kind', kind), h('label', {}, 'Tier', tier),
    h('label', {}, 'Value', value), h('label', {}, 'Hosts', hosts), h('label', {}, 'Inject only', injectOnly),
    h('div', { class: 'row' }, gen, h('button', { type: 'button', class: 'danger f-remove', onclick: () => {
      row.removed = true;
      row.remove();
    } }, 'Remove')));
  row.original = existing ? field : null;
  row.isEmpty = () => !value.value;
  row.read = () => ({
    label: label.value.trim(),
    kind: kind.value,
    tier: tier.value,
    value: value.value,
    hosts: splitList(hosts.value),
    inject_only: injectOnly.checked,
  });
  return row;
}
