// The personal tier in the browser (DESIGN.md §4): the owner's ECDH P-256
// key pair, its private key wrapped under keys derived from passkey PRF
// outputs, and HPKE blobs in the format of crates/clavitor-crypto/src/personal.rs:
//   info = "clavitor/personal/v1" || u16be(len) vault_id || u16be(len) entry_id
//          || u16be(len) field_id || u64be(revision)
//   blob = 0x01 || enc (65) || ct+tag
// Nothing here is ever stored by the browser: keys live in memory for one
// operation.

import * as hpke from './hpke.mjs';
import { b64, unb64, concat, utf8, fromUtf8 } from './b64.mjs';

const subtle = globalThis.crypto.subtle;
export const BLOB_VERSION = 1;
export const INFO_LABEL = 'clavitor/personal/v1';
const MAX_ID_LEN = 1024;

function u16(n) {
  return new Uint8Array([(n >> 8) & 0xff, n & 0xff]);
}

function u64(n) {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error('bad revision');
  const out = new Uint8Array(8);
  let v = BigInt(n);
  for (let i = 7; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The HPKE info binding a value to vault, entry, field and revision. */
export function info({ vault_id, entry_id, field_id, revision }) {
  const parts = [utf8(INFO_LABEL)];
  for (const id of [vault_id, entry_id, field_id]) {
    const bytes = utf8(id);
    if (bytes.length > MAX_ID_LEN) throw new Error('invalid personal context');
    parts.push(u16(bytes.length), bytes);
  }
  parts.push(u64(revision));
  return concat(...parts);
}

/** Seals `plaintext` (bytes) to the public key (65 bytes) for `ctx`. */
export async function sealBlob(publicRaw, ctx, plaintext, ephemeral) {
  const { enc, ct } = await hpke.seal(publicRaw, info(ctx), new Uint8Array(0), plaintext, ephemeral);
  return concat(new Uint8Array([BLOB_VERSION]), enc, ct);
}

/** Opens a blob; any failure is the same Error('cannot open'). */
export async function openBlob(privateKey, publicRaw, ctx, blob) {
  try {
    if (blob.length < 82 || blob[0] !== BLOB_VERSION) throw new Error();
    return await hpke.open(
      privateKey,
      publicRaw,
      info(ctx),
      new Uint8Array(0),
      blob.slice(1, 66),
      blob.slice(66),
    );
  } catch {
    throw new Error('the personal value cannot be opened');
  }
}

export async function sealText(publicB64, ctx, text) {
  return b64(await sealBlob(unb64(publicB64), ctx, utf8(text)));
}

export async function openText(privateKey, publicB64, ctx, blobB64) {
  return fromUtf8(await openBlob(privateKey, unb64(publicB64), ctx, unb64(blobB64)));
}

/** A fresh key pair: { publicRaw (65 bytes), d (32 bytes) }. */
export async function generate() {
  const pair = await subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
  const publicRaw = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
  const jwk = await subtle.exportKey('jwk', pair.privateKey);
  return { publicRaw, d: unb64(jwk.d) };
}

// ---- wrapping the private key ------------------------------------------------
// kek  = HKDF-SHA256(ikm = PRF output (or recovery code bytes),
//                    salt = "clavitor/personal-kek/v1", info = vault_id), AES-256-GCM
// wrap = { v: 1, kind, credential, iv, ct } with
//        ct = AES-256-GCM(kek, iv, d, aad = "clavitor/personal-wrap/v1\0" vault \0 kind \0 credential)

async function kek(secret, vaultId) {
  const ikm = await subtle.importKey('raw', secret, 'HKDF', false, ['deriveKey']);
  return subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: utf8('clavitor/personal-kek/v1'), info: utf8(vaultId) },
    ikm,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

function wrapAad(vaultId, kind, credential) {
  return utf8(`clavitor/personal-wrap/v1\0${vaultId}\0${kind}\0${credential}`);
}

export async function wrap(d, secret, vaultId, kind, credential) {
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
  const key = await kek(secret, vaultId);
  const ct = new Uint8Array(
    await subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: wrapAad(vaultId, kind, credential) },
      key,
      d,
    ),
  );
  return { v: 1, kind, credential, iv: b64(iv), ct: b64(ct) };
}

/** Unwraps the raw private scalar `d` (the caller zeroes it). */
export async function unwrapRaw(w, secret, vaultId) {
  const key = await kek(secret, vaultId);
  return new Uint8Array(
    await subtle.decrypt(
      { name: 'AES-GCM', iv: unb64(w.iv), additionalData: wrapAad(vaultId, w.kind, w.credential) },
      key,
      unb64(w.ct),
    ),
  );
}

/** Imports a raw private scalar as a non-extractable ECDH private key. */
export function importPrivate(d, publicB64) {
  return hpke.importPrivate(d, unb64(publicB64), false);
}

/** Unwraps to a non-extractable ECDH private key. */
export async function unwrap(w, secret, vaultId, publicB64) {
  const d = await unwrapRaw(w, secret, vaultId);
  try {
    return await hpke.importPrivate(d, unb64(publicB64), false);
  } finally {
    d.fill(0);
  }
}
