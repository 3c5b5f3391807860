// WebAuthn ceremonies in the browser. The server's options come as JSON
// with base64url binary fields; answers go back as JSON with only what the
// server verifies. PRF results never leave this module's callers: they are
// not part of any posted JSON (we never send clientExtensionResults).

import { b64, unb64 } from './b64.mjs';

function dropNulls(value) {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = dropNulls(v);
    return out;
  }
  return value;
}

function prfResult(cred) {
  const ext = cred.getClientExtensionResults ? cred.getClientExtensionResults() : {};
  const prf = ext.prf || {};
  const first = prf.results && prf.results.first;
  return { enabled: !!prf.enabled || !!first, output: first ? new Uint8Array(first) : null };
}

export function supported() {
  return !!(globalThis.PublicKeyCredential && navigator.credentials);
}

/** Registration. Returns { json (to post), prf: {enabled, output} , id }. */
export async function create(options, prfSalt) {
  const pk = dropNulls(options.publicKey);
  pk.challenge = unb64(pk.challenge);
  pk.user = { ...pk.user, id: unb64(pk.user.id) };
  pk.excludeCredentials = (pk.excludeCredentials || []).map((c) => ({ ...c, id: unb64(c.id) }));
  pk.authenticatorSelection = { ...(pk.authenticatorSelection || {}), userVerification: 'required' };
  pk.extensions = { ...(pk.extensions || {}), prf: { eval: { first: unb64(prfSalt) } } };
  const cred = await navigator.credentials.create({ publicKey: pk });
  const r = cred.response;
  const json = {
    id: cred.id,
    rawId: b64(cred.rawId),
    type: cred.type,
    response: {
      attestationObject: b64(r.attestationObject),
      clientDataJSON: b64(r.clientDataJSON),
    },
    extensions: {},
  };
  return { json, prf: prfResult(cred), id: b64(cred.rawId) };
}

/** Assertion. `prfSalts` maps credential id -> PRF input (base64url). */
export async function get(options, prfSalts) {
  const pk = dropNulls(options.publicKey);
  pk.challenge = unb64(pk.challenge);
  pk.allowCredentials = (pk.allowCredentials || []).map((c) => ({ ...c, id: unb64(c.id) }));
  pk.userVerification = 'required';
  if (prfSalts && Object.keys(prfSalts).length) {
    const evalByCredential = {};
    for (const [id, salt] of Object.entries(prfSalts)) evalByCredential[id] = { first: unb64(salt) };
    pk.extensions = { ...(pk.extensions || {}), prf: { evalByCredential } };
  }
  const cred = await navigator.credentials.get({ publicKey: pk });
  return { json: assertionJson(cred), prf: prfResult(cred), id: b64(cred.rawId) };
}

/** A local assertion just to evaluate PRF (nothing is sent to the server). */
export async function prfOnly(credentialId, prfSalt, rpId) {
  const cred = await navigator.credentials.get({
    publicKey: {
      challenge: globalThis.crypto.getRandomValues(new Uint8Array(32)),
      rpId,
      allowCredentials: [{ type: 'public-key', id: unb64(credentialId) }],
      userVerification: 'required',
      extensions: { prf: { eval: { first: unb64(prfSalt) } } },
    },
  });
  return prfResult(cred);
}

function assertionJson(cred) {
  const r = cred.response;
  return {
    id: cred.id,
    rawId: b64(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: b64(r.authenticatorData),
      clientDataJSON: b64(r.clientDataJSON),
      signature: b64(r.signature),
      userHandle: r.userHandle ? b64(r.userHandle) : null,
    },
    extensions: {},
  };
}
