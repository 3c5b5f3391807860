// The browser's HPKE and personal-blob code against the RFC 9180 vectors and
// the Rust implementation's interop vectors, in Node's WebCrypto (the same
// API as the browser's). Run: node --test e2e/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import * as hpke from '../crates/clavitor-vault/assets/web/hpke.mjs';
import * as personal from '../crates/clavitor-vault/assets/web/personal.mjs';
import { hex, toHex, utf8, unb64, b64 } from '../crates/clavitor-vault/assets/web/b64.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const vectors = (name) =>
  JSON.parse(readFileSync(path.join(root, 'crates/clavitor-crypto/tests/vectors', name), 'utf8'));

test('RFC 9180 base-mode vector: seal with the vector ephemeral key and open', async () => {
  const file = vectors('rfc9180-p256-sha256-aes256gcm.json');
  const v = file.vectors.find((x) => x.mode === 0);
  assert.ok(v);
  const pkR = hex(v.pkRm);
  const skR = await hpke.importPrivate(hex(v.skRm), pkR);
  const first = v.encryptions[0];
  const { enc, ct } = await hpke.seal(pkR, hex(v.info), hex(first.aad), hex(first.pt), {
    d: hex(v.skEm),
    pub: hex(v.pkEm),
  });
  assert.equal(toHex(enc), v.enc);
  assert.equal(toHex(ct), first.ct);
  const pt = await hpke.open(skR, pkR, hex(v.info), hex(first.aad), hex(v.enc), hex(first.ct));
  assert.equal(toHex(pt), first.pt);
});

test('RFC 9180: a modified ciphertext or info does not open', async () => {
  const v = vectors('rfc9180-p256-sha256-aes256gcm.json').vectors.find((x) => x.mode === 0);
  const pkR = hex(v.pkRm);
  const skR = await hpke.importPrivate(hex(v.skRm), pkR);
  const first = v.encryptions[0];
  const ct = hex(first.ct);
  ct[0] ^= 1;
  await assert.rejects(hpke.open(skR, pkR, hex(v.info), hex(first.aad), hex(v.enc), ct));
  await assert.rejects(
    hpke.open(skR, pkR, utf8('other'), hex(first.aad), hex(v.enc), hex(first.ct)),
  );
});

test('clavitor-personal-v1: info bytes, blob opening, and JS seal -> JS open', async () => {
  const v = vectors('clavitor-personal-v1.json');
  const pkR = hex(v.pkR);
  const skR = await hpke.importPrivate(hex(v.skR), pkR);
  assert.ok(v.cases.length > 0);
  for (const c of v.cases) {
    assert.equal(toHex(personal.info(c.context)), c.info);
    const pt = await personal.openBlob(skR, pkR, c.context, hex(c.blob));
    assert.equal(toHex(pt), c.plaintext);
    if (c.blob_base64url) assert.equal(b64(hex(c.blob)), c.blob_base64url);
    const mine = await personal.sealBlob(pkR, c.context, hex(c.plaintext));
    assert.equal(mine.length, 82 + hex(c.plaintext).length);
    assert.equal(toHex(await personal.openBlob(skR, pkR, c.context, mine)), c.plaintext);
    // Another revision does not open.
    const moved = { ...c.context, revision: c.context.revision + 1 };
    await assert.rejects(personal.openBlob(skR, pkR, moved, hex(c.blob)));
  }
});

test('wrap/unwrap of the private key under a PRF-derived key', async () => {
  const { publicRaw, d } = await personal.generate();
  const prf = globalThis.crypto.getRandomValues(new Uint8Array(32));
  const w = await personal.wrap(d, prf, 'vault1', 'passkey', 'cred1');
  assert.ok(!JSON.stringify(w).includes(b64(d)));
  const sk = await personal.unwrap(w, prf, 'vault1', b64(publicRaw));
  const ctx = { vault_id: 'vault1', entry_id: 'e_1', field_id: 'f_1', revision: 1 };
  const blob = await personal.sealText(b64(publicRaw), ctx, 'canary');
  assert.equal(await personal.openText(sk, b64(publicRaw), ctx, blob), 'canary');
  const other = globalThis.crypto.getRandomValues(new Uint8Array(32));
  await assert.rejects(personal.unwrap(w, other, 'vault1', b64(publicRaw)));
  await assert.rejects(personal.unwrap({ ...w, credential: 'cred2' }, prf, 'vault1', b64(publicRaw)));
  assert.deepEqual(unb64(b64(publicRaw)), publicRaw);
});
