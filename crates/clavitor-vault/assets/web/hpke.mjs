// HPKE (RFC 9180), base mode, single-shot, for exactly one suite:
// DHKEM(P-256, HKDF-SHA256) 0x0010, HKDF-SHA256 0x0001, AES-256-GCM 0x0002.
// All WebCrypto; byte-for-byte the same as crates/clavitor-crypto/src/personal.rs
// (checked against the RFC 9180 vectors in e2e/hpke.test.mjs).

import { concat, utf8, b64 } from './b64.mjs';

const subtle = globalThis.crypto.subtle;
const KEM_ID = 0x0010;
const KDF_ID = 0x0001;
const AEAD_ID = 0x0002;
const NSECRET = 32;
const NK = 32;
const NN = 12;
const NH = 32;

const i2osp = (n, len) => {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = n & 0xff;
    n = Math.floor(n / 256);
  }
  return out;
};

const KEM_SUITE = concat(utf8('KEM'), i2osp(KEM_ID, 2));
const HPKE_SUITE = concat(utf8('HPKE'), i2osp(KEM_ID, 2), i2osp(KDF_ID, 2), i2osp(AEAD_ID, 2));
const V1 = utf8('HPKE-v1');

async function hmac(key, data) {
  // An empty HMAC key equals HashLen zero bytes (HMAC pads keys with zeros);
  // WebCrypto refuses empty keys, so use the zeros.
  const k = await subtle.importKey(
    'raw',
    key.length ? key : new Uint8Array(NH),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  return new Uint8Array(await subtle.sign('HMAC', k, data));
}

export const extract = (salt, ikm) => hmac(salt, ikm);

export async function expand(prk, info, len) {
  let t = new Uint8Array(0);
  let out = new Uint8Array(0);
  for (let i = 1; out.length < len; i++) {
    t = await hmac(prk, concat(t, info, new Uint8Array([i])));
    out = concat(out, t);
  }
  return out.slice(0, len);
}

const labeledExtract = (suite, salt, label, ikm) =>
  extract(salt, concat(V1, suite, utf8(label), ikm));
const labeledExpand = (suite, prk, label, info, len) =>
  expand(prk, concat(i2osp(len, 2), V1, suite, utf8(label), info), len);

async function extractAndExpand(dh, kemContext) {
  const prk = await labeledExtract(KEM_SUITE, new Uint8Array(0), 'eae_prk', dh);
  return labeledExpand(KEM_SUITE, prk, 'shared_secret', kemContext, NSECRET);
}

async function keySchedule(sharedSecret, info) {
  const empty = new Uint8Array(0);
  const pskIdHash = await labeledExtract(HPKE_SUITE, empty, 'psk_id_hash', empty);
  const infoHash = await labeledExtract(HPKE_SUITE, empty, 'info_hash', info);
  const ctx = concat(new Uint8Array([0]), pskIdHash, infoHash);
  const secret = await labeledExtract(HPKE_SUITE, sharedSecret, 'secret', empty);
  const key = await labeledExpand(HPKE_SUITE, secret, 'key', ctx, NK);
  const nonce = await labeledExpand(HPKE_SUITE, secret, 'base_nonce', ctx, NN);
  return { key, nonce };
}

const ecdh = { name: 'ECDH', namedCurve: 'P-256' };

/** Imports a 65-byte uncompressed P-256 point as an ECDH public key. */
export function importPublic(raw) {
  if (raw.length !== 65 || raw[0] !== 4) throw new Error('invalid personal key');
  return subtle.importKey('raw', raw, ecdh, true, []);
}

/** Imports a private scalar `d` (32 bytes) with its public point (65 bytes). */
export function importPrivate(d, publicRaw, extractable = false) {
  const jwk = {
    kty: 'EC',
    crv: 'P-256',
    d: b64(d),
    x: b64(publicRaw.slice(1, 33)),
    y: b64(publicRaw.slice(33, 65)),
    ext: extractable,
  };
  return subtle.importKey('jwk', jwk, ecdh, extractable, ['deriveBits']);
}

async function dh(privateKey, publicKey) {
  return new Uint8Array(await subtle.deriveBits({ name: 'ECDH', public: publicKey }, privateKey, 256));
}

/**
 * Single-shot seal to `pkRaw` (65 bytes). `ephemeral` ({d, pub}) fixes the
 * ephemeral key for test vectors; otherwise a fresh one is generated.
 * Returns { enc, ct }.
 */
export async function seal(pkRaw, info, aad, pt, ephemeral) {
  const pkR = await importPublic(pkRaw);
  let skE;
  let enc;
  if (ephemeral) {
    skE = await importPrivate(ephemeral.d, ephemeral.pub);
    enc = ephemeral.pub;
  } else {
    const pair = await subtle.generateKey(ecdh, false, ['deriveBits']);
    skE = pair.privateKey;
    enc = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
  }
  const shared = await extractAndExpand(await dh(skE, pkR), concat(enc, pkRaw));
  const { key, nonce } = await keySchedule(shared, info);
  const k = await subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']);
  const ct = new Uint8Array(
    await subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad }, k, pt),
  );
  return { enc, ct };
}

/** Single-shot open with the recipient's private key and its public point. */
export async function open(skR, pkRaw, info, aad, enc, ct) {
  const pkE = await importPublic(enc);
  const shared = await extractAndExpand(await dh(skR, pkE), concat(enc, pkRaw));
  const { key, nonce } = await keySchedule(shared, info);
  const k = await subtle.importKey('raw', key, 'AES-GCM', false, ['decrypt']);
  return new Uint8Array(
    await subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad }, k, ct),
  );
}
